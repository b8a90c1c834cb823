"""Configuration rollouts: a device model's edge settings and rules to all its gateways,
with progress (n of m applied, failures named) and a rollback.

A gateway runs one config (contract v1's retained `config`), so the config a gateway gets
is made of the newest rollout of every model it has devices of: each model's sampling
period for its devices (`device_periods`), each model's edge rules for its devices (rule
ids prefixed with the model id, so two models' rules never clash), batching from the
rollout being published. Its `version` is the rollout's id, so a later rollout always
wins and a replayed retained config changes nothing.

Progress comes from the gateways' own statuses: `config_version` at or past the rollout's
means applied; a `config_error` reported after the config was published means failed,
with the gateway's reason. A rollback is a new rollout with the settings of the one before
the rolled-back one (so it gets a newer version, as it must to be applied).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel
from asset_registry.tables import Device
from commands.service import CommandError, CommandNotFound
from commands.tables import ConfigRollout, ConfigRolloutTarget
from firmware_contracts.validate import ContractError, load

PENDING, PUBLISHED, APPLIED, FAILED, SUPERSEDED = (
    "pending", "published", "applied", "failed", "superseded")


def edge_rules_of(model: DeviceModel) -> list[dict[str, Any]]:
    """The model's rules a gateway can evaluate itself: one threshold, no timing."""
    return [{"id": r.id, "metric": r.metric, "condition": r.condition,
             "threshold": r.threshold, "clear": r.clear, "severity": r.severity}
            for r in model.rules
            if r.condition in ("above", "below") and r.schedule is None and r.for_s == 0
            and r.repeat_count == 1 and r.silent_s is None]


def _gateways_of(session: Session, model_id: str) -> list[str]:
    query = select(Device.gateway_id).where(Device.model_id == model_id).distinct()
    return sorted(session.exec(query))


def start_rollout(session: Session, models: Mapping[str, DeviceModel], model_id: str,
                  settings: Mapping[str, Any], by: str, now: int,
                  rollback_of: int | None = None) -> ConfigRollout:
    """A new rollout to every gateway with a device of the model (the caller commits);
    `settings` without `rules` takes the model's edge rules. CommandError if refused."""
    model = models.get(model_id)
    if model is None:
        raise CommandNotFound(f"no device model '{model_id}'")
    gateways = _gateways_of(session, model_id)
    if not gateways:
        raise CommandError(f"no gateway has a device of model '{model_id}'")
    full = {**settings}
    if full.get("rules") is None:
        full["rules"] = edge_rules_of(model)
    for rule in full["rules"]:
        if rule.get("metric") not in model.attributes:
            raise CommandError(f"rule '{rule.get('id')}': '{rule.get('metric')}' is not a "
                               f"metric of model '{model_id}'")
    rollout = ConfigRollout(model_id=model_id, settings=orjson.dumps(full).decode(),
                            rollback_of=rollback_of, created_by=by, created_at=now)
    session.add(rollout)
    session.flush()
    assert rollout.id is not None
    older = select(ConfigRolloutTarget).where(
        col(ConfigRolloutTarget.gateway_id).in_(gateways),
        col(ConfigRolloutTarget.status).in_((PENDING, PUBLISHED)))
    for target in session.exec(older):
        target.status, target.updated_at = SUPERSEDED, now
        session.add(target)
    for gateway_id in gateways:
        session.add(ConfigRolloutTarget(rollout_id=rollout.id, gateway_id=gateway_id,
                                        updated_at=now))
    # Checked now, as the gateways will check it: a refusal here beats n failures there.
    for gateway_id in gateways:
        gateway_config(session, models, gateway_id, rollout.id)
    return rollout


def rollback(session: Session, models: Mapping[str, DeviceModel], rollout_id: int, by: str,
             now: int) -> ConfigRollout:
    """A new rollout with the settings of the model's rollout before `rollout_id`."""
    rollout = session.get(ConfigRollout, rollout_id)
    if rollout is None:
        raise CommandNotFound(f"no rollout {rollout_id}")
    query = select(ConfigRollout).where(ConfigRollout.model_id == rollout.model_id,
                                        col(ConfigRollout.id) < rollout_id
                                        ).order_by(col(ConfigRollout.id).desc()).limit(1)
    before = session.exec(query).first()
    if before is None:
        raise CommandError(f"rollout {rollout_id} is model '{rollout.model_id}''s first: "
                           "there is no earlier configuration to go back to")
    return start_rollout(session, models, rollout.model_id, orjson.loads(before.settings), by,
                         now, rollback_of=rollout_id)


def gateway_config(session: Session, models: Mapping[str, DeviceModel], gateway_id: str,
                   version: int) -> bytes:
    """The gateway's whole config as of rollout `version`: contract-checked. It lists every
    device's commands from its model, so the gateway refuses any other for it."""
    devices = session.exec(select(Device).where(Device.gateway_id == gateway_id)).all()
    this = session.get(ConfigRollout, version)
    assert this is not None
    own = orjson.loads(this.settings)
    periods: dict[str, float] = {}
    rules: list[dict[str, Any]] = []
    for model_id in sorted({d.model_id for d in devices}):
        newest = session.exec(select(ConfigRollout).where(
            ConfigRollout.model_id == model_id, col(ConfigRollout.id) <= version
        ).order_by(col(ConfigRollout.id).desc()).limit(1)).first()
        if newest is None:
            continue
        settings = orjson.loads(newest.settings)
        ids = sorted(d.id for d in devices if d.model_id == model_id)
        periods |= dict.fromkeys(ids, settings["sample_period_s"])
        rules += [{**r, "id": f"{model_id}-{r['id']}"[:64], "devices": ids}
                  for r in settings["rules"]]
    doc = {"v": 1, "version": version, "sample_period_s": own["sample_period_s"],
           "batch_max_readings": own["batch_max_readings"],
           "batch_max_age_s": own["batch_max_age_s"], "device_periods": periods,
           "rules": rules,
           "commands": {d.id: sorted(models[d.model_id].commands) if d.model_id in models
                        else [] for d in devices}}
    payload = orjson.dumps(doc)
    try:
        load("config", payload)
    except ContractError as exc:
        raise CommandError(f"the config for gateway {gateway_id} would be refused: {exc}"
                           ) from None
    return payload


def due_configs(session: Session) -> list[tuple[str, int]]:
    """(gateway, rollout) of every config still to publish."""
    query = select(ConfigRolloutTarget).where(ConfigRolloutTarget.status == PENDING
                                              ).order_by(col(ConfigRolloutTarget.rollout_id))
    return [(t.gateway_id, t.rollout_id) for t in session.exec(query)]


def mark_published(session: Session, gateway_id: str, rollout_id: int, now: int) -> None:
    target = session.get(ConfigRolloutTarget, (rollout_id, gateway_id))
    if target is not None and target.status == PENDING:
        target.status, target.published_at, target.updated_at = PUBLISHED, now, now
        session.add(target)


def mark_pending(session: Session, gateway_id: str, rollout_id: int, now: int) -> None:
    """Its publication failed (the connection broke): to be published again."""
    target = session.get(ConfigRolloutTarget, (rollout_id, gateway_id))
    if target is not None and target.status == PUBLISHED:
        target.status, target.published_at, target.updated_at = PENDING, None, now
        session.add(target)


def awaiting_gateways(session: Session) -> set[str]:
    """Gateways with a published config they have not yet applied or refused."""
    query = select(ConfigRolloutTarget.gateway_id).where(
        ConfigRolloutTarget.status == PUBLISHED).distinct()
    return set(session.exec(query))


def record_config_status(session: Session, gateway_id: str, config_version: int,
                         config_error: str | None, ts: int, now: int) -> int:
    """A gateway's status moves its published rollouts on; how many it moved."""
    query = select(ConfigRolloutTarget).where(ConfigRolloutTarget.gateway_id == gateway_id,
                                              ConfigRolloutTarget.status == PUBLISHED)
    moved = 0
    for target in session.exec(query):
        if config_version >= target.rollout_id:
            target.status, target.error = APPLIED, None
        elif config_error and target.published_at is not None and ts >= target.published_at:
            target.status, target.error = FAILED, config_error
        else:
            continue
        target.updated_at = now
        session.add(target)
        moved += 1
    return moved


def progress(session: Session, rollout_id: int) -> tuple[ConfigRollout, list[ConfigRolloutTarget]]:
    rollout = session.get(ConfigRollout, rollout_id)
    if rollout is None:
        raise CommandNotFound(f"no rollout {rollout_id}")
    targets = session.exec(select(ConfigRolloutTarget).where(
        ConfigRolloutTarget.rollout_id == rollout_id
    ).order_by(col(ConfigRolloutTarget.gateway_id))).all()
    return rollout, list(targets)

"""The rules in force per device model: versions stored in the database, edited
through the API, picked up by every process that shares the database.

Version 1 is what the model file declares; the newest stored version is in force.
`models` is the dict both rule engines read, so installing a version reaches them
at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from asset_registry.catalog import DeviceModel
from asset_registry.rule_spec import parse_rules, rule_spec_of
from foundations.clock import Clock
from foundations.database import session_scope
from rules.errors import AlertError
from rules.tables import RuleSet

log = logging.getLogger("fieldpulse.rules")

RuleSpecs = list[dict[str, Any]]


class RuleBook:
    def __init__(self, engine: Engine, models: Mapping[str, DeviceModel], clock: Clock,
                 lock: threading.Lock) -> None:
        self._engine, self._clock, self._lock = engine, clock, lock
        self.models = dict(models)
        self._versions: dict[str, int] = {}  # version in force per model
        with Session(engine) as session:
            for rule_set in session.exec(select(RuleSet).order_by(col(RuleSet.version))):
                if rule_set.model_id in self.models:
                    self._install(rule_set.model_id, json.loads(rule_set.rules),
                                  rule_set.version)

    def rules_of(self, model_id: str) -> tuple[int, RuleSpecs]:
        """The rules in force for a model: (version, specs)."""
        with Session(self._engine) as session:
            latest = session.exec(select(RuleSet).where(RuleSet.model_id == model_id)
                                  .order_by(col(RuleSet.version).desc())).first()
        if latest is not None:
            return latest.version, json.loads(latest.rules)
        return 1, [rule_spec_of(r) for r in self.models[model_id].rules]

    def update(self, model_id: str, specs: RuleSpecs, by: str) -> int:
        """Validate and put a new version of a model's rules in force; returns the version.

        Raises RuleError naming the field when a rule does not validate; the rules in
        force then stay as they were.
        """
        if model_id not in self.models:
            raise AlertError(f"no device model '{model_id}'")
        parse_rules(specs, "rules", self.models[model_id].attributes)  # refuse before storing
        with self._lock:
            version = self.rules_of(model_id)[0] + 1
            with session_scope(self._engine) as session:
                session.add(RuleSet(model_id=model_id, version=version, rules=json.dumps(specs),
                                    created_at=self._clock(), created_by=by))
            self._install(model_id, specs, version)
        log.info("rules of %s: version %s in force (by %s)", model_id, version, by)
        return version

    def reload(self) -> list[str]:
        """Put in force the rule versions another process stored; returns the models
        that changed. An edit through the API is in force at once in the process that
        took it, and in the others at their next reload (every few seconds)."""
        with Session(self._engine) as session:
            newest = session.exec(select(RuleSet.model_id, func.max(RuleSet.version))
                                  .group_by(col(RuleSet.model_id))).all()
        changed = []
        for model_id, version in newest:
            if model_id in self.models and version > self._versions.get(model_id, 1):
                _, specs = self.rules_of(model_id)
                with self._lock:
                    self._install(model_id, specs, version)
                changed.append(model_id)
                log.info("rules of %s: version %s in force (stored by another process)",
                         model_id, version)
        return changed

    def _install(self, model_id: str, specs: RuleSpecs, version: int) -> None:
        model = self.models[model_id]
        self.models[model_id] = replace(model, rules=parse_rules(specs, "rules",
                                                                 model.attributes))
        self._versions[model_id] = version

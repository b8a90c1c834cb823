"""The parts catalogue as edited through the API, over the device-model files.

The model files (`[[parts]]`, `[parts_needed]`) are the defaults. A part an admin has
written is stored whole in `catalogue_part` (name, price, the models that use it, and
which rules, plans and faults of those models need it) and replaces everything the
files say of that part number: its price on a settlement, the parts an alert, a
maintenance visit or a customer's fault report puts on a work order.

A process applies the stored parts when it starts (`with_stored_parts`); the process
that takes an edit applies it at once (`with_edits`); separate ingest workers apply
the stored parts again with their rule versions, every few seconds.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import BigInteger, Engine
from sqlmodel import Field, Session, SQLModel, col, select

from asset_registry.catalog import DeviceModel, all_parts
from asset_registry.fault_categories import FAULT_CATEGORIES
from asset_registry.parts import MAX_PART_QTY, NEED_KINDS, ModelParts, Part, PartNeed


class CataloguePart(SQLModel, table=True):
    """A part as an admin last wrote it; its row wins over the model files."""

    __tablename__ = "catalogue_part"
    number: str = Field(primary_key=True)
    name: str
    price_cents: int
    consumable: str | None = None  # kept from the model file: a sales product
    model_ids: str  # JSON list: the device models that use it
    needs: str  # JSON list of {"model_id", "need", "qty"}; need: "rule:<id>" etc.
    updated_at: int = Field(sa_type=BigInteger)
    updated_by: str


@dataclass(frozen=True, slots=True)
class Need:
    model_id: str
    need: str  # "rule:<id>" | "maintenance:<id>" | "fault:<category>"
    qty: int


@dataclass(frozen=True, slots=True)
class PartEdit:
    number: str
    name: str
    price_cents: int
    model_ids: tuple[str, ...]
    needs: tuple[Need, ...] = ()
    consumable: str | None = None


class CatalogueEditError(ValueError):
    """An edit the catalogue cannot take; the message names the field."""


def current(models: Mapping[str, DeviceModel], number: str) -> PartEdit | None:
    """A part as the catalogue in force has it, in the shape of an edit."""
    part = all_parts(models).get(number)
    if part is None:
        return None
    users = tuple(sorted(m.id for m in models.values() if number in m.parts.parts))
    needs = tuple(Need(m, key, n.qty) for m in users
                  for key, lines in models[m].parts.needs.items()
                  for n in lines if n.part == number)
    return PartEdit(number, part.name, part.price_cents, users, needs, part.consumable)


def check(edit: PartEdit, models: Mapping[str, DeviceModel],
          rule_ids: Mapping[str, set[str]] | None = None) -> None:
    """Refuse an edit naming an unknown model, or a need its model does not have.
    `rule_ids`: the rules in force per model, where they were edited (rules.rule_book);
    by default the models' own."""
    if not edit.model_ids:
        raise CatalogueEditError("model_ids: at least one device model uses the part")
    for i, model_id in enumerate(edit.model_ids):
        if model_id not in models:
            raise CatalogueEditError(f"model_ids[{i}]: no device model {model_id!r} "
                                     f"(known: {sorted(models)})")
    if len(set(edit.model_ids)) != len(edit.model_ids):
        raise CatalogueEditError("model_ids: each model once")
    seen: set[tuple[str, str]] = set()
    for i, need in enumerate(edit.needs):
        at = f"needs[{i}]"
        if need.model_id not in edit.model_ids:
            raise CatalogueEditError(f"{at}.model_id: {need.model_id!r} is not one of the "
                                     f"part's model_ids {list(edit.model_ids)}")
        model = models[need.model_id]
        kind, _, key = need.need.partition(":")
        rules = {r.id for r in model.rules}
        known = {"rule": rules if rule_ids is None else rule_ids.get(model.id, rules),
                 "maintenance": {p.id for p in model.maintenance},
                 "fault": set(FAULT_CATEGORIES)}.get(kind, set())
        if kind not in NEED_KINDS or key not in known:
            raise CatalogueEditError(
                f"{at}.need: {need.need!r} is not one of {model.id}'s "
                f"{kind + 's' if kind in NEED_KINDS else 'rules, plans or faults'}: "
                f"{sorted(known) or 'none'} ('rule:<id>', 'maintenance:<id>' or "
                f"'fault:<category>')")
        if not 0 < need.qty <= MAX_PART_QTY:
            raise CatalogueEditError(f"{at}.qty: a whole number from 1 to {MAX_PART_QTY}")
        if (need.model_id, need.need) in seen:
            raise CatalogueEditError(f"{at}: {need.model_id} {need.need} listed twice")
        seen.add((need.model_id, need.need))


def with_edits(models: Mapping[str, DeviceModel], edits: Iterable[PartEdit]
               ) -> dict[str, DeviceModel]:
    """The models with each edited part replaced: removed wherever it was, then put in
    the models and needs the edit names. Applying an edit twice changes nothing more."""
    out = dict(models)
    for edit in edits:
        part = Part(edit.number, edit.name, edit.price_cents, edit.consumable)
        for model_id, model in out.items():
            if edit.number not in model.parts.parts and model_id not in edit.model_ids:
                continue
            parts = {n: p for n, p in model.parts.parts.items() if n != edit.number}
            needs: dict[str, list[PartNeed]] = {
                key: [n for n in lines if n.part != edit.number]
                for key, lines in model.parts.needs.items()}
            if model_id in edit.model_ids:
                parts[edit.number] = part
                for need in edit.needs:
                    if need.model_id == model_id:
                        needs.setdefault(need.need, []).append(PartNeed(edit.number,
                                                                        need.qty))
            out[model_id] = _with_parts(model, ModelParts(
                MappingProxyType(parts),
                MappingProxyType({k: tuple(v) for k, v in needs.items() if v}),
                model.parts.labour_cents_per_hour))
    return out


def _with_parts(model: DeviceModel, parts: ModelParts) -> DeviceModel:
    # A maintenance plan carries its parts (the maintenance runner reads them there).
    return dataclasses.replace(model, parts=parts, maintenance=tuple(
        dataclasses.replace(p, parts=parts.needed_for("maintenance", p.id))
        for p in model.maintenance))


def store(session: Session, edit: PartEdit, *, by: str, at: int) -> None:
    row = session.get(CataloguePart, edit.number) or CataloguePart(
        number=edit.number, name="", price_cents=0, model_ids="[]", needs="[]",
        updated_at=at, updated_by=by)
    row.name, row.price_cents, row.consumable = edit.name, edit.price_cents, edit.consumable
    row.model_ids = json.dumps(list(edit.model_ids))
    row.needs = json.dumps([dataclasses.asdict(n) for n in edit.needs])
    row.updated_at, row.updated_by = at, by
    session.add(row)


def stored(session: Session) -> list[PartEdit]:
    return [PartEdit(r.number, r.name, r.price_cents, tuple(json.loads(r.model_ids)),
                     tuple(Need(**n) for n in json.loads(r.needs)), r.consumable)
            for r in session.exec(select(CataloguePart)
                                  .order_by(col(CataloguePart.updated_at)))]


def with_stored_parts(engine: Engine, models: Mapping[str, DeviceModel]
                      ) -> dict[str, DeviceModel]:
    """The models as the files declare them, with every stored edit applied. A stored
    edit naming a model this installation no longer has keeps its other models."""
    with Session(engine) as session:
        edits = stored(session)
    return with_edits(models, [_known(e, models) for e in edits])


def _known(edit: PartEdit, models: Mapping[str, DeviceModel]) -> PartEdit:
    keep: Sequence[str] = [m for m in edit.model_ids if m in models]
    return dataclasses.replace(edit, model_ids=tuple(keep),
                               needs=tuple(n for n in edit.needs if n.model_id in keep))

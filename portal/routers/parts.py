"""Editing the parts catalogue (admins): a new part, a part replaced or changed: its
name, price, the models that use it and which faults, alert rules and maintenance plans
need it. Stored in the database over the model files (asset_registry.part_catalogue);
in force at once in this process, read back through `GET /api/parts`."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Path

from asset_registry import part_catalogue
from asset_registry.part_catalogue import CatalogueEditError, Need, PartEdit
from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.audit import record
from portal.auth.dependencies import Admin, GuardedRoute
from portal.context import ContextDep, PortalContext
from portal.schemas.parts import PART_NUMBER, NeedIn, PartBody, PartChange, PartNew, PartWritten

router = APIRouter(route_class=GuardedRoute, tags=["parts and stock"])
Number = Path(min_length=1, max_length=64, pattern=PART_NUMBER)
# Edits are checked against, and applied to, the catalogue in force one at a time: two
# at once would each start from the same models and the later would undo the earlier.
_ONE_AT_A_TIME = threading.Lock()


@router.post("/api/parts", status_code=201)
def new_part(body: PartNew, ctx: ContextDep, principal: Admin) -> PartWritten:
    def edit() -> PartEdit:
        if part_catalogue.current(ctx.models, body.number) is not None:
            raise HTTPException(409, f"part {body.number} is in the catalogue already: "
                                     f"PUT or PATCH /api/parts/{body.number} changes it")
        return _edit(body.number, body, consumable=None)
    return _write(ctx, principal.actor, edit, "new")


@router.put("/api/parts/{number}")
def replace_part(body: PartBody, ctx: ContextDep, principal: Admin,
                 number: str = Number) -> PartWritten:
    """The part as given, whole: its needs replace all it had."""
    return _write(ctx, principal.actor,
                  lambda: _edit(number, body, _existing(ctx, number).consumable), "replace")


@router.patch("/api/parts/{number}")
def change_part(body: PartChange, ctx: ContextDep, principal: Admin,
                number: str = Number) -> PartWritten:
    """Only the fields given change; `needs`, when given, replaces all the part's."""
    change = body.model_dump(exclude_unset=True)
    if any(change.get(k, "") is None for k in ("name", "price_cents", "model_ids", "needs")):
        raise HTTPException(422, "a field given must have a value (leave it out to keep it)")
    return _write(ctx, principal.actor, lambda: _changed(_existing(ctx, number), body),
                  "change")


def _changed(old: PartEdit, body: PartChange) -> PartEdit:
    edit = dataclasses.replace(
        old, name=body.name or old.name,
        price_cents=old.price_cents if body.price_cents is None else body.price_cents,
        model_ids=tuple(body.model_ids) if body.model_ids else old.model_ids,
        needs=old.needs if body.needs is None else tuple(
            Need(n.model_id, n.need, n.qty) for n in body.needs))
    if body.model_ids and body.needs is None:  # needs of models no longer using it go
        edit = dataclasses.replace(edit, needs=tuple(n for n in edit.needs
                                                     if n.model_id in edit.model_ids))
    return edit


def _existing(ctx: PortalContext, number: str) -> PartEdit:
    old = part_catalogue.current(ctx.models, number)
    if old is None:
        raise HTTPException(404, f"no part {number} in the catalogue (POST /api/parts "
                                 "adds one)")
    return old


def _edit(number: str, body: PartBody, consumable: str | None) -> PartEdit:
    return PartEdit(number, body.name, body.price_cents, tuple(body.model_ids),
                    tuple(Need(n.model_id, n.need, n.qty) for n in body.needs), consumable)


def _write(ctx: PortalContext, actor: str, make: Callable[[], PartEdit], verb: str
           ) -> PartWritten:
    """`make` builds the edit from the catalogue in force, under the lock."""
    with _ONE_AT_A_TIME:
        edit = make()
        try:
            part_catalogue.check(edit, ctx.models, None if ctx.rules is None else {
                m: {r.id for r in model.rules} for m, model in ctx.rules.book.models.items()})
        except CatalogueEditError as err:
            raise HTTPException(422, str(err)) from None
        with session_scope(ctx.engine) as session:
            part_catalogue.store(session, edit, by=actor, at=now_ms())
            record(session, actor, f"part.{verb}", f"part:{edit.number}",
                   f"{edit.name}, {edit.price_cents} cents, models "
                   f"{','.join(edit.model_ids)}")
        # After the commit: a refused write leaves the catalogue in force as it was.
        ctx.models = part_catalogue.with_edits(ctx.models, [edit])
        ctx.on_part_edited(edit)
    return PartWritten(number=edit.number, name=edit.name, price_cents=edit.price_cents,
                       consumable=edit.consumable, model_ids=list(edit.model_ids),
                       needs=[NeedIn(model_id=n.model_id, need=n.need, qty=n.qty)
                              for n in edit.needs])

"""Inbound writes from external systems (CRMs): cases and work orders created and
changed through the API, each call safe to retry with an `Idempotency-Key`.

Integrations call with an API token of a dispatcher or admin. Every change here is
an ORM write, so it reaches the domain-event outbox and the webhooks like any other.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from asset_registry.tables import Device
from foundations.clock import now_ms
from integrations.idempotency import Action, KeyConflict, request_hash, run_once
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import require_role
from portal.context import ContextDep, PortalContext
from portal.schemas import RowId, WorkOrderPublic
from service.cases import open_case
from service.tables import OPEN_STATUSES, WORK_ORDER_STATUSES, Case, WorkOrder
from service.work_orders import StatusError, set_status

router = APIRouter(tags=["intake"])
Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]


class CaseIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    contact: str = Field(default="", max_length=200, description="e-mail or phone")
    priority: int = Field(default=3, ge=1, le=5, description="1 lowest .. 5 urgent")
    skill: str | None = Field(default=None, max_length=100,
                              description="default: the device model's service skill")
    duration_min: int | None = Field(default=None, ge=1, le=24 * 60,
                                     description="default: the device model's service time")


class CaseChange(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    contact: str | None = Field(default=None, max_length=200)
    priority: int | None = Field(default=None, ge=1, le=5,
                                 description="applies to the case's open work orders")
    status: Literal["open", "closed"] | None = Field(
        default=None, description="closed only once none of its work orders is open")


class WorkOrderChange(BaseModel):
    priority: int | None = Field(default=None, ge=1, le=5)
    status: Literal["accepted", "en_route", "on_site", "done"] | None = Field(
        default=None, description="forward only, and only once an engineer is assigned")
    note: str = Field(default="", max_length=2000)


class CasePublic(BaseModel):
    id: int
    device_id: str
    source: str
    title: str
    description: str
    contact: str
    status: str
    created_at: int


class CaseWithOrders(BaseModel):
    case: CasePublic
    work_orders: list[WorkOrderPublic]


def _case_out(session: Session, case: Case) -> dict[str, Any]:
    orders = session.exec(select(WorkOrder).where(WorkOrder.case_id == case.id)
                          .order_by(col(WorkOrder.id))).all()
    return CaseWithOrders(
        case=CasePublic.model_validate(case, from_attributes=True),
        work_orders=[WorkOrderPublic.model_validate(o, from_attributes=True) for o in orders],
    ).model_dump(mode="json")


REPLAYED_HEADER = "Idempotent-Replayed"

KeyHeader = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="send the same key to retry safely: the first answer is returned again")]


def _once(ctx: PortalContext, principal: Principal, key: str | None, request: Request,
          body: BaseModel, action: Action) -> tuple[JSONResponse, bool]:
    """Run `action` once per idempotency key; (the response, whether it ran now)."""
    fingerprint = request_hash(request.method, request.url.path,
                               body.model_dump(mode="json", exclude_unset=True))
    try:
        answer = run_once(ctx.engine, principal.actor, key, fingerprint, action)
    except KeyConflict as exc:
        raise HTTPException(exc.status, str(exc)) from None
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else None
    return JSONResponse(answer.body, answer.status_code, headers=headers), not answer.replayed


@router.post("/api/cases", status_code=201, response_model=CaseWithOrders)
def create_case(body: CaseIn, request: Request, ctx: ContextDep, principal: Staff,
                idempotency_key: KeyHeader = None) -> JSONResponse:
    """Open a case with one work order for a device (like a customer's fault report)."""

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        device = session.get(Device, body.device_id)
        if device is None:
            raise HTTPException(404, f"no device '{body.device_id}'")
        model = ctx.models.get(device.model_id)
        if model is None and (body.skill is None or body.duration_min is None):
            raise HTTPException(409, f"device '{device.id}' has no known model: "
                                "give skill and duration_min")
        case, order = open_case(
            session, device_id=device.id, source="api", title=body.title,
            description=body.description, contact=body.contact, priority=body.priority,
            skill=body.skill or (model.service_skill if model else ""),
            duration_min=body.duration_min or (model.service_minutes if model else 60))
        record(session, principal.actor, "case.create", f"case:{case.id}",
               f"work order {order.id}, priority {order.priority}")
        session.flush()
        return 201, _case_out(session, case)

    response, done = _once(ctx, principal, idempotency_key, request, body, action)
    if done:
        ctx.request_replan()
    return response


@router.patch("/api/cases/{case_id}", response_model=CaseWithOrders)
def change_case(case_id: RowId, body: CaseChange, request: Request, ctx: ContextDep,
                principal: Staff, idempotency_key: KeyHeader = None) -> JSONResponse:
    """Change what a CRM may: title, description, contact, priority, open -> closed."""

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        case = session.get(Case, case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        orders = session.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).all()
        if body.status is not None and body.status != case.status:
            if body.status == "open":
                raise HTTPException(409, f"case {case_id} is closed; open a new case instead")
            unfinished = [o.id for o in orders if o.status != "done"]
            if unfinished:
                raise HTTPException(409, f"case {case_id} still has work orders not done: "
                                    f"{unfinished}")
            case.status = "closed"
        for name in ("title", "description", "contact"):
            if (value := getattr(body, name)) is not None:
                setattr(case, name, value)
        if body.priority is not None:
            for order in orders:
                if order.status in OPEN_STATUSES and order.priority != body.priority:
                    order.priority, order.updated_at = body.priority, now_ms()
                    session.add(order)
        session.add(case)
        record(session, principal.actor, "case.change", f"case:{case_id}",
               body.model_dump_json(exclude_unset=True))
        session.flush()
        return 200, _case_out(session, case)

    response, done = _once(ctx, principal, idempotency_key, request, body, action)
    if done and body.priority is not None:
        ctx.request_replan()
    return response


@router.patch("/api/work-orders/{order_id}", response_model=WorkOrderPublic)
def change_work_order(order_id: RowId, body: WorkOrderChange, request: Request,
                      ctx: ContextDep, principal: Staff,
                      idempotency_key: KeyHeader = None) -> JSONResponse:
    """Change a work order's priority (while it is still to be planned) or move it
    forward in its life cycle (new -> assigned are the dispatcher's plans' to set)."""

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        order = session.get(WorkOrder, order_id)
        if order is None:
            raise HTTPException(404, f"no work order {order_id}")
        if body.priority is not None and body.priority != order.priority:
            if order.status not in OPEN_STATUSES:
                raise HTTPException(409, f"work order {order_id} is '{order.status}': "
                                    "its priority can no longer change")
            order.priority, order.updated_at = body.priority, now_ms()
            session.add(order)
        if body.status is not None and body.status != order.status:
            _move(session, order, body.status, f"by {principal.username}"
                  + (f": {body.note}" if body.note else ""))
        record(session, principal.actor, "work_order.change", f"work_order:{order_id}",
               body.model_dump_json(exclude_unset=True))
        session.flush()
        return 200, WorkOrderPublic.model_validate(order, from_attributes=True
                                                   ).model_dump(mode="json")

    response, done = _once(ctx, principal, idempotency_key, request, body, action)
    if done and body.priority is not None:
        ctx.request_replan()
    return response


def _move(session: Session, order: WorkOrder, status: str, note: str) -> None:
    if order.engineer_id is None:
        raise HTTPException(409, f"work order {order.id} has no engineer yet: it is "
                            f"'{order.status}' until a plan assigns one")
    if WORK_ORDER_STATUSES.index(status) < WORK_ORDER_STATUSES.index(order.status):
        raise HTTPException(409, f"work order {order.id} is already '{order.status}'; "
                            f"the life cycle is {' -> '.join(WORK_ORDER_STATUSES)}")
    try:
        set_status(session, order, status, note=note)
    except StatusError as err:
        raise HTTPException(409, str(err)) from None

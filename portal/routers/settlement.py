"""Settling a job at the door (`service.settlement`): parts used from the van and labour,
priced by the customer's coverage; the service report PDF, e-mailed to the customer
and kept among the case's files.
Engineers settle their own jobs; dispatchers and admins anyone's."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from asset_registry.parts import PartNeed
from asset_registry.tables import Device
from foundations.clock import now_ms
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, JobActor, job_of
from portal.context import ContextDep, SessionDep
from portal.schemas.common import RowId
from portal.schemas.settlement import InvoiceLine, SettleIn, SettlementPublic
from portal.uploads import private_dir, write_private
from service import service_report
from service.pricing import money
from service.settlement import (
    SettlementError,
    attach_report,
    report_attachment,
    send_report,
    settle,
)
from service.tables import JobReport, Settlement

router = APIRouter(route_class=GuardedRoute, tags=["engineer app"])


def _public(settlement: Settlement, already: bool = False) -> SettlementPublic:
    return SettlementPublic(
        work_order_id=settlement.work_order_id, coverage=settlement.coverage,
        currency=settlement.currency,
        lines=[InvoiceLine(**line) for line in json.loads(settlement.lines)],
        total_cents=settlement.total_cents, labour_minutes=settlement.labour_minutes,
        settled_by=settlement.settled_by, settled_at=settlement.settled_at,
        report_url=f"/api/work-orders/{settlement.work_order_id}/service-report.pdf",
        already=already)


@router.post("/api/work-orders/{order_id}/settle")
def settle_job(order_id: RowId, body: SettleIn, ctx: ContextDep, session: SessionDep,
               principal: JobActor) -> SettlementPublic:
    """Parts used (from the engineer's van) and labour: priced, the job done, the
    report made and e-mailed. Once: sent again, the stored settlement is the answer."""
    order = job_of(session, order_id, principal)
    done = session.get(Settlement, order_id)
    if done is not None:
        return _public(done, already=True)
    if ctx.uploads_dir is None:
        raise HTTPException(503, "this installation keeps no uploads (no uploads folder set)")
    model = ctx.models.get(_model_id(session, order.device_id))
    if model is None:
        raise HTTPException(409, f"device '{order.device_id}' has no known model: its parts "
                                 "and labour rate are unknown")
    at = now_ms()
    try:
        settlement, facts = settle(
            session, order, model, [PartNeed(p.part, p.qty) for p in body.parts],
            body.labour_minutes, by=principal.actor, at=at, tz=ctx.tz)
    except SettlementError as err:
        session.rollback()
        raise HTTPException(409, str(err)) from None
    report = session.get(JobReport, order_id)
    folder = private_dir(ctx.uploads_dir, "work-orders", str(order_id))
    signature = folder / report.signature if report and report.signature else None
    pdf = service_report.render(facts, signature.read_bytes() if signature and
                                signature.exists() else None)
    path = folder / settlement.report_file
    write_private(path, pdf, replace=True)  # none is in force: nothing is settled yet
    # The same report among the case's files, where the case's reader looks.
    write_private(private_dir(ctx.uploads_dir, "cases", str(order.case_id))
                  / report_attachment(order), pdf, replace=True)
    attach_report(session, order, at)
    send_report(session, order, settlement, str(path.resolve()), at)
    record(session, principal.actor, "work_order.settle", f"work_order:{order_id}",
           f"{settlement.coverage}, {money(settlement.total_cents)}")
    session.commit()
    return _public(settlement)


@router.get("/api/work-orders/{order_id}/settlement")
def settlement_of(order_id: RowId, session: SessionDep, principal: JobActor
                  ) -> SettlementPublic:
    job_of(session, order_id, principal)
    done = session.get(Settlement, order_id)
    if done is None:
        raise HTTPException(404, f"work order {order_id} is not settled")
    return _public(done)


@router.get("/api/work-orders/{order_id}/service-report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def service_report_pdf(order_id: RowId, ctx: ContextDep, session: SessionDep,
                       principal: JobActor) -> Response:
    """The service report of a settled job."""
    job_of(session, order_id, principal)
    done = session.get(Settlement, order_id)
    if done is None or ctx.uploads_dir is None:
        raise HTTPException(404, f"work order {order_id} has no service report: it is not "
                                 "settled")
    path = ctx.uploads_dir / "work-orders" / str(order_id) / done.report_file
    if not path.is_file():
        raise HTTPException(404, f"the service report of work order {order_id} is missing")
    return Response(path.read_bytes(), media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="service-report-{order_id}.pdf"'})


def _model_id(session: SessionDep, device_id: str) -> str:
    device = session.get(Device, device_id)
    return device.model_id if device else ""

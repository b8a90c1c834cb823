"""The customer's self-service pages, reached by scanning the device's QR code.

The token in the URL is the only key, checked on every request; a wrong or
revoked one gets the same answer as a device that does not exist. The customer
sees their device's state in plain words, its open alerts, the repair's
timeline with the engineer's first name and ETA, past visits, the device's case
history (however each case was opened), and can report a fault (with photos and
one of the arrival windows the dispatcher can keep; `service.customer_reports`)
and rate a finished visit. Every route is rate-limited per client address.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from asset_registry.catalog import DeviceModel, severity_rank
from asset_registry.tables import Customer, Device, Site
from dispatch.plan_store import HORIZON_S, promise
from dispatch.planning import offer_windows, window_available
from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, early, public_csrf, public_rate_limit
from portal.context import ContextDep, SessionDep
from portal.i18n import N_, gettext_for, page_locale
from portal.queries.alerts import list_alerts
from portal.queries.articles import for_customer
from portal.queries.cases import device_cases
from portal.queries.devices import device_by_token, device_detail
from portal.queries.work_orders import device_work_orders_with_events
from portal.rendering import render
from portal.schemas.common import RowId
from portal.uploads import Image, private_dir, read_image, write_private
from service import customer_reports, self_service
from service.customer_reports import FAULT_CATEGORIES, FaultReportError, Photo
from service.job_reports import ReportError, rate_visit
from service.tables import Case, Engineer, JobReport, WorkOrder

router = APIRouter(route_class=GuardedRoute, include_in_schema=False,
                   dependencies=[Depends(public_rate_limit)])

# Both shown on the error page, translated there (`N_` marks them).
INVALID_CODE = N_("This code is not valid. Please contact your service provider.")
WINDOW_TAKEN = N_("That arrival window can no longer be kept (it was just taken). "
                  "Please go back and pick another, or send the report without one.")
# The repair's steps in the customer's words (translated when shown: `N_` marks them).
STEP_WORDS = {"new": N_("Reported"), "assigned": N_("Engineer assigned"),
              "accepted": N_("Engineer confirmed"),
              "en_route": N_("Engineer on the way"), "on_site": N_("Engineer on site"),
              "done": N_("Repair done"), "cannot_complete": N_("Visit could not be completed"),
              "window_missed": N_("Your arrival window cannot be kept — we will contact you"),
              "booked": N_("Arrival window booked")}
# How a case came to be, in the customer's words.
SOURCE_WORDS = {"customer": N_("Reported by you"), "alert": N_("Detected by remote monitoring"),
                "maintenance": N_("Planned maintenance"),
                self_service.SOURCE: N_("Solved by you with a guide — no visit")}
OTHER_SOURCE = N_("Service request")
# The troubleshooting articles are written in English and carry no language of their
# own yet: the QR page offers them as guides to readers of English only, so a page in
# another language is not half English.
ARTICLES_LANGUAGE = "en"


def _plain_state(online: bool, worst: str | None, repairing: bool = False) -> tuple[str, str]:
    """The device's condition in words a customer understands, and a css class; never
    "working normally" while a repair of it is under way."""
    if worst and severity_rank(worst) >= severity_rank("high"):
        return N_("Fault detected — our service team has been alerted"), "bad"
    if worst:
        return N_("Needs attention soon"), "warn"
    if repairing:
        return N_("A repair is arranged — follow it below"), "info"
    if not online:
        return N_("Not connected — we cannot see it right now"), "offline"
    return N_("Working normally"), "ok"


# An open alert in the customer's words: what is affected and how bad it is.
SEVERITY_WORDS = {"critical": N_("fault — our service team has been alerted"),
                  "high": N_("fault — our service team has been alerted"),
                  "medium": N_("needs attention soon"), "low": N_("worth watching"),
                  "info": N_("for information")}


def _case_title(case: Case, model: DeviceModel, locale: str,
                _: Callable[[str], str]) -> str:
    """A case's title in the customer's language where its words are known: their own
    report's category, the model's name; the rest (a rule's message, a maintenance
    plan) in the model's own language."""
    prefix = "Customer report: "
    if case.source == customer_reports.SOURCE and case.title.startswith(prefix):
        return _("Customer report: %(category)s") % {"category": _(case.title[len(prefix):])}
    fixed = "Fixed by the customer: "  # service/self_service.py writes it so, in English
    if case.source == self_service.SOURCE and case.title.startswith(fixed):
        return _("Fixed by the customer: %(guide)s") % {"guide": case.title[len(fixed):]}
    if case.title.startswith(f"{model.name}: "):
        return f"{model.name_in(locale)}: {case.title[len(model.name) + 2:]}"
    return case.title


def _first_name(name: str) -> str:
    # Customers learn who is coming, not the engineer's full name.
    return name.split()[0] if name.split() else "an engineer"


def _step_note(status: str, note: str) -> str:
    """What a timeline entry may tell the customer: a give-back's reason, nothing else
    (notes name engineers' ids and accounts)."""
    if status == "cannot_complete" and ": " in note:
        return note.split(": ", 1)[1]
    return ""


def invalid_code(support_contact: str) -> str:
    """What a customer with a wrong or revoked code is told: who to contact."""
    if support_contact:
        return f"This code is not valid. Please contact your service provider: {support_contact}."
    return INVALID_CODE


def _device(session: Session, token: str, support_contact: str = "") -> Device:
    device = device_by_token(session, token)
    if device is None:
        # Same answer for a wrong or a revoked token: nothing to learn from it.
        raise HTTPException(404, invalid_code(support_contact))
    return device


@router.get("/q/{token}")
def customer_page(token: str, request: Request, ctx: ContextDep, session: SessionDep,
                  reported: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                  fixed: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                  tried: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
                  ) -> Response:
    device = _device(session, token, ctx.support_contact)
    detail = device_detail(session, device.id, ctx.models)
    assert detail is not None
    orders = device_work_orders_with_events(session, device.id)
    current = [row for row in orders if row[0].status != "done"]
    # The customer's language: their pick on the page, their record's, their browser's.
    on_record = session.exec(
        select(Customer.language).join(Site, col(Site.customer_id) == Customer.id)
        .where(Site.id == device.site_id)).first()
    locale = page_locale(request, None, on_record)
    _ = gettext_for(locale)
    state, state_class = _plain_state(detail.online, detail.worst_severity, bool(current))
    state = _(state)
    model = ctx.models[device.model_id]
    attributes = model.attributes
    plain = {key: a.plain_label_in(locale) for key, a in attributes.items()}
    engineers = {o.engineer_id: _first_name(e.name) for o, _, _ in orders
                 if o.engineer_id and (e := session.get(Engineer, o.engineer_id))}
    reports = {o.id: session.get(JobReport, o.id) for o, _, _ in orders}
    case = session.get(Case, reported) if reported is not None else None
    fixed_case = session.get(Case, fixed) if fixed is not None else None
    open_alerts = list_alerts(session, state="open", device_id=device.id)
    now = now_ms()
    return render(request, "customer.html", {
        "token": token, "device": detail, "state": state, "state_class": state_class,
        "model_name": model.name_in(locale), "lang_switch": True,
        "case_title": lambda case: _case_title(case, model, locale, _),
        "readings": [(plain.get(v.metric, v.label), v.value, v.unit) for v in detail.latest],
        "alerts": [(f"{plain.get(a.metric, a.metric)}: {_(SEVERITY_WORDS.get(a.severity, ''))}",
                    a.severity, a.raised_at)
                   for a in open_alerts],
        # "Try this first": guides for the open alerts' rules, then the model's common
        # problems; published for customers of this model only, in the page's language.
        "guides": for_customer(session, device.model_id, [a.rule_id for a in open_alerts])
        if locale.split("_")[0] == ARTICLES_LANGUAGE else [],
        "fixed": fixed_case.id if fixed_case is not None and fixed_case.device_id == device.id
        and fixed_case.source == self_service.SOURCE else None,
        "tried": tried,
        "current": current,
        "history": [row for row in orders if row[0].status == "done"],
        "engineers": engineers, "reports": reports, "categories": FAULT_CATEGORIES,
        "steps": {key: _(words) for key, words in STEP_WORDS.items()}, "step_note": _step_note,
        # This device's cases only, each with its visits and how they ended.
        "cases": device_cases(session, device.id),
        "sources": {key: _(words) for key, words in SOURCE_WORDS.items()},
        "other_source": _(OTHER_SOURCE),
        # Only this device's cases are acknowledged: another number shows nothing.
        "reported": case.id if case is not None and case.device_id == device.id else None,
        # Whether each arrival window promised is kept, waits for its day, or cannot be.
        "promises": {o.id: promise(o, now) for o, _, _ in orders},
        "tz": ctx.tz,
    }, language=locale)


@router.get("/q/{token}/windows")
def arrival_windows(token: str, ctx: ContextDep, session: SessionDep) -> list[dict[str, int]]:
    """Arrival windows the current plan can keep for a visit to this device."""
    device = _device(session, token, ctx.support_contact)
    model = ctx.models[device.model_id]
    offers = offer_windows(ctx.engine, ctx.tz, device.id, model.service_skill,
                           model.service_minutes)
    return [{"start_ms": o.start_ms, "end_ms": o.end_ms} for o in offers]


def _window(value: str, now: int) -> tuple[int, int] | None:
    """The window field, START-END in ms (empty: none chosen)."""
    if not value:
        return None
    start_text, _, end_text = value.partition("-")
    if not (start_text.isdigit() and end_text.isdigit()):
        raise HTTPException(422, "window: expected START-END in ms")
    return customer_reports.check_window(int(start_text), int(end_text), now,
                                         HORIZON_S * 1000)


async def _photos(photos: list[UploadFile]) -> list[Image]:
    """Each photo chosen (its type what its bytes are); empty files are skipped."""
    chosen = [p for p in photos if p.filename and p.size != 0]
    try:
        customer_reports.check_photo_count(len(chosen))
    except FaultReportError as err:
        raise HTTPException(422, str(err)) from None
    return [await read_image(photo, "photos") for photo in chosen]


async def _known_code(request: Request) -> None:
    """A form to a wrong or revoked code is refused before the form is read."""
    def known() -> bool:
        with Session(request.app.state.ctx.engine) as session:
            return device_by_token(session, request.path_params["token"]) is not None

    if not await run_in_threadpool(known):
        raise HTTPException(404, invalid_code(request.app.state.ctx.support_contact))


known_code = early(_known_code)


@router.post("/q/{token}/report", dependencies=[Depends(public_csrf), Depends(known_code)])
async def report_fault(
    token: str, ctx: ContextDep, session: SessionDep,
    category: Annotated[str, Form()], description: Annotated[str, Form(max_length=2000)] = "",
    contact: Annotated[str, Form(max_length=200)] = "",
    window: Annotated[str, Form(max_length=40)] = "",
    tried: Annotated[str, Form(max_length=200, pattern=r"^[0-9,]*$")] = "",
    photos: Annotated[list[UploadFile], File()] = [],  # noqa: B006 (FastAPI's form default)
) -> RedirectResponse:
    device = _device(session, token, ctx.support_contact)
    now = now_ms()
    try:
        customer_reports.check_category(category)
        promised = _window(window, now)
    except FaultReportError as err:
        raise HTTPException(422, str(err)) from None
    if promised is not None:
        model = ctx.models[device.model_id]
        if not await run_in_threadpool(window_available, ctx.engine, ctx.tz, device.id,
                                       model.service_skill, model.service_minutes,
                                       promised[0], promised[1], now):
            raise HTTPException(409, WINDOW_TAKEN)
    images = await _photos(photos)
    if images and ctx.uploads_dir is None:
        raise HTTPException(503, "photos cannot be kept here; send the report without them")
    named = [(f"{secrets.token_urlsafe(12)}{image.suffix}", image.data, image.content_type)
             for image in images]
    with session_scope(ctx.engine) as tx:
        case, _order = customer_reports.report_fault(
            tx, device_id=device.id, model=ctx.models[device.model_id], category=category,
            description=description, contact=contact, window=promised,
            photos=[Photo(name, content_type) for name, _, content_type in named], at=now)
        # The guides the customer followed before reporting ("still broken").
        ids = [int(i) for i in tried.split(",") if 0 < len(i) < 19]
        self_service.attach_tried(tx, case, ids)
        if named:
            assert ctx.uploads_dir is not None
            folder = private_dir(ctx.uploads_dir, "cases", str(case.id))
            for name, data, _ in named:
                write_private(folder / name, data)
        record(tx, "customer:qr", "fault.report", f"device:{device.id}",
               f"case {case.id}: {category}, {len(images)} photo(s)"
               + (", window requested" if promised else ""))
    ctx.request_replan()
    return RedirectResponse(f"/q/{token}?reported={case.id}", status_code=303)


@router.post("/q/{token}/rate", dependencies=[Depends(public_csrf), Depends(known_code)])
def rate(token: str, ctx: ContextDep, session: SessionDep,
         work_order_id: Annotated[RowId, Form()], stars: Annotated[int, Form(ge=1, le=5)],
         comment: Annotated[str, Form(max_length=2000)] = "") -> RedirectResponse:
    device = _device(session, token, ctx.support_contact)
    with session_scope(ctx.engine) as tx:
        order = tx.get(WorkOrder, work_order_id)
        if order is None or order.device_id != device.id:
            raise HTTPException(404, "no such visit for this device")
        try:
            rate_visit(tx, order, stars, comment, now_ms())
        except ReportError as err:
            raise HTTPException(409, str(err)) from None
        record(tx, "customer:qr", "visit.rating", f"work_order:{order.id}", f"{stars} stars")
    return RedirectResponse(f"/q/{token}#history", status_code=303)

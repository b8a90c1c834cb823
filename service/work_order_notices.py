"""What to tell whom when a work order changes: pure, no I/O.

Every change to a work order writes a `WorkOrderEvent` (service/work_orders.py);
`service.notice_recorder` reads them and calls
`notices_for` with the event, who had the job just before it, and the order's
facts. Engineers are named `engineer:<id>` (the address book resolves them);
customers by the address already known.

  event              engineer                          customer
  assigned           new one: the job, ETA, link;      engineer's first name, ETA
                     previous one: "no longer yours"
  new (after a plan  previous one: "no longer yours"   -
  left it unplanned)
  en_route           -                                 on the way, ETA, the link to
                                                       follow the arrival live (/v/…)
  done               -                                 done, link to rate the visit
  cannot_complete    - (they gave it back themselves)  will be rescheduled, the reason
  booked             -                                 the arrival window booked
  window_missed      -                                 the window promised cannot be kept

A plan that only moves an ETA writes no event, so it mails no one.

Customers read their notices in their record's language (`customer_locale`,
foundations.i18n; English if none), times in the site's time zone with its
abbreviation ("14:30 CET"). Engineers' notices are in English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from foundations.i18n import DEFAULT, Formats, translations
from notifications import recipients

# The note the plan store writes on an assignment event.
_ASSIGNED = re.compile(r"assigned to (\S+)")


@dataclass(frozen=True, slots=True)
class EventFacts:
    id: int
    status: str  # a work-order status, or "cannot_complete"
    note: str = ""


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """The work order as it stands when its event is turned into notices."""

    order_id: int
    title: str  # the case's title
    device_id: str
    device_serial: str
    model_id: str
    site_name: str
    site_address: str
    qr_token: str
    # Where the customer is reached: the case's contact if it is an e-mail address,
    # else the customer's contact address, else `customer:<id>` (which fails visibly).
    customer_recipient: str
    engineer_id: str | None  # the order's engineer now
    eta: int | None  # ms epoch, the current plan's arrival
    engineer_names: dict[str, str]  # engineer id -> full name, for those involved
    window: tuple[int, int] | None = None  # the arrival window promised (ms epoch)
    # The visit's own page (`/v/{token}`: the engineer's first name, the live ETA);
    # written into the "on the way" notice. Empty: no link.
    visit_token: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    audience: str  # engineer | customer
    recipient: str
    message: str  # first line: the subject


def assigned_engineer(event: EventFacts) -> str | None:
    match = _ASSIGNED.search(event.note) if event.status == "assigned" else None
    return match.group(1) if match else None


def engineer_before(history: Iterable[EventFacts]) -> str | None:
    """Who had the order after these events (in id order): the last assignment,
    unless the plan left it unplanned or the engineer gave it back since."""
    engineer = None
    for event in history:
        if event.status == "assigned":
            engineer = assigned_engineer(event) or engineer
        elif event.status in ("new", "cannot_complete"):
            engineer = None
    return engineer


def local_time(ms: int, tz: ZoneInfo, locale: str = DEFAULT) -> str:
    """Date and time in the site's zone, the zone stated (`Tue 03 Mar 2026, 14:30 CET`)."""
    if locale != DEFAULT:
        return Formats(locale, tz).long(ms)
    at = datetime.fromtimestamp(ms / 1000, tz)
    return f"{at:%a %d %b %Y, %H:%M} {at.tzname()}"


def first_name(name: str, fallback: str = "an engineer") -> str:
    # The customer sees only the engineer's first name, as on the QR page.
    return name.split()[0] if name.split() else fallback


def notices_for(event: EventFacts, before: str | None, order: OrderFacts, *,
                tz: ZoneInfo, base_url: str, customer_locale: str = DEFAULT) -> list[Notice]:
    """The notices one event calls for; `before` had the order just before it."""
    base_url = base_url.rstrip("/")
    _ = translations(customer_locale).gettext  # the customer's words

    def when(ms: int) -> str:
        return local_time(ms, tz, customer_locale)

    def hours(ms: int) -> str:
        return f"{datetime.fromtimestamp(ms / 1000, tz):%H:%M}"

    where = ", ".join(p for p in (order.site_name, order.site_address) if p)
    device = f"{order.device_serial} ({order.model_id})"
    notices: list[Notice] = []

    def eta_for(engineer_id: str | None) -> str | None:
        # The order's ETA is the current plan's: only valid while it is still theirs.
        if order.eta is None or engineer_id is None or order.engineer_id != engineer_id:
            return None
        return local_time(order.eta, tz)

    def taken_away(engineer_id: str, how: str) -> None:
        notices.append(Notice("engineer", recipients.engineer(engineer_id), (
            f"Job #{order.order_id} is no longer yours: {device} at {order.site_name}\n"
            f"It has been {how}; it is off your list.")))

    if event.status == "assigned":
        engineer = assigned_engineer(event) or order.engineer_id
        if engineer is None:
            return []
        if before and before != engineer:
            taken_away(before, "reassigned to another engineer")
        eta = eta_for(engineer)
        lines = [f"New job #{order.order_id}: {device} at {order.site_name}",
                 f"Job: {order.title}",
                 f"Device: {device}, id {order.device_id}"]
        if where:
            lines.append(f"Site: {where}")
        if eta:
            lines.append(f"Expected arrival: {eta}")
        lines.append(f"Open the job: {base_url}/engineer/{engineer}/jobs/{order.order_id}")
        notices.append(Notice("engineer", recipients.engineer(engineer), "\n".join(lines)))
        name = first_name(order.engineer_names.get(engineer, ""), _("an engineer"))
        values = {"device": device, "name": name, "site": order.site_name}
        customer = [_("An engineer is assigned to your %(device)s: %(name)s") % values,
                    _("%(name)s will service your %(device)s at %(site)s.") % values]
        if order.eta is not None and order.engineer_id == engineer:
            customer.append(_("Expected arrival: %(time)s") % {"time": when(order.eta)})
        notices.append(Notice("customer", order.customer_recipient, "\n".join(customer)))
    elif event.status == "new":
        if before:  # a plan left the order unplanned (e.g. no one qualified is free)
            taken_away(before, "taken off the plan")
    elif event.status == "en_route":
        engineer = order.engineer_id
        name = first_name(order.engineer_names.get(engineer or "", ""), _("an engineer"))
        values = {"device": device, "name": name, "site": order.site_name}
        lines = [_("Your engineer %(name)s is on the way") % values,
                 _("%(name)s is on the way to %(site)s for your %(device)s.") % values]
        if eta_for(engineer) and order.eta is not None:
            lines.append(_("Expected arrival: %(time)s") % {"time": when(order.eta)})
        if order.visit_token:
            lines.append(_("Follow %(name)s's arrival live: %(link)s")
                         % {"name": name, "link": f"{base_url}/v/{order.visit_token}"})
        notices.append(Notice("customer", order.customer_recipient, "\n".join(lines)))
    elif event.status == "done":
        values = {"device": device, "site": order.site_name,
                  "link": f"{base_url}/q/{order.qr_token}"}
        notices.append(Notice("customer", order.customer_recipient, "\n".join([
            _("The service of your %(device)s is done") % values,
            _("The visit at %(site)s is complete.") % values,
            _("Please rate the visit: %(link)s") % values])))
    elif event.status == "cannot_complete":
        # The note is "<engineer id>: <reason>"; the customer's page shows the reason too.
        reason = event.note.partition(": ")[2] or event.note
        values = {"device": device, "site": order.site_name, "reason": reason}
        lines = [_("Your service visit for %(device)s could not be completed") % values,
                 (_("The visit at %(site)s could not be completed: %(reason)s") if reason
                  else _("The visit at %(site)s could not be completed.")) % values,
                 _("It will be rescheduled; we will tell you the new time.")]
        notices.append(Notice("customer", order.customer_recipient, "\n".join(lines)))
    elif event.status == "booked" and order.window is not None:
        values = {"device": device, "site": order.site_name, "start": when(order.window[0]),
                  "end": hours(order.window[1]), "link": f"{base_url}/q/{order.qr_token}"}
        notices.append(Notice("customer", order.customer_recipient, "\n".join([
            _("Your service visit for %(device)s is booked") % values,
            _("An engineer will arrive at %(site)s between %(start)s and %(end)s.") % values,
            _("We will tell you who is coming, and when they are on the way."),
            _("Follow the repair: %(link)s") % values])))
    elif event.status == "window_missed":
        values = {"device": device, "site": order.site_name,
                  "link": f"{base_url}/q/{order.qr_token}"}
        if order.window is not None:
            values |= {"start": when(order.window[0]), "end": hours(order.window[1])}
            sorry = _("We are sorry: the visit at %(site)s cannot happen in the window "
                      "you chose (%(start)s to %(end)s).") % values
        else:
            sorry = _("We are sorry: the visit at %(site)s cannot happen in the window "
                      "you chose.") % values
        notices.append(Notice("customer", order.customer_recipient, "\n".join([
            _("We cannot keep the arrival window for your %(device)s") % values, sorry,
            _("Our dispatcher will contact you to agree a new time."),
            _("Follow the repair: %(link)s") % values])))
    return notices

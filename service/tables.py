"""The service desk's records: engineers, cases, work orders with their timeline, job
reports, the customer's attachments and preventive-maintenance visits."""

from __future__ import annotations

from sqlalchemy import BigInteger, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# A work order moves through these in order; the customer's timeline shows them.
# "accepted": the engineer took the job; it stays in their plan (pinned to them).
WORK_ORDER_STATUSES = ("new", "assigned", "accepted", "en_route", "on_site", "done")
OPEN_STATUSES = ("new", "assigned", "accepted")  # the dispatcher may still (re)plan these


class Engineer(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    skills: str  # comma-separated skill names, e.g. "refrigeration,water-treatment"
    # Skill levels above 1, e.g. "refrigeration:3,water-treatment:2" (unlisted: 1).
    levels: str = ""
    home_lat: float
    home_lon: float
    shift_start: str = "08:00"  # local time, HH:MM
    shift_end: str = "17:00"
    # Lunch: `lunch_minutes` taken between lunch_from and lunch_to (0: none).
    lunch_from: str = "12:00"
    lunch_to: str = "14:00"
    lunch_minutes: int = 0
    email: str = ""  # where work-order e-mails reach them (empty: they get none)

    def skill_set(self) -> frozenset[str]:
        return frozenset(s for s in self.skills.split(",") if s)

    def level_pairs(self) -> tuple[tuple[str, int], ...]:
        pairs = (item.split(":") for item in self.levels.split(",") if item)
        return tuple((skill, int(level)) for skill, level in pairs)


class Case(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True)
    source: str  # alert | customer | maintenance | api
    alert_id: int | None = None
    title: str
    description: str = ""
    contact: str = ""
    status: str = "open"  # open | closed
    created_at: int = Field(sa_type=BigInteger)
    # SLA clocks (service/sla.py), ms epoch, set when the case opens from the
    # customer's contract level: an engineer on site by response_due, the case
    # closed by resolution_due. The SLA monitor stops a clock when it is met and
    # records its warning (once) and its breach.
    sla_level: str = ""
    response_due: int | None = Field(default=None, sa_type=BigInteger)
    resolution_due: int | None = Field(default=None, sa_type=BigInteger)
    response_met_at: int | None = Field(default=None, sa_type=BigInteger)
    resolution_met_at: int | None = Field(default=None, sa_type=BigInteger)
    response_warned_at: int | None = Field(default=None, sa_type=BigInteger)
    resolution_warned_at: int | None = Field(default=None, sa_type=BigInteger)
    response_breached_at: int | None = Field(default=None, sa_type=BigInteger)
    resolution_breached_at: int | None = Field(default=None, sa_type=BigInteger)


class WorkOrder(SQLModel, table=True):
    __tablename__ = "work_order"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    device_id: str = Field(foreign_key="device.id", index=True)
    skill: str
    duration_min: int
    priority: int  # 1 (lowest) .. 5 (most urgent)
    level: int = 1  # minimum skill level the job needs
    # The arrival window promised to the customer (ms epoch), a hard limit.
    window_start: int | None = Field(default=None, sa_type=BigInteger)
    window_end: int | None = Field(default=None, sa_type=BigInteger)
    # Service-level due time (ms epoch): lateness past it costs, it does not forbid.
    sla_due: int | None = Field(default=None, sa_type=BigInteger)
    # Locked by the dispatcher: this engineer and/or this arrival time (ms epoch).
    pinned_engineer_id: str | None = None
    pinned_start: int | None = Field(default=None, sa_type=BigInteger)
    status: str = Field(default="new", index=True)
    engineer_id: str | None = Field(default=None, foreign_key="engineer.id", index=True)
    eta: int | None = Field(default=None, sa_type=BigInteger)  # ms epoch of arrival
    route_seq: int | None = None  # position in the engineer's route
    unassigned_reason: str | None = None
    created_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)
    # Parts the job needs, JSON [{"part": "<part number>", "qty": 1}, ...] (from the
    # device model's [parts_needed] when it opens; the dispatcher plans by them).
    parts_needed: str = "[]"
    # The plan's word on the assignment, e.g. "carries AP-MEM-75G".
    plan_note: str | None = None
    # The warehouse (stock location) the plan has the engineer pick the parts up at
    # on the way; None: from the van.
    pickup_from: str | None = None


class WorkOrderEvent(SQLModel, table=True):
    """The timeline of a work order, as the customer and dispatcher see it."""

    __tablename__ = "work_order_event"
    id: int | None = Field(default=None, primary_key=True)
    work_order_id: int = Field(foreign_key="work_order.id", index=True)
    status: str
    at: int = Field(sa_type=BigInteger)
    note: str = ""


class JobReport(SQLModel, table=True):
    """What the engineer records on site: parts, notes, photos, the customer's sign-off."""

    __tablename__ = "job_report"
    work_order_id: int = Field(primary_key=True, foreign_key="work_order.id")
    parts: str = "[]"  # JSON: [{"part": "...", "qty": 1}, ...]
    notes: str = ""
    photos: str = "[]"  # JSON: file names under the uploads folder
    signed_by: str | None = None
    signature: str | None = None  # file name of the signature image
    signed_at: int | None = Field(default=None, sa_type=BigInteger)
    # The customer's rating of the visit (1-5) and comment, once the job is done.
    rating: int | None = None
    rating_comment: str = ""
    rated_at: int | None = Field(default=None, sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)


class Settlement(SQLModel, table=True):
    """The bill of a finished job, settled at the door: priced lines (parts used from
    the van, labour) under the customer's coverage, and the service report's file.
    Written once; its insert is the `work_order.settled` domain event."""

    __tablename__ = "settlement"
    work_order_id: int = Field(primary_key=True, foreign_key="work_order.id")
    coverage: str  # warranty | service_contract | chargeable
    # JSON [{"kind": "part"|"labour", "code", "description", "qty", "unit_cents",
    #        "covered", "total_cents"}, ...]
    lines: str
    currency: str = "EUR"
    total_cents: int
    labour_minutes: int
    report_file: str  # the service report PDF, under the uploads folder
    settled_by: str
    settled_at: int = Field(sa_type=BigInteger)


class CaseAttachment(SQLModel, table=True):
    """A file of a case: the customer's photos of the fault, the service report PDF of
    each settled visit."""

    __tablename__ = "case_attachment"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    file_name: str  # under the uploads folder, cases/<case id>/
    content_type: str
    uploaded_at: int = Field(sa_type=BigInteger)


class MaintenanceVisit(SQLModel, table=True):
    """One occurrence of a device's preventive maintenance plan (model TOML `[[maintenance]]`).

    `seq` 0 is not a visit: it marks when the plan started tracking the device, the
    first occurrence's baseline. The unique (device, plan, seq) makes opening an
    occurrence happen once, whichever process or restart tries it.
    """

    __tablename__ = "maintenance_visit"
    __table_args__ = (UniqueConstraint("device_id", "plan_id", "seq",
                                       name="ux_maintenance_visit_occurrence"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True)
    plan_id: str
    seq: int
    case_id: int | None = Field(default=None, foreign_key="case.id")
    due_at: int | None = Field(default=None, sa_type=BigInteger)  # ms epoch
    opened_at: int = Field(sa_type=BigInteger)
    # When the visit was done and the run-hours counter then: the next one's baseline.
    done_at: int | None = Field(default=None, sa_type=BigInteger)
    done_run_hours: float | None = None


class SelfHelpAttempt(SQLModel, table=True):
    """A customer followed a troubleshooting guide on the device's QR page and said
    whether it helped. "fixed": a self-service case closed with no visit (`case_id`);
    "still_broken": attached to the case of the fault report that follows, so the
    dispatcher and the engineer see what was already tried."""

    __tablename__ = "self_help_attempt"
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True)
    article_id: int = Field(foreign_key="article.id")
    article_version: int
    article_title: str
    steps: str = Field(sa_type=Text)  # the guide's numbered steps, one per line
    outcome: str  # fixed | still_broken
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    at: int = Field(sa_type=BigInteger)


class VisitLink(SQLModel, table=True):
    """The customer's link to follow one visit (in the "on the way" e-mail): an
    unguessable token that opens that visit's page (the engineer's first name and the
    live ETA) and nothing else. Made when the first "on the way" notice is written."""

    __tablename__ = "visit_link"
    token: str = Field(primary_key=True)
    work_order_id: int = Field(foreign_key="work_order.id", unique=True)
    created_at: int = Field(sa_type=BigInteger)

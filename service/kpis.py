"""The service manager's key figures over a period (the last `days` days up to `at_ms`),
each counted by the database (aggregates, not rows brought into Python):

- SLA compliance: of the cases opened in the period whose clock is decided (met, or
  its due time passed), the share met in time; the response clock (an engineer on
  site) and the resolution clock (the case closed) apart;
- first-time-fix rate: `service.first_time_fix` over the same period;
- mean time to repair: from the case's report to its last visit done, over the closed
  cases whose last visit was done in the period;
- customer ratings: the visits rated in the period, their mean and each star's count;
- alerts by device model: incidents raised in the period (alerts folded under another
  not counted again), per model, most first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, case, cast
from sqlmodel import Session, col, func, select

from asset_registry.tables import Device
from rules.tables import Alert
from service.first_time_fix import FirstTimeFix, first_time_fix
from service.tables import Case, JobReport, WorkOrder, WorkOrderEvent

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Share:
    counted: int  # cases whose clock is decided
    met: int  # of them, met in time

    @property
    def rate(self) -> float | None:
        return self.met / self.counted if self.counted else None


@dataclass(frozen=True, slots=True)
class Ratings:
    count: int
    mean: float | None
    by_stars: dict[int, int]  # 1..5 -> how many


@dataclass(frozen=True, slots=True)
class ServiceKpis:
    days: int
    since_ms: int
    until_ms: int
    sla_response: Share
    sla_resolution: Share
    first_time_fix: FirstTimeFix
    repairs: int  # closed cases behind the mean time to repair
    mean_time_to_repair_min: float | None
    ratings: Ratings
    alerts_by_model: list[tuple[str, int]]  # (model id, alerts), most first


def service_kpis(session: Session, at_ms: int, days: int) -> ServiceKpis:
    since = at_ms - days * DAY_MS
    repairs, mttr = _time_to_repair(session, since, at_ms)
    return ServiceKpis(
        days=days, since_ms=since, until_ms=at_ms,
        sla_response=_sla(session, since, at_ms, Case.response_due, Case.response_met_at),
        sla_resolution=_sla(session, since, at_ms, Case.resolution_due, Case.resolution_met_at),
        first_time_fix=first_time_fix(session, at_ms, days),
        repairs=repairs, mean_time_to_repair_min=mttr,
        ratings=_ratings(session, since, at_ms),
        alerts_by_model=_alerts_by_model(session, since, at_ms))


def _sla(session: Session, since: int, at_ms: int, due_column: object, met_column: object
         ) -> Share:
    due, met = col(due_column), col(met_column)
    decided = (met.is_not(None)) | (due <= at_ms)
    in_time = met.is_not(None) & (met <= due)
    counted, met_count = session.exec(
        select(func.count(), func.coalesce(func.sum(case((in_time, 1), else_=0)), 0))
        .select_from(Case)
        .where(col(Case.created_at) >= since, col(Case.created_at) <= at_ms,
               due.is_not(None), decided)).one()
    return Share(int(counted), int(met_count))


def _time_to_repair(session: Session, since: int, at_ms: int) -> tuple[int, float | None]:
    """Closed cases whose last visit was done in the period: how many, and the mean
    minutes from the report to that visit done."""
    last_done = (select(WorkOrder.case_id, func.max(WorkOrderEvent.at).label("done_at"))
                 .join(WorkOrderEvent, col(WorkOrderEvent.work_order_id) == WorkOrder.id)
                 .where(WorkOrderEvent.status == "done")
                 .group_by(col(WorkOrder.case_id)).subquery())
    count, mean_ms = session.exec(
        select(func.count(), func.avg(last_done.c.done_at - Case.created_at))
        .select_from(Case).join(last_done, last_done.c.case_id == Case.id)
        .where(Case.status == "closed", last_done.c.done_at >= since,
               last_done.c.done_at <= at_ms)).one()
    return int(count), (float(mean_ms) / 60_000 if count else None)


def _ratings(session: Session, since: int, at_ms: int) -> Ratings:
    rated = (col(JobReport.rating).is_not(None), col(JobReport.rated_at) >= since,
             col(JobReport.rated_at) <= at_ms)
    rows = session.exec(select(JobReport.rating, func.count()).where(*rated)
                        .group_by(col(JobReport.rating))).all()
    by_stars = {stars: 0 for stars in range(1, 6)}
    for stars, count in rows:
        if stars is not None:
            by_stars[int(stars)] = int(count)
    count, mean = session.exec(select(func.count(), func.avg(cast(JobReport.rating, Integer)))
                               .where(*rated)).one()
    return Ratings(int(count), float(mean) if count else None, by_stars)


def _alerts_by_model(session: Session, since: int, at_ms: int) -> list[tuple[str, int]]:
    alerts = func.count(col(Alert.id))
    rows = session.exec(
        select(Device.model_id, alerts)
        .join(Device, col(Device.id) == Alert.device_id)
        .where(col(Alert.raised_at) >= since, col(Alert.raised_at) <= at_ms,
               col(Alert.parent_id).is_(None))
        .group_by(col(Device.model_id)).order_by(alerts.desc(), col(Device.model_id))).all()
    return [(model, int(n)) for model, n in rows]

"""First-time-fix rate: of the cases closed, the share fixed in one visit, the figure a
service manager is judged by. A visit is an engineer on site: a work order's
`on_site` step (a job given back and visited again counts twice), or a work order
done without one recorded. Cases closed without any visit are not counted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from foundations.clock import now_ms
from service.tables import Case, WorkOrder, WorkOrderEvent

WINDOW_DAYS = 90


@dataclass(frozen=True, slots=True)
class FirstTimeFix:
    cases: int  # closed cases with at least one visit
    first_time: int  # of them, closed after one visit
    window_days: int = WINDOW_DAYS

    @property
    def rate(self) -> float | None:
        return self.first_time / self.cases if self.cases else None


def first_time_fix(session: Session, at_ms: int, window_days: int = WINDOW_DAYS
                   ) -> FirstTimeFix:
    """Over the closed cases opened in the last `window_days`."""
    since = at_ms - window_days * 86_400_000
    rows = session.exec(
        select(WorkOrder.case_id, WorkOrder.id, WorkOrderEvent.status)
        .join(Case, col(Case.id) == WorkOrder.case_id)
        .join(WorkOrderEvent, col(WorkOrderEvent.work_order_id) == WorkOrder.id)
        .where(Case.status == "closed", col(Case.created_at) >= since,
               col(WorkOrderEvent.status).in_(("on_site", "done")))).all()
    on_site: dict[int, int] = defaultdict(int)
    done: dict[int, set[int]] = defaultdict(set)
    orders_on_site: set[int] = set()
    for case_id, order_id, status in rows:
        assert order_id is not None
        if status == "on_site":
            on_site[case_id] += 1
            orders_on_site.add(order_id)
        else:
            done[case_id].add(order_id)
    visits = {case: on_site.get(case, 0) + len(orders - orders_on_site)
              for case, orders in done.items()}
    for case, count in on_site.items():
        visits.setdefault(case, count)
    counted = [v for v in visits.values() if v > 0]
    return FirstTimeFix(len(counted), sum(1 for v in counted if v == 1), window_days)


class FirstTimeFixCollector(Collector):
    """`/metrics`: the rate and its counts, read from the database at scrape time."""

    def __init__(self, engine: Engine, clock: Callable[[], int] = now_ms) -> None:
        self._engine, self._clock = engine, clock

    def collect(self) -> Iterator[Metric]:
        with Session(self._engine) as session:
            figure = first_time_fix(session, self._clock())
        help_tail = f"closed cases opened in the last {figure.window_days} days"
        cases = GaugeMetricFamily("fieldpulse_cases_closed_with_visit",
                                  f"Closed cases with at least one visit, of the {help_tail}.")
        cases.add_metric([], float(figure.cases))
        first = GaugeMetricFamily("fieldpulse_cases_fixed_first_time",
                                  f"Of them, those closed after one visit ({help_tail}).")
        first.add_metric([], float(figure.first_time))
        yield cases
        yield first
        if figure.rate is not None:
            rate = GaugeMetricFamily("fieldpulse_first_time_fix_ratio",
                                     "Share of closed cases fixed in one visit (0..1), "
                                     f"over the {help_tail}.")
            rate.add_metric([], figure.rate)
            yield rate

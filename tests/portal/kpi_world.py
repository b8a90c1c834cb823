"""A known service history for the key figures (`GET /api/kpis`), laid out in days
before `now` so each period (7, 30, 90 days) takes a known part of it.

| case | opened | response clock | resolution clock | visits | done after | rating |
| --- | --- | --- | --- | --- | --- | --- |
| 1 | 2 days ago | met (3 h of 4) | late (30 h of 24) | 1 | 5 h | 5 |
| 2 | 20 days ago | late (6 h of 4) | met (40 h of 48) | 2 | 25 h | 3 |
| 3 | 60 days ago | met (2 h of 4) | met (10 h of 24) | 1 | 10 h | 4 |
| 4 | 1 day ago, open | due in 1 h | due in 3 days | 0 | | |
| 5 | 3 days ago, open | breached (due 4 h after) | due in 3 days | 0 | | |
| 6 | 120 days ago | met | met | 1 | 1 h | 1 |

Alerts (incidents): model X 1 day ago (and one folded under it), model Y 10 and 40
days ago, model X 100 days ago.
"""

from __future__ import annotations

from sqlalchemy import Engine

from foundations.database import session_scope
from rules.tables import Alert
from service.tables import Case, JobReport, WorkOrder, WorkOrderEvent

HOUR = 3_600_000
DAY = 24 * HOUR

# Expected figures per period, from the table above.
EXPECTED = {
    7: {"sla_response": (2, 1), "sla_resolution": (1, 0), "ftf": (1, 1), "repairs": 1,
        "mttr_min": 300.0, "ratings": (1, 5.0)},
    30: {"sla_response": (3, 1), "sla_resolution": (2, 1), "ftf": (2, 1), "repairs": 2,
         "mttr_min": 900.0, "ratings": (2, 4.0)},
    90: {"sla_response": (4, 2), "sla_resolution": (3, 2), "ftf": (3, 2), "repairs": 3,
         "mttr_min": 800.0, "ratings": (3, 4.0)},
}


def seed_history(engine: Engine, now: int, device_x: str, device_y: str) -> None:
    """`device_x` and `device_y` are devices of two different models."""
    with session_scope(engine) as s:
        def case(opened: int, response: tuple[int, int | None], resolution: tuple[int, int | None],
                 closed: bool) -> int:
            c = Case(device_id=device_x, source="api", title="kpi", created_at=opened,
                     status="closed" if closed else "open", sla_level="standard",
                     response_due=opened + response[0], response_met_at=response[1],
                     resolution_due=opened + resolution[0], resolution_met_at=resolution[1])
            s.add(c)
            s.flush()
            assert c.id is not None
            return c.id

        def visit(case_id: int, opened: int, on_site: int, done: int | None,
                  rating: int | None = None, rated: int | None = None) -> None:
            order = WorkOrder(case_id=case_id, device_id=device_x, skill="refrigeration",
                              duration_min=30, priority=3, status="done" if done else "new",
                              created_at=opened, updated_at=done or on_site)
            s.add(order)
            s.flush()
            assert order.id is not None
            s.add(WorkOrderEvent(work_order_id=order.id, status="on_site", at=on_site))
            if done is not None:
                s.add(WorkOrderEvent(work_order_id=order.id, status="done", at=done))
            if rating is not None:
                s.add(JobReport(work_order_id=order.id, rating=rating, rated_at=rated,
                                updated_at=rated or 0))

        t1 = now - 2 * DAY
        c1 = case(t1, (4 * HOUR, t1 + 3 * HOUR), (24 * HOUR, t1 + 30 * HOUR), True)
        visit(c1, t1, t1 + 3 * HOUR, t1 + 5 * HOUR, 5, now - DAY)
        t2 = now - 20 * DAY
        c2 = case(t2, (4 * HOUR, t2 + 6 * HOUR), (48 * HOUR, t2 + 40 * HOUR), True)
        visit(c2, t2, t2 + 6 * HOUR, None)  # given back
        visit(c2, t2, t2 + 24 * HOUR, t2 + 25 * HOUR, 3, now - 18 * DAY)
        t3 = now - 60 * DAY
        c3 = case(t3, (4 * HOUR, t3 + 2 * HOUR), (24 * HOUR, t3 + 10 * HOUR), True)
        visit(c3, t3, t3 + 2 * HOUR, t3 + 10 * HOUR, 4, now - 59 * DAY)
        t4 = now - DAY
        case(t4, (DAY + HOUR, None), (4 * DAY, None), False)
        t5 = now - 3 * DAY
        case(t5, (4 * HOUR, None), (6 * DAY, None), False)
        t6 = now - 120 * DAY
        c6 = case(t6, (4 * HOUR, t6 + HOUR), (24 * HOUR, t6 + HOUR), True)
        visit(c6, t6, t6 + HOUR, t6 + HOUR, 1, now - 119 * DAY)

        def alert(device: str, raised: int, rule: str, parent: int | None = None) -> int:
            a = Alert(device_id=device, rule_id=rule, metric="m", severity="high",
                      message="kpi", state="closed", raised_at=raised, raised_value=1.0,
                      parent_id=parent)
            s.add(a)
            s.flush()
            assert a.id is not None
            return a.id

        first = alert(device_x, now - DAY, "kpi-1")
        alert(device_x, now - DAY + 60_000, "kpi-2", parent=first)  # folded: one incident
        alert(device_y, now - 10 * DAY, "kpi-3")
        alert(device_y, now - 40 * DAY, "kpi-4")
        alert(device_x, now - 100 * DAY, "kpi-5")

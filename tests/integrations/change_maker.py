"""Changes to many cases, work orders and alerts, through the code paths that make them."""

from __future__ import annotations

import itertools
import random

from sqlalchemy import Engine

from foundations.database import session_scope
from rules.tables import Alert
from service.cases import open_case
from service.tables import WORK_ORDER_STATUSES, Case, WorkOrder
from service.work_orders import set_status
from simulators.fleet import Fleet

ALERT_STEPS = ("acknowledged", "cleared", "closed")


class ChangeMaker:
    def __init__(self, engine: Engine, fleet: Fleet, seed: int, prefix: str = "t") -> None:
        self._engine, self._fleet, self._prefix = engine, fleet, prefix
        self._rng = random.Random(seed)
        self._orders: list[int] = []
        self._cases: list[int] = []
        self._alerts: list[int] = []
        self._serial = itertools.count()

    def make(self, n: int) -> None:
        """`n` committed transactions, each changing one to three records."""
        for _ in range(n):
            kind = self._rng.choice(("open", "open", "case", "order", "order", "alert",
                                     "alert_step") if self._orders else ("open",))
            with session_scope(self._engine) as session:
                getattr(self, f"_{kind}")(session)

    def _device(self) -> str:
        return self._rng.choice(self._fleet.devices).id

    def _open(self, session) -> None:
        case, order = open_case(session, device_id=self._device(), source="customer",
                                title=f"fault {next(self._serial)}", skill="refrigeration",
                                duration_min=30, priority=self._rng.randint(1, 5))
        self._cases.append(case.id)
        self._orders.append(order.id)

    def _case(self, session) -> None:
        case = session.get(Case, self._rng.choice(self._cases))
        case.description = f"update {next(self._serial)}"
        session.add(case)

    def _order(self, session) -> None:
        order = session.get(WorkOrder, self._rng.choice(self._orders))
        if order.status == "done":
            order.priority = self._rng.randint(1, 5)
            session.add(order)
            return
        if order.engineer_id is None:
            order.engineer_id = self._rng.choice(self._fleet.engineers).id
        later = WORK_ORDER_STATUSES[WORK_ORDER_STATUSES.index(order.status) + 1:]
        set_status(session, order, later[0])  # may close its case too

    def _alert(self, session) -> None:
        alert = Alert(device_id=self._device(), rule_id=f"{self._prefix}-{next(self._serial)}",
                      metric="tds_ppm", severity="high", message="test", raised_at=1,
                      raised_value=1.0)
        session.add(alert)
        session.flush()
        self._alerts.append(alert.id)

    def _alert_step(self, session) -> None:
        if not self._alerts:
            return self._alert(session)
        alert = session.get(Alert, self._rng.choice(self._alerts))
        if alert.state == "closed":
            alert.message = f"note {next(self._serial)}"
        else:
            alert.state = ALERT_STEPS[min(2, ALERT_STEPS.index(alert.state) + 1)
                                      if alert.state in ALERT_STEPS else 0]
        session.add(alert)
        return None

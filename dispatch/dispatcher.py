"""The dispatcher: the worker that keeps a plan in force.

It re-plans when asked (new work: `request`), periodically (`period_s`), and places
urgent work orders (priority 5, e.g. from a critical alert) that no plan has placed
yet at once, by insertion (`planning.place_emergency`), before the full
re-optimisation follows. It also looks for such orders every `urgent_poll_s`, so
orders opened by other processes are placed promptly.

With `review=True` the loop's re-optimisations are only proposed: they wait in
`proposals` until a dispatcher accepts one (emergencies still go in at once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from dispatch.plan_store import NOT_PLANNED, PlanSummary
from dispatch.planning import apply_proposal, place_emergency, propose_plan, replan
from dispatch.problem import PARTS_MODES
from dispatch.proposals import KEPT, Proposal
from foundations.clock import Clock, now_ms
from foundations.workers import Life, Worker
from service.tables import WorkOrder
from service.work_orders import URGENT_PRIORITY

log = logging.getLogger("fieldpulse.dispatch")

# Plans (with their changes) the dispatcher keeps for the console.
HISTORY = 20


class Dispatcher(Worker):
    name = "dispatcher"

    def __init__(self, engine: Engine, tz: ZoneInfo, period_s: float = 60.0,
                 debounce_s: float = 1.0, time_limit_s: float = 2.0,
                 urgent_poll_s: float = 2.0, clock: Clock = now_ms,
                 review: bool = False, parts: str = "prefer") -> None:
        super().__init__()
        self._engine, self._tz = engine, tz
        self._clock = clock  # ms epoch "now" of every plan (tests pin it to a shift)
        self._period_s, self._debounce_s, self._time_limit_s = period_s, debounce_s, time_limit_s
        self._urgent_poll_s = urgent_poll_s
        self._lock = threading.Lock()  # one plan is written at a time
        self.review = review
        if parts not in PARTS_MODES:
            raise ValueError(f"parts: one of {PARTS_MODES}, got {parts!r}")
        self.parts = parts  # how plans mind the parts jobs need
        self._proposals: dict[int, Proposal] = {}
        self.last: PlanSummary | None = None
        # The latest plans' changes, newest last: what the console shows as a diff.
        self.history: deque[tuple[str, PlanSummary]] = deque(maxlen=HISTORY)

    def request(self) -> None:
        """New work is waiting: plan soon (after `debounce_s`, so a burst is one plan)."""
        self.wake()

    def emergency(self, order_id: int) -> PlanSummary:
        """Place an urgent work order now (insertion, well under a second),
        then let the background loop re-optimise the whole plan."""
        with self._lock:
            summary = place_emergency(self._engine, self._tz, order_id, at_ms=self._clock())
            self.history.append(("emergency", summary))
        self.request()
        return summary

    def propose(self, made_by: str = "dispatcher") -> Proposal:
        """Solve the open work now and keep the result for review; nothing is stored."""
        proposal = propose_plan(self._engine, self._tz, self._time_limit_s,
                                at_ms=self._clock(), made_by=made_by, parts=self.parts)
        with self._lock:
            self._proposals[proposal.id] = proposal
            for old in sorted(self._proposals)[:-KEPT]:
                del self._proposals[old]
        return proposal

    def proposals(self) -> list[Proposal]:
        """Proposals still open for review, newest first."""
        now = self._clock()
        with self._lock:
            return sorted((p for p in self._proposals.values() if p.expires_at >= now),
                          key=lambda p: p.id, reverse=True)

    def proposal(self, proposal_id: int) -> Proposal | None:
        return next((p for p in self.proposals() if p.id == proposal_id), None)

    def accept(self, proposal_id: int) -> PlanSummary:
        """Store a proposal as the plan in force (``StaleProposal`` if it no longer
        fits, ``KeyError`` if there is no such proposal)."""
        with self._lock:
            proposal = self._proposals.get(proposal_id)
            if proposal is None:
                raise KeyError(proposal_id)
            try:
                summary = apply_proposal(self._engine, self._tz, proposal, at_ms=self._clock())
            finally:
                # Accepted, or useless from now on: either way it is no longer open.
                del self._proposals[proposal_id]
            self.last = summary
            self.history.append(("accepted", summary))
        return summary

    def discard(self, proposal_id: int) -> bool:
        with self._lock:
            return self._proposals.pop(proposal_id, None) is not None

    def place_urgent(self) -> list[PlanSummary]:
        """Insert every urgent order that no plan has looked at yet."""
        placed = []
        for order_id in urgent_unplanned(self._engine):
            try:
                placed.append(self.emergency(order_id))
            except Exception:
                log.exception("emergency insertion of work order %s failed; the next plan "
                              "will place it", order_id)
        return placed

    def run(self, life: Life) -> None:
        next_plan = time.monotonic() + self._period_s
        while True:
            woken = life.wait(min(self._urgent_poll_s, self._period_s))
            if life.stopping:
                return
            if self.place_urgent():
                woken = True  # then re-optimise around them
            if not woken and time.monotonic() < next_plan:
                continue
            # Let a burst of new work orders settle into one plan.
            if life.sleep(self._debounce_s):
                return
            life.wait(0)  # the burst's wake-ups are answered by this plan
            next_plan = time.monotonic() + self._period_s
            self.plan_now()

    def plan_now(self) -> None:
        """One re-optimisation: stored, or proposed for review."""
        if self.review:
            proposal = self.propose(made_by="dispatcher (periodic)")
            log.info("plan proposal %s waits for review: %s engineers' routes change",
                     proposal.id, len(proposal.changes))
            return
        with self._lock:
            self.last = replan(self._engine, self._tz, self._time_limit_s, at_ms=self._clock(),
                               parts=self.parts)
            self.history.append(("replan", self.last))


def urgent_unplanned(engine: Engine) -> list[int]:
    """Open urgent orders no plan has placed or explained yet (oldest first)."""
    with Session(engine) as session:
        return [order_id for order_id in session.exec(
            select(WorkOrder.id).where(WorkOrder.status == "new",
                                       col(WorkOrder.priority) >= URGENT_PRIORITY,
                                       col(WorkOrder.engineer_id).is_(None),
                                       or_(col(WorkOrder.unassigned_reason).is_(None),
                                           col(WorkOrder.unassigned_reason) == NOT_PLANNED))
            .order_by(col(WorkOrder.id))).all() if order_id is not None]

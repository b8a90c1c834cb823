"""Plans a dispatcher reviews before they take effect.

A proposal is a solved plan kept beside the one in force, with the problem it
was solved for. Accepting it stores it only while that problem still holds:
the work orders, their pins, windows and priorities, the engineers' shifts and
the jobs under way must be exactly what the solver saw. Anything else means
the proposal answers a question nobody asks any more, and the dispatcher is
told what changed instead of getting a plan that silently ignores it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from dispatch.diff import Change
from dispatch.plan import Plan
from dispatch.plan_store import OpenOrder
from dispatch.problem import Problem

# A proposal's ETAs count from when it was made; after this long they are too far
# off to store, and the dispatcher proposes again.
PROPOSAL_TTL_MS = 15 * 60_000
# Proposals kept at once (older ones are dropped first).
KEPT = 5

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    made_at: int  # ms epoch; the plan's arrivals are seconds after it
    made_by: str
    problem: Problem
    rows: tuple[OpenOrder, ...]  # the work orders as loaded for `problem`
    before: Plan  # the stored plan when the proposal was made
    plan: Plan
    changes: tuple[Change, ...]  # plan against `before`
    # dispatch.plan_stats of each: what the dispatcher weighs (work done, driving, lateness).
    before_stats: dict[str, object]
    after_stats: dict[str, object]

    @property
    def expires_at(self) -> int:
        return self.made_at + PROPOSAL_TTL_MS


def new_proposal_id() -> int:
    return next(_ids)


class StaleProposal(ValueError):
    """The proposal can no longer be stored; the message says why."""


def what_changed(old: Problem, new: Problem) -> str:
    """The differences between the problem a proposal solved and today's, in words."""
    old_jobs = {j.id: j for j in old.jobs}
    new_jobs = {j.id: j for j in new.jobs}
    parts = []
    opened = sorted(new_jobs.keys() - old_jobs.keys(), key=int)
    closed = sorted(old_jobs.keys() - new_jobs.keys(), key=int)
    edited = sorted((k for k in old_jobs.keys() & new_jobs.keys()
                     if old_jobs[k] != new_jobs[k]), key=int)
    if opened:
        parts.append(f"work orders opened since: {_ids_text(opened)}")
    if closed:
        parts.append(f"no longer open (started, done or cancelled): {_ids_text(closed)}")
    if edited:
        parts.append(f"changed (pin, window, priority or SLA): {_ids_text(edited)}")
    old_engineers = {e.id: e for e in old.engineers}
    new_engineers = {e.id: e for e in new.engineers}
    moved = sorted(k for k in old_engineers.keys() | new_engineers.keys()
                   if old_engineers.get(k) != new_engineers.get(k))
    if moved:
        parts.append(f"engineers whose day changed (shift, job under way, van stock): "
                     f"{', '.join(moved)}")
    if old.depots != new.depots:
        parts.append("warehouse stock changed")
    if old.parts != new.parts:
        parts.append(f"parts mode {old.parts} -> {new.parts}")
    return "; ".join(parts) or "nothing"


def _ids_text(ids: list[str]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

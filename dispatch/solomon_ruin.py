"""Ruin and recreate for the Solomon restarts: a nearby plan guided local search
has not been stuck in.

Guided local search on these instances stops improving after a few seconds
and then circles (R211 found its final plan after 7 of 30 CPU seconds, the
same plan every run). Removing a cluster of customers (one seed and its
nearest neighbours, as in SISR) and reinserting them cheapest-first gives a
different start near the best plan, from which a fresh search (fresh
penalties) goes elsewhere.

Feasibility is checked in the solver's own integer units (``transit`` and
the windows as the model has them), so every plan built here reads back into
the routing model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Units:
    """The instance as the routing model sees it (scaled integers)."""

    cost: np.ndarray  # (n, n) arc cost
    transit: np.ndarray  # (n, n) service at the origin plus the drive, rounded up
    ready: np.ndarray  # (n,) earliest start of service
    due: np.ndarray  # (n,) latest start of service; due[0]: back at the depot
    demand: np.ndarray  # (n,)
    capacity: int


def on_time(units: Units, route: list[int]) -> bool:
    """Every service starts by its due time and the vehicle is back in time."""
    t, prev = int(units.ready[0]), 0
    for c in route:
        t = max(t + int(units.transit[prev, c]), int(units.ready[c]))
        if t > units.due[c]:
            return False
        prev = c
    return t + int(units.transit[prev, 0]) <= units.due[0]


def ruin_recreate(
    units: Units, routes: list[list[int]], fleet: int, removed: int, rng: np.random.Generator,
    blink: float = 0.01,
) -> list[list[int]] | None:
    """``routes`` with ``removed`` nearby customers taken out and put back one by
    one (random order) where they add the least cost; ``fleet`` lists (some
    possibly empty). None when a customer fits nowhere. Each position is
    skipped with probability ``blink`` (SISR's blinks), so that reinsertion
    does not simply rebuild the plan it started from."""
    n = len(units.demand)
    seed = int(rng.integers(1, n))
    near = [int(c) for c in np.argsort(units.cost[seed], kind="stable") if c != 0]
    victims = set(near[:removed])
    plan = [[c for c in r if c not in victims] for r in routes]
    plan += [[] for _ in range(fleet - len(plan))]
    loads = [int(units.demand[r].sum()) if r else 0 for r in plan]
    order = sorted(victims)
    rng.shuffle(order)
    for c in order:
        best: tuple[int, int, int] | None = None
        for k, route in enumerate(plan):
            if loads[k] + units.demand[c] > units.capacity:
                continue
            path = [0, *route, 0]
            for pos in range(len(route) + 1):
                a, b = path[pos], path[pos + 1]
                delta = int(units.cost[a, c] + units.cost[c, b] - units.cost[a, b])
                if (best is not None and delta >= best[0]) or rng.random() < blink:
                    continue
                if on_time(units, [*route[:pos], c, *route[pos:]]):
                    best = (delta, k, pos)
        if best is None:
            return None
        _, k, pos = best
        plan[k].insert(pos, c)
        loads[k] += int(units.demand[c])
    return plan

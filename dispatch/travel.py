"""Travel times between locations, in whole seconds.

The solver only needs a square matrix, so providers hide behind the small
``TravelTimes`` protocol: today a great-circle estimate, later an OSRM
``/table`` adapter can be passed to ``solve`` without touching the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dispatch.problem import Location, Problem

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


class TravelTimes(Protocol):
    def matrix(self, locations: Sequence[Location]) -> np.ndarray:
        """Square int64 array: [i, j] = seconds to drive from i to j (0 on the diagonal)."""
        ...


def great_circle_seconds(
    a: Location, b: Location, road_factor: float = 1.3, speed_kmh: float = 40.0
) -> int:
    """Haversine distance stretched by ``road_factor`` (roads are not straight),
    driven at ``speed_kmh``, rounded *up* so the plan never promises an
    arrival that the estimate itself says is too early."""
    if a == b:
        return 0
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
    return math.ceil(km * road_factor / speed_kmh * 3600.0)


def travel_matrix(
    locations: Sequence[Location], road_factor: float = 1.3, speed_kmh: float = 40.0
) -> np.ndarray:
    """All pairs via ``great_circle_seconds``.

    Deliberately the scalar function in a loop rather than a vectorised
    numpy haversine: the two can differ in the last bit, which after rounding
    up can differ by a second, and then a plan checked pair by pair would
    disagree with the matrix the solver used. Symmetry halves the work; a few
    hundred locations take well under a second.
    """
    n = len(locations)
    out = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = great_circle_seconds(
                locations[i], locations[j], road_factor, speed_kmh
            )
    return out


@dataclass(frozen=True, slots=True)
class GreatCircle:
    """Default ``TravelTimes``: no network, good enough inside one city."""

    road_factor: float = 1.3
    speed_kmh: float = 40.0

    def matrix(self, locations: Sequence[Location]) -> np.ndarray:
        return travel_matrix(locations, self.road_factor, self.speed_kmh)


def points_of(problem: Problem) -> list[Location]:
    """Rows of the travel matrix: jobs first, then each engineer's start, end, then
    the depots (`depot_row`)."""
    points = [job.location for job in problem.jobs]
    for engineer in problem.engineers:
        points += [engineer.start, engineer.end]
    return points + [depot.location for depot in problem.depots]


def depot_row(problem: Problem, d: int) -> int:
    return len(problem.jobs) + 2 * len(problem.engineers) + d

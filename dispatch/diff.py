"""What changed between two plans, per engineer, as a dispatcher reads it."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.plan import Plan

# An arrival that shifts by less than this, at the same place in the route, is no
# move a dispatcher would act on (nor see: times are shown to the minute).
MOVE_S = 60


@dataclass(frozen=True, slots=True)
class Change:
    engineer_id: str
    added: tuple[str, ...]  # jobs new to this engineer
    removed: tuple[str, ...]  # jobs no longer with this engineer
    # Still with this engineer, at another position or arriving MOVE_S or more apart.
    moved: tuple[str, ...]

    def as_dict(self) -> dict[str, str | list[str]]:
        return {"engineer_id": self.engineer_id, "added": list(self.added),
                "removed": list(self.removed), "moved": list(self.moved)}


def plan_diff(old: Plan, new: Plan) -> tuple[Change, ...]:
    """One ``Change`` per engineer whose route differs, in ``new``'s order."""
    before = {r.engineer_id: r for r in old.routes}
    changes = []
    for route in new.routes:
        prev = before.get(route.engineer_id)
        old_stops = {s.job_id: (k, s.arrival) for k, s in enumerate(prev.stops)} if prev else {}
        new_stops = {s.job_id: (k, s.arrival) for k, s in enumerate(route.stops)}
        added = tuple(j for j in new_stops if j not in old_stops)
        removed = tuple(j for j in old_stops if j not in new_stops)
        moved = tuple(j for j in new_stops if j in old_stops and (
            old_stops[j][0] != new_stops[j][0]
            or abs(old_stops[j][1] - new_stops[j][1]) >= MOVE_S))
        if added or removed or moved:
            changes.append(Change(route.engineer_id, added, removed, moved))
    return tuple(changes)

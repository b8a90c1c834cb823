"""What changed between two plans, per engineer, as a dispatcher reads it."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.plan import Plan


@dataclass(frozen=True, slots=True)
class Change:
    engineer_id: str
    added: tuple[str, ...]  # jobs new to this engineer
    removed: tuple[str, ...]  # jobs no longer with this engineer
    moved: tuple[str, ...]  # still with this engineer, at another time or position

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
        moved = tuple(j for j in new_stops if j in old_stops and old_stops[j] != new_stops[j])
        if added or removed or moved:
            changes.append(Change(route.engineer_id, added, removed, moved))
    return tuple(changes)

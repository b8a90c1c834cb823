"""Reading rows by increasing id behind a cursor, without skipping a late commit.

Ids come from the database in insert order, but on PostgreSQL a transaction can
commit after one that took a later id; a reader whose cursor moved past the missing
id would never see that row. `GapGuard.consecutive` takes rows only up to a gap,
waits `gap_wait_s` for the missing id to commit, then takes it for rolled back and
goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol, TypeVar

log = logging.getLogger("fieldpulse.cursor")


class HasId(Protocol):
    @property
    def id(self) -> int | None: ...


Row = TypeVar("Row", bound=HasId)


class GapGuard:
    def __init__(self, what: str, gap_wait_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._what, self._gap_wait_s, self._monotonic = what, gap_wait_s, monotonic
        # (cursor, first missing id) -> when it was first seen missing
        self._gaps: dict[tuple[Hashable, int], float] = {}

    def consecutive(self, last: int, rows: Sequence[Row], cursor: Hashable = None
                    ) -> list[Row]:
        """The rows (ordered by id, all after `last`) that follow `last` without a gap
        still worth waiting for. `cursor` names the reader when one guard serves many."""
        taken: list[Row] = []
        expected = last + 1
        for row in rows:
            assert row.id is not None
            if row.id > expected:
                seen = self._gaps.setdefault((cursor, expected), self._monotonic())
                if self._monotonic() - seen < self._gap_wait_s:
                    break  # an earlier transaction may still commit it
                log.info("%s %s..%s never appeared (rolled back)", self._what, expected,
                         row.id - 1)
            taken.append(row)
            expected = row.id + 1
        self._gaps = {k: v for k, v in self._gaps.items()
                      if k[0] != cursor or k[1] >= expected}
        return taken

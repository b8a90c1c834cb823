"""Which tables this process has written, counted for the read caches (issue 24).

`TableWatch` counts, per table, the statements of this process that write it (any
engine: the portal's, the rules', ingest's in the same process), once when they run
and once more when their transaction ends, so a cache that remembers the counts it
was built at knows for free, without asking the database, whether something it
shows may have changed here. Changes made by other processes reach a cache through
the live hub (`portal.live_hub`, which polls the shared database once a second for
the process) or, without one running, through the cache's maximum age.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool

_WRITE = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)',
                    re.IGNORECASE)
_WRITTEN = "fp_tables_written"  # connection.info: tables this transaction wrote


class TableWatch:
    def __init__(self) -> None:
        self.writes: Counter[str] = Counter()

    def stamp(self, tables: tuple[str, ...]) -> int:
        return sum(self.writes[t] for t in tables)

    def bump(self, tables: set[str] | list[str]) -> None:
        for table in tables:
            self.writes[table] += 1


WATCH = TableWatch()


@event.listens_for(Engine, "after_cursor_execute")
def _after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    match = _WRITE.match(statement)
    if match is None:
        return
    table = match.group(1).lower()
    WATCH.bump([table])
    conn.info.setdefault(_WRITTEN, set()).add(table)


@event.listens_for(Pool, "checkin")
def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    # Again once the transaction is over: a cache rebuilt between the statement and
    # its commit read the rows as they were before.
    if record is not None:
        WATCH.bump(record.info.pop(_WRITTEN, set()))


@event.listens_for(Engine, "commit")
def _on_commit(conn: Any) -> None:
    WATCH.bump(conn.info.get(_WRITTEN, set()))



"""Database wiring: one engine per process, one session pattern.

SQLite (the embedded default) is opened in WAL mode so the ingest writer and the
portal's readers do not block each other; PostgreSQL URLs pass through as-is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Index, Table, event, make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # No cap on connections (max_overflow=-1): a request holds its connection
        # until its response is serialised, which needs a thread of the server's
        # pool; with a cap below that pool's size, 100 concurrent clients left
        # every thread waiting for a connection held by a request waiting for a
        # thread, until the pool timed out. SQLite connections are only file handles.
        database = make_url(url).database
        in_memory = database in (None, "", ":memory:")  # one shared connection, no pool
        pool = {} if in_memory else {"pool_size": 20, "max_overflow": -1}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across process crashes in WAL mode; only an OS
            # crash can lose the last transactions (see MEASURED: 3x faster).
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # PostgreSQL: no cap either, for the same reason. A request's session checks
    # out a connection at its first query (the login or token lookup) and returns
    # it only after the response is sent; in between it waits for a threadpool
    # thread (40) for its handler. So requests in flight, not threads, hold
    # connections: under any cap below their number, every thread can block in
    # checkout behind requests holding connections while they wait for a thread,
    # and the portal hangs until pool_timeout (a larger pool_size alone only moves
    # the threshold). Uncapped, the limit is the server's max_connections, which
    # refuses at once (an error, not a hang): size it above the peak (100
    # concurrent clients: about 100 portal connections, plus the workers').
    # A server that does not answer (a network partition) fails a connection after
    # `connect_timeout` instead of hanging the caller (a health probe, a request).
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=-1,
                         connect_args={"connect_timeout": 10})


def reachable(engine: Engine) -> bool:
    """Whether the database answers a trivial query now (the health probe)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # down, refusing, out of connections: all mean "no"
        return False
    return True


def unique_where(name: str, *columns: str, column: str, values: tuple[str, ...]) -> Index:
    """A unique index over `columns` among the rows whose `column` is one of `values`
    (a partial index, on SQLite and PostgreSQL alike): the database itself then keeps,
    say, one open alert per device and rule."""
    where = text(f"{column} IN ({', '.join(repr(v) for v in values)})")
    return Index(name, *columns, unique=True, sqlite_where=where, postgresql_where=where)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class, for bulk inserts on the hot path."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by table=True
    return table


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

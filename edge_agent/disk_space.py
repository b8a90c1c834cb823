"""Keeping the outbox's SQLite files inside the disk they are on.

A few blocks of disk are kept in reserve beside the outbox, given back when the disk is
full.

In WAL mode even a DELETE must first append to the WAL, and a checkpoint may need to
grow the database file: on a disk with no byte left, SQLite cannot make room by itself.
The reserve is what lets the outbox checkpoint and evict its oldest batch then; it is
made again once writes succeed.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

RESERVE_BYTES = 64 * 1024
PAGE = 4096  # SQLite's default page size


class DiskReserve:
    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path, self.size = path, size
        self.released = False
        self.ensure()

    def ensure(self) -> None:
        """Make the reserve (zeros, synced: really allocated) once the disk has room again:
        four times its size free, so taking it back does not fill the disk at once."""
        try:
            if self.path.exists() and self.path.stat().st_size == self.size:
                self.released = False
                return
            fs = os.statvfs(self.path.parent)
            if fs.f_bavail * fs.f_frsize < 4 * self.size:
                self.released = True
                return
            with self.path.open("wb") as f:
                f.write(bytes(self.size))
                f.flush()
                os.fsync(f.fileno())
            self.released = False
        except OSError:
            self.path.unlink(missing_ok=True)
            self.released = True

    def release(self) -> bool:
        """Give the space back to the filesystem; False if there was none to give."""
        if self.released:
            return False
        self.path.unlink(missing_ok=True)
        self.released = True
        return True


def fit_to_disk(db: sqlite3.Connection, path: Path, budget: int, max_pages: int) -> None:
    """Keep SQLite's files inside the disk they are on. The WAL checkpoints after a
    sixty-fourth of the free space (16 to 1000 pages) and is truncated to that; the
    database may grow only as far as leaves the WAL and a reserve their room, so a
    full disk shows as "database or disk is full" from the database while the WAL can
    still commit the evictions that make room (a WAL that cannot be checkpointed into
    a database that cannot grow would never free anything)."""
    try:
        fs = os.statvfs(path.parent)
    except OSError:
        return
    free = fs.f_bavail * fs.f_frsize
    wal_pages = max(16, min(1000, budget // 8 // PAGE, free // 64 // PAGE))
    db.execute(f"PRAGMA wal_autocheckpoint={wal_pages}")
    db.execute(f"PRAGMA journal_size_limit={wal_pages * PAGE}")
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    wal = path.with_name(path.name + "-wal")
    wal_size = wal.stat().st_size if wal.exists() else 0
    # What the WAL may still need beyond what it has, the shm, the reserve.
    headroom = max(0, 3 * wal_pages * PAGE - wal_size) + (32 << 10) + RESERVE_BYTES
    by_disk = pages + max(0, free - headroom) // PAGE
    db.execute(f"PRAGMA max_page_count={max(pages, min(max_pages, by_disk))}")


def sqlite_bytes(db: sqlite3.Connection, path: Path) -> int:
    """What SQLite keeps on disk for the database at `path`: its pages in use (free pages
    are reused, never handed back: room, not data), the WAL and its shared-memory index
    as they are on disk. Inside a transaction, the pages count its changes already."""
    page_count, free, page = (int(db.execute(f"PRAGMA {p}").fetchone()[0])
                              for p in ("page_count", "freelist_count", "page_size"))
    return (page_count - free) * page + sum(_size(path.with_name(path.name + suffix))
                                            for suffix in ("-wal", "-shm"))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0

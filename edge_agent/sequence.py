"""The per-gateway batch sequence number, kept on disk so it survives restarts.

Ingest dedupes by (gateway, seq): reusing a number after a restart would make
the cloud drop new data as a duplicate, so the next number is made durable
before the batch that carries it leaves the gateway.
"""

from __future__ import annotations

import os
from pathlib import Path


class SequenceCounter:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._next = int(path.read_text()) if path.exists() else 0

    def take(self) -> int:
        seq = self._next
        self._next += 1
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("w") as fh:
            fh.write(str(self._next))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)
        return seq

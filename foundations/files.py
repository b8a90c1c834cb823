"""Files only their owner may read: the database, uploads, generated secrets.

FieldPulse keeps plaintext QR tokens and webhook secrets in its database and the
customers' photos in its data directory, so what it creates there is the owner's
alone (directories 0700, files 0600), created so from the start rather than
tightened afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if missing; the directory itself is owner-only."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Make sure `path` exists and is owner-only (an existing file is tightened)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE)
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` atomically (a reader never sees half of it), owner-only."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)

"""Shapes shared by every resource."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# The database's integers: larger is a 422 for the caller, not an overflow in the
# database driver (500).
MAX_ID = 2**63 - 1
# A row id in a path, bounded to the database's 64-bit integers.
RowId = Annotated[int, Path(ge=-(2**63), le=MAX_ID)]

"""Engineers, as the console lists them."""

from __future__ import annotations

from pydantic import BaseModel


class EngineerPublic(BaseModel):
    id: str
    name: str
    skills: list[str]
    shift_start: str
    shift_end: str

"""A device model's rule set."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RuleSetPublic(BaseModel):
    model_id: str
    version: int
    rules: list[dict[str, Any]]

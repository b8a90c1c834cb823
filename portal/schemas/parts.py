"""What an admin writes into the parts catalogue (`POST /api/parts`, `PUT` and `PATCH
/api/parts/{number}`); it reads back through `GET /api/parts` (portal/schemas/stock.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from portal.schemas.stock import PartPublic

PART_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class NeedIn(BaseModel):
    """A fault, an alert rule or a maintenance plan of a model that usually needs the
    part, and how many."""

    model_config = ConfigDict(extra="forbid")
    model_id: str = Field(min_length=1, max_length=100)
    need: str = Field(min_length=3, max_length=200,
                      pattern=r"^(rule|maintenance|fault):.+$",
                      description="'rule:<rule id>', 'maintenance:<plan id>' or "
                                  "'fault:<customer report category>'")
    qty: int = Field(1, ge=1, le=1000)


class PartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    price_cents: int = Field(ge=0, le=100_000_000, description="whole cents, EUR")
    model_ids: list[str] = Field(min_length=1, max_length=100,
                                 description="the device models that use the part")
    needs: list[NeedIn] = Field(default_factory=list, max_length=500)


class PartNew(PartBody):
    number: str = Field(min_length=1, max_length=64, pattern=PART_NUMBER)


class PartChange(BaseModel):
    """Only the fields given change; `needs`, when given, replaces all of the part's."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    price_cents: int | None = Field(None, ge=0, le=100_000_000)
    model_ids: list[str] | None = Field(None, min_length=1, max_length=100)
    needs: list[NeedIn] | None = Field(None, max_length=500)


class PartWritten(PartPublic):
    needs: list[NeedIn]

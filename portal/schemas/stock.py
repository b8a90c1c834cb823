"""Shapes of the parts catalogue and of stock: locations, levels, the movement ledger,
replenishment requests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PartNeedPublic(BaseModel):
    part: str
    qty: int


class PartPublic(BaseModel):
    number: str
    name: str
    price_cents: int
    consumable: str | None
    model_ids: list[str]  # the device models that use it


class ModelPartsPublic(BaseModel):
    model_id: str
    labour_cents_per_hour: int
    # "rule:<id>" | "maintenance:<id>" | "fault:<category>" -> parts it needs
    needs: dict[str, list[PartNeedPublic]]


class PartsCatalogue(BaseModel):
    currency: str = "EUR"
    parts: list[PartPublic]
    models: list[ModelPartsPublic]


class LocationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    kind: str
    name: str
    engineer_id: str | None
    lat: float | None
    lon: float | None


class WarehouseNew(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class LevelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    location_id: str
    part_number: str
    part_name: str
    on_hand: int
    reserved: int
    available: int
    min_qty: int
    reorder_qty: int
    low: bool  # available below min_qty


class MovementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    part_number: str
    qty: int
    from_location: str | None
    to_location: str | None
    work_order_id: int | None
    at: int
    by: str
    note: str


class MovementNew(BaseModel):
    """What a person records by hand: goods in, a transfer, a part returned. Reserving
    and consuming happen through plans and settlements."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["receipt", "transfer", "return"]
    part: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=10_000)
    from_location: str | None = Field(None, max_length=64)
    to_location: str | None = Field(None, max_length=64)
    work_order_id: int | None = Field(None, ge=1, le=2**63 - 1)
    note: str = Field("", max_length=500)


class ThresholdNew(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location_id: str = Field(min_length=1, max_length=64)
    part: str = Field(min_length=1, max_length=64)
    min_qty: int = Field(ge=0, le=10_000)
    reorder_qty: int = Field(ge=0, le=10_000)


class ReplenishmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    location_id: str
    part_number: str
    qty: int
    status: str
    raised_at: int
    fulfilled_at: int | None

"""What ingest writes: readings, the latest value per device metric, batches seen, rejects."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, String, Table
from sqlmodel import Field, SQLModel

# Narrow time-series table. No (device, ts) index on purpose: a secondary B-tree
# costs ~10x in insert rate on SQLite (MEASURED.md); charts scan by time and the
# latest values come from `latest_value`, not from here.
reading_table = Table(
    "reading",
    SQLModel.metadata,
    Column("device_id", String, nullable=False),
    Column("metric", String, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_reading_ts", "ts"),
)


class LatestValue(SQLModel, table=True):
    __tablename__ = "latest_value"
    device_id: str = Field(primary_key=True)
    metric: str = Field(primary_key=True)
    ts: int = Field(sa_type=BigInteger)
    value: float


class IngestedBatch(SQLModel, table=True):
    """One row per telemetry batch stored: the dedupe key is (gateway, seq)."""

    __tablename__ = "ingested_batch"
    gateway_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    received_at: int = Field(sa_type=BigInteger)
    readings: int
    rejected: int


class DeadLetter(SQLModel, table=True):
    """A payload or reading that was refused, kept whole for inspection."""

    __tablename__ = "dead_letter"
    id: int | None = Field(default=None, primary_key=True)
    received_at: int = Field(sa_type=BigInteger, index=True)
    topic: str
    gateway_id: str | None = None
    reason: str
    field: str = ""
    payload: str

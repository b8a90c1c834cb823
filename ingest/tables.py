"""What ingest writes: readings, the latest value per device metric, batches seen, rejects."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, LargeBinary, String, Table
from sqlmodel import Field, SQLModel

# Readings are stored in chunks: one row per stored telemetry batch, holding the
# batch's accepted readings as JSON (the payload as received when every reading
# was accepted, so the hot path serializes nothing). A row per reading, or per
# metric, caps SQLite far below 200k readings/s, and a secondary index on such a
# table costs ~10x more (MEASURED.md); on chunks the indexes are cheap. A device's
# range query reads the chunks of the time range that name it in `devices`
# ("|dev-1|dev-2|"). Latest values come from `latest_value`, never from here.
reading_chunk_table = Table(
    "reading_chunk",
    SQLModel.metadata,
    Column("gateway_id", String, nullable=False),
    Column("devices", String, nullable=False),
    Column("ts_first", BigInteger, nullable=False),
    Column("ts_last", BigInteger, nullable=False),
    Column("n", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_reading_chunk_ts_last", "ts_last"),
)

# Hourly min/max/sum/count per device and metric, made from chunks older than the
# raw retention (which are then deleted); kept for the rollup retention.
reading_rollup_table = Table(
    "reading_rollup",
    SQLModel.metadata,
    Column("device_id", String, primary_key=True),
    Column("metric", String, primary_key=True),
    Column("hour", BigInteger, primary_key=True),  # ms epoch of the hour's start
    Column("n", Integer, nullable=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("sum", Float, nullable=False),
)


class LatestValue(SQLModel, table=True):
    __tablename__ = "latest_value"
    device_id: str = Field(primary_key=True)
    metric: str = Field(primary_key=True)
    ts: int = Field(sa_type=BigInteger)
    value: float


class IngestedBatch(SQLModel, table=True):
    """One row per telemetry batch stored: the dedupe key is (gateway, epoch, seq)."""

    __tablename__ = "ingested_batch"
    gateway_id: str = Field(primary_key=True)
    # The gateway outbox's epoch (contract v1, optional): a reinstalled gateway starts a new
    # one, so its seq 0 is a new batch. '' for batches sent without one (older gateways).
    epoch: str = Field(default="", primary_key=True, max_length=64)
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    received_at: int = Field(sa_type=BigInteger)
    readings: int
    rejected: int
    # Digest of the batch's content (`ingest.batch_identity.batch_digest`): the same seq with
    # another digest is a conflict, not a duplicate. NULL for batches stored before it.
    payload_hash: str | None = Field(default=None, max_length=32)


class DeadLetter(SQLModel, table=True):
    """A payload or reading that was refused, kept whole for inspection."""

    __tablename__ = "dead_letter"
    id: int | None = Field(default=None, primary_key=True)
    received_at: int = Field(sa_type=BigInteger, index=True)
    topic: str
    gateway_id: str | None = None
    # The category the rejects are counted by: contract, payload_too_large,
    # unknown_device, foreign_device, unknown_metric, out_of_range, future_timestamp,
    # ancient_timestamp, conflicting_duplicate, duplicate_reading, invalid_topic, ingest_error.
    kind: str = Field(default="", index=True)
    reason: str
    field: str = ""
    payload: str


class GatewayGap(SQLModel, table=True):
    """Readings a gateway reports it dropped (`evicted` from a full outbox, `lost` when even
    its memory was full), recorded when its status shows the count grew: how many, and
    between which two statuses (gateway clock, ms). The gateway's count is cumulative;
    `total` keeps it, so the next status yields only the difference. Kept in the database,
    so a gap stays visible after the gateway's retained status is overwritten."""

    __tablename__ = "gateway_gap"
    id: int | None = Field(default=None, primary_key=True)
    gateway_id: str = Field(index=True)
    kind: str  # evicted | lost
    readings: int
    total: int = Field(sa_type=BigInteger)
    since_ts: int | None = Field(default=None, sa_type=BigInteger)
    until_ts: int = Field(sa_type=BigInteger)
    received_at: int = Field(sa_type=BigInteger)


class IngestCounter(SQLModel, table=True):
    """One of ingest's counters (`ingest.stats`), added to in the same transaction as what
    it counts, so `/api/ingest/stats` and `/metrics` continue across restarts. Names are
    `IngestStats`' fields, and `rejected:<kind>` per reason."""

    __tablename__ = "ingest_counter"
    name: str = Field(primary_key=True, max_length=100)
    value: int = Field(sa_type=BigInteger)

"""The parts a FieldPulse process is built from, each made from the settings: the
database, the notification sender, the telemetry store, ingest with its housekeeping.
`fieldpulse/system.py` assembles them into the processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from sqlalchemy import Engine, make_url

from asset_registry.catalog import DeviceModel
from fieldpulse.schema import upgrade
from fieldpulse.settings import Settings
from foundations.clock import DAY_MS, now_ms
from foundations.database import make_engine
from foundations.files import private_dir, private_file
from foundations.leases import AdvisoryLeases, leader_only
from foundations.workers import Periodic
from ingest.consumer import (
    BrokerAddress,
    ConsumerTuning,
    IngestConsumer,
    Partition,
    ingest_client_id,
)
from ingest.device_directory import DeviceDirectory
from ingest.device_state import mark_stale_devices
from ingest.jetstream import LEASE_GROUP, LEASE_SPACE, JetStreamIngest, JetStreamTuning
from ingest.pipeline import IngestPipeline, ReadingsHandler
from ingest.telemetry_store import SqlTelemetryStore, TelemetryStore, VictoriaMetricsStore
from notifications.recipients import SUPERVISOR, AddressBook
from notifications.senders import LogSender, NotificationSender
from notifications.smtp import EmailSender, SmtpServer
from service.engineer_addresses import StoredEngineerAddresses


def open_database(settings: Settings) -> Engine:
    private_dir(settings.data_dir)
    sqlite_file = make_url(settings.db_url).database if settings.db_url.startswith("sqlite") \
        else None
    if sqlite_file and sqlite_file != ":memory:":
        # SQLite creates its -wal and -shm files with the database file's mode.
        private_file(Path(sqlite_file))
    engine = make_engine(settings.db_url)
    upgrade(engine)  # Alembic: a new database is built, an old one brought up to date
    return engine


def notification_sender(settings: Settings, engine: Engine) -> NotificationSender:
    """E-mail when an SMTP server is configured, else the log."""
    if not settings.smtp_host:
        return LogSender()
    server = SmtpServer(settings.smtp_host, settings.smtp_port, sender=settings.smtp_from,
                        starttls=settings.smtp_starttls, username=settings.smtp_user,
                        password=os.environ.get("FIELDPULSE_SMTP_PASSWORD"))
    roles = {SUPERVISOR: settings.supervisor_email} if settings.supervisor_email else {}
    addresses = AddressBook(engine, roles=roles, engineers=StoredEngineerAddresses(engine))
    return EmailSender(server, addresses.address_of)


def make_telemetry_store(settings: Settings, engine: Engine) -> TelemetryStore:
    if settings.telemetry_backend == "sql":
        return SqlTelemetryStore(engine)
    if settings.telemetry_backend == "victoriametrics":
        if not settings.victoriametrics_url:
            raise ValueError("telemetry_backend 'victoriametrics' needs victoriametrics_url")
        return VictoriaMetricsStore(settings.victoriametrics_url)
    raise ValueError(f"unknown telemetry_backend '{settings.telemetry_backend}' "
                     "(expected 'sql' or 'victoriametrics')")


class Ingest:
    """Ingest for one process: store, pipeline, the consumer (a worker) and its
    housekeeping workers. With `jetstream` (the engine cluster's NATS URLs) the consumer
    reads the partitions this process leases instead of subscribing to one broker."""

    def __init__(self, settings: Settings, broker: BrokerAddress, engine: Engine,
                 models: Mapping[str, DeviceModel], on_readings: ReadingsHandler | None,
                 tuning: ConsumerTuning | None = None,
                 jetstream: list[str] | None = None,
                 jetstream_tuning: JetStreamTuning | None = None,
                 on_partitions_taken: Callable[[], object] | None = None) -> None:
        partition = Partition(settings.ingest_partition, settings.ingest_partitions)
        self.store = make_telemetry_store(settings, engine)
        self.pipeline = IngestPipeline(engine, DeviceDirectory(engine, dict(models)), self.store,
                                       on_readings=on_readings)
        self.consumer: IngestConsumer | JetStreamIngest
        if jetstream:
            self.consumer = JetStreamIngest(
                self.pipeline, jetstream, AdvisoryLeases(engine, LEASE_SPACE, LEASE_GROUP),
                jetstream_tuning or JetStreamTuning(), on_partitions_taken)
        else:
            self.consumer = IngestConsumer(self.pipeline, broker,
                                           client_id=ingest_client_id(partition),
                                           partition=partition,
                                           tuning=tuning or ConsumerTuning())
        # A cluster's workers share one database: its housekeeping runs in one of them,
        # the holder of its lease (two compacting the same chunks would roll them up twice).
        once = AdvisoryLeases(engine, HOUSEKEEPING_SPACE, "fieldpulse-housekeeping") \
            if jetstream else None
        self.workers = [self.consumer, *_housekeeping(settings, engine, self.store, once)]


# Advisory-lock space of the cluster ingest workers' housekeeping (one key per loop).
HOUSEKEEPING_SPACE = 0x46_50_48_4B  # "FPHK"


def _housekeeping(settings: Settings, engine: Engine, store: TelemetryStore,
                  once: AdvisoryLeases | None = None) -> list[Periodic]:
    workers = []
    stale_ms = int(settings.device_stale_after_s * 1000)
    if stale_ms:
        workers.append(Periodic("stale-devices", leader_only(once, 1, _at_now(
            lambda now: mark_stale_devices(engine, now, stale_ms))), 10.0))
    if isinstance(store, SqlTelemetryStore) and settings.telemetry_raw_retention_days > 0:
        raw_ms = int(settings.telemetry_raw_retention_days * DAY_MS)
        rollup_ms = int(settings.telemetry_rollup_retention_days * DAY_MS)
        workers.append(Periodic("telemetry-retention", leader_only(once, 2, _at_now(
            lambda now: store.compact(now - raw_ms, now - rollup_ms))), 3600.0))
    return workers


def _at_now(step: Callable[[int], object]) -> Callable[[], object]:
    return lambda: step(now_ms())

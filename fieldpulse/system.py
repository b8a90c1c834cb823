"""Assembly: one process running ingest, rules, dispatch and the portal.

Each component gets what it needs passed in; the wiring between them lives
here and nowhere else (ingest hands stored readings to rules, rules ask the
dispatcher for work orders, the portal asks it to replan).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from collections.abc import Sequence

import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from asset_registry.catalog import DeviceModel, load_models
from asset_registry.database import make_engine
from dispatch.notice_worker import StoredEngineerAddresses, WorkOrderNoticeWorker
from dispatch.service import Dispatcher, open_case
from dispatch.service_cloud import ServiceCloudTasks
from fieldpulse.schema import upgrade
from fieldpulse.settings import Settings
from ingest.consumer import (
    BrokerAddress,
    ConsumerTuning,
    IngestConsumer,
    Partition,
    PeriodicTask,
)
from ingest.device_directory import DeviceDirectory
from ingest.device_state import mark_stale_devices
from ingest.metrics import IngestCollector, exposition, make_registry
from ingest.pipeline import IngestPipeline, ReadingsHandler
from ingest.telemetry_store import SqlTelemetryStore, TelemetryStore, VictoriaMetricsStore
from portal.app import create_app
from portal.context import PortalContext
from portal.webhooks.worker import WebhookWorker
from rules.email_sender import AddressBook, EmailSender, SmtpServer
from rules.notify import LogSender, NotificationSender
from rules.service import RulesService, WorkOrderRequest
from sales.worker import SalesWorker

# How often a separate ingest worker looks for rule versions stored by another process.
RULES_RELOAD_S = 5.0

log = logging.getLogger("fieldpulse")


def open_database(settings: Settings) -> Engine:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    upgrade(engine)  # Alembic: a new database is built, an old one brought up to date
    return engine


def _open_alert_work_order(session: Session, req: WorkOrderRequest) -> int:
    case, _ = open_case(
        session, device_id=req.device_id, source="alert", alert_id=req.alert_id,
        title=req.title, description=req.description, skill=req.skill,
        duration_min=req.duration_min, priority=req.priority,
    )
    assert case.id is not None
    return case.id


def notification_sender(settings: Settings, engine: Engine) -> NotificationSender:
    """E-mail when an SMTP server is configured, else the log."""
    if not settings.smtp_host:
        return LogSender()
    server = SmtpServer(settings.smtp_host, settings.smtp_port, sender=settings.smtp_from,
                        starttls=settings.smtp_starttls, username=settings.smtp_user,
                        password=os.environ.get("FIELDPULSE_SMTP_PASSWORD"))
    roles = {"service-supervisor": settings.supervisor_email} if settings.supervisor_email else {}
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


class IngestService:
    """Ingest wired for one process: store, pipeline, consumer and its metrics."""

    def __init__(self, settings: Settings, broker: BrokerAddress, engine: Engine,
                 models: dict[str, DeviceModel], on_readings: ReadingsHandler | None,
                 tuning: ConsumerTuning | None = None,
                 tasks: Sequence[PeriodicTask] = ()) -> None:
        partition = Partition(settings.ingest_partition, settings.ingest_partitions)
        self.store = make_telemetry_store(settings, engine)
        self.pipeline = IngestPipeline(engine, DeviceDirectory(engine, models), self.store,
                                       on_readings=on_readings)
        client_id = ("fieldpulse-ingest" if partition.count == 1
                     else f"fieldpulse-ingest-{partition.index}of{partition.count}")
        self.consumer = IngestConsumer(
            self.pipeline, broker, client_id=client_id, partition=partition,
            tuning=tuning or ConsumerTuning(),
            periodic=[*_housekeeping(settings, engine, self.store), *tasks],
        )
        self.registry = make_registry(IngestCollector(
            self.pipeline.stats, self.consumer.connected.is_set, worker=str(partition.index)))

    def metrics(self) -> bytes:
        return exposition(self.registry)


def _housekeeping(settings: Settings, engine: Engine, store: TelemetryStore
                  ) -> list[PeriodicTask]:
    tasks = []
    stale_ms = int(settings.device_stale_after_s * 1000)
    if stale_ms:
        tasks.append(PeriodicTask("stale devices", 10.0,
                                  lambda now: mark_stale_devices(engine, now, stale_ms)))
    if isinstance(store, SqlTelemetryStore) and settings.telemetry_raw_retention_days > 0:
        day_ms = 86_400_000
        raw_ms = int(settings.telemetry_raw_retention_days * day_ms)
        rollup_ms = int(settings.telemetry_rollup_retention_days * day_ms)
        tasks.append(PeriodicTask("retention", 3600.0,
                                  lambda now: store.compact(now - raw_ms, now - rollup_ms)))
    return tasks


class CloudSystem:
    def __init__(self, settings: Settings, broker: BrokerAddress,
                 models: dict[str, DeviceModel] | None = None,
                 engine: Engine | None = None) -> None:
        self.settings = settings
        self.models = models or load_models()
        self.engine = engine or open_database(settings)
        self.dispatcher = Dispatcher(self.engine, settings.tz,
                                     time_limit_s=settings.dispatch_time_limit_s,
                                     review=settings.dispatch_review)
        sender = notification_sender(settings, self.engine)
        self.rules = RulesService(self.engine, self.models, _open_alert_work_order,
                                  on_work_orders_opened=self.dispatcher.request, tz=settings.tz,
                                  sender=sender)
        # Work-order e-mails, derived from work_order_event; once, in the main process.
        self.work_order_notices = WorkOrderNoticeWorker(self.engine, sender, tz=settings.tz,
                                                        base_url=settings.base_url)
        # SLA monitor and preventive maintenance; once, in the main process.
        self.service_cloud = ServiceCloudTasks(self.engine, self.models, tz=settings.tz,
                                               on_cases_opened=self.dispatcher.request)
        # Domain events to subscribed webhooks (CRMs); once, in the main process.
        self.webhooks = WebhookWorker(self.engine)
        self.ingest = IngestService(settings, broker, self.engine, self.models,
                                    on_readings=self.rules.on_blocks)
        self.pipeline = self.ingest.pipeline
        # Sales opportunities from the stored telemetry; once, in the main process.
        self.sales = SalesWorker(self.engine, self.ingest.store, sender)
        self.consumer = self.ingest.consumer
        self.app = create_app(PortalContext(
            engine=self.engine, models=self.models, tile_url=settings.tile_url, tz=settings.tz,
            request_replan=self.dispatcher.request, rules=self.rules,
            broker_connected=self.consumer.connected.is_set,
            ingest_stats=self.pipeline.stats.snapshot,
            metrics=self.ingest.metrics, qr_dir=settings.qr_dir, base_url=settings.base_url,
            uploads_dir=settings.data_dir / "uploads",
            plan_history=lambda: list(self.dispatcher.history), dispatcher=self.dispatcher,
            telemetry=self.ingest.store,
        ))
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None

    def start_services(self) -> None:
        """Start ingest, the rules' timers and the dispatcher (the HTTP server is separate)."""
        self.work_order_notices.start()  # first: its cursor then predates the first plan
        self.dispatcher.start()
        self.webhooks.start()
        self.rules.start()
        self.service_cloud.start()
        self.consumer.start()
        self.sales.start()
        self.dispatcher.request()  # plan whatever is open from before a restart

    def start_http_in_thread(self) -> None:
        config = uvicorn.Config(self.app, host=self.settings.http_host,
                                port=self.settings.http_port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._server_thread.start()

    def serve_http_forever(self) -> None:
        uvicorn.run(self.app, host=self.settings.http_host, port=self.settings.http_port,
                    log_level="warning")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=10)
        self.consumer.stop()
        self.sales.stop()
        self.rules.stop()
        self.service_cloud.stop()
        self.dispatcher.stop()
        self.webhooks.stop()
        self.work_order_notices.stop()


class IngestWorker:
    """One ingest process without the portal or the dispatcher: ingest and rules.

    Several of them (one partition each) scale ingest out; the dispatcher in the
    main process plans the work orders their alerts open.
    """

    def __init__(self, settings: Settings, broker: BrokerAddress,
                 models: dict[str, DeviceModel] | None = None,
                 engine: Engine | None = None, evaluate_rules: bool = True) -> None:
        self.models = models or load_models()
        self.engine = engine or open_database(settings)
        # Rules evaluate this worker's readings; their timers (no-data, escalation) and
        # the sending of notifications run once, in the main process (CloudSystem).
        self.rules = RulesService(self.engine, self.models, _open_alert_work_order,
                                  tz=settings.tz, deliver_notifications=False)
        # Rule edits made through the portal (another process) are picked up here.
        reload = PeriodicTask("rule versions", RULES_RELOAD_S,
                              lambda _now: self.rules.reload_rules())
        self.ingest = IngestService(settings, broker, self.engine, self.models,
                                    on_readings=self.rules.on_blocks if evaluate_rules
                                    else None, tasks=[reload] if evaluate_rules else [])

    def start(self) -> None:
        self.ingest.consumer.start()

    def stop(self) -> None:
        self.ingest.consumer.stop()


def ingest_worker_main(argv: list[str] | None = None) -> None:
    """`python -m fieldpulse.system --data-dir D --broker HOST:PORT [...]`: one ingest worker
    until SIGTERM/SIGINT (tests kill it with SIGKILL to prove nothing is lost)."""
    parser = argparse.ArgumentParser(description=ingest_worker_main.__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--broker", required=True, help="HOST:PORT")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--backend", default="sql", choices=["sql", "victoriametrics"])
    parser.add_argument("--victoriametrics-url", default="")
    parser.add_argument("--partition", default="0/1", help="INDEX/COUNT")
    args = parser.parse_args(argv)
    from pathlib import Path

    host, _, port = args.broker.rpartition(":")
    index, _, count = args.partition.partition("/")
    settings = Settings(data_dir=Path(args.data_dir), database_url=args.database_url,
                        telemetry_backend=args.backend,
                        victoriametrics_url=args.victoriametrics_url,
                        ingest_partition=int(index), ingest_partitions=int(count))
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    worker = IngestWorker(settings, BrokerAddress(host, int(port)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    stop.wait()
    worker.stop()


if __name__ == "__main__":
    ingest_worker_main()

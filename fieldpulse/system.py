"""Assembly: the processes FieldPulse runs, each a set of workers under one supervisor.

- `CloudSystem`: one process running ingest, rules, the service desk's timers,
  notifications, the dispatcher, webhooks, sales and the portal (`fieldpulse run`,
  the demo, the tests).
- `IngestWorker`: ingest and rule evaluation only, for a partition of the gateways
  (`python -m fieldpulse.system --partition i/n`), or, with `--jetstream URLS`, for
  whichever partitions of a NATS JetStream engine cluster it leases; the main process
  does the rest.

Each component gets what it needs passed in; the wiring between them lives here and
nowhere else (ingest hands stored readings to rules, rules ask the service desk for
work orders and wake the dispatcher, the portal asks it to replan).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from asset_registry.catalog import DeviceModel, load_models
from asset_registry.part_catalogue import PartEdit, with_edits, with_stored_parts
from commands.link import CommandLink
from commands.metrics import CommandLinkCollector
from dispatch.dispatcher import Dispatcher
from fieldpulse.broker_setup import PASSWORD_ENV, BrokerLogin
from fieldpulse.parts import Ingest, notification_sender, open_database
from fieldpulse.settings import Settings
from foundations.clock import now_ms
from foundations.database import reachable
from foundations.health import Health
from foundations.health_metrics import HealthCollector
from foundations.leases import AdvisoryLeases, leader_only
from foundations.workers import Periodic, Supervisor
from ingest.consumer import BrokerAddress, ConsumerTuning
from ingest.gaps import gap_totals
from ingest.metrics import IngestCollector
from integrations.webhooks.targets import TargetPolicy
from integrations.webhooks.worker import WebhookWorker
from notifications.alert_notices import record_alert_notice
from notifications.delivery import NotificationDelivery
from portal.app import create_app
from portal.context import PortalContext
from portal.server import HttpServer
from rules.service import TICK_S, RulesService
from sales.worker import SalesWorker
from service.alert_cases import open_alert_work_order
from service.first_time_fix import FirstTimeFixCollector
from service.maintenance_runner import generate_maintenance
from service.notice_recorder import WorkOrderNotices
from service.self_service import DeflectionCollector
from service.sla_monitor import check_clocks

# Leases of the loops that must run in one process of a cluster (PostgreSQL advisory
# locks in this space, one key per loop).
ONCE_SPACE = 0x46_50_31_58  # "FP1X"
SLA_LEASE, MAINTENANCE_LEASE = 1, 2
# How often a separate ingest worker looks for rule versions stored by another process.
RULES_RELOAD_S = 5.0
SLA_CHECK_S = 30.0
MAINTENANCE_S = 600.0

log = logging.getLogger("fieldpulse")


class CloudSystem:
    """`broker`: ingest's login; `commands_broker`: the command link's (its own account,
    `fieldpulse-commands`). Without one, commands are accepted and wait, unsent."""

    def __init__(self, settings: Settings, broker: BrokerAddress,
                 models: Mapping[str, DeviceModel] | None = None,
                 engine: Engine | None = None,
                 commands_broker: BrokerAddress | None = None) -> None:
        self.settings = settings
        self.engine = engine or open_database(settings)
        # The model files' parts with the catalogue's edits (asset_registry.part_catalogue).
        self.models = with_stored_parts(self.engine, models or load_models())
        tz = settings.tz
        self.dispatcher = Dispatcher(self.engine, tz, time_limit_s=settings.dispatch_time_limit_s,
                                     review=settings.dispatch_review,
                                     parts=settings.dispatch_parts)
        self.notifications = NotificationDelivery(self.engine,
                                                  notification_sender(settings, self.engine))
        self.rules = RulesService(self.engine, self.models, open_alert_work_order,
                                  record_notice=record_alert_notice,
                                  on_work_orders_opened=self.dispatcher.request, tz=tz,
                                  on_notified=self.notifications.wake)
        self.ingest = Ingest(settings, broker, self.engine, self.models,
                             on_readings=self.rules.on_blocks)
        self.pipeline, self.consumer = self.ingest.pipeline, self.ingest.consumer
        self.health = Health(probes={"broker": self.consumer.connected.is_set,
                                     "database": lambda: reachable(self.engine)})
        self._metrics = CollectorRegistry(auto_describe=False)
        self._metrics.register(IngestCollector(self.pipeline.stats, self.consumer.connected.is_set,
                                               gaps=self._gap_totals))
        self._metrics.register(HealthCollector(self.health.report))
        self._metrics.register(FirstTimeFixCollector(self.engine))
        self._metrics.register(DeflectionCollector(self.engine))
        webhook_targets = TargetPolicy(settings.webhook_allowed_networks)
        self.command_link = None if commands_broker is None else CommandLink(
            self.engine, commands_broker, self.models)
        if self.command_link is not None:
            self._metrics.register(CommandLinkCollector(self.command_link))
        else:
            log.warning("event=no_command_link (no broker account for it): commands sent "
                        "through the portal wait, unsent")
        self.app = create_app(PortalContext(
            engine=self.engine, models=self.models, tile_url=settings.tile_url, tz=tz,
            support_contact=settings.support_contact,
            request_replan=self.dispatcher.request, rules=self.rules,
            on_command_queued=self.command_link.wake if self.command_link else lambda: None,
            broker_connected=self.consumer.connected.is_set,
            ingest_stats=self.pipeline.stats.snapshot, health=self.health.report,
            metrics=self.metrics, qr_dir=settings.qr_dir, base_url=settings.base_url,
            uploads_dir=settings.data_dir / "uploads",
            plan_history=lambda: list(self.dispatcher.history), dispatcher=self.dispatcher,
            telemetry=self.ingest.store, webhook_targets=webhook_targets,
            on_part_edited=self._part_edited,
        ))
        once = self._once_only()
        # Started in this order, stopped in reverse. The notices' cursor is placed
        # first, so it predates the first plan; ingest starts once everything that
        # acts on its readings runs; the portal last.
        self.supervisor = Supervisor([
            WorkOrderNotices(self.engine, tz=tz, base_url=settings.base_url,
                             on_recorded=self.notifications.wake),
            self.notifications,
            self.dispatcher,
            Periodic("rules-timers", self.rules.tick, TICK_S, teardown=self.rules.close_down),
            Periodic("sla-monitor", leader_only(once, SLA_LEASE,
                                                lambda: check_clocks(self.engine, now_ms(), tz)),
                     SLA_CHECK_S, first_after_s=0),
            Periodic("maintenance", leader_only(once, MAINTENANCE_LEASE, self._plan_maintenance),
                     MAINTENANCE_S, first_after_s=0),
            WebhookWorker(self.engine, targets=webhook_targets),
            SalesWorker(self.engine, self.ingest.store),
            *self.ingest.workers,
            *([self.command_link] if self.command_link else []),
            HttpServer(self.app, settings.http_host, settings.http_port,
                       trusted_proxies=settings.trusted_proxies),
        ], backoff_s=settings.restart_backoff_s)
        self.health.watch(self.supervisor)

    def _once_only(self) -> AdvisoryLeases | None:
        """On PostgreSQL several CloudSystems may share the database (a cluster): the SLA
        monitor and the maintenance planner then run in whichever holds their lease, and
        move when it dies. On SQLite there is one process: no leases."""
        if self.engine.dialect.name != "postgresql":
            return None
        return AdvisoryLeases(self.engine, ONCE_SPACE, "fieldpulse-once")

    def _plan_maintenance(self) -> None:
        if generate_maintenance(self.engine, self.models, now_ms()):
            self.dispatcher.request()  # the dispatcher plans the visits with the rest

    def _gap_totals(self) -> dict[tuple[str, str], int]:
        with self.engine.connect() as conn:
            return gap_totals(conn)

    def metrics(self) -> bytes:
        return generate_latest(self._metrics)

    def _part_edited(self, edit: PartEdit) -> None:
        """A part edited through the portal: in force for ingest, the command link and
        the maintenance runner (this dict), and the rule engines (their own copy)."""
        self.models.update(with_edits(self.models, [edit]))
        self.rules.book.models.update(with_edits(self.rules.book.models, [edit]))

    def start(self) -> None:
        self.dispatcher.request()  # plan whatever is open from before a restart
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()



class IngestWorker:
    """One ingest process without the portal or the dispatcher: ingest and rules.

    Several of them (one partition each) scale ingest out; the main process plans the
    work orders their alerts open and sends the notifications they record.
    """

    def __init__(self, settings: Settings, broker: BrokerAddress,
                 models: Mapping[str, DeviceModel] | None = None,
                 engine: Engine | None = None, evaluate_rules: bool = True,
                 tuning: ConsumerTuning | None = None,
                 jetstream: list[str] | None = None) -> None:
        self.engine = engine or open_database(settings)
        self.models = with_stored_parts(self.engine, models or load_models())
        # Rules evaluate this worker's readings; their timers (no-data, escalation) and
        # the sending of notifications run once, in the main process (CloudSystem).
        self.rules = RulesService(self.engine, self.models, open_alert_work_order,
                                  record_notice=record_alert_notice, tz=settings.tz)
        self.ingest = Ingest(settings, broker, self.engine, self.models,
                             on_readings=self.rules.on_blocks if evaluate_rules else None,
                             tuning=tuning, jetstream=jetstream,
                             on_partitions_taken=self.rules.resync_alerts
                             if evaluate_rules else None)
        # Rule edits made through the portal (another process) are picked up here.
        reload = [Periodic("rule-versions", self.reload, RULES_RELOAD_S)
                  ] if evaluate_rules else []
        self.supervisor = Supervisor([*reload, *self.ingest.workers],
                                     backoff_s=settings.restart_backoff_s)

    def reload(self) -> None:
        """Rule versions and parts edited through the portal (another process): the
        rules in force, and the parts an alert's work order asks for."""
        self.rules.reload_rules()
        self.rules.book.models.update(with_stored_parts(self.engine, self.rules.book.models))

    def start(self) -> None:
        self.supervisor.start()

    def stop(self) -> None:
        self.supervisor.stop()


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (Ctrl-C, a service manager)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()


def ingest_worker_main(argv: list[str] | None = None) -> None:
    """`python -m fieldpulse.system --data-dir D --broker HOST:PORT --broker-user U [...]`:
    one ingest worker until SIGTERM/SIGINT (tests kill it with SIGKILL to prove nothing is
    lost)."""
    parser = argparse.ArgumentParser(description=ingest_worker_main.__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--broker", default="", help="HOST:PORT (without --jetstream)")
    parser.add_argument("--broker-user", default=None,
                        help="this worker's broker account, named like its client id: "
                             "fieldpulse-ingest, or fieldpulse-ingest-IofN with --partition "
                             f"I/N; password from ${PASSWORD_ENV} or --broker-password-file")
    parser.add_argument("--broker-password-file", type=Path, default=None)
    parser.add_argument("--broker-tls", action="store_true",
                        help="TLS, the broker verified with the system's CA certificates")
    parser.add_argument("--broker-ca-file", type=Path, default=None,
                        help="TLS, the broker verified with this CA certificate")
    parser.add_argument("--broker-cert-file", type=Path, default=None)
    parser.add_argument("--broker-key-file", type=Path, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--backend", default="sql", choices=["sql", "victoriametrics"])
    parser.add_argument("--victoriametrics-url", default="")
    parser.add_argument("--partition", default="0/1", help="INDEX/COUNT")
    parser.add_argument("--jetstream", default="",
                        help="the engine cluster's NATS URLs, comma-separated: read the "
                             "partitions this worker leases (PostgreSQL) instead of --broker")
    args = parser.parse_args(argv)
    login = BrokerLogin(args.broker_user, args.broker_password_file, args.broker_tls,
                        args.broker_ca_file, args.broker_cert_file, args.broker_key_file)
    jetstream = [u for u in args.jetstream.split(",") if u] or None
    if not args.broker and not jetstream:
        parser.error("--broker HOST:PORT or --jetstream URLS is required")
    try:
        # With --jetstream gateway acks go through the engine: no broker login to make.
        broker = BrokerAddress() if jetstream else login.address(args.broker)
    except ValueError as exc:
        parser.error(str(exc))
    index, _, count = args.partition.partition("/")
    settings = Settings(data_dir=Path(args.data_dir), database_url=args.database_url,
                        telemetry_backend=args.backend,
                        victoriametrics_url=args.victoriametrics_url,
                        ingest_partition=int(index), ingest_partitions=int(count))
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    worker = IngestWorker(settings, broker, jetstream=jetstream)
    worker.start()
    try:
        wait_for_signal()
    finally:
        worker.stop()


if __name__ == "__main__":
    ingest_worker_main()

"""Assembly: one process running ingest, rules, dispatch and the portal.

Each component gets what it needs passed in; the wiring between them lives
here and nowhere else (ingest hands stored readings to rules, rules ask the
dispatcher for work orders, the portal asks it to replan).
"""

from __future__ import annotations

import logging
import threading

import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

# Table modules register themselves on SQLModel's metadata when imported.
import rules.tables  # noqa: F401
from asset_registry.catalog import DeviceModel, load_models
from asset_registry.database import create_schema, make_engine
from dispatch.service import Dispatcher, open_case
from fieldpulse.settings import Settings
from ingest.consumer import BrokerAddress, IngestConsumer
from ingest.device_directory import DeviceDirectory
from ingest.pipeline import IngestPipeline
from ingest.telemetry_store import SqlTelemetryStore
from portal.app import create_app
from portal.context import PortalContext
from rules.service import RulesService, WorkOrderRequest

log = logging.getLogger("fieldpulse")


def open_database(settings: Settings) -> Engine:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    create_schema(engine)
    return engine


def _open_alert_work_order(session: Session, req: WorkOrderRequest) -> int:
    case, _ = open_case(
        session, device_id=req.device_id, source="alert", alert_id=req.alert_id,
        title=req.title, description=req.description, skill=req.skill,
        duration_min=req.duration_min, priority=req.priority,
    )
    assert case.id is not None
    return case.id


class CloudSystem:
    def __init__(self, settings: Settings, broker: BrokerAddress,
                 models: dict[str, DeviceModel] | None = None,
                 engine: Engine | None = None) -> None:
        self.settings = settings
        self.models = models or load_models()
        self.engine = engine or open_database(settings)
        self.dispatcher = Dispatcher(self.engine, settings.tz,
                                     time_limit_s=settings.dispatch_time_limit_s)
        self.rules = RulesService(self.engine, self.models, _open_alert_work_order,
                                  on_work_orders_opened=self.dispatcher.request)
        self.pipeline = IngestPipeline(self.engine, DeviceDirectory(self.engine, self.models),
                                       SqlTelemetryStore(), on_readings=self.rules.on_readings)
        self.consumer = IngestConsumer(self.pipeline, broker)
        self.app = create_app(PortalContext(
            engine=self.engine, models=self.models, tile_url=settings.tile_url, tz=settings.tz,
            request_replan=self.dispatcher.request,
            broker_connected=self.consumer.connected.is_set,
            ingest_stats=self.pipeline.stats.snapshot,
        ))
        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None

    def start_services(self) -> None:
        """Start ingest and the dispatcher (the HTTP server is separate)."""
        self.dispatcher.start()
        self.consumer.start()
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
        self.dispatcher.stop()

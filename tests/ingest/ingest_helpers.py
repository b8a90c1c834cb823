"""Building blocks of the ingest tests: a registry per backend, batches, a publisher."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from publishing import batch, breaching_metrics, normal_metrics, topic
from sqlalchemy import Engine, func, select

from asset_registry.catalog import load_models
from fieldpulse.broker import MosquittoBroker
from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine
from ingest.consumer import Partition, ingest_client_id
from ingest.device_directory import DeviceDirectory
from ingest.pipeline import IngestPipeline
from ingest.tables import IngestedBatch
from ingest.telemetry_store import TelemetryStore, VictoriaMetricsStore
from simulators.fleet import Fleet
from testing_support.broker_logins import password_file
from testing_support.system_process import SystemProcess

MODELS = load_models()


@dataclass
class Stream:
    """A deterministic stream of batches per gateway: what every worker set must store."""

    fleet: Fleet
    batches_per_gateway: int
    readings_per_batch: int = 20
    start_ms: int = field(default_factory=lambda: int(time.time() * 1000) - 3_600_000)
    # (gateway, seq) -> readings whose values breach the first rule
    breach_at: set[tuple[str, int]] = field(default_factory=set)

    def messages(self) -> list[tuple[str, bytes]]:
        """Interleaved across gateways, in seq order per gateway (as gateways publish)."""
        out = []
        for seq in range(self.batches_per_gateway):
            for gw in self.fleet.gateways:
                devices = self.fleet.devices_of(gw.id)
                readings = []
                for i in range(self.readings_per_batch):
                    device = devices[i % len(devices)]
                    model = MODELS[device.model_id]
                    ts = self.start_ms + seq * 1000 + i
                    if (gw.id, seq) in self.breach_at:
                        m = breaching_metrics(model)[1]
                    else:
                        m = normal_metrics(model, wiggle=((seq + i) % 7) / 100)
                    readings.append({"dev": device.id, "ts": ts, "m": m})
                out.append((topic(gw.id), batch(gw.id, seq, readings, self.start_ms)))
        return out

    @property
    def total_readings(self) -> int:
        return len(self.fleet.gateways) * self.batches_per_gateway * self.readings_per_batch


def make_pipeline(engine: Engine, store: TelemetryStore,
                  on_readings: Callable | None = None) -> IngestPipeline:
    return IngestPipeline(engine, DeviceDirectory(engine, MODELS), store, on_readings=on_readings)


def stored_batches(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(IngestedBatch)).scalar_one()


def stored_points(store: TelemetryStore, fleet: Fleet, metric_of: Callable[[str], str]
                  ) -> dict[str, list[tuple[int, float]]]:
    """Every device's points of one metric, over all time."""
    return {d.id: store.points(d.id, metric_of(d.model_id), 0, 2**53)
            for d in fleet.devices}


class WorkerProcess(SystemProcess):
    """`python -m fieldpulse.system`: one ingest worker as its own process (to kill -9)."""

    def __init__(self, data_dir: Path, broker: MosquittoBroker, database_url: str | None = None,
                 backend: str = "sql", vm_url: str = "", partition: str = "0/1") -> None:
        index, _, count = partition.partition("/")
        user = ingest_client_id(Partition(int(index), int(count)))  # its account
        args = ["--data-dir", str(data_dir), "--broker", f"127.0.0.1:{broker.port}",
                "--backend", backend, "--partition", partition, "--broker-user", user,
                "--broker-password-file", str(password_file(broker, user, data_dir))]
        if database_url:
            args += ["--database-url", database_url]
        if vm_url:
            args += ["--victoriametrics-url", vm_url]
        super().__init__(args, data_dir / f"worker-{partition.replace('/', 'of')}.log")

    def wait_connected(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.log.exists() and "event=connected" in self.log.read_text(errors="replace"):
                return
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"worker did not connect: {self.log.read_text()[-3000:]}")


@dataclass
class Backend:
    name: str
    engine: Engine
    store: TelemetryStore
    database_url: str
    vm_url: str = ""

    @property
    def store_kind(self) -> str:
        return "victoriametrics" if self.vm_url else "sql"


def open_registry(url: str, fleet: Fleet) -> Engine:
    engine = make_engine(url)
    upgrade(engine)  # the schema as every process builds it: Alembic
    import_fleet(engine, fleet)
    return engine


def flush(store: TelemetryStore) -> None:
    if isinstance(store, VictoriaMetricsStore):
        store.flush()

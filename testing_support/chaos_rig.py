"""Real processes for chaos runs: Mosquitto, the ingest worker, edge agents with ledgers.

Everything runs as its own process on free loopback ports under one directory, so a
run can `kill -9` any of them and start it again: the broker (its persistence file
and accounts stay), the cloud (`python -m fieldpulse.system`, SQLite), each gateway
(`python -m testing_support.ledger_agent`). The oracle is a ledger per gateway: what
its driver produced, compared with what the cloud stored (`Tally`).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from asset_registry.catalog import DeviceModel, load_models
from fieldpulse.broker import MosquittoBroker
from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine
from foundations.processes import terminate
from ingest.consumer import Partition, ingest_client_id
from simulators.fleet import Fleet, generate_fleet
from testing_support.broker_logins import login, password_file

ROOT = Path(__file__).resolve().parents[1]
OUTBOX_FILES = ("outbox.sqlite3", "outbox.sqlite3-wal", "outbox.sqlite3-shm")


class ChaosError(AssertionError):
    """A run did not reach the state it waited for (it stops by itself, never hangs)."""


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise ChaosError(f"timed out after {timeout_s:g} s waiting for {what}")


def normal_values(model: DeviceModel) -> dict[str, float]:
    """A value per attribute inside its range and on the safe side of every rule."""
    values = {}
    for key, attr in model.attributes.items():
        low, high = attr.min, attr.max
        for rule in model.rules:
            if rule.metric == key:
                if rule.condition == "above":
                    high = min(high, rule.clear)
                else:
                    low = max(low, rule.clear)
        values[key] = round((low + high) / 2, 3)
    return values


@dataclass
class Tally:
    """Produced (the ledgers) against stored (the cloud's chunks), per reading."""

    produced: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    evicted: int = 0  # produced, never stored, and not lost: the outboxes evicted them
    evictions_counted: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {"produced": self.produced, "stored": self.stored, "lost": self.lost,
                "duplicated": self.duplicated, "evicted": self.evicted,
                "evictions_counted": self.evictions_counted, **self.extra}


@dataclass
class Gateway:
    id: str
    values: dict[str, dict[str, float]]
    dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def ledger(self) -> Path:
        return self.dir / "ledger"

    @property
    def state_dir(self) -> Path:
        return self.dir / "state"

    def produced(self) -> list[int]:
        return [int(x) for x in self.ledger.read_text().split()] if self.ledger.exists() else []

    def outbox(self, sql: str) -> int:
        """A figure from the agent's outbox, read beside the running agent (WAL)."""
        path = self.state_dir / OUTBOX_FILES[0]
        if not path.exists():
            return 0
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            row = db.execute(sql).fetchone()
        except sqlite3.OperationalError:  # the agent is still making its tables
            return 0
        finally:
            db.close()
        return int(row[0] or 0) if row else 0

    def backlog(self) -> int:
        return (self.outbox("SELECT COUNT(*) FROM batch")
                + self.outbox("SELECT COUNT(*) FROM staged"))

    def evicted(self) -> int:
        return self.outbox("SELECT value FROM meta WHERE key = 'evicted_readings'")


class ChaosRig:
    def __init__(self, root: Path, gateways: int = 3, seed: int = 11,
                 agent: dict[str, Any] | None = None, broker_extra: str = "") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.fleet: Fleet = generate_fleet(seed=seed, sites=max(2, gateways))
        self.broker = MosquittoBroker(root / "broker", extra_config=broker_extra)
        self.db_path = root / "cloud" / "fieldpulse.db"
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.cloud: subprocess.Popen[bytes] | None = None
        self.cloud_log = root / "cloud" / "worker.log"
        self.agent_settings = agent or {}
        models = load_models()
        self.gateways = [
            Gateway(g.id, {d.id: normal_values(models[d.model_id])
                           for d in self.fleet.devices_of(g.id)}, root / "gw" / g.id)
            for g in self.fleet.gateways[:gateways]]

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> ChaosRig:
        engine = make_engine(f"sqlite:///{self.db_path}")
        upgrade(engine)
        import_fleet(engine, self.fleet)
        engine.dispose()
        self.broker.start()
        self.start_cloud()
        for gw in self.gateways:
            self.start_agent(gw)
        return self

    def stop(self) -> None:
        for gw in self.gateways:
            terminate(gw.process, timeout_s=20)
        terminate(self.cloud, timeout_s=20)
        self.broker.stop()

    def start_cloud(self) -> None:
        user = ingest_client_id(Partition())
        args = [sys.executable, "-m", "fieldpulse.system", "--data-dir",
                str(self.root / "cloud"), "--broker", f"127.0.0.1:{self.broker.port}",
                "--backend", "sql", "--broker-user", user, "--broker-password-file",
                str(password_file(self.broker, user, self.root / "cloud")),
                "--database-url", f"sqlite:///{self.db_path}"]
        offset = self.cloud_log.stat().st_size if self.cloud_log.exists() else 0
        with self.cloud_log.open("ab") as log:
            self.cloud = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                          env={**os.environ, "PYTHONPATH": str(ROOT)})
        wait_for(lambda: b"event=connected" in self.cloud_log.read_bytes()[offset:], 60,
                 "the cloud to connect")

    def kill_cloud(self) -> None:
        if self.cloud is not None:
            self.cloud.send_signal(signal.SIGKILL)
            self.cloud.wait()

    def kill_broker(self) -> None:
        self.broker.kill()

    def start_agent(self, gw: Gateway) -> None:
        gw.dir.mkdir(parents=True, exist_ok=True)
        user, _ = login(self.broker, gw.id)
        config = {
            "gateway_id": gw.id, "state_dir": str(gw.state_dir),
            "broker": {"port": self.broker.port, "username": user,
                       "password_file": str(password_file(self.broker, user, gw.dir)),
                       "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
            "sampling": {"sample_period_s": 0.05, "batch_max_readings": 20,
                         "batch_max_age_s": 0.2},
        }
        for section, settings in self.agent_settings.items():
            config.setdefault(section, {}).update(settings)
        (gw.dir / "gateway.json").write_text(json.dumps(config))
        (gw.dir / "values.json").write_text(json.dumps(gw.values))
        gw.ledger.touch()
        with (gw.dir / "agent.log").open("ab") as log:
            gw.process = subprocess.Popen(
                [sys.executable, "-m", "testing_support.ledger_agent", str(gw.dir / "gateway.json"),
                 str(gw.dir / "values.json"), str(gw.ledger)],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)})

    def stop_agent(self, gw: Gateway) -> None:
        terminate(gw.process, timeout_s=20)

    # -- observing -----------------------------------------------------------------------

    def produced(self) -> int:
        return sum(len(gw.produced()) * len(gw.values) for gw in self.gateways)

    def stored_counts(self) -> Counter[tuple[str, str, int]]:
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            counts: Counter[tuple[str, str, int]] = Counter()
            for gateway_id, data in db.execute("SELECT gateway_id, data FROM reading_chunk"):
                for r in orjson.loads(data)["readings"]:
                    counts[(gateway_id, r["dev"], r["ts"])] += 1
            return counts
        finally:
            db.close()

    def stored(self) -> int:
        return sum(self.stored_counts().values())

    def pause_and_drain(self, timeout_s: float = 120) -> None:
        """Stop producing, then wait until every outbox is empty: all acked by the cloud."""
        for gw in self.gateways:
            (gw.dir / "paused").touch()
        wait_for(lambda: all(gw.backlog() == 0 for gw in self.gateways), timeout_s,
                 "every outbox to drain")

    def tally(self) -> Tally:
        stored = self.stored_counts()
        tally = Tally(stored=sum(stored.values()))
        missing = 0
        for gw in self.gateways:
            for ts in gw.produced():
                for dev in gw.values:
                    tally.produced += 1
                    missing += (gw.id, dev, ts) not in stored
            tally.evictions_counted += gw.evicted()
        tally.duplicated = sum(n - 1 for n in stored.values() if n > 1)
        tally.evicted = min(missing, tally.evictions_counted)
        tally.lost = missing - tally.evicted
        return tally

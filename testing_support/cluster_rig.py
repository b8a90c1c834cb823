"""Real processes for cluster runs: PostgreSQL, a 3-node NATS engine, ingest workers that
read it (`python -m fieldpulse.system --jetstream`), and gateways that publish QoS 1 to a
list of MQTT endpoints and fail over to the next one when theirs dies.

The oracle: every gateway's batches are known in advance (`GatewayPlan`), so after a
run each device's stored timestamps must equal the planned ones exactly (none missing,
none twice), whatever was killed on the way (`count_stored`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select, text

from asset_registry.catalog import DeviceModel, load_models, quiet_values
from ingest.jetstream import LEASE_GROUP, LEASE_SPACE
from ingest.tables import DeadLetter, IngestedBatch
from ingest.telemetry_store import SqlTelemetryStore
from simulators.fleet import Fleet
from testing_support.system_process import SystemProcess

MODELS = load_models()


def breaching_metrics(model: DeviceModel) -> tuple[str, dict[str, float]]:
    """(rule id, metrics) that breach the model's first plain above/below rule."""
    values = quiet_values(model, 0.5)
    for rule in model.rules:
        conditions = getattr(rule, "conditions", ())
        if len(conditions) != 1 or rule.for_s or rule.repeat_count > 1 or rule.schedule:
            continue
        c = conditions[0]
        attribute = model.attributes[c.metric]
        if c.condition == "above":
            values[c.metric] = (c.threshold + attribute.max) / 2
        elif c.condition == "below":
            values[c.metric] = (c.threshold + attribute.min) / 2
        else:
            continue
        return rule.id, values
    raise AssertionError(f"model {model.id} has no plain threshold rule")


@dataclass
class GatewayPlan:
    """A gateway's batches, in seq order: `readings` each, one second apart."""

    gateway_id: str
    device_ids: list[str]
    model_ids: list[str]
    batches: int
    readings: int
    start_ms: int
    # Batches whose readings breach each device's first plain threshold rule: alerts
    # raised there and cleared by the next quiet batch, the same in any correct set-up.
    breach_at: frozenset[int] = frozenset()

    def payload(self, seq: int) -> bytes:
        out = []
        for i in range(self.readings):
            k = i % len(self.device_ids)
            model = MODELS[self.model_ids[k]]
            values = (breaching_metrics(model)[1] if seq in self.breach_at
                      else quiet_values(model, 0.4 + (seq % 5) / 20))
            out.append({"dev": self.device_ids[k], "ts": self.timestamp(seq, i), "m": values})
        return orjson.dumps({"v": 1, "gw": self.gateway_id, "seq": seq,
                             "sent": self.start_ms + seq * 1000, "readings": out})

    def timestamp(self, seq: int, i: int) -> int:
        # A device appears every len(devices) readings: distinct instants per device.
        return self.start_ms + seq * 1000 + i

    def expected(self) -> Counter[tuple[str, int]]:
        return Counter((self.device_ids[i % len(self.device_ids)], self.timestamp(s, i))
                       for s in range(self.batches) for i in range(self.readings))


def plans(fleet: Fleet, batches: int, readings: int,
          breach_at: frozenset[int] = frozenset()) -> list[GatewayPlan]:
    start = int(time.time() * 1000) - 3_600_000
    out = []
    for gw in fleet.gateways:
        devices = fleet.devices_of(gw.id)
        if devices:
            out.append(GatewayPlan(gw.id, [d.id for d in devices], [d.model_id for d in devices],
                                   batches, readings, start, breach_at))
    return out


class FailoverGateway(threading.Thread):
    """Publishes its plan QoS 1, one batch at a time: a batch counts as sent on its PUBACK.
    When the node dies (no PUBACK in `timeout_s`, refused connection), it connects to the
    next endpoint and publishes the unacknowledged batch again — maybe a second copy."""

    def __init__(self, plan: GatewayPlan, endpoints: list[tuple[str, int]],
                 pace_s: float = 0.0, timeout_s: float = 3.0, first: int = 0) -> None:
        """`first`: the index of the endpoint it starts on (give gateways different ones
        to spread them over the nodes)."""
        super().__init__(name=f"gw-{plan.gateway_id}", daemon=True)
        self.plan, self.endpoints = plan, endpoints
        self.pace_s, self.timeout_s = pace_s, timeout_s
        self.sent = 0  # batches PUBACKed
        self.failovers = 0
        self.stop = threading.Event()
        self._endpoint = first % len(endpoints)

    def run(self) -> None:
        while self.sent < self.plan.batches and not self.stop.is_set():
            client = self._connect()
            if client is None:
                self._next_endpoint()
                continue
            try:
                while self.sent < self.plan.batches and not self.stop.is_set():
                    info = client.publish(f"fp/v1/gw/{self.plan.gateway_id}/telemetry",
                                          self.plan.payload(self.sent), qos=1)
                    info.wait_for_publish(self.timeout_s)
                    if not info.is_published():
                        break
                    self.sent += 1
                    if self.pace_s:
                        time.sleep(self.pace_s)
            except (RuntimeError, ValueError, OSError):
                pass
            finally:
                client.loop_stop()
                client.disconnect()
            if self.sent < self.plan.batches:
                self._next_endpoint()

    def _next_endpoint(self) -> None:
        self.failovers += 1
        self._endpoint = (self._endpoint + 1) % len(self.endpoints)
        time.sleep(0.1)

    def _connect(self) -> mqtt.Client | None:
        host, port = self.endpoints[self._endpoint]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.plan.gateway_id,
                             protocol=mqtt.MQTTv311, clean_session=True)
        connected = threading.Event()
        client.on_connect = lambda *_a: connected.set()
        try:
            client.connect(host, port, keepalive=10)
        except OSError:
            return None
        client.loop_start()
        if not connected.wait(self.timeout_s):
            client.loop_stop()
            return None
        return client


class ClusterWorker(SystemProcess):
    """`python -m fieldpulse.system --jetstream ...`: one cluster ingest worker process."""

    def __init__(self, name: str, data_dir: Path, database_url: str, nats_urls: list[str]
                 ) -> None:
        super().__init__(["--data-dir", str(data_dir / name), "--database-url", database_url,
                          "--jetstream", ",".join(nats_urls)], data_dir / f"{name}.log")


def leases(engine: Engine) -> dict[int, int]:
    """Ingest partitions leased now: partition -> pid of the backend holding it."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT l.objid, a.application_name, l.pid FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
            "AND l.classid = :space AND l.granted"), {"space": LEASE_SPACE}).all()
    return {int(objid): int(pid) for objid, name, pid in rows if name == LEASE_GROUP}


def lease_holders(engine: Engine) -> int:
    return len(set(leases(engine).values()))


def count_stored(engine: Engine, plan_list: list[GatewayPlan]) -> tuple[int, int, int]:
    """(missing, duplicated, batches stored): each device's stored points of one metric
    against the planned timestamps."""
    store = SqlTelemetryStore(engine)
    expected: Counter[tuple[str, int]] = Counter()
    metric_of: dict[str, str] = {}
    for p in plan_list:
        expected += p.expected()
        for dev, model in zip(p.device_ids, p.model_ids, strict=True):
            metric_of[dev] = next(iter(MODELS[model].attributes))
    got: Counter[tuple[str, int]] = Counter()
    for dev, metric in metric_of.items():
        got.update((dev, ts) for ts, _ in store.points(dev, metric, 0, 2**53))
    missing = sum((expected - got).values())
    duplicated = sum((got - expected).values())
    with engine.connect() as conn:
        batches = conn.execute(select(func.count()).select_from(IngestedBatch)).scalar_one()
    return missing, duplicated, batches


def outcomes(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """(alerts, work orders), each as sorted plain rows without ids or wall-clock times:
    what two set-ups fed the same batches must agree on."""
    with engine.connect() as conn:
        alerts = conn.execute(text(
            "SELECT device_id, rule_id, raised_at, state, cleared_at FROM alert")).all()
        orders = conn.execute(text(
            "SELECT device_id, skill, priority FROM work_order")).all()
    return sorted(tuple(r) for r in alerts), sorted(tuple(r) for r in orders)


def single_node_outcomes(work: Path, fleet: Fleet, plan_list: list[GatewayPlan]
                         ) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The same batches through one in-process pipeline with rules on SQLite, each
    gateway's in order: the reference a cluster run is compared with."""
    from fieldpulse.fleet_import import import_fleet
    from fieldpulse.schema import upgrade
    from foundations.database import make_engine
    from ingest.device_directory import DeviceDirectory
    from ingest.pipeline import IngestPipeline
    from notifications.alert_notices import record_alert_notice
    from rules.service import RulesService
    from service.alert_cases import open_alert_work_order

    engine = make_engine(f"sqlite:///{work / 'single-node.db'}")
    upgrade(engine)
    import_fleet(engine, fleet)
    rules = RulesService(engine, MODELS, open_alert_work_order,
                         record_notice=record_alert_notice)
    pipeline = IngestPipeline(engine, DeviceDirectory(engine, MODELS),
                              SqlTelemetryStore(engine), on_readings=rules.on_blocks)
    for seq in range(max(p.batches for p in plan_list)):
        pipeline.handle_many([(f"fp/v1/gw/{p.gateway_id}/telemetry", p.payload(seq))
                              for p in plan_list if seq < p.batches])
    result = outcomes(engine)
    engine.dispose()
    return result


def stored_batches(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(IngestedBatch)).scalar_one())


def dead_letters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(DeadLetter)).scalar_one())


@dataclass
class Timeline:
    """When things happened in a run (monotonic seconds), for the report."""

    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, what: str) -> None:
        self.marks[what] = time.monotonic()

    def between(self, a: str, b: str) -> float:
        return self.marks[b] - self.marks[a]

"""From one MQTT message to stored rows: decode, validate, dedupe, store, hand on.

The pipeline is transport-free: the consumer feeds it (topic, payload) and acks
the message only after `handle` returns, so a crash before the commit means the
broker redelivers, and the (gateway, seq) key makes the redelivery a no-op.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Engine, exists, select, update

from asset_registry.tables import Device, Gateway
from firmware_contracts.topics import parse_topic
from firmware_contracts.validate import ContractError, decode, validate
from ingest.checks import AcceptedReading, Reject, check_readings
from ingest.device_directory import DeviceDirectory
from ingest.stats import IngestStats
from ingest.tables import DeadLetter, IngestedBatch
from ingest.telemetry_store import TelemetryStore

log = logging.getLogger("fieldpulse.ingest")

ReadingsHandler = Callable[[Sequence[AcceptedReading]], None]
GatewayStateHandler = Callable[[str, bool], None]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # stored | duplicate | rejected | status | ignored
    stored: int = 0
    rejected: int = 0


class IngestPipeline:
    def __init__(
        self,
        engine: Engine,
        directory: DeviceDirectory,
        store: TelemetryStore,
        on_readings: ReadingsHandler | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._engine = engine
        self._directory = directory
        self._store = store
        self._on_readings = on_readings
        self._clock = clock
        self.stats = IngestStats()

    def handle(self, topic: str, payload: bytes) -> Outcome:
        parsed = parse_topic(topic)
        if parsed is None:
            return Outcome("ignored")
        gateway_id, kind = parsed
        try:
            doc = decode(kind, payload)
            validate(kind, doc)
            if doc.get("gw") != gateway_id:
                raise ContractError(kind, "gw", f"'{doc.get('gw')}' does not match the topic's "
                                    f"gateway '{gateway_id}'")
        except ContractError as err:
            self._dead_letter(topic, gateway_id, err, payload)
            return Outcome("rejected")
        if kind == "telemetry":
            return self._telemetry(topic, gateway_id, doc)
        if kind == "status":
            return self._status(gateway_id, doc)
        return Outcome("ignored")

    # -- telemetry --------------------------------------------------------------

    def _telemetry(self, topic: str, gateway_id: str, doc: dict) -> Outcome:
        self.stats.batches_received += 1
        received = self._clock()
        readings = doc["readings"]
        devices = self._directory.lookup({r["dev"] for r in readings})
        accepted, rejects = check_readings(gateway_id, readings, devices, received)
        with self._engine.begin() as conn:
            key = (IngestedBatch.gateway_id == gateway_id) & (IngestedBatch.seq == doc["seq"])
            if conn.execute(select(exists().where(key))).scalar():
                self.stats.batches_duplicate += 1
                return Outcome("duplicate")
            conn.execute(IngestedBatch.__table__.insert(), [{
                "gateway_id": gateway_id, "seq": doc["seq"], "received_at": received,
                "readings": len(accepted), "rejected": len(rejects),
            }])
            self._store.write(conn, accepted)
            if rejects:
                conn.execute(DeadLetter.__table__.insert(), [
                    self._reject_row(topic, gateway_id, r, received) for r in rejects
                ])
            self._touch_devices(conn, accepted)
        if accepted and self._on_readings is not None:
            self._on_readings(accepted)
        self.stats.batches_stored += 1
        self.stats.readings_stored += len(accepted)
        for reject in rejects:
            self.stats.count_reject(reject.kind, readings=1)
        return Outcome("stored", stored=len(accepted), rejected=len(rejects))

    @staticmethod
    def _touch_devices(conn, accepted: Sequence[AcceptedReading]) -> None:
        newest: dict[str, int] = {}
        for r in accepted:
            newest[r.device_id] = max(r.ts, newest.get(r.device_id, 0))
        for device_id, ts in newest.items():
            conn.execute(
                update(Device)
                .where(Device.id == device_id)
                .where((Device.last_seen.is_(None)) | (Device.last_seen < ts))
                .values(last_seen=ts, online=True)
            )

    # -- gateway status -----------------------------------------------------------

    def _status(self, gateway_id: str, doc: dict) -> Outcome:
        self.stats.status_messages += 1
        online = doc["state"] == "online"
        with self._engine.begin() as conn:
            # A retained status replayed on resubscribe must not undo a newer one.
            result = conn.execute(
                update(Gateway)
                .where(Gateway.id == gateway_id, Gateway.status_ts <= doc["ts"])
                .values(online=online, firmware=doc.get("fw", ""), status_ts=doc["ts"])
            )
            if result.rowcount:
                conn.execute(update(Device).where(Device.gateway_id == gateway_id)
                             .values(online=online))
        log.info("gateway %s is %s", gateway_id, doc["state"])
        return Outcome("status")

    # -- dead letters ---------------------------------------------------------------

    def _dead_letter(self, topic: str, gateway_id: str, err: ContractError, payload: bytes) -> None:
        if topic.endswith("/telemetry"):
            self.stats.batches_received += 1
            self.stats.batches_rejected += 1
        self.stats.count_reject("contract")
        log.warning("dead-lettered %s: %s", topic, err)
        with self._engine.begin() as conn:
            conn.execute(DeadLetter.__table__.insert(), [{
                "received_at": self._clock(), "topic": topic, "gateway_id": gateway_id,
                "reason": str(err), "field": err.field,
                "payload": payload.decode("utf-8", errors="replace"),
            }])

    @staticmethod
    def _reject_row(topic: str, gateway_id: str, reject: Reject, received: int) -> dict:
        return {
            "received_at": received, "topic": topic, "gateway_id": gateway_id,
            "reason": f"{reject.field}: {reject.reason}", "field": reject.field,
            "payload": orjson.dumps(reject.reading).decode(),
        }

"""From MQTT messages to stored rows: decode, validate, dedupe, evaluate, store.

The pipeline is transport-free: the consumer feeds it a group of (topic, payload)
messages and acks them only after `handle_many` returns. One group is one
database transaction (several batches per commit is what makes SQLite fast), so
a crash before the commit means the broker redelivers the whole group, and the
(gateway, seq) key makes each redelivered batch a no-op.

Order inside a group, and why:
1. decode + validate + registry checks, no I/O (`fast_accept`, or the schema and
   `check_readings` when anything is off, to name the field);
2. drop batches already stored (read-only queries): the same (gateway, seq) with
   the same content digest is a duplicate; with another digest it is a conflict,
   dead-lettered as `conflicting_duplicate` (whoever claims a gateway's next seq
   numbers must not make its real batches vanish unseen);
3. hand the new readings to the rules (`on_readings`), which commit alerts in
   their own transaction. Before our commit on purpose: a crash between the two
   redelivers the readings, and the rules' hysteresis state (reloaded from the
   active alerts) makes the second evaluation raise nothing twice; the other way
   round a crash would store readings that no rule ever saw;
4. one transaction: readings to the store, dedupe keys, dead letters, device
   state (last seen, online, latest value per metric), gateway status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import orjson
from sqlalchemy import Connection, Engine, update
from sqlmodel import col

from asset_registry.tables import Device, Gateway
from firmware_contracts.topics import parse_topic
from firmware_contracts.validate import ContractError, decode, validate
from foundations.clock import now_ms
from foundations.database import table_of
from ingest.batch_identity import batch_digest
from ingest.checks import (
    MAX_FUTURE_MS,
    AcceptedBatch,
    AcceptedReading,
    Json,
    ModelColumns,
    Reject,
    check_readings,
    fast_accept,
    timestamp_problem,
)
from ingest.device_directory import DeviceDirectory
from ingest.reading_blocks import (
    ReadingBlock,
    blocks_from_readings,
    concat_blocks,
    join_model_columns,
    latest_per_device,
)
from ingest.stats import IngestStats
from ingest.tables import DeadLetter, IngestedBatch
from ingest.telemetry_store import StoredBatch, TelemetryStore

log = logging.getLogger("fieldpulse.ingest")

# Gets the group's new readings as one column block per device model.
ReadingsHandler = Callable[[Sequence[ReadingBlock]], object]

# Larger payloads are dead-lettered undecoded. The contract's own limits (10,000
# readings of at most 64 metrics) stay far below this for real batches.
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024
# A dead letter keeps at most this much of the payload (a huge array stays readable).
DEAD_LETTER_PAYLOAD_CHARS = 64 * 1024



@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # stored | duplicate | rejected | status | ignored
    stored: int = 0
    rejected: int = 0


@dataclass(slots=True)
class _Item:
    """One message on its way through a group."""

    topic: str
    gateway_id: str = ""
    kind: str = "ignored"  # telemetry | status | rejected | ignored
    doc: Json = field(default_factory=dict)
    # The fast path's whole-batch acceptance, or the slow path's accepted readings.
    accepted: AcceptedBatch | list[AcceptedReading] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    raw: bool = False  # every reading accepted: the payload can be stored as is
    error: ContractError | None = None
    reason: str = ""
    payload: bytes = b""
    duplicate: bool = False
    digest: str = ""  # of a telemetry batch's content (`batch_digest`)


class IngestPipeline:
    def __init__(
        self,
        engine: Engine,
        directory: DeviceDirectory,
        store: TelemetryStore,
        on_readings: ReadingsHandler | None = None,
        clock: Callable[[], int] = now_ms,
        stats: IngestStats | None = None,
    ) -> None:
        self._engine, self._directory, self._store = engine, directory, store
        self._on_readings, self._clock = on_readings, clock
        self._mark = "%s" if engine.dialect.name == "postgresql" else "?"
        self.stats = stats or IngestStats()

    @property
    def store(self) -> TelemetryStore:
        return self._store

    def handle(self, topic: str, payload: bytes) -> Outcome:
        return self.handle_many([(topic, payload)])[0]

    def handle_many(self, messages: Sequence[tuple[str, bytes]],
                    redelivered: Collection[int] = ()) -> list[Outcome]:
        """`redelivered`: indexes of messages the broker flagged as possibly sent before
        (a crash between our commit and the ack): their rejects are not kept twice. Nor are
        a refused status's: it is retained, so the broker replays it at every subscribe."""
        received = self._clock()
        items = [self._prepare(topic, payload, received) for topic, payload in messages]
        with self._engine.connect() as conn:
            self._mark_duplicates(conn, items)
            replayed = set(redelivered) | {k for k, item in enumerate(items)
                                           if item.error is not None
                                           and item.error.kind == "status"}
            self._mark_known_rejects(conn, [items[i] for i in sorted(replayed)])
        columns: list[ModelColumns] = []
        slow: list[ReadingBlock] = []
        batches: list[StoredBatch] = []
        for item in items:
            if item.kind == "telemetry" and not item.duplicate and item.accepted:
                accepted = item.accepted
                if isinstance(accepted, AcceptedBatch):
                    columns += accepted.parts
                else:
                    slow += blocks_from_readings(accepted)
                batches.append(StoredBatch(item.gateway_id, accepted,
                                           item.payload if item.raw else None))
        fresh = concat_blocks([*join_model_columns(columns), *slow])
        if fresh and self._on_readings is not None:
            self._on_readings(fresh)
        with self._engine.begin() as conn:
            self._store.write(conn, batches)
            self._write_batches(conn, items, received)
            self._write_dead_letters(conn, items, received)
            self._write_device_state(conn, fresh)
            for item in items:
                if item.kind == "status":
                    self._write_status(conn, item, received)
        return self._account(items, self._clock())

    # -- step 1: pure checks ------------------------------------------------------------

    def _prepare(self, topic: str, payload: bytes, received: int) -> _Item:
        parsed = parse_topic(topic)
        if parsed is None:
            return _Item(topic)
        gateway_id, kind = parsed
        item = _Item(topic, gateway_id, payload=payload)
        if len(payload) > MAX_PAYLOAD_BYTES:
            item.kind, item.reason = "rejected", "payload_too_large"
            item.error = ContractError(kind, "$", f"payload of {len(payload)} bytes exceeds "
                                                  f"the limit of {MAX_PAYLOAD_BYTES}")
            return item
        try:
            doc = decode(kind, payload)
            if kind == "telemetry":
                accepted = fast_accept(gateway_id, doc, self._directory.current(), received)
                if accepted is not None:
                    item.kind, item.doc, item.accepted = "telemetry", doc, accepted
                    item.raw, item.digest = True, batch_digest(payload, doc)
                    return item
            validate(kind, doc)
            if doc.get("gw") != gateway_id:
                raise ContractError(kind, "gw", f"'{doc.get('gw')}' does not match the topic's "
                                    f"gateway '{gateway_id}'")
        except ContractError as err:
            item.kind, item.reason, item.error = "rejected", "contract", err
            return item
        if kind == "telemetry":
            readings = doc["readings"]
            devices = self._directory.lookup({r["dev"] for r in readings})
            item.accepted, item.rejects = check_readings(gateway_id, readings, devices, received)
            item.kind, item.doc = "telemetry", doc
            item.digest = batch_digest(payload, doc)
        elif kind == "status":
            # A status stamped in the future would outrank every later one of the gateway.
            problem = timestamp_problem(doc["ts"], received)
            if problem is not None:
                item.kind, item.reason = "rejected", problem[0]
                item.error = ContractError(kind, "ts", problem[1])
            else:
                item.kind, item.doc = "status", doc
        return item

    # -- step 2: dedupe -------------------------------------------------------------------

    def _mark_duplicates(self, conn: Connection, items: list[_Item]) -> None:
        """One query per gateway in the group for the batches it already stored. A batch
        stored before with other content is a conflict: rejected, not a duplicate."""
        wanted: dict[str, set[int]] = {}
        for item in items:
            if item.kind == "telemetry":
                wanted.setdefault(item.gateway_id, set()).add(item.doc["seq"])
        # (gateway, seq) -> digest of what was stored (None: stored before digests were)
        stored: dict[tuple[str, int], str | None] = {}
        for gateway_id, seqs in wanted.items():
            marks = ", ".join([self._mark] * len(seqs))
            rows = conn.exec_driver_sql(
                f"SELECT seq, payload_hash FROM ingested_batch WHERE gateway_id = {self._mark} "
                f"AND seq IN ({marks})", (gateway_id, *seqs))
            stored.update(((gateway_id, seq), digest) for seq, digest in rows)
        for item in items:
            if item.kind != "telemetry":
                continue
            key = (item.gateway_id, item.doc["seq"])
            if key not in stored:
                stored[key] = item.digest  # later copies in this group compare with it
                continue
            first = stored[key]
            if first is None or first == item.digest:
                item.duplicate = True
            else:
                item.kind, item.reason = "rejected", "conflicting_duplicate"
                item.error = ContractError(
                    "telemetry", "seq", f"seq {key[1]} of gateway '{key[0]}' was already "
                    "stored with other content; this batch was not stored")

    def _mark_known_rejects(self, conn: Connection, items: list[_Item]) -> None:
        """A redelivered message that was rejected before already has its dead letter."""
        for item in items:
            if item.kind != "rejected" or item.error is None:
                continue
            kept = conn.exec_driver_sql(
                f"SELECT 1 FROM dead_letter WHERE topic = {self._mark} AND payload = "
                f"{self._mark} LIMIT 1",
                (item.topic, _kept_payload(item.payload))).first()
            item.duplicate = kept is not None

    # -- step 4: the transaction ------------------------------------------------------------

    @staticmethod
    def _write_batches(conn: Connection, items: list[_Item], received: int) -> None:
        rows = [{"gateway_id": i.gateway_id, "seq": i.doc["seq"], "received_at": received,
                 "readings": len(i.accepted), "rejected": len(i.rejects),
                 "payload_hash": i.digest}
                for i in items if i.kind == "telemetry" and not i.duplicate]
        if rows:
            conn.execute(table_of(IngestedBatch).insert(), rows)

    @staticmethod
    def _write_dead_letters(conn: Connection, items: list[_Item], received: int) -> None:
        rows = []
        for i in items:
            if i.kind == "rejected" and i.error is not None and not i.duplicate:
                log.warning("event=dead_letter topic=%s reason=%s error=%s",
                            i.topic, i.reason, i.error)
                rows.append({
                    "received_at": received, "topic": i.topic, "gateway_id": i.gateway_id,
                    "kind": i.reason, "reason": str(i.error), "field": i.error.field,
                    "payload": _kept_payload(i.payload),
                })
            elif i.kind == "telemetry" and not i.duplicate:
                rows.extend({
                    "received_at": received, "topic": i.topic, "gateway_id": i.gateway_id,
                    "kind": r.kind, "reason": f"{r.field}: {r.reason}", "field": r.field,
                    "payload": orjson.dumps(r.reading).decode(),
                } for r in i.rejects)
        if rows:
            conn.execute(table_of(DeadLetter).insert(), rows)

    def _write_device_state(self, conn: Connection, blocks: Sequence[ReadingBlock]) -> None:
        """Last seen, online and the newest value per metric; an older, late reading never
        wins (the SQL compares timestamps, so redelivery and reordering are harmless)."""
        latest: dict[str, dict[str, tuple[int, float]]] = {}
        for block in blocks:
            for device_id, per_metric in latest_per_device(block).items():
                mine = latest.setdefault(device_id, {})
                for metric, (ts, value) in per_metric.items():
                    if metric not in mine or ts >= mine[metric][0]:
                        mine[metric] = (ts, value)
        if not latest:
            return
        mark = self._mark
        values = [(device_id, metric, ts, value)
                  for device_id, per_metric in latest.items()
                  for metric, (ts, value) in per_metric.items()]
        conn.exec_driver_sql(
            f"INSERT INTO latest_value (device_id, metric, ts, value) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}) "
            "ON CONFLICT (device_id, metric) DO UPDATE SET ts = excluded.ts, "
            "value = excluded.value WHERE excluded.ts >= latest_value.ts", values)
        newest = [(ts, ts, device_id) for device_id, ts in
                  ((d, max(t for t, _ in pm.values())) for d, pm in latest.items())]
        conn.exec_driver_sql(
            f"UPDATE device SET online = TRUE, last_seen = CASE WHEN last_seen IS NULL "
            f"OR last_seen < {mark} THEN {mark} ELSE last_seen END WHERE id = {mark}", newest)

    @staticmethod
    def _write_status(conn: Connection, item: _Item, received: int) -> None:
        doc = item.doc
        online = doc["state"] == "online"
        # A retained status replayed on resubscribe must not undo a newer one; a stored
        # status_ts in the future (accepted before ingest refused those) is no newer.
        result = conn.execute(
            update(Gateway)
            .where(col(Gateway.id) == item.gateway_id,
                   (col(Gateway.status_ts) <= doc["ts"])
                   | (col(Gateway.status_ts) > received + MAX_FUTURE_MS))
            .values(online=online, firmware=doc.get("fw", ""), status_ts=doc["ts"])
        )
        if result.rowcount:
            conn.execute(update(Device).where(col(Device.gateway_id) == item.gateway_id)
                         .values(online=online))
        log.info("event=gateway_status gateway=%s state=%s", item.gateway_id, doc["state"])

    # -- after the commit: counters ------------------------------------------------------

    def _account(self, items: list[_Item], stored_at: int) -> list[Outcome]:
        out: list[Outcome] = []
        stats = self.stats
        with stats.lock:
            for i in items:
                if i.kind == "telemetry":
                    stats.batches_received += 1
                    n = len(i.accepted)
                    stats.readings_received += n + len(i.rejects)
                    if i.duplicate:
                        stats.batches_duplicate += 1
                        stats.readings_duplicate += n
                        out.append(Outcome("duplicate"))
                        continue
                    stats.batches_stored += 1
                    stats.readings_stored += n
                    if n:
                        accepted = i.accepted
                        newest = (accepted.ts_max if isinstance(accepted, AcceptedBatch)
                                  else max(r.ts for r in accepted))
                        stats.observe_lag(stored_at - newest, n)
                    for reject in i.rejects:
                        stats.count_reject_locked(reject.kind, readings=1)
                    out.append(Outcome("stored", stored=n, rejected=len(i.rejects)))
                elif i.kind == "rejected" and i.duplicate:
                    if i.topic.endswith("/telemetry"):
                        stats.batches_duplicate += 1
                    out.append(Outcome("duplicate"))
                elif i.kind == "rejected":
                    # A conflicting duplicate's readings were decoded, and none is stored.
                    conflicting = (len(i.accepted) + len(i.rejects)
                                   if i.reason == "conflicting_duplicate" else 0)
                    if i.topic.endswith("/telemetry"):
                        stats.batches_received += 1
                        stats.batches_rejected += 1
                        stats.readings_received += conflicting
                    stats.count_reject_locked(i.reason, readings=conflicting)
                    out.append(Outcome("rejected", rejected=conflicting))
                elif i.kind == "status":
                    stats.status_messages += 1
                    out.append(Outcome("status"))
                else:
                    out.append(Outcome("ignored"))
        return out

    def dead_letter_failure(self, topic: str, payload: bytes, err: Exception) -> None:
        """Keep a message that could not be processed even alone (a bug, not bad input)."""
        parsed = parse_topic(topic)
        with self._engine.begin() as conn:
            conn.execute(table_of(DeadLetter).insert(), [{
                "received_at": self._clock(), "topic": topic,
                "gateway_id": parsed[0] if parsed else None, "kind": "ingest_error",
                "reason": f"ingest failed: {type(err).__name__}: {err}", "field": "$",
                "payload": _kept_payload(payload),
            }])
        self.stats.count_reject("ingest_error")


def _kept_payload(payload: bytes) -> str:
    """The part of a payload a dead letter keeps (a huge array stays readable)."""
    return payload[:DEAD_LETTER_PAYLOAD_CHARS].decode("utf-8", errors="replace")

"""From MQTT messages to stored rows: decode, validate, dedupe, evaluate, store.

The pipeline is transport-free: the consumer feeds it a group of (topic, payload)
messages and acks them only after `handle_many` returns. One group is one
database transaction (several batches per commit is what makes SQLite fast), so
a crash before the commit means the broker redelivers the whole group, and the
(gateway, epoch, seq) key makes each redelivered batch a no-op. The outcomes name each
batch's key: the consumer acks them to their gateways once this has committed.

Order inside a group, and why:
1. decode + validate + registry checks, no I/O (`fast_accept`, or the schema and
   `check_readings` when anything is off, to name the field);
2. drop batches already stored (read-only queries, `ingest.dedupe`): the same
   (gateway, epoch, seq) with the same content digest is a duplicate; with another
   digest it is a conflict, dead-lettered as `conflicting_duplicate`;
3. hand the new readings to the rules (`on_readings`), which commit alerts in
   their own transaction. Before our commit on purpose: a crash between the two
   redelivers the readings, and the rules' hysteresis state (reloaded from the
   active alerts) makes the second evaluation raise nothing twice; the other way
   round a crash would store readings that no rule ever saw;
4. one transaction: readings to the store, dedupe keys, dead letters, device
   state (last seen, online, latest value per metric), gateway status.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Collection, Sequence

import orjson
from sqlalchemy import Connection, Engine, update
from sqlmodel import col

from asset_registry.tables import Device, Gateway
from firmware_contracts.topics import parse_topic, topic_problem
from firmware_contracts.validate import ContractError, decode, validate
from foundations.clock import now_ms
from foundations.database import table_of
from ingest.batch_identity import batch_digest
from ingest.checks import (
    MAX_FUTURE_MS,
    AcceptedBatch,
    ModelColumns,
    check_readings,
    fast_accept,
    timestamp_problem,
)
from ingest.counters import add_counts, saved_counts
from ingest.dedupe import batch_epoch, mark_duplicates, mark_known_rejects
from ingest.device_directory import DeviceDirectory
from ingest.gaps import record_gaps
from ingest.group_items import GroupItem, Outcome
from ingest.reading_blocks import (
    ReadingBlock,
    blocks_from_readings,
    concat_blocks,
    join_model_columns,
    latest_per_device,
)
from ingest.stats import REJECTED, IngestStats
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
        if stats is None:  # counting on from what was saved (`ingest.counters`)
            stats = IngestStats()
            with engine.connect() as conn:
                stats.add(saved_counts(conn))
        self.stats = stats

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
            mark_duplicates(conn, self._mark, items)
            replayed = set(redelivered) | {k for k, item in enumerate(items)
                                           if item.error is not None
                                           and item.error.kind == "status"}
            again = [items[i] for i in sorted(replayed)]
            mark_known_rejects(conn, self._mark, again,
                               {id(i): _kept_payload(i.payload) for i in again})
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
        counts, outcomes, lags = self._tally(items)
        unsaved = self.stats.take_unsaved()
        try:
            with self._engine.begin() as conn:
                self._store.write(conn, batches)
                self._write_batches(conn, items, received)
                self._write_dead_letters(conn, items, received)
                self._write_device_state(conn, fresh)
                for item in items:
                    if item.kind == "status":
                        self._write_status(conn, item, received)
                        record_gaps(conn, item.gateway_id, item.doc, received)
                add_counts(conn, counts + unsaved)
        except BaseException:
            self.stats.keep_unsaved(unsaved)
            raise
        self.stats.add(counts)
        self.stats.observe_lags(self._clock(), lags)
        return outcomes

    # -- step 1: pure checks ------------------------------------------------------------

    def _prepare(self, topic: str, payload: bytes, received: int) -> GroupItem:
        parsed = parse_topic(topic)
        if parsed is None:
            bad_topic = topic_problem(topic)  # `+` matched an id no gateway can have
            if bad_topic is None:
                return GroupItem(topic)
            return GroupItem(topic, kind="rejected", reason="invalid_topic", error=bad_topic,
                             payload=payload)
        gateway_id, kind = parsed
        item = GroupItem(topic, gateway_id, payload=payload)
        if len(payload) > MAX_PAYLOAD_BYTES:
            item.kind, item.reason = "rejected", "payload_too_large"
            item.error = ContractError(kind, "$", f"payload of {len(payload)} bytes exceeds "
                                                  f"the limit of {MAX_PAYLOAD_BYTES}")
            return item
        try:
            doc = decode(kind, payload)
            if kind == "telemetry":
                item.read_key(doc)
                accepted = fast_accept(gateway_id, doc, self._directory.current(), received)
                if accepted is not None:
                    item.kind, item.doc, item.accepted = "telemetry", doc, accepted
                    # Stored as received only when compact: whitespace (padding) would be
                    # stored byte for byte. No id or metric name holds any, so any is padding.
                    item.raw, item.digest = _compact(payload), batch_digest(payload, doc)
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

    # -- step 4: the transaction ------------------------------------------------------------

    @staticmethod
    def _write_batches(conn: Connection, items: list[GroupItem], received: int) -> None:
        rows = [{"gateway_id": i.gateway_id, "epoch": batch_epoch(i), "seq": i.doc["seq"],
                 "received_at": received,
                 "readings": len(i.accepted), "rejected": len(i.rejects),
                 "payload_hash": i.digest}
                for i in items if i.kind == "telemetry" and not i.duplicate]
        if rows:
            conn.execute(table_of(IngestedBatch).insert(), rows)

    @staticmethod
    def _write_dead_letters(conn: Connection, items: list[GroupItem], received: int) -> None:
        rows = []
        for i in items:
            if i.kind == "rejected" and i.error is not None and not i.duplicate:
                log.warning("event=dead_letter topic=%s reason=%s error=%s",
                            i.topic, i.reason, i.error)
                rows.append({
                    "received_at": received, "topic": i.topic,
                    "gateway_id": i.gateway_id or None, "kind": i.reason,
                    "reason": str(i.error), "field": i.error.field,
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
    def _write_status(conn: Connection, item: GroupItem, received: int) -> None:
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

    # -- counters: saved with the group, added to `stats` after its commit ----------------

    @staticmethod
    def _tally(items: list[GroupItem]
               ) -> tuple[Counter[str], list[Outcome], list[tuple[int, int]]]:
        """The group's counts (named as `ingest.stats.COUNTER_FIELDS`), each message's
        outcome, and (newest reading's ts, readings) per stored batch, for the lag."""
        c: Counter[str] = Counter()
        out: list[Outcome] = []
        lags: list[tuple[int, int]] = []
        for i in items:
            if i.kind == "telemetry":
                c["batches_received"] += 1
                n = len(i.accepted)
                c["readings_received"] += n + len(i.rejects)
                if i.duplicate:
                    c["batches_duplicate"] += 1
                    c["readings_duplicate"] += n
                    out.append(i.outcome("duplicate"))
                    continue
                c["batches_stored"] += 1
                c["readings_stored"] += n
                if n:
                    accepted = i.accepted
                    lags.append((accepted.ts_max if isinstance(accepted, AcceptedBatch)
                                 else max(r.ts for r in accepted), n))
                for reject in i.rejects:
                    c[REJECTED + reject.kind] += 1
                    c["readings_rejected"] += 1
                out.append(i.outcome("stored", stored=n, rejected=len(i.rejects)))
            elif i.kind == "rejected" and i.duplicate:
                if i.topic.endswith("/telemetry"):
                    c["batches_duplicate"] += 1
                out.append(i.outcome("duplicate"))
            elif i.kind == "rejected":
                # A conflicting duplicate's readings were decoded, and none is stored.
                conflicting = (len(i.accepted) + len(i.rejects)
                               if i.reason == "conflicting_duplicate" else 0)
                if i.topic.endswith("/telemetry"):
                    c["batches_received"] += 1
                    c["batches_rejected"] += 1
                    c["readings_received"] += conflicting
                c[REJECTED + i.reason] += 1
                c["readings_rejected"] += conflicting
                out.append(i.outcome("rejected", rejected=conflicting))
            elif i.kind == "status":
                c["status_messages"] += 1
                out.append(Outcome("status"))
            else:
                out.append(Outcome("ignored"))
        return c, out, lags

    def dead_letter_failure(self, topic: str, payload: bytes, err: Exception) -> Outcome:
        """Keep a message that could not be processed even alone (a bug, not bad input).
        The outcome names the batch's key when it can be read, so the gateway is acked."""
        parsed = parse_topic(topic)
        item = GroupItem(topic, parsed[0] if parsed else "")
        if parsed is not None and parsed[1] == "telemetry":
            with contextlib.suppress(ContractError):
                item.read_key(decode("telemetry", payload))
        with self._engine.begin() as conn:
            conn.execute(table_of(DeadLetter).insert(), [{
                "received_at": self._clock(), "topic": topic,
                "gateway_id": parsed[0] if parsed else None, "kind": "ingest_error",
                "reason": f"ingest failed: {type(err).__name__}: {err}", "field": "$",
                "payload": _kept_payload(payload),
            }])
            add_counts(conn, {REJECTED + "ingest_error": 1})
        self.stats.add({REJECTED + "ingest_error": 1})
        return item.outcome("rejected")


def _compact(payload: bytes) -> bool:
    """No whitespace outside strings: what a gateway's JSON encoder writes (C-speed scans)."""
    return not (b" " in payload or b"\n" in payload or b"\t" in payload or b"\r" in payload)


def _kept_payload(payload: bytes) -> str:
    """The part of a payload a dead letter keeps (a huge array stays readable)."""
    return payload[:DEAD_LETTER_PAYLOAD_CHARS].decode("utf-8", errors="replace")

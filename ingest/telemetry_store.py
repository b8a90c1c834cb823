"""The telemetry store: where readings go, behind one small interface.

Two backends:
- `SqlTelemetryStore` keeps readings in the relational database (SQLite, the
  embedded default, or PostgreSQL, written with COPY). Writes happen inside the
  ingest transaction, so a batch, its dedupe key and its readings commit together.
- `VictoriaMetricsStore` writes InfluxDB line protocol through `influxdb-client`'s
  write API (VictoriaMetrics accepts /api/v2/write; InfluxDB 2.x/3.x accept the
  same writes) and reads through VictoriaMetrics' Prometheus-compatible API. The
  write is synchronous and happens before the ingest transaction commits; a
  batch redelivered after a crash writes the same samples again, which the
  server's deduplication (one sample per series and millisecond) makes a no-op.

Latest values per device and metric are device state (`latest_value`), kept by
the pipeline for both backends: charts read buckets from here, the current value
never needs a scan.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, cast

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, delete, select

from foundations.clock import HOUR_MS
from ingest.checks import AcceptedBatch, AcceptedReading
from ingest.tables import reading_chunk_table, reading_rollup_table


class StoreError(RuntimeError):
    """The telemetry backend refused or could not take a write or answer a query."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """Readings of one metric in [start, start + step): what a chart draws."""

    start: int
    n: int
    min: float
    max: float
    mean: float


class StoredBatch(NamedTuple):
    """A batch's accepted readings; `raw` is its payload when every reading was accepted."""

    gateway_id: str
    readings: AcceptedBatch | list[AcceptedReading]
    raw: bytes | None = None


class TelemetryStore(Protocol):
    name: str

    def write(self, conn: Connection, batches: Sequence[StoredBatch]) -> int:
        """Store readings as part of the caller's transaction `conn`; return how many."""
        ...

    def points(self, device_id: str, metric: str, start_ms: int, end_ms: int
               ) -> list[tuple[int, float]]:
        """Raw (ts, value) of one metric in [start, end), in time order."""
        ...

    def buckets(self, device_id: str, metric: str, start_ms: int, end_ms: int, step_ms: int
                ) -> list[Bucket]:
        """min/max/mean per step-wide bucket (aligned to multiples of step) with data."""
        ...


def _bucketize(points: Iterable[tuple[int, float]], step_ms: int) -> list[Bucket]:
    acc: dict[int, list[float]] = {}
    for ts, value in points:
        start = ts - ts % step_ms
        a = acc.get(start)
        if a is None:
            acc[start] = [1, value, value, value]
        else:
            a[0] += 1
            a[1] = min(a[1], value)
            a[2] = max(a[2], value)
            a[3] += value
    return [Bucket(start, int(n), lo, hi, total / n)
            for start, (n, lo, hi, total) in sorted(acc.items())]


class SqlTelemetryStore:
    name = "sql"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def write(self, conn: Connection, batches: Sequence[StoredBatch]) -> int:
        rows = []
        count = 0
        for gateway_id, readings, raw in batches:
            if not readings:
                continue
            count += len(readings)
            device_ids: Iterable[str]
            if isinstance(readings, AcceptedBatch):  # the fast path knows these already
                first, last, device_ids = readings.ts_min, readings.ts_max, readings.devices
            else:
                stamps = [r.ts for r in readings]
                first, last = min(stamps), max(stamps)
                device_ids = {r.device_id for r in readings}
            devices = "|" + "|".join(device_ids) + "|"
            data = raw if raw is not None else orjson.dumps({"readings": [
                {"dev": r.device_id, "ts": r.ts, "m": r.metrics} for r in readings]})
            rows.append((gateway_id, devices, first, last, len(readings), data))
        if not rows:
            return 0
        columns = "reading_chunk (gateway_id, devices, ts_first, ts_last, n, data)"
        if conn.dialect.name == "postgresql":
            # COPY is PostgreSQL's bulk path; it runs on the same connection, so it is
            # part of the ingest transaction.
            driver = conn.connection.driver_connection
            assert driver is not None  # a live connection inside the ingest transaction
            with driver.cursor() as cur, cur.copy(
                f"COPY {columns} FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            conn.exec_driver_sql(f"INSERT INTO {columns} VALUES (?, ?, ?, ?, ?, ?)", rows)
        return count

    def _chunks(self, conn: Connection, device_id: str, where: ColumnElement[bool]
                ) -> Iterable[tuple[int, dict[str, float]]]:
        """(ts, metrics) of `device_id`'s readings in the chunks selected by `where`."""
        t = reading_chunk_table.c
        query = select(t.data).where(t.devices.contains(f"|{device_id}|"), where)
        for (data,) in conn.execute(query):
            for r in orjson.loads(data)["readings"]:
                if r["dev"] == device_id:
                    yield r["ts"], r["m"]

    def points(self, device_id: str, metric: str, start_ms: int, end_ms: int
               ) -> list[tuple[int, float]]:
        t = reading_chunk_table.c
        out: list[tuple[int, float]] = []
        with self._engine.connect() as conn:
            for ts, metrics in self._chunks(conn, device_id,
                                            (t.ts_first < end_ms) & (t.ts_last >= start_ms)):
                value = metrics.get(metric)
                if value is not None and start_ms <= ts < end_ms:
                    out.append((ts, float(value)))
        out.sort(key=lambda p: p[0])
        return out

    def buckets(self, device_id: str, metric: str, start_ms: int, end_ms: int, step_ms: int
                ) -> list[Bucket]:
        raw = _bucketize(self.points(device_id, metric, start_ms, end_ms), step_ms)
        rolled = self._rollup_buckets(device_id, metric, start_ms, end_ms, step_ms)
        if not rolled:
            return raw
        merged: dict[int, Bucket] = {b.start: b for b in rolled}
        for b in raw:
            other = merged.get(b.start)
            merged[b.start] = b if other is None else _merge(other, b)
        return [merged[k] for k in sorted(merged)]

    def _rollup_buckets(self, device_id: str, metric: str, start_ms: int, end_ms: int,
                        step_ms: int) -> list[Bucket]:
        r = reading_rollup_table.c
        query = select(r.hour, r.n, r.min, r.max, r.sum).where(
            r.device_id == device_id, r.metric == metric, r.hour >= start_ms, r.hour < end_ms)
        out: dict[int, Bucket] = {}
        with self._engine.connect() as conn:
            for hour, n, lo, hi, total in conn.execute(query):
                start = hour - hour % step_ms
                b = Bucket(start, n, lo, hi, total / n)
                out[start] = b if start not in out else _merge(out[start], b)
        return [out[k] for k in sorted(out)]

    def compact(self, raw_before_ms: int, rollups_before_ms: int) -> tuple[int, int]:
        """Retention: fold chunks older than `raw_before_ms` into hourly rollups and delete
        them; delete rollups older than `rollups_before_ms`. One transaction, so a chunk
        is counted into the rollups exactly once. Returns (chunks folded, rollups deleted).
        """
        t, r = reading_chunk_table.c, reading_rollup_table.c
        with self._engine.begin() as conn:
            acc: dict[tuple[str, str, int], list[float]] = {}
            chunks = conn.execute(select(t.data).where(t.ts_last < raw_before_ms))
            folded = 0
            for (data,) in chunks:
                folded += 1
                for reading in orjson.loads(data)["readings"]:
                    device_id, ts, metrics = reading["dev"], reading["ts"], reading["m"]
                    hour = ts - ts % HOUR_MS
                    for metric, value in metrics.items():
                        a = acc.get((device_id, metric, hour))
                        if a is None:
                            acc[(device_id, metric, hour)] = [1, value, value, value]
                        else:
                            a[0] += 1
                            a[1] = min(a[1], value)
                            a[2] = max(a[2], value)
                            a[3] += value
            if acc:
                rows = [(d, m, h, int(n), lo, hi, total) for (d, m, h), (n, lo, hi, total)
                        in acc.items()]
                mark = "%s" if conn.dialect.name == "postgresql" else "?"
                conn.exec_driver_sql(
                    "INSERT INTO reading_rollup (device_id, metric, hour, n, min, max, sum) "
                    f"VALUES ({', '.join([mark] * 7)}) "
                    "ON CONFLICT (device_id, metric, hour) DO UPDATE SET "
                    "n = reading_rollup.n + excluded.n, "
                    "min = CASE WHEN excluded.min < reading_rollup.min "
                    "THEN excluded.min ELSE reading_rollup.min END, "
                    "max = CASE WHEN excluded.max > reading_rollup.max "
                    "THEN excluded.max ELSE reading_rollup.max END, "
                    "sum = reading_rollup.sum + excluded.sum", rows)
            conn.execute(delete(reading_chunk_table).where(t.ts_last < raw_before_ms))
            dropped = conn.execute(delete(reading_rollup_table)
                                   .where(r.hour < rollups_before_ms)).rowcount
        return folded, dropped


def _merge(a: Bucket, b: Bucket) -> Bucket:
    n = a.n + b.n
    return Bucket(a.start, n, min(a.min, b.min), max(a.max, b.max),
                  (a.mean * a.n + b.mean * b.n) / n)


class VictoriaMetricsStore:
    """Line protocol in through influxdb-client; reads through the Prometheus API.

    Each reading is one line `reading,device=…,model=… metric=value,… ts_ms`, which
    VictoriaMetrics stores as series `reading_{metric}{device, model}`.
    """

    name = "victoriametrics"

    def __init__(self, url: str, measurement: str = "reading", timeout_s: float = 30.0) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS
        from influxdb_client.domain.write_precision import WritePrecision

        self._url = url.rstrip("/")
        self._measurement = measurement
        self._timeout_s = timeout_s
        # VictoriaMetrics ignores token, org and bucket; InfluxDB needs real ones.
        self._client = InfluxDBClient(url=self._url, token="fieldpulse", org="fieldpulse",
                                      timeout=int(timeout_s * 1000))
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        # The client types its precision constants as plain str, its write() wants the class.
        self._precision = cast(WritePrecision, WritePrecision.MS)

    def write(self, conn: Connection, batches: Sequence[StoredBatch]) -> int:
        readings = [r for batch in batches for r in batch.readings]
        if not readings:
            return 0
        m = self._measurement
        # Ids and metric names are contract-checked (no spaces, commas or quotes), so
        # they need no escaping; an integer value without the `i` suffix is a float.
        body = "\n".join([
            f"{m},device={r.device_id},model={r.model_id} "
            + ",".join([f"{k}={v}" for k, v in r.metrics.items()]) + f" {r.ts}"
            for r in readings
        ])
        try:
            self._write_api.write(bucket="telemetry", record=body.encode(),
                                  write_precision=self._precision)
        except Exception as exc:  # the client raises ApiException, urllib3 errors, ...
            raise StoreError(f"VictoriaMetrics write failed: {exc}") from exc
        return len(readings)

    def _get(self, path: str, params: dict[str, object]) -> bytes:
        url = f"{self._url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self._timeout_s) as resp:
                body: bytes = resp.read()
                return body
        except OSError as exc:
            raise StoreError(f"VictoriaMetrics query failed: {exc}") from exc

    def _selector(self, device_id: str, metric: str) -> str:
        return f'{self._measurement}_{metric}{{device="{device_id}"}}'

    def flush(self) -> None:
        """Make just-written samples visible to queries (tests and benchmarks)."""
        self._get("/internal/force_flush", {})

    def points(self, device_id: str, metric: str, start_ms: int, end_ms: int
               ) -> list[tuple[int, float]]:
        body = self._get("/api/v1/export", {
            "match[]": self._selector(device_id, metric),
            "start": start_ms / 1000, "end": (end_ms - 1) / 1000,
        })
        out: list[tuple[int, float]] = []
        for line in body.splitlines():
            series = orjson.loads(line)
            out.extend(zip(series["timestamps"], series["values"], strict=True))
        out = [(ts, float(v)) for ts, v in out if start_ms <= ts < end_ms]
        out.sort(key=lambda p: p[0])
        return out

    def buckets(self, device_id: str, metric: str, start_ms: int, end_ms: int, step_ms: int
                ) -> list[Bucket]:
        # VictoriaMetrics evaluates `f(x[step])` at t over (t - step, t]; evaluating at
        # the end of each aligned bucket gives [start, start + step) for points that do
        # not fall exactly on a boundary.
        first = start_ms - start_ms % step_ms + step_ms
        sel = f"{self._selector(device_id, metric)}[{step_ms}ms]"
        columns: dict[str, dict[int, float]] = {}
        for fn in ("count", "min", "max", "avg"):
            body = self._get("/api/v1/query_range", {
                "query": f"{fn}_over_time({sel})", "start": first / 1000,
                "end": (end_ms + step_ms - 1) / 1000, "step": f"{step_ms}ms", "nocache": 1,
            })
            result = orjson.loads(body)["data"]["result"]
            columns[fn] = {round(t * 1000) - step_ms: float(v)
                           for series in result for t, v in series["values"]}
        return [Bucket(start, int(n), columns["min"][start], columns["max"][start],
                       columns["avg"][start])
                for start, n in sorted(columns["count"].items())
                if n > 0 and start < end_ms]

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]  # unannotated in influxdb-client

"""Readings as the rules consume them: one block of columns per device model.

Ingest validates a batch column by column and hands the rules these blocks
directly, so no per-reading object is built between the decoder and the
numpy evaluation (at 200k readings/s every per-reading Python step counts).
A reading that lacks a metric has NaN in that column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ingest.checks import ModelColumns


def encode_devices(devices: Iterable[str]) -> tuple[list[str], np.ndarray]:
    """(distinct ids in first-seen order, code per row): a dict pass, far cheaper than
    sorting strings."""
    rows = devices if isinstance(devices, list) else list(devices)
    names = list(dict.fromkeys(rows))
    index = {name: i for i, name in enumerate(names)}
    return names, np.fromiter(map(index.__getitem__, rows), dtype=np.intp, count=len(rows))


@dataclass(frozen=True, slots=True)
class ReadingBlock:
    model_id: str
    names: list[str]  # the distinct device ids
    codes: np.ndarray  # per row: index into `names`
    ts: np.ndarray  # int64 event time (ms) per row
    metrics: tuple[str, ...]  # column names
    values: np.ndarray  # float64, shape (rows, metrics); NaN where a reading lacks one

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def devices(self) -> list[str]:
        """The device id of every row."""
        names = self.names
        return [names[c] for c in self.codes.tolist()]

    def device_runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(order, first, last): the row order that sorts by (device, event time) -- a
        stable sort, so readings of one device sharing a timestamp keep arrival order --
        and, in that order, where each device's run of rows starts and ends."""
        order = np.lexsort((self.ts, self.codes))
        codes = self.codes[order]
        starts = np.ones(len(order), dtype=bool)  # empty for an empty block
        starts[1:] = codes[1:] != codes[:-1]
        first = np.flatnonzero(starts)
        last = np.append(first[1:] - 1, len(order) - 1) if len(order) else first
        return order, first, last

    def columns(self) -> dict[str, np.ndarray]:
        return {m: self.values[:, j] for j, m in enumerate(self.metrics)}

    def take(self, rows: np.ndarray) -> ReadingBlock:
        """The rows selected by a boolean mask or an index array, in that order."""
        index = np.flatnonzero(rows) if rows.dtype == bool else rows
        return ReadingBlock(self.model_id, self.names, self.codes[index], self.ts[index],
                            self.metrics, self.values[index])

    def rows(self) -> list[tuple[str, int, dict[str, float]]]:
        """(device, ts, metrics) per row, for the rare paths that want readings."""
        out = []
        for device_id, ts, row in zip(self.devices, self.ts.tolist(), self.values.tolist(),
                                      strict=True):
            out.append((device_id, ts, {m: v for m, v in zip(self.metrics, row, strict=True)
                                        if v == v}))  # v != v only for NaN
        return out

    @staticmethod
    def from_rows(model_id: str, rows: Sequence[tuple[str, int, Mapping[str, float]]]
                  ) -> ReadingBlock:
        metrics = tuple(sorted({k for _, _, m in rows for k in m}))
        nan = float("nan")
        values = np.array([[m.get(k, nan) for k in metrics] for _, _, m in rows],
                          dtype=np.float64).reshape(len(rows), len(metrics))
        names, codes = encode_devices(r[0] for r in rows)
        return ReadingBlock(model_id, names, codes,
                            np.array([r[1] for r in rows], dtype=np.int64), metrics, values)

    @staticmethod
    def from_columns(model_id: str, devices: list[str], stamps: list[int],
                     metrics: tuple[str, ...], columns: Sequence[list[float | None]]
                     ) -> ReadingBlock:
        """From plain lists (None where a reading lacks a metric): one numpy conversion
        per column for a whole group of batches."""
        names, codes = encode_devices(devices)
        values = np.empty((len(stamps), len(metrics)), dtype=np.float64)
        for j, column in enumerate(columns):
            values[:, j] = np.array(column, dtype=np.float64)  # None becomes NaN
        return ReadingBlock(model_id, names, codes, np.array(stamps, dtype=np.int64),
                            metrics, values)


def blocks_from_readings(readings: Iterable[tuple[str, str, int, Mapping[str, float]]]
                         ) -> list[ReadingBlock]:
    """(device, model, ts, metrics) rows to one block per model (arrival order kept)."""
    per_model: dict[str, list[tuple[str, int, Mapping[str, float]]]] = {}
    for device_id, model_id, ts, metrics in readings:
        per_model.setdefault(model_id, []).append((device_id, ts, metrics))
    return [ReadingBlock.from_rows(model_id, rows) for model_id, rows in per_model.items()]


def concat_blocks(blocks: Iterable[ReadingBlock]) -> list[ReadingBlock]:
    """One block per model, rows in the order given; columns are the union."""
    per_model: dict[str, list[ReadingBlock]] = {}
    for block in blocks:
        if len(block):
            per_model.setdefault(block.model_id, []).append(block)
    out = []
    for model_id, parts in per_model.items():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        metrics = tuple(sorted({m for b in parts for m in b.metrics}))
        values = np.full((sum(len(b) for b in parts), len(metrics)), np.nan)
        start = 0
        for b in parts:
            values[start:start + len(b), [metrics.index(m) for m in b.metrics]] = b.values
            start += len(b)
        names, codes = encode_devices(d for b in parts for d in b.devices)
        out.append(ReadingBlock(model_id, names, codes, np.concatenate([b.ts for b in parts]),
                                metrics, values))
    return out


def join_model_columns(parts: Sequence[ModelColumns]) -> list[ReadingBlock]:
    """The fast path's per-batch columns joined per model: one numpy conversion per
    column for the whole group instead of one per batch."""
    per_model: dict[tuple[str, tuple[str, ...]], list[ModelColumns]] = {}
    for part in parts:
        per_model.setdefault((part.model_id, part.metrics), []).append(part)
    out = []
    for (model_id, metrics), same in per_model.items():
        if len(same) == 1:
            p = same[0]
            out.append(ReadingBlock.from_columns(model_id, p.devices, p.stamps, metrics,
                                                 p.columns))
            continue
        out.append(ReadingBlock.from_columns(
            model_id, [d for p in same for d in p.devices], [t for p in same for t in p.stamps],
            metrics, [[v for p in same for v in p.columns[j]] for j in range(len(metrics))]))
    return out


def latest_per_device(block: ReadingBlock) -> dict[str, dict[str, tuple[int, float]]]:
    """Per device and metric, the (ts, value) of its newest reading carrying the metric;
    of readings sharing a timestamp the later one wins, as in arrival order."""
    order, starts, ends = block.device_runs()
    seg = block.codes[order]
    ts = block.ts[order]
    values = block.values[order]
    out: dict[str, dict[str, tuple[int, float]]] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        t = int(ts[end])
        per_metric = {m: (t, v) for m, v in zip(block.metrics, values[end].tolist(), strict=True)
                      if v == v}  # v != v only for NaN
        if len(per_metric) < len(block.metrics):
            # The newest reading lacks some metrics: the newest that has each.
            for j, metric in enumerate(block.metrics):
                if metric in per_metric:
                    continue
                have = np.flatnonzero(~np.isnan(values[start:end + 1, j]))
                if len(have):
                    k = start + int(have[-1])
                    per_metric[metric] = (int(ts[k]), float(values[k, j]))
        out[block.names[int(seg[end])]] = per_metric
    return out

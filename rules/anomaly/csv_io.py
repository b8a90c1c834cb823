"""CSV in / CSV out for the ``anomaly`` commands (stdlib csv + numpy).

Accepted input: a header row, then one row per reading; the delimiter is whichever of
``,`` ``;`` tab or ``|`` the header uses (a byte-order mark is ignored). One column is
the timestamp (kept as text, passed through to the output); a label column, if named,
is read as 0/1; columns named like labels or detector output (``anomaly``,
``changepoint``, ``label``, ``is_anomaly``, ``anomaly_score``) and columns the caller
ignores are never metrics; every other column is a numeric metric (empty, ``nan``,
``NA``, ``null`` cells are missing values).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """The input file cannot be scored; the message says why."""


@dataclass
class Table:
    timestamps: list[str]
    columns: list[str]
    values: np.ndarray  # (rows, columns), NaN where a cell is empty
    labels: np.ndarray | None = None  # the label column as 0/1, if one was named
    skipped: tuple[str, ...] = ()     # columns left out (labels, ignored)


_MISSING = {"", "nan", "NaN", "NA", "null", "None"}
# Never metrics: a data set's labels, or a detector's own output.
NOT_METRICS = ("anomaly", "changepoint", "label", "labels", "is_anomaly", "anomaly_score")
DELIMITERS = (",", ";", "\t", "|")


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _number(cell: str, where: str, column: str) -> float:
    cell = cell.strip()
    if cell in _MISSING:
        return math.nan
    try:
        v = float(cell)
    except ValueError:
        raise InputError(f"{where}: column {column!r} is not numeric: {cell!r}") from None
    return math.nan if math.isinf(v) else v


def read_metrics(path: Path, timestamp_column: str = "timestamp",
                 label_column: str | None = None, ignore: Iterable[str] = ()) -> Table:
    """Read the timestamp column, the label column if named, and the metrics."""
    try:
        f = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed below
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    with f:
        first = f.readline()
        if not first.strip():
            raise InputError(f"{path} is empty (no header row)")
        delimiter = _delimiter(first)
        header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
        reader = csv.reader(f, delimiter=delimiter)
        if timestamp_column not in header:
            raise InputError(
                f"{path}: no timestamp column {timestamp_column!r} "
                f"(columns: {', '.join(header)}); use --timestamp-column")
        if label_column is not None and label_column not in header:
            raise InputError(f"{path}: no label column {label_column!r} "
                             f"(columns: {', '.join(header)}); use --label-column")
        ti = header.index(timestamp_column)
        li = header.index(label_column) if label_column is not None else -1
        left_out = {*NOT_METRICS, *ignore}
        skipped = tuple(h for i, h in enumerate(header)
                        if i not in (ti, li) and (h in left_out or not h))
        metric_idx = [i for i, h in enumerate(header)
                      if i not in (ti, li) and h not in left_out and h]
        if not metric_idx:
            raise InputError(f"{path}: no metric columns besides {timestamp_column!r}")
        columns = [header[i] for i in metric_idx]
        stamps: list[str] = []
        rows: list[list[float]] = []
        labels: list[float] = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{path}, line {line_no}: {len(row)} fields, header has {len(header)}")
            where = f"{path}, line {line_no}"
            stamps.append(row[ti].strip())
            rows.append([_number(row[i], where, header[i]) for i in metric_idx])
            if li >= 0:
                labels.append(_number(row[li], where, header[li]))
    values = np.asarray(rows, dtype=float).reshape(len(rows), len(columns))
    label_arr = None
    if li >= 0:
        label_arr = (np.nan_to_num(np.asarray(labels, dtype=float)) > 0).astype(np.int8)
    return Table(stamps, columns, values, label_arr, skipped)


def write_scores(path: Path, timestamps: list[str], scores: np.ndarray,
                 flags: np.ndarray, explanations: list[str] | None = None) -> None:
    """Write ``timestamp,anomaly_score,is_anomaly`` rows (and ``explanation`` if given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "anomaly_score", "is_anomaly"]
                   + (["explanation"] if explanations is not None else []))
        extra = explanations if explanations is not None else [None] * len(timestamps)
        for t, s, a, e in zip(timestamps, scores.tolist(), flags.tolist(), extra, strict=True):
            w.writerow([t, repr(float(s)), int(a)] + ([e] if explanations is not None else []))

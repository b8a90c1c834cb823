"""CSV in / CSV out for the ``anomaly score`` command (stdlib csv + numpy)."""

from __future__ import annotations

import csv
import math
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


_MISSING = {"", "nan", "NaN", "NA", "null", "None"}


def read_metrics(path: Path, timestamp_column: str = "timestamp") -> Table:
    """Read a timestamp column and every other column as a numeric metric."""
    try:
        f = open(path, newline="")  # noqa: SIM115 - closed below
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path} is empty (no header row)") from None
        header = [h.strip() for h in header]
        if timestamp_column not in header:
            raise InputError(
                f"{path}: no timestamp column {timestamp_column!r} "
                f"(columns: {', '.join(header)}); use --timestamp-column")
        ti = header.index(timestamp_column)
        metric_idx = [i for i in range(len(header)) if i != ti]
        if not metric_idx:
            raise InputError(f"{path}: no metric columns besides {timestamp_column!r}")
        columns = [header[i] for i in metric_idx]
        stamps: list[str] = []
        rows: list[list[float]] = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{path}, line {line_no}: {len(row)} fields, header has {len(header)}")
            stamps.append(row[ti].strip())
            vals = []
            for i in metric_idx:
                cell = row[i].strip()
                if cell in _MISSING:
                    vals.append(math.nan)
                    continue
                try:
                    v = float(cell)
                except ValueError:
                    raise InputError(
                        f"{path}, line {line_no}: column {header[i]!r} is not numeric: "
                        f"{cell!r}") from None
                if math.isinf(v):
                    v = math.nan
                vals.append(v)
            rows.append(vals)
    values = np.asarray(rows, dtype=float).reshape(len(rows), len(columns))
    return Table(stamps, columns, values)


def write_scores(path: Path, timestamps: list[str], scores: np.ndarray,
                 flags: np.ndarray) -> None:
    """Write ``timestamp,anomaly_score,is_anomaly`` rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "anomaly_score", "is_anomaly"])
        for t, s, a in zip(timestamps, scores.tolist(), flags.tolist(), strict=True):
            w.writerow([t, repr(float(s)), int(a)])

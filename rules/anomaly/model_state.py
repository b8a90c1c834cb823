"""The multivariate detector's state as JSON-safe data, and back.

Arrays go as base64 of zlib-compressed little-endian bytes: exact (a restored
detector continues bit for bit) and compact. The history ring dominates: values in
float64, event times as int64, repeat runs as uint16 (capped), owners as int32.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from rules.anomaly.calibration import Calibration, Tail
from rules.anomaly.fleet_fit import ModelDetectorConfig, Scatter
from rules.anomaly.model_fit import Fit

if TYPE_CHECKING:  # the detector imports this module, not the other way round
    from typing import Protocol

    class Detector(Protocol):
        cfg: ModelDetectorConfig
        metrics: tuple[str, ...]
        names: list[str]
        _index: dict[str, int]
        ring: np.ndarray
        owner: np.ndarray
        ring_ts: np.ndarray
        ring_run: np.ndarray
        pushed: int
        sampled_at: dict[str, int]
        newest_ts: int
        fits: int
        fit: Fit | None
        last_value: dict[str, np.ndarray]
        last_run: dict[str, np.ndarray]
        smoothed: dict[str, np.ndarray]
        last_ts: dict[str, int]
        interval: dict[str, float]

STATE_VERSION = 2
MAX_RUN = 65_535


def pack(a: np.ndarray, dtype: str = "<f8") -> str:
    raw = np.ascontiguousarray(a, dtype=dtype).tobytes()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def unpack(s: str, dtype: str = "<f8") -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(s)), dtype=dtype).copy()


def _tail(t: Tail) -> list[float]:
    return [t.u, t.p_u, t.beta]


def state_dict(det: Detector) -> dict[str, Any]:
    filled = min(det.pushed, det.cfg.history)
    f = det.fit
    return {
        "version": STATE_VERSION,
        "config": asdict(det.cfg),
        "metrics": list(det.metrics),
        "names": det.names,
        "ring": pack(det.ring[:filled]),
        "owner": pack(det.owner[:filled], "<i4"),
        "ring_ts": pack(det.ring_ts[:filled], "<i8"),
        "ring_run": pack(np.minimum(det.ring_run[:filled], MAX_RUN), "<u2"),
        "pushed": det.pushed,
        "sampled_at": det.sampled_at,
        "newest_ts": det.newest_ts,
        "fits": det.fits,
        "devices": {name: {"value": pack(det.last_value[name]),
                           "run": pack(det.last_run[name]),
                           "smoothed": pack(det.smoothed[name]) if name in det.smoothed
                           else None,
                           "last_ts": det.last_ts.get(name),
                           "interval": det.interval.get(name)}
                    for name in det.last_value},
        "fit": None if f is None else {
            "devices": {k: pack(v) for k, v in f.scatter.devices.items()},
            "scale": pack(f.scatter.scale), "weight": pack(f.scatter.weight),
            "inflate": pack(f.calibration.inflate),
            "instant": _tail(f.calibration.instant),
            "sustained": _tail(f.calibration.sustained),
            "held_back": f.calibration.held_back, "cap": f.calibration.cap,
            "at_ts": f.at_ts, "rows": f.rows, "run_limit": pack(f.run_limit)},
    }


def header(state: dict[str, Any]) -> tuple[tuple[str, ...], ModelDetectorConfig]:
    """The saved detector's metrics and configuration (ValueError: another version)."""
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported model detector state version {state.get('version')!r}")
    names = {f.name for f in fields(ModelDetectorConfig)}
    cfg = ModelDetectorConfig(**{k: v for k, v in state["config"].items() if k in names})
    return tuple(state["metrics"]), cfg


def restore(det: Detector, state: dict[str, Any]) -> None:
    """Put the saved state into a fresh detector made from `header(state)`."""
    d = len(det.metrics)
    det.names = list(state["names"])
    det._index = {name: i for i, name in enumerate(det.names)}
    ring = unpack(state["ring"]).reshape(-1, d)
    det.ring[: len(ring)] = ring
    det.owner[: len(ring)] = unpack(state["owner"], "<i4")
    det.ring_ts[: len(ring)] = unpack(state["ring_ts"], "<i8")
    det.ring_run[: len(ring)] = unpack(state["ring_run"], "<u2").reshape(-1, d)
    det.pushed = int(state["pushed"])
    det.sampled_at = {k: int(v) for k, v in state["sampled_at"].items()}
    det.newest_ts = int(state["newest_ts"])
    det.fits = int(state["fits"])
    for name, s in state["devices"].items():
        det.last_value[name] = unpack(s["value"])
        det.last_run[name] = unpack(s["run"])
        if s["smoothed"] is not None:
            det.smoothed[name] = unpack(s["smoothed"])
        if s["last_ts"] is not None:
            det.last_ts[name] = int(s["last_ts"])
        if s["interval"] is not None:
            det.interval[name] = float(s["interval"])
    f = state["fit"]
    if f is not None:
        scatter = Scatter({k: unpack(v) for k, v in f["devices"].items()}, unpack(f["scale"]),
                          unpack(f["weight"]).reshape(d, d))
        cal = Calibration(unpack(f["inflate"]), Tail(*f["instant"]), Tail(*f["sustained"]),
                          int(f["held_back"]), float(f["cap"]))
        det.fit = Fit(scatter, cal, int(f["at_ts"]), int(f["rows"]), unpack(f["run_limit"]))

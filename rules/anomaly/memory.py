"""The detector's building blocks: its settings, a ring buffer of embeddings, and a
channel that measures how far a new embedding is from the ones it remembers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DetectorConfig:
    lags: int = 3              # values in a channel's embedding
    spread_window: int = 6     # window of the local spread feature
    memory: int = 4000         # embeddings remembered for the neighbour search
    gap: int = 6               # most recent embeddings excluded from the search
    k: int = 3                 # neighbours averaged
    spread_channel: bool = True  # novelty of the log local spread (stuck / noisy sensor)
    spread_floor: float = 1e-3   # spread floor, as a fraction of the metric's range
    stuck_window: int = 60       # window of the spread channel
    vigilance: float = 0.09    # novelty (RMS distance / range) that scores 0.5
    warmup: int = 300          # readings before any score is emitted (cold start)
    threshold: float = 0.5     # default detection threshold on the final score
    suppress: int = 100        # readings after a detection during which scores are damped
    damp: float = 0.5          # factor applied to scores while damped


def history_length(cfg: DetectorConfig) -> int:
    return max(cfg.lags, cfg.spread_window, cfg.stuck_window if cfg.spread_channel else 0)


class Ring:
    """Fixed-size ring buffer of float rows."""

    def __init__(self, size: int, dim: int) -> None:
        self.buf = np.zeros((size, dim))
        self.n = 0      # total pushed
        self.size = size

    def push(self, x: Any) -> None:
        self.buf[self.n % self.size] = x
        self.n += 1

    def last(self, m: int) -> np.ndarray:
        """The last m pushed rows in order (oldest first)."""
        m = min(m, self.n, self.size)
        idx = np.arange(self.n - m, self.n) % self.size
        return self.buf[idx]

    def state(self) -> dict[str, Any]:
        filled = min(self.n, self.size)
        return {"buf": self.buf[:filled].tolist(), "n": self.n, "size": self.size,
                "dim": self.buf.shape[1]}

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> Ring:
        r = cls(int(s["size"]), int(s["dim"]))
        rows = np.asarray(s["buf"], dtype=float).reshape(-1, r.buf.shape[1])
        r.buf[: len(rows)] = rows
        r.n = int(s["n"])
        return r


class Channel:
    """Nearest-neighbour novelty of an embedding against a bounded memory."""

    def __init__(self, cfg: DetectorConfig, dim: int) -> None:
        self.cfg = cfg
        self.dim = dim
        self.mem = Ring(cfg.memory + cfg.gap, dim)

    def step(self, emb: np.ndarray) -> float:
        """Feed one embedding; return the RMS distance to its nearest remembered ones."""
        cfg = self.cfg
        mem = self.mem
        d = 0.0
        usable = min(mem.n, mem.size) - cfg.gap
        if usable >= cfg.k:
            diff = mem.buf - emb
            d2 = np.einsum("ij,ij->i", diff, diff)
            # exclude the `gap` most recent slots and the never-written ones
            d2[(mem.n - 1 - np.arange(cfg.gap)) % mem.size] = np.inf
            if mem.n < mem.size:
                d2[mem.n:] = np.inf
            k = cfg.k
            d = float(np.sqrt(np.partition(d2, k - 1)[:k] / self.dim).mean())
        mem.push(emb)
        return d

    def state(self) -> dict[str, Any]:
        return {"dim": self.dim, "mem": self.mem.state()}

    @classmethod
    def from_state(cls, cfg: DetectorConfig, s: dict[str, Any]) -> Channel:
        c = cls(cfg, int(s["dim"]))
        c.mem = Ring.from_state(s["mem"])
        return c


def to_score(novelty: float, cfg: DetectorConfig) -> float:
    return novelty / (novelty + cfg.vigilance) if novelty > 0 else 0.0

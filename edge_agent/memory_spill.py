"""Samples held in memory while the outbox cannot take them (its disk is full).

The sampler keeps going on a full disk: each sample waits here, in order, and is written
to the outbox as soon as there is room again (evictions make room first, see
`edge_agent.outbox`). Bounded in readings: past the bound the oldest sample is dropped
and its readings counted as lost, so memory never grows with the outage.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EncodedSample:
    rows: list[bytes]  # readings as JSON objects
    urgent: list[bytes]  # edge rule crossings: a batch of their own, sent first
    dropped: int  # non-finite values refused while encoding

    @property
    def readings(self) -> int:
        return len(self.rows) + len(self.urgent)


class MemorySpill:
    def __init__(self, max_readings: int) -> None:
        self.max_readings = max_readings
        self._samples: deque[EncodedSample] = deque()
        self.readings = 0
        self.lost = 0  # dropped from memory since start, not yet saved in the outbox

    def __bool__(self) -> bool:
        return bool(self._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def append(self, sample: EncodedSample) -> None:
        self._samples.append(sample)
        self.readings += sample.readings
        while self.readings > self.max_readings and len(self._samples) > 1:
            oldest = self._samples.popleft()
            self.readings -= oldest.readings
            self.lost += oldest.readings

    def first(self) -> EncodedSample:
        return self._samples[0]

    def pop_first(self) -> None:
        self.readings -= self._samples.popleft().readings

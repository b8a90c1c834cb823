"""The one interface between the edge agent and whatever produces readings.

A driver is polled by the agent's sampling loop; it returns the readings of its
devices at that moment. Drivers for real hardware (Modbus, …) and the
simulator's driver implement the same protocol, so the agent never knows which
it runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Reading:
    """One device's metric values at one instant (`ts` in ms since the epoch)."""

    dev: str
    ts: int
    m: dict[str, float]


class Driver(Protocol):
    def device_ids(self) -> list[str]:
        """The devices this driver reads, announced in the gateway's birth message."""
        ...

    def read(self, now_ms: int) -> list[Reading]:
        """Sample every device once at `now_ms`."""
        ...


@runtime_checkable
class FaultResetting(Protocol):
    """A driver that can reset a device's latched fault (the `reset_fault` command);
    a driver without it refuses the command."""

    def reset_fault(self, dev: str, now_ms: int) -> list[str]:
        """Clear `dev`'s latched faults; the ids of those cleared (empty: none was)."""
        ...

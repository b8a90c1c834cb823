"""Helpers shared by the tests (imported as `support`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from fieldpulse.system import CloudSystem
from simulators.fleet import Fleet


def wait_until(predicate: Callable[[], object], timeout_s: float = 30.0,
               what: str = "condition") -> object:
    """Poll until `predicate` returns something truthy; fail the test after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s:g} s waiting for {what}")


class RunningCloud:
    def __init__(self, system: CloudSystem, tokens: dict[str, str], fleet: Fleet,
                 broker_port: int) -> None:
        self.system, self.tokens, self.fleet = system, tokens, fleet
        self.broker_port = broker_port

    @property
    def base_url(self) -> str:
        return self.system.settings.base_url

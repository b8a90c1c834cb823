"""Helpers shared by the tests (imported as `support`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from fieldpulse.system import CloudSystem
from foundations.database import session_scope
from ingest.checks import AcceptedReading
from ingest.reading_blocks import blocks_from_readings
from portal.auth.accounts import create_user, issue_api_token
from rules.engine import Transition
from rules.service import RulesService
from simulators.fleet import Fleet


def evaluate(rules: RulesService, readings: Sequence[AcceptedReading]) -> list[Transition]:
    """Readings through the rules as ingest hands them over: per-model column blocks."""
    return rules.on_blocks(blocks_from_readings(readings))


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


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_account(engine: Engine, role: str, engineer_id: str | None = None,
                 username: str | None = None) -> Account:
    """A portal user with a password and an API token, for calling the portal as `role`."""
    with session_scope(engine) as session:
        user, password = create_user(session, username or f"{role}-{engineer_id or 'test'}",
                                     role, engineer_id=engineer_id)
        _, token = issue_api_token(session, user, "tests")
    return Account(user.username, password, token)


class RunningCloud:
    def __init__(self, system: CloudSystem, tokens: dict[str, str], fleet: Fleet,
                 broker_port: int) -> None:
        self.system, self.tokens, self.fleet = system, tokens, fleet
        self.broker_port = broker_port
        self.admin = make_account(system.engine, "admin")
        # Calls the portal as the admin (API token); closed by the fixture.
        self.api = httpx.Client(headers=self.admin.headers, timeout=10)

    @property
    def auth(self) -> dict[str, str]:
        """Headers of the admin's API token."""
        return self.admin.headers

    @property
    def base_url(self) -> str:
        return self.system.settings.base_url

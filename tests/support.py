"""Helpers shared by the tests (imported as `support`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from commands.link import COMMANDS_CLIENT
from fieldpulse.broker import MosquittoBroker
from fieldpulse.broker_setup import builtin_login
from fieldpulse.system import CloudSystem
from foundations.database import session_scope
from ingest.checks import AcceptedReading
from ingest.consumer import BrokerAddress
from ingest.reading_blocks import blocks_from_readings
from portal.auth.accounts import create_user, issue_api_token
from rules.engine import Transition
from rules.service import RulesService
from simulators.fleet import Fleet
from testing_support.broker_logins import reload_and_wait


def evaluate(rules: RulesService, readings: Sequence[AcceptedReading]) -> list[Transition]:
    """Readings through the rules as ingest hands them over: per-model column blocks."""
    return rules.on_blocks(blocks_from_readings(readings))


def cloud_login(broker: MosquittoBroker, engine: Engine) -> BrokerAddress:
    """The cloud's login on a running test broker, made as `fieldpulse run` makes it (with
    an account for every gateway of the registry), once the broker has loaded it."""
    address = builtin_login(broker, engine, "fieldpulse-ingest")
    reload_and_wait(broker)
    return address


def commands_login(broker: MosquittoBroker, engine: Engine) -> BrokerAddress:
    """The command link's login (`fieldpulse-commands`), made as `fieldpulse run` makes it."""
    address = builtin_login(broker, engine, COMMANDS_CLIENT)
    reload_and_wait(broker)
    return address


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


class Session:
    """One MQTT connection: how the broker answered, what it delivered, PUBACK codes.

    `user` None: an anonymous client. The client id is `s-{user}` unless given."""

    def __init__(self, port: int, user: str | None, password: str | None = None,
                 client_id: str | None = None) -> None:
        self.connack = threading.Event()
        self.refused: object = None
        self.disconnected = threading.Event()
        self.received: list[tuple[str, bytes]] = []
        self.pubacks: dict[int, object] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"s-{user or 'anonymous'}",
                                  protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        self.client.on_publish = lambda _c, _u, mid, rc, _p: self.pubacks.__setitem__(mid, rc)
        self.client.on_disconnect = lambda *_: self.disconnected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.connack.wait(10), "no CONNACK"

    def _on_connect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.refused = reason_code if reason_code.is_failure else None
        self.connack.set()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> object:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        return self.pubacks[info.mid]

    def subscribe(self, *topics: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_: done.set()
        self.client.subscribe([(t, 1) for t in topics])
        assert done.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class RunningCloud:
    def __init__(self, system: CloudSystem, tokens: dict[str, str], fleet: Fleet,
                 broker: MosquittoBroker) -> None:
        self.system, self.tokens, self.fleet = system, tokens, fleet
        self.broker, self.broker_port = broker, broker.port
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

"""Logins on a broker FieldPulse started, for the tests and the benchmarks.

Every client of `fieldpulse.broker.MosquittoBroker` logs in, and the username is
its client id, so every connection needs an account of its own: `login` makes
one on demand (a cloud account for names starting with `fieldpulse-`, a gateway
account otherwise), makes a running broker reload, and returns once the broker
knows it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from fieldpulse.broker import BrokerError, MosquittoBroker
from fieldpulse.broker_accounts import is_cloud_account

if TYPE_CHECKING:  # imported when used: the edge agent's tests start processes with this
    from ingest.consumer import BrokerAddress

# An account made anew with every reload: once it gets in, the broker runs the new files.
PROBE = "fieldpulse-reload-probe"

_passwords: dict[tuple[str, str], str] = {}


def login(broker: MosquittoBroker, user: str) -> tuple[str, str]:
    """(username, password) of `user` on `broker`, the account made if it is new."""
    accounts = broker.accounts
    key = (str(accounts.directory.resolve()), user)
    saved = accounts.credential_file(user)  # made for a gateway of the registry
    if key not in _passwords and saved.exists():
        _passwords[key] = saved.read_text().strip()
    elif key not in _passwords:
        _passwords[key] = (accounts.provision_cloud(user) if is_cloud_account(user)
                           else accounts.provision_gateway(user))
        if broker.process is not None and broker.process.poll() is None:
            reload_and_wait(broker)
    return user, _passwords[key]


def address(broker: MosquittoBroker, user: str = "fieldpulse-ingest") -> BrokerAddress:
    """How a cloud process logs in as `user` (the ingest consumer by default)."""
    from ingest.consumer import BrokerAddress

    username, password = login(broker, user)
    return BrokerAddress("127.0.0.1", broker.port, username=username, password=password)


def password_file(broker: MosquittoBroker, user: str, directory: Path) -> Path:
    """`user`'s password in a file (for a process started with a config or options)."""
    path = directory / f"{user}.password"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(login(broker, user)[1] + "\n")
    path.chmod(0o600)
    return path


def reload_and_wait(broker: MosquittoBroker, timeout_s: float = 10.0) -> None:
    """SIGHUP, then wait until the broker runs the files written before it."""
    password = broker.accounts.provision_cloud(PROBE)
    broker.reload()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if accepted(broker.port, PROBE, password):
            return
        time.sleep(0.05)
    raise BrokerError(f"the broker did not load its accounts within {timeout_s:g} s")


def accepted(port: int, user: str, password: str) -> bool:
    """Whether the broker lets `user` in (a clean session: nothing of it is kept)."""
    answered = threading.Event()
    result: list[bool] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason_code: object,
                   _p: object) -> None:
        result.append(not getattr(reason_code, "is_failure", True))
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.on_connect = on_connect
    try:
        client.connect("127.0.0.1", port)
    except OSError:
        return False
    client.loop_start()
    try:
        answered.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    return bool(result and result[0])

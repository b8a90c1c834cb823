"""`fieldpulse run` and MQTT accounts, as an operator runs it: its own broker with an account
per gateway of the registry (and TLS), or an external broker it logs in to with its account."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from publishing import batch, normal_metrics, topic
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from asset_registry.catalog import load_models
from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from fieldpulse.broker import MosquittoBroker, TlsListener
from fieldpulse.broker_accounts import CLOUD_USER, provision_app
from fieldpulse.broker_setup import PASSWORD_ENV, BrokerLogin
from fieldpulse.broker_tls import tls_files
from fieldpulse.fleet_import import import_fleet
from fieldpulse.parts import open_database
from fieldpulse.settings import Settings
from foundations.processes import free_port
from ingest.tables import IngestedBatch
from simulators.driver import SimulatedDriver
from simulators.fleet import Fleet
from support import Session, wait_until
from testing_support.broker_logins import accepted, login

MODELS = load_models()


def _registry(data_dir: Path, fleet: Fleet) -> Engine:
    engine = open_database(Settings(data_dir=data_dir))
    import_fleet(engine, fleet)
    return engine


def _stored(engine: Engine, gateway_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(IngestedBatch)
                            .where(IngestedBatch.gateway_id == gateway_id)).scalar_one()


def _provision(*args: str) -> str:
    """`fieldpulse provision ARGS`; returns what it printed."""
    result = CliRunner().invoke(provision_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@contextmanager
def fieldpulse_run(tmp_path: Path, data_dir: Path, *options: str) -> Iterator[tuple[int, int]]:
    """`fieldpulse run` until the portal says the broker is connected: (portal port, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldpulse", "run", "--data-dir", str(data_dir), "--port",
         str(port), *options], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "COLUMNS": "200"})

    def connected() -> bool:
        try:
            return bool(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                        .json()["broker_connected"])
        except (httpx.HTTPError, ValueError):
            return False

    try:
        wait_until(lambda: connected() or proc.poll() is not None, timeout_s=60,
                   what="fieldpulse run to connect to the broker")
        assert proc.poll() is None, proc.communicate()[0]
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        print(output)
    assert proc.returncode == 0, output


def test_fieldpulse_run_starts_its_broker_with_an_account_per_gateway_of_the_registry(
        tmp_path: Path, small_fleet: Fleet) -> None:
    data_dir = tmp_path / "var"
    engine = _registry(data_dir, small_fleet)
    tls_port = free_port()
    broker_dir = data_dir / "broker"
    gateway = small_fleet.gateways[0]
    with fieldpulse_run(tmp_path, data_dir, "--mqtt-tls", f"127.0.0.1:{tls_port}"):
        conf = (broker_dir / "mosquitto.conf").read_text()
        port = int(re.search(r"^listener (\d+) 127\.0\.0\.1$", conf, re.M)[1])  # type: ignore
        assert "use_username_as_clientid true" in conf
        anonymous = Session(port, None)
        anonymous.close()
        assert anonymous.refused is not None

        # Each gateway of the registry has an account; its password is the owner's alone.
        credentials = broker_dir / "credentials"
        assert sorted(p.name for p in credentials.iterdir()) == sorted(
            f"{g.id}.password" for g in small_fleet.gateways)
        for path in (credentials, *credentials.iterdir(), broker_dir / "accounts.json"):
            assert path.stat().st_mode & 0o077 == 0, path
        secrets = {p.read_text().strip() for p in credentials.iterdir()}
        assert not any(s in (broker_dir / "accounts.json").read_text() for s in secrets)

        # The gateway logs in with it over TLS, verifying the broker with the CA run made.
        config = AgentConfig(
            gateway_id=gateway.id, state_dir=tmp_path / "edge", broker_port=tls_port,
            username=gateway.id, password=(credentials / f"{gateway.id}.password").read_text()
            .strip(), tls=True, tls_ca_file=tls_files(broker_dir / "tls").ca_file,
            sample_period_s=0.2, batch_max_age_s=0.5)
        agent = EdgeAgent(config, SimulatedDriver(small_fleet.devices_of(gateway.id), MODELS,
                                                  seed=1))
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,))
        thread.start()
        try:
            wait_until(lambda: _stored(engine, gateway.id) >= 2, what="the gateway's batches")
        finally:
            stop.set()
            thread.join(timeout=15)

        # A gateway added later: provisioning makes the running broker load its account.
        output = _provision("gateway", "gw-late", "--dir", str(broker_dir))
        assert "sent SIGHUP to Mosquitto" in output
        password = output.split("password: ")[1].split()[0]
        wait_until(lambda: accepted(port, "gw-late", password), what="gw-late to get in")
    engine.dispose()


def test_fieldpulse_run_logs_in_to_an_external_broker_with_its_account_over_tls(
        tmp_path: Path, small_fleet: Fleet) -> None:
    """Finding: `--broker` had no account or TLS options and looped on "Not authorized"."""
    mqtt_dir = tmp_path / "mqtt"
    _provision("tls", "--dir", str(mqtt_dir))
    password = _provision("cloud", "--dir", str(mqtt_dir)).split("password: ")[1].split()[0]
    files = tls_files(mqtt_dir / "tls")
    broker = MosquittoBroker(mqtt_dir, tls=TlsListener("127.0.0.1", free_port(),
                                                       files.cert_file, files.key_file)).start()
    assert broker.tls is not None
    secret = tmp_path / "broker.password"
    secret.write_text(password + "\n")
    data_dir = tmp_path / "var"
    engine = _registry(data_dir, small_fleet)
    gateway = small_fleet.gateways[1]
    device = small_fleet.devices_of(gateway.id)[0]
    try:
        with fieldpulse_run(tmp_path, data_dir, "--broker", f"localhost:{broker.tls.port}",
                            "--broker-user", CLOUD_USER, "--broker-password-file", str(secret),
                            "--broker-ca-file", str(files.ca_file)) as (_, pid):
            assert password not in Path(f"/proc/{pid}/cmdline").read_text()
            sender = Session(broker.port, *login(broker, gateway.id))
            now = int(time.time() * 1000)
            sender.publish(topic(gateway.id), batch(gateway.id, 0, [
                {"dev": device.id, "ts": now, "m": normal_metrics(MODELS[device.model_id])}]))
            sender.close()
            wait_until(lambda: _stored(engine, gateway.id) == 1, what="the batch stored")
        assert "not authorised" not in broker.log()
    finally:
        broker.stop()
        engine.dispose()


def test_the_broker_login_takes_the_password_from_the_environment_or_a_file(
        tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    login_env = BrokerLogin("fieldpulse-ingest")
    address = login_env.address("mqtt.example:8883", {PASSWORD_ENV: "from-env"})
    assert (address.host, address.port, address.username, address.password, address.tls) == (
        "mqtt.example", 8883, "fieldpulse-ingest", "from-env", False)
    assert "from-env" not in repr(address)  # never in a log line
    with_file = BrokerLogin("fieldpulse-ingest", password_file=secret, ca_file=Path("ca.crt"))
    address = with_file.address("mqtt.example:8883", {PASSWORD_ENV: "from-env"})
    assert (address.password, address.tls, address.ca_file) == ("from-file", True,
                                                                Path("ca.crt"))
    for login_, message in ((BrokerLogin("fieldpulse-ingest"), "needs a password"),
                            (BrokerLogin(password_file=secret), "needs --broker-user"),
                            (BrokerLogin(cert_file=secret), "go together")):
        with pytest.raises(ValueError, match=message):
            login_.address("mqtt.example:8883", {})
    with pytest.raises(ValueError, match="HOST:PORT"):
        BrokerLogin().address("mqtt.example", {})

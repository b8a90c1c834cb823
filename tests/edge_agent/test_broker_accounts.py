"""Credentials the broker enforces: Mosquitto with the provisioned password and ACL files."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_support import LedgerDriver, Recorder, agent_config, running
from typer.testing import CliRunner

from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from fieldpulse.broker import MosquittoBroker
from fieldpulse.broker_accounts import (
    CLOUD_USER,
    BrokerAccounts,
    check_password,
    hash_password,
    provision_app,
)
from foundations.processes import free_port, wait_for_port
from support import Session, wait_until


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[MosquittoBroker, BrokerAccounts, dict[str, str]]]:
    accounts = BrokerAccounts(tmp_path / "accounts")
    passwords = {gw: accounts.provision_gateway(gw) for gw in ("gw-a", "gw-b")}
    passwords[CLOUD_USER] = accounts.provision_cloud()
    broker = MosquittoBroker(tmp_path / "broker", accounts_dir=accounts.directory).start()
    yield broker, accounts, passwords
    broker.stop()


def test_hashes_are_mosquittos_pbkdf2_format() -> None:
    hashed = hash_password("secret", salt=b"0123456789ab")
    assert hashed.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert check_password("secret", hashed) and not check_password("Secret", hashed)


def test_only_hashes_are_kept_and_a_bad_id_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(provision_app, ["gateway", "gw-9", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    password = result.output.split("password: ")[1].split()[0]
    stored = (tmp_path / "accounts.json").read_text()
    assert password not in stored and password not in (tmp_path / "passwd").read_text()
    assert (tmp_path / "passwd").read_text().startswith("gw-9:$7$")
    bad = CliRunner().invoke(provision_app, ["gateway", "gw/9", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "gw/9" in bad.output


def test_a_wrong_password_or_no_account_is_refused(secured) -> None:
    broker, _, passwords = secured
    for user, password in (("gw-a", passwords["gw-b"]), ("gw-zz", "x")):
        session = Session(broker.port, user, password)
        try:
            assert session.refused is not None, f"{user} got in"
        finally:
            session.close()


def test_a_gateway_cannot_publish_as_another_or_read_its_commands(secured) -> None:
    broker, _, passwords = secured
    cloud = Session(broker.port, CLOUD_USER, passwords[CLOUD_USER])
    gw_a = Session(broker.port, "gw-a", passwords["gw-a"])
    gw_b = Session(broker.port, "gw-b", passwords["gw-b"])
    try:
        assert cloud.refused is None and gw_a.refused is None
        cloud.subscribe("fp/v1/gw/+/telemetry")
        gw_a.subscribe("fp/v1/gw/gw-a/cmd", "fp/v1/gw/gw-b/cmd")
        gw_b.subscribe("fp/v1/gw/gw-b/cmd")
        # Forged first, then its own: in-order delivery means the forged one would come first.
        assert gw_a.publish("fp/v1/gw/gw-b/telemetry", b"forged").value == 135  # not authorized
        # Nor rewrite its own desired config.
        assert gw_a.publish("fp/v1/gw/gw-a/config", b"{}").is_failure
        gw_a.publish("fp/v1/gw/gw-a/telemetry", b"own")
        wait_until(lambda: cloud.received, what="the gateway's own batch")
        assert cloud.received == [("fp/v1/gw/gw-a/telemetry", b"own")]

        cloud.publish("fp/v1/gw/gw-b/cmd", b"for b")
        cloud.publish("fp/v1/gw/gw-a/cmd", b"for a")
        wait_until(lambda: gw_a.received and gw_b.received, what="the commands")
        assert gw_a.received == [("fp/v1/gw/gw-a/cmd", b"for a")]
        assert gw_b.received == [("fp/v1/gw/gw-b/cmd", b"for b")]
    finally:
        for s in (cloud, gw_a, gw_b):
            s.close()


def test_a_gateway_reads_only_its_own_acks_and_cannot_forge_them(secured) -> None:
    broker, _, passwords = secured
    cloud = Session(broker.port, CLOUD_USER, passwords[CLOUD_USER])
    gw_a = Session(broker.port, "gw-a", passwords["gw-a"])
    gw_b = Session(broker.port, "gw-b", passwords["gw-b"])
    try:
        gw_a.subscribe("fp/v1/gw/gw-a/ack", "fp/v1/gw/gw-b/ack")
        gw_b.subscribe("fp/v1/gw/gw-b/ack")
        # An ack forged by another gateway would delete batches the cloud never stored.
        assert gw_a.publish("fp/v1/gw/gw-b/ack", b"forged").is_failure
        assert gw_b.publish("fp/v1/gw/gw-b/ack", b"self-made").is_failure
        cloud.publish("fp/v1/gw/gw-b/ack", b"for b")
        cloud.publish("fp/v1/gw/gw-a/ack", b"for a")
        wait_until(lambda: gw_a.received and gw_b.received, what="the acks")
        assert gw_a.received == [("fp/v1/gw/gw-a/ack", b"for a")]
        assert gw_b.received == [("fp/v1/gw/gw-b/ack", b"for b")]
    finally:
        for s in (cloud, gw_a, gw_b):
            s.close()


def test_new_accounts_load_on_sighup_without_dropping_connected_clients(secured) -> None:
    broker, accounts, passwords = secured
    cloud = Session(broker.port, CLOUD_USER, passwords[CLOUD_USER])
    cloud.subscribe("fp/v1/gw/+/telemetry")
    try:
        new = accounts.provision_gateway("gw-c")
        before = Session(broker.port, "gw-c", new)
        assert before.refused is not None  # not loaded yet
        before.close()
        old_a = passwords["gw-a"]
        accounts.provision_gateway("gw-a")  # a rotated password
        broker.reload()

        def gets_in() -> bool:
            s = Session(broker.port, "gw-c", new)
            s.close()
            return s.refused is None

        wait_until(gets_in, what="gw-c to be accepted after the reload")
        refused = Session(broker.port, "gw-a", old_a)
        refused.close()
        assert refused.refused is not None  # the old password no longer works
        assert not cloud.disconnected.is_set()
        cloud.publish("fp/v1/gw/gw-x/telemetry", b"still here")
        wait_until(lambda: cloud.received, what="the cloud's own message back")
    finally:
        cloud.close()


def test_the_edge_agent_streams_with_its_credentials_and_is_refused_without(
        secured, tmp_path: Path) -> None:
    broker, _, passwords = secured
    recorder = Recorder(broker, ["fp/v1/gw/+/telemetry"], client_id="cloud-rec",
                        auth=(CLOUD_USER, passwords[CLOUD_USER]))
    try:
        good = EdgeAgent(agent_config(tmp_path / "a", "gw-a", broker.port, username="gw-a",
                                      password=passwords["gw-a"]),
                         LedgerDriver({"dev-1": {"t_c": 20.0}}))
        with running(good):
            wait_until(lambda: recorder.telemetry(), what="telemetry from gw-a")
        bad = EdgeAgent(agent_config(tmp_path / "b", "gw-b", broker.port, username="gw-b",
                                     password="wrong"), LedgerDriver({"dev-2": {"t_c": 1.0}}))
        with running(bad):
            wait_until(lambda: bad.link.stats.refused_connects >= 2, what="refusals")
        assert {b["gw"] for b in recorder.telemetry()} == {"gw-a"}
        assert bad.outbox.backlog_readings > 0  # kept on disk for when the password is fixed
    finally:
        recorder.close()


def test_the_edge_agent_speaks_tls_with_credentials_from_its_config(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(certs / "broker.key"), "-out", str(certs / "broker.crt")],
                   check=True, capture_output=True)
    accounts = BrokerAccounts(tmp_path / "accounts")
    password, cloud_password = accounts.provision_gateway("gw-t"), accounts.provision_cloud()
    tls_port = free_port()
    broker = MosquittoBroker(
        tmp_path / "broker", accounts_dir=accounts.directory,
        extra_config=f"listener {tls_port} 127.0.0.1\ncertfile {certs / 'broker.crt'}\n"
                     f"keyfile {certs / 'broker.key'}\n").start()
    wait_for_port(tls_port)
    recorder = Recorder(broker, ["fp/v1/gw/+/telemetry"], client_id="cloud-tls",
                        auth=(CLOUD_USER, cloud_password))
    (tmp_path / "gw.secret").write_text(password + "\n")
    (tmp_path / "gateway.toml").write_text(f"""
gateway_id = "gw-t"
state_dir = "state"
[broker]
port = {tls_port}
username = "gw-t"
password_file = "gw.secret"
tls = true
ca_file = "certs/broker.crt"
[sampling]
sample_period_s = 0.1
batch_max_age_s = 0.2
""")
    try:
        agent = EdgeAgent(AgentConfig.load(tmp_path / "gateway.toml"),
                          LedgerDriver({"dev-1": {"t_c": 20.0}}))
        with running(agent):
            wait_until(lambda: recorder.telemetry(), what="telemetry over TLS")
        assert agent.link.stats.connects >= 1 and agent.link.stats.refused_connects == 0
    finally:
        recorder.close()
        broker.stop()


def test_batches_the_broker_refuses_are_kept_and_counted(secured, tmp_path: Path) -> None:
    broker, _, passwords = secured
    # Misconfigured: gw-b's id with gw-a's account, so the ACL refuses every batch.
    agent = EdgeAgent(agent_config(tmp_path, "gw-b", broker.port, username="gw-a",
                                   password=passwords["gw-a"]),
                      LedgerDriver({"dev-2": {"t_c": 1.0}}))
    with running(agent):
        wait_until(lambda: agent.link.stats.refused_batches >= 2, what="refused batches")
        assert agent.link.stats.acked == 0
    assert agent.outbox.backlog_readings >= 2 and agent.outbox.evicted_readings == 0

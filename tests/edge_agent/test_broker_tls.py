"""MQTT over TLS with the CA `fieldpulse provision tls` makes: a gateway that verifies the
broker with it streams; one that trusts another CA refuses the broker and sends nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_support import LedgerDriver, Recorder, agent_config, running
from typer.testing import CliRunner

from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from fieldpulse.broker import MosquittoBroker, TlsListener
from fieldpulse.broker_accounts import provision_app
from fieldpulse.broker_tls import tls_files
from foundations.processes import free_port
from support import wait_until


def provision_tls(directory: Path) -> Path:
    """`fieldpulse provision tls --dir directory`; returns the CA certificate."""
    result = CliRunner().invoke(provision_app, ["tls", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    files = tls_files(directory / "tls")
    assert str(files.ca_file) in result.output
    assert files.key_file.stat().st_mode & 0o077 == 0  # the broker's key is the owner's
    return files.ca_file


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    directory = tmp_path / "broker"
    provision_tls(directory)
    files = tls_files(directory / "tls")
    broker = MosquittoBroker(directory, tls=TlsListener("127.0.0.1", free_port(),
                                                        files.cert_file, files.key_file))
    yield broker.start()
    broker.stop()


def tls_gateway(tmp_path: Path, broker: MosquittoBroker, ca_file: Path) -> AgentConfig:
    assert broker.tls is not None
    return agent_config(tmp_path, "gw-tls", broker, broker_port=broker.tls.port, tls=True,
                        tls_ca_file=ca_file)


def test_a_gateway_verifies_the_broker_with_the_provisioned_ca(
        tls_broker: MosquittoBroker, tmp_path: Path) -> None:
    recorder = Recorder(tls_broker, ["fp/v1/gw/+/telemetry"])
    agent = EdgeAgent(tls_gateway(tmp_path, tls_broker, tls_files(tls_broker.data_dir / "tls")
                                  .ca_file), LedgerDriver({"dev-1": {"t_c": 20.0}}))
    try:
        with running(agent):
            wait_until(recorder.telemetry, what="telemetry over TLS")
        assert agent.link.stats.connects >= 1 and agent.link.stats.connect_failures == 0
        assert {b["gw"] for b in recorder.telemetry()} == {"gw-tls"}
    finally:
        recorder.close()


def test_a_gateway_refuses_a_broker_whose_certificate_another_ca_signed(
        tls_broker: MosquittoBroker, tmp_path: Path) -> None:
    other_ca = provision_tls(tmp_path / "elsewhere")  # e.g. a broker put in the broker's place
    recorder = Recorder(tls_broker, ["fp/v1/gw/+/telemetry"])
    agent = EdgeAgent(tls_gateway(tmp_path, tls_broker, other_ca),
                      LedgerDriver({"dev-1": {"t_c": 20.0}}))
    try:
        with running(agent):
            wait_until(lambda: agent.link.stats.connect_failures >= 2, what="refusals")
            assert not agent.connected.is_set()
        assert agent.link.stats.connects == 0 and agent.link.stats.published == 0
        assert recorder.telemetry() == []
        assert agent.outbox.backlog_readings > 0  # kept for a broker it can trust
    finally:
        recorder.close()

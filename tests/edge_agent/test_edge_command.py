"""`fieldpulse edge --config gateway.toml`: a real Modbus device, a real broker, one process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import typer
from edge_support import MAP, Recorder
from typer.testing import CliRunner

from edge_agent.cli import edge
from fieldpulse.broker import MosquittoBroker
from support import wait_until
from testing_support.broker_logins import password_file

# The command as the lead mounts it: app.command("edge")(edge).
RUN_EDGE = ("import typer; from edge_agent.cli import edge; app = typer.Typer(); "
            "app.command()(edge); app()")


def write_config(path: Path, broker: MosquittoBroker, modbus_port: int) -> None:
    registers = "\n".join(
        f"{metric} = {{ " + ", ".join(
            f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in reg.items()) + " }"
        for metric, reg in MAP.items())
    path.write_text(f"""
gateway_id = "gw-pi"
state_dir = "state"
[broker]
port = {broker.port}
username = "gw-pi"
password_file = "{password_file(broker, "gw-pi", path.parent)}"
reconnect_min_s = 0.2
[sampling]
sample_period_s = 0.2
batch_max_age_s = 0.5
[driver]
kind = "modbus"
[driver.models.ro500]
{registers}
[[driver.devices]]
id = "dev-1"
model = "ro500"
host = "127.0.0.1"
port = {modbus_port}
""")


def test_the_edge_command_streams_a_modbus_device_and_stops_cleanly(
        mosquitto, modbus_port: int, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    write_config(config, mosquitto, modbus_port)
    recorder = Recorder(mosquitto, ["fp/v1/gw/gw-pi/#"])
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-c", RUN_EDGE, "--config", str(config)], env=env)
    try:
        batches = wait_until(recorder.telemetry, what="telemetry from the Modbus device")
        assert batches[0]["readings"][0]["m"]["tds_ppm"] == 412.3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        wait_until(lambda: recorder.on("/status")[-1]["state"] == "offline", what="goodbye")
        assert (tmp_path / "state" / "outbox.sqlite3").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        recorder.close()


def test_a_bad_config_file_stops_the_command_with_the_setting_named(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('gateway_id = "gw-1"\nstate_dir = "s"\n[driver]\nkind = "can-bus"\n')
    app = typer.Typer()
    app.command()(edge)
    result = CliRunner().invoke(app, ["--config", str(config)])
    assert result.exit_code == 2
    assert "driver.kind: 'can-bus' is not one of ('modbus',)" in result.output

"""Remote config and commands over a real Mosquitto: applied live, acknowledged, refused."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from edge_support import LedgerDriver, Recorder, agent_config, publish, running

from edge_agent.agent import EdgeAgent
from edge_agent.outbox import Outbox
from firmware_contracts.kinds import MAX_CONFIG_VERSION
from firmware_contracts.validate import load
from foundations.processes import free_port
from support import wait_until


@pytest.fixture
def online(mosquitto, gateway, tmp_path: Path):
    gw_id, values = gateway
    recorder = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/status",
                                    f"fp/v1/gw/{gw_id}/cmd/ack"])
    agent = EdgeAgent(agent_config(tmp_path, gw_id, mosquitto), LedgerDriver(values))
    try:
        with running(agent):
            wait_until(agent.connected.is_set, what="the agent to connect")
            yield agent, recorder, values
    finally:
        recorder.close()


def config(version: int, **changes) -> bytes:
    return orjson.dumps({"v": 1, "version": version, "sample_period_s": 0.5,
                         "batch_max_readings": 50, "batch_max_age_s": 1.0, **changes})


def latest_status(recorder: Recorder) -> dict:
    births = [s for s in recorder.on("/status") if s["state"] == "online"]
    load("status", orjson.dumps(births[-1]))  # every status the agent sends is contract-valid
    return births[-1]


def test_config_is_applied_live_acknowledged_and_a_bad_one_is_refused_with_the_reason(
        online, mosquitto, tmp_path: Path) -> None:
    agent, recorder, values = online
    dev = next(iter(values))
    metric = next(iter(values[dev]))
    topic = f"fp/v1/gw/{agent.config.gateway_id}/config"
    rule = {"id": "too-high", "metric": metric, "condition": "above",
            "threshold": values[dev][metric] + 1, "clear": values[dev][metric],
            "severity": "critical", "devices": [dev]}
    publish(mosquitto, topic, config(2, rules=[rule], device_periods={dev: 2.0}),
            retain=True)
    wait_until(lambda: latest_status(recorder).get("config_version") == 2,
               what="version 2 acknowledged")
    assert agent.settings.sample_period_s == 0.5 and agent.settings.period_of(dev) == 2.0
    wait_until(lambda: [r.id for r in agent.rules.rules] == ["too-high"], what="the rule")

    bad_rule = {**rule, "clear": values[dev][metric] + 5}  # clear on the alarm side
    publish(mosquitto, topic, config(3, rules=[bad_rule]), retain=True)
    status = wait_until(lambda: latest_status(recorder).get("config_error") and
                        latest_status(recorder), what="the rejection")
    assert "rules[0] (too-high).clear" in status["config_error"]
    assert "alarm side" in status["config_error"]
    assert status["config_version"] == 2  # the old config stays in force
    assert agent.settings.version == 2 and agent.settings.period_of(dev) == 2.0

    publish(mosquitto, topic, config(4, sample_period_s="fast"),
            retain=True)
    wait_until(lambda: latest_status(recorder).get("config_error") ==
               "config: sample_period_s: must be number", what="the contract error, named")
    publish(mosquitto, topic, config(5), retain=True)
    wait_until(lambda: latest_status(recorder).get("config_version") == 5, what="version 5")
    assert "config_error" not in latest_status(recorder)
    wait_until(lambda: agent.rules.rules == (), what="the rule gone")


def test_an_accepted_config_is_in_force_after_a_restart_before_any_broker(
        mosquitto, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    publish(mosquitto, f"fp/v1/gw/{gw_id}/config", config(7), retain=True)
    cfg = agent_config(tmp_path, gw_id, mosquitto)
    agent = EdgeAgent(cfg, LedgerDriver(values))
    with running(agent):
        wait_until(lambda: agent.settings.version == 7, what="version 7")
    mosquitto.stop()
    again = EdgeAgent(cfg, LedgerDriver(values))
    assert again.settings.version == 7 and again.settings.sample_period_s == 0.5


def test_a_config_with_an_absurd_version_is_refused_and_cannot_lock_the_gateway_out(
        online, mosquitto, tmp_path: Path) -> None:
    agent, recorder, _ = online
    topic = f"fp/v1/gw/{agent.config.gateway_id}/config"
    publish(mosquitto, topic, config(2**53 - 1, sample_period_s=7.0), retain=True)
    status = wait_until(lambda: latest_status(recorder).get("config_error") and
                        latest_status(recorder), what="the refusal")
    assert status["config_error"] == ("config: version: must be smaller than or equal to "
                                      f"{MAX_CONFIG_VERSION}")
    assert agent.settings.version == 0 and agent.settings.sample_period_s != 7.0
    assert not (agent.config.state_dir / "remote-config.json").exists()  # nothing saved
    # The cloud's real config replaces the retained one and is applied.
    publish(mosquitto, topic, config(2), retain=True)
    wait_until(lambda: latest_status(recorder).get("config_version") == 2, what="version 2")
    assert "config_error" not in latest_status(recorder)


def test_an_absurd_config_saved_before_the_bound_is_dropped_at_start(
        mosquitto, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    cfg = agent_config(tmp_path, gw_id, mosquitto)
    cfg.state_dir.mkdir(parents=True)
    (cfg.state_dir / "remote-config.json").write_bytes(config(2**53 - 1))
    agent = EdgeAgent(cfg, LedgerDriver(values))
    assert agent.settings.version == 0  # the local file's settings, not the absurd config
    publish(mosquitto, f"fp/v1/gw/{gw_id}/config", config(2), retain=True)
    with running(agent):
        wait_until(lambda: agent.settings.version == 2, what="version 2 applied")


def command(recorder: Recorder, broker, gw_id: str, payload: dict | bytes) -> dict:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    publish(broker, f"fp/v1/gw/{gw_id}/cmd", body)
    command_id = orjson.loads(body)["id"]
    ack = wait_until(lambda: next((a for a in recorder.on("/cmd/ack") if a["id"] == command_id),
                                  None), what=f"the ack of {command_id}")
    load("cmd_ack", orjson.dumps(ack))
    return ack


def test_commands_are_answered_on_the_ack_topic(online, mosquitto) -> None:
    agent, recorder, values = online
    gw, broker = agent.config.gateway_id, mosquitto
    ack = command(recorder, broker, gw, {"v": 1, "id": "c-1", "cmd": "ping", "args": {}})
    assert ack["ok"] and ack["result"]["fw"] == agent.config.firmware
    assert {"uptime_s", "backlog", "evicted", "config_version"} <= ack["result"].keys()

    ack = command(recorder, broker, gw, {"v": 1, "id": "c-2", "cmd": "read-now", "args": {}})
    assert ack == {"v": 1, "id": "c-2", "ok": True, "result": {"readings": len(values)}}

    ack = command(recorder, broker, gw, {"v": 1, "id": "c-3", "cmd": "set-interval",
                                       "args": {"sample_period_s": 5}})
    assert ack["ok"] and agent.settings.sample_period_s == 5.0

    ack = command(recorder, broker, gw, {"v": 1, "id": "c-4", "cmd": "set-interval",
                                       "args": {"sample_period_s": -1}})
    assert not ack["ok"] and "sample_period_s must be a number > 0" in ack["error"]
    assert agent.settings.sample_period_s == 5.0

    ack = command(recorder, broker, gw, {"v": 1, "id": "c-5", "cmd": "format_disk", "args": {}})
    assert not ack["ok"] and ack["error"].startswith("invalid command: cmd: cmd")


def test_a_command_without_a_usable_id_is_counted(online, mosquitto) -> None:
    agent, _recorder, _ = online
    publish(mosquitto, f"fp/v1/gw/{agent.config.gateway_id}/cmd", b"not json")
    wait_until(lambda: agent.remote.invalid_commands == 1, what="the bad command counted")


def test_a_device_period_samples_that_device_less_often(tmp_path: Path) -> None:
    values = {"dev-1": {"t_c": 1.0}, "dev-2": {"t_c": 2.0}, "dev-3": {"t_c": 3.0}}
    slow, *others = list(values)
    agent = EdgeAgent(agent_config(tmp_path, "gw-1", free_port()),  # no broker: all stays
                      LedgerDriver(values))
    agent.apply(agent.settings.with_period(2.0, slow))
    with running(agent):
        wait_until(lambda: agent.outbox.backlog_readings >= 20 * len(values), what="samples")
    counts = dict.fromkeys(values, 0)
    box = Outbox(tmp_path / "edge" / "outbox.sqlite3", 1 << 30)
    box.close_batches(1000)
    for batch in box.next_batches(10_000):
        for reading in orjson.loads(batch.body):
            counts[reading["dev"]] += 1
    assert counts[slow] * 5 < min(counts[d] for d in others), counts

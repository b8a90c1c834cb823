"""The device models' commands on the gateway, over a real Mosquitto: a receipt then the
answer, each id run once (across a restart too), expired and malformed ones refused."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from edge_support import LedgerDriver, Recorder, agent_config, publish, running

from edge_agent.agent import EdgeAgent
from edge_agent.command_log import CommandLog
from firmware_contracts.validate import load
from support import wait_until


@pytest.fixture
def online(mosquitto, gateway, tmp_path: Path):
    gw_id, values = gateway
    recorder = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/cmd/ack"])
    agent = EdgeAgent(agent_config(tmp_path, gw_id, mosquitto), LedgerDriver(values))
    try:
        with running(agent):
            wait_until(agent.connected.is_set, what="the agent to connect")
            yield agent, recorder, values
    finally:
        recorder.close()


def in_a_minute() -> int:
    return int(time.time() * 1000) + 60_000


def send(broker, gw_id: str, doc: dict) -> None:
    publish(broker, f"fp/v1/gw/{gw_id}/cmd", orjson.dumps(doc))


def acks_of(recorder: Recorder, command_id: str) -> list[dict]:
    acks = [a for a in recorder.on("/cmd/ack") if a["id"] == command_id]
    for ack in acks:
        load("cmd_ack", orjson.dumps(ack))  # every ack the agent sends is contract-valid
    return acks


def answer(recorder: Recorder, command_id: str, count: int = 1) -> dict:
    """The `count`-th answer (not a receipt) to the command, once it came."""
    answers = wait_until(lambda: (a := [x for x in acks_of(recorder, command_id)
                                        if "stage" not in x])[count - 1:] and a,
                         what=f"answer {count} to {command_id}")
    return answers[count - 1]  # type: ignore[index]


def test_read_now_is_received_then_answered_with_the_current_values(online, mosquitto) -> None:
    agent, recorder, values = online
    dev = next(iter(values))
    metrics = sorted(values[dev])[:2]
    send(mosquitto, agent.config.gateway_id, {
        "v": 1, "id": "c-read", "cmd": "read_now", "dev": dev, "args": {"metrics": metrics},
        "expires": in_a_minute()})
    done = answer(recorder, "c-read")
    assert done["ok"], done
    assert done["result"]["dev"] == dev
    assert done["result"]["values"] == {m: values[dev][m] for m in metrics}
    first = acks_of(recorder, "c-read")[0]
    assert first == {"v": 1, "id": "c-read", "ok": True, "stage": "received"}


def test_a_command_delivered_twice_runs_once_and_the_stored_answer_is_sent_again(
        online, mosquitto) -> None:
    agent, recorder, _ = online
    gw = agent.config.gateway_id
    first = {"v": 1, "id": "c-five", "cmd": "set_sample_period",
             "args": {"sample_period_s": 5}, "expires": in_a_minute()}
    send(mosquitto, gw, first)
    assert answer(recorder, "c-five")["ok"]
    send(mosquitto, gw, {**first, "id": "c-seven", "args": {"sample_period_s": 7}})
    assert answer(recorder, "c-seven")["ok"]
    assert agent.settings.sample_period_s == 7.0

    send(mosquitto, gw, first)  # the first again: run again, it would set 5 s
    again = answer(recorder, "c-five", count=2)
    assert again == answer(recorder, "c-five")
    assert agent.remote.repeats == 1
    assert agent.settings.sample_period_s == 7.0


def test_an_expired_command_is_refused_and_not_run(online, mosquitto) -> None:
    agent, recorder, _ = online
    before = agent.settings.sample_period_s
    send(mosquitto, agent.config.gateway_id, {
        "v": 1, "id": "c-late", "cmd": "set_sample_period", "args": {"sample_period_s": 9},
        "expires": int(time.time() * 1000) - 1000})
    refused = answer(recorder, "c-late")
    assert not refused["ok"] and refused["error"].startswith("expired: ")
    assert [a for a in acks_of(recorder, "c-late") if "stage" in a] == []  # no receipt
    assert agent.settings.sample_period_s == before


@pytest.mark.parametrize(("change", "error"), [
    ({"dev": "dev-nobody"}, "read_now: unknown device 'dev-nobody'"),
    ({"args": {"metrics": []}}, "read_now: metrics must be a non-empty list"),
    ({"args": {"metrics": ["flux_capacitance"]}}, "read_now: {dev} does not report "
                                                  "['flux_capacitance']"),
    ({"args": {"metrics": ["x"], "rate": 5}}, "read_now: unknown args ['rate']"),
    ({"cmd": "self_destruct"}, "invalid command: cmd: "),
])
def test_an_unknown_or_malformed_command_is_refused_with_the_reason(
        online, mosquitto, change: dict, error: str) -> None:
    agent, recorder, values = online
    dev = next(iter(values))
    send(mosquitto, agent.config.gateway_id, {
        "v": 1, "id": "c-bad", "cmd": "read_now", "dev": dev, "args": {"metrics": ["x"]},
        "expires": in_a_minute(), **change})
    refused = answer(recorder, "c-bad")
    assert not refused["ok"]
    assert refused["error"].startswith(error.format(dev=dev)), refused["error"]


def test_a_command_taken_before_a_restart_is_answered_after_it_and_not_run_again(
        mosquitto, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    cfg = agent_config(tmp_path, gw_id, mosquitto)
    cfg.state_dir.mkdir(parents=True)
    taken = CommandLog(cfg.state_dir / "commands.sqlite3")  # as a power cut left it
    taken.take("c-cut")
    taken.close()
    recorder = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/cmd/ack"], client_id="restart-rec")
    agent = EdgeAgent(cfg, LedgerDriver(values))
    before = agent.settings.sample_period_s
    try:
        with running(agent):
            interrupted = answer(recorder, "c-cut")
            assert not interrupted["ok"] and "interrupted by a restart" in interrupted["error"]
            send(mosquitto, gw_id, {"v": 1, "id": "c-cut", "cmd": "set_sample_period",
                                    "args": {"sample_period_s": 9}, "expires": in_a_minute()})
            assert answer(recorder, "c-cut", count=2) == interrupted
            assert agent.settings.sample_period_s == before
    finally:
        recorder.close()


def test_once_the_config_lists_a_devices_commands_no_other_runs_for_it(
        online, mosquitto) -> None:
    agent, recorder, values = online
    gw = agent.config.gateway_id
    dev, *others = list(values)
    config = {"v": 1, "version": 3, "sample_period_s": 0.1, "batch_max_readings": 20,
              "batch_max_age_s": 0.3, "commands": {dev: ["read_now"]}}
    publish(mosquitto, f"fp/v1/gw/{gw}/config", orjson.dumps(config), retain=True)
    wait_until(lambda: agent.settings.commands is not None, what="the config applied")
    send(mosquitto, gw, {"v": 1, "id": "c-not-allowed", "cmd": "set_sample_period",
                         "dev": dev, "args": {"sample_period_s": 9}, "expires": in_a_minute()})
    refused = answer(recorder, "c-not-allowed")
    assert refused["error"] == (f"set_sample_period: not a command of {dev}'s device model "
                                "(it takes: read_now)")
    assert agent.settings.period_of(dev) == 0.1
    metric = next(iter(values[dev]))
    send(mosquitto, gw, {"v": 1, "id": "c-allowed", "cmd": "read_now", "dev": dev,
                         "args": {"metrics": [metric]}, "expires": in_a_minute()})
    assert answer(recorder, "c-allowed")["ok"]
    if others:  # a device the config lists no commands for takes none
        send(mosquitto, gw, {"v": 1, "id": "c-unlisted", "cmd": "read_now", "dev": others[0],
                             "args": {"metrics": [metric]}, "expires": in_a_minute()})
        assert answer(recorder, "c-unlisted")["error"].endswith("(it takes: none)")


def test_stream_samples_a_device_fast_for_a_window_then_its_own_period_is_back(
        online, mosquitto) -> None:
    agent, recorder, values = online
    dev = next(iter(values))
    agent.apply(agent.settings.with_period(30.0))  # slow: a stream is what makes samples
    driver = agent._driver
    wait_until(lambda: agent.settings.period_of(dev) == 30.0, what="the slow period")
    send(mosquitto, agent.config.gateway_id, {
        "v": 1, "id": "c-stream", "cmd": "stream", "dev": dev,
        "args": {"period_s": 0.1, "duration_s": 2}, "expires": in_a_minute()})
    started = answer(recorder, "c-stream")
    assert started["ok"] and started["result"]["period_s"] == 0.1, started
    before = len(driver.samples)
    wait_until(lambda: len(driver.samples) >= before + 5, what="fast samples")
    wait_until(lambda: agent.settings.period_of(dev) == 30.0, what="the window to end")
    send(mosquitto, agent.config.gateway_id, {
        "v": 1, "id": "c-stream-bad", "cmd": "stream", "dev": dev,
        "args": {"period_s": 0, "duration_s": 2}, "expires": in_a_minute()})
    assert answer(recorder, "c-stream-bad")["error"] == (
        "stream: period_s must be a number > 0 and <= 60, got 0")

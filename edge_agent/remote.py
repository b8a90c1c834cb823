"""Remote config and commands: what arrives on the gateway's `config` and `cmd` topics.

Config: checked (`edge_agent.settings.parse_remote`), applied without restart,
and answered through the retained status message: `config_version` is the
version running, `config_error` why the last one was refused (the old one stays
in force). A config with a version not newer than the running one is a replay
(the retained message comes again on every reconnect) and changes nothing.

Commands (`ping`, `read-now`, `set-interval`, and the device models' `read_now`,
`set_sample_period`, `stream`, `reset_fault` and `reboot`) are answered on `cmd/ack`,
always: a command that cannot run (unknown, malformed, expired, for a device this gateway
does not have) gets `ok: false` and the reason. Each id runs once
(`edge_agent.command_log`): a repeat gets the stored answer.
Once a remote config lists each device's commands (`commands`, from its device model),
a command for a device is run only if its model allows it.
A command with a deadline (`expires`) is acked on receipt first (`stage: received`), once
it is kept on disk. The cloud checks a command against the device's model before it sends
it; the gateway checks it again here.
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any, Protocol

import orjson

from edge_agent.command_log import CommandLog
from edge_agent.config import AgentConfig
from edge_agent.drivers import Reading
from edge_agent.link import Link
from edge_agent.outbox import Outbox
from edge_agent.settings import ConfigRejected, RunSettings, parse_remote
from firmware_contracts.kinds import ID_PATTERN
from firmware_contracts.topics import cmd_ack_topic, parse_topic
from firmware_contracts.validate import ContractError, load


class Agent(Protocol):
    """What remote control needs of the gateway process (`edge_agent.agent.EdgeAgent`)."""

    config: AgentConfig
    settings: RunSettings
    outbox: Outbox
    link: Link
    driver_errors: int

    @property
    def devices(self) -> list[str]: ...

    @property
    def uptime_s(self) -> float: ...

    def apply(self, settings: RunSettings, payload: bytes | None = None) -> None: ...

    def read_now(self, command_id: str) -> None: ...

    def reset_fault(self, dev: str) -> list[str] | None: ...

    def reboot(self) -> None: ...

log = logging.getLogger("fieldpulse.edge")
_ID = re.compile(ID_PATTERN.strip("^$"))


class RemoteControl:
    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self.last_error: str | None = None
        self.invalid_commands = 0  # commands without a usable id: nothing to answer to
        self.repeats = 0  # commands delivered again: answered from the log, not run
        self.log = CommandLog(agent.config.state_dir / "commands.sqlite3")
        # read-now commands waiting for the sampler: id -> (device, metrics), None: all
        self._reads: dict[str, tuple[str, list[str]] | None] = {}

    def handle(self, topic: str, payload: bytes) -> None:
        parsed = parse_topic(topic)
        if parsed is None or parsed[0] != self._agent.config.gateway_id:
            return
        if parsed[1] == "config":
            self._config(payload)
        elif parsed[1] == "cmd":
            self._command(payload)

    # -- config ----------------------------------------------------------------------

    def _config(self, payload: bytes) -> None:
        agent = self._agent
        if not payload:
            return  # the retained config was cleared: keep running what we have
        try:
            settings = parse_remote(payload, agent.devices)
        except ConfigRejected as exc:
            self.last_error = str(exc)
            log.error("gateway %s rejected a config, keeps version %d: %s",
                      agent.config.gateway_id, agent.settings.version, exc)
            agent.link.request_status()
            return
        if settings.version <= agent.settings.version:
            return
        agent.apply(settings, payload)
        self.last_error = None
        log.info("gateway %s runs config version %d", agent.config.gateway_id, settings.version)
        agent.link.request_status()

    # -- commands ----------------------------------------------------------------------

    def ack(self, command_id: str, ok: bool, result: dict[str, Any] | None = None,
            error: str | None = None) -> None:
        """The answer to a command: kept (a repeat of the id gets it again), then sent."""
        doc: dict[str, Any] = {"v": 1, "id": command_id, "ok": ok}
        if result is not None:
            doc["result"] = result
        if error is not None:
            doc["error"] = error[:1024]
        payload = orjson.dumps(doc)
        self.log.answer(command_id, payload)
        self._send(payload)

    def _send(self, payload: bytes) -> None:
        self._agent.link.send_control(cmd_ack_topic(self._agent.config.gateway_id), payload)

    def answer_interrupted(self) -> None:
        """At start: commands taken before a restart and never answered are answered now
        (sent once the link is up), and not run again: one may have half happened."""
        for command_id in self.log.unanswered():
            self.ack(command_id, False, error="interrupted by a restart of the gateway before "
                                              "it was answered; not run again")

    def _command(self, payload: bytes) -> None:
        try:
            doc = load("cmd", payload)
        except ContractError as exc:
            command_id = _id_of(payload)
            if command_id is None:
                self.invalid_commands += 1
                log.error("gateway %s got a command it cannot answer: %s",
                          self._agent.config.gateway_id, exc)
            elif self.log.get(command_id) is None:
                self.ack(command_id, False, error=f"invalid command: {exc}")
            return
        command_id, name, args = doc["id"], doc["cmd"], doc["args"]
        taken = self.log.get(command_id)
        if taken is not None:  # a repeat: answer again, never run again
            self.repeats += 1
            self._send(taken.answer if taken.answer is not None else _receipt(command_id))
            return
        expires = doc.get("expires")
        now = int(time.time() * 1000)
        if expires is not None and now > expires:
            return self.ack(command_id, False, error=f"expired: its deadline {expires} passed "
                                                     f"before it arrived (now {now}); not run")
        allowed = self._agent.settings.commands
        if "dev" in doc and allowed is not None and name not in allowed.get(doc["dev"], ()):
            return self.ack(command_id, False, error=(
                f"{name}: not a command of {doc['dev']}'s device model (it takes: "
                f"{', '.join(sorted(allowed.get(doc['dev'], ()))) or 'none'})"))
        if name == "read_now":
            problem = _read_now_problem(doc, self._agent.devices)
            if problem is not None:
                return self.ack(command_id, False, error=f"read_now: {problem}")
        elif name == "set_sample_period":
            args = {**args, **({"dev": doc["dev"]} if "dev" in doc else {})}
        self.log.take(command_id)
        if expires is not None:
            # A sender that sets a deadline tracks delivery: tell it the command is kept.
            self._send(_receipt(command_id))
        self._run(command_id, name, args, doc)

    def _run(self, command_id: str, name: str, args: dict[str, Any], doc: dict[str, Any]
             ) -> None:
        if name == "ping":
            agent = self._agent
            self.ack(command_id, True, {
                "uptime_s": round(agent.uptime_s, 1), "fw": agent.config.firmware,
                "backlog": agent.outbox.backlog_readings,
                "evicted": agent.outbox.evicted_readings, "lost": agent.outbox.lost_readings,
                "config_version": agent.settings.version,
                "driver_errors": agent.driver_errors,
                "dropped_values": agent.outbox.dropped_values,
            })
        elif name == "read-now":
            if args:
                self.ack(command_id, False, error=f"read-now takes no args, got {sorted(args)}")
            else:
                self._reads[command_id] = None
                self._agent.read_now(command_id)  # answered by the sampler once read
        elif name == "read_now":
            self._reads[command_id] = (doc["dev"], list(args["metrics"]))
            self._agent.read_now(command_id)
        elif name == "stream":
            self._stream(command_id, doc.get("dev"), args)
        elif name == "reset_fault":
            self._reset_fault(command_id, doc.get("dev"), args)
        elif name == "reboot":
            if args:
                return self.ack(command_id, False, error=f"reboot takes no args, got "
                                                         f"{sorted(args)}")
            # Answered before it happens: after it, the command log says answered.
            self.ack(command_id, True, {"rebooting": True})
            self._agent.reboot()
        else:  # set-interval, set_sample_period
            self._set_interval(command_id, name, args)

    def _stream(self, command_id: str, dev: str | None, args: dict[str, Any]) -> None:
        agent = self._agent
        period, duration = args.get("period_s"), args.get("duration_s")
        unknown = sorted(set(args) - {"period_s", "duration_s"})
        if dev is None or dev not in agent.devices:
            return self.ack(command_id, False, error=f"stream: unknown device {dev!r}")
        if unknown:
            return self.ack(command_id, False, error=f"stream: unknown args {unknown}")
        for key, value, top in (("period_s", period, 60.0), ("duration_s", duration, 3600.0)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value) and 0 < value <= top):
                return self.ack(command_id, False, error=f"stream: {key} must be a number "
                                                         f"> 0 and <= {top:g}, got {value!r}")
        assert isinstance(period, int | float) and isinstance(duration, int | float)
        agent.apply(agent.settings.with_burst(dev, float(period),
                                              time.monotonic() + float(duration)))
        until = int(time.time() * 1000 + float(duration) * 1000)
        return self.ack(command_id, True, {"dev": dev, "period_s": float(period),
                                           "until": until})

    def _reset_fault(self, command_id: str, dev: str | None, args: dict[str, Any]) -> None:
        if dev is None or dev not in self._agent.devices:
            return self.ack(command_id, False, error=f"reset_fault: unknown device {dev!r}")
        if args:
            return self.ack(command_id, False, error=f"reset_fault: takes no args, got "
                                                     f"{sorted(args)}")
        cleared = self._agent.reset_fault(dev)
        if cleared is None:
            return self.ack(command_id, False, error="reset_fault: this gateway's driver "
                                                     "cannot reset a fault")
        return self.ack(command_id, True, {"dev": dev, "cleared": cleared})

    def sampled(self, command_ids: list[str], readings: list[Reading] | None) -> None:
        """The sampler read every device for these read-now commands (None: it failed)."""
        for command_id in command_ids:
            wanted = self._reads.pop(command_id, None)
            if readings is None:
                self.ack(command_id, False, error="the driver failed to read")
            elif wanted is None:
                self.ack(command_id, True, {"readings": len(readings)})
            else:
                self._answer_read(command_id, *wanted, readings)

    def _answer_read(self, command_id: str, dev: str, metrics: list[str],
                     readings: list[Reading]) -> None:
        reading = next((r for r in readings if r.dev == dev), None)
        if reading is None:
            return self.ack(command_id, False, error=f"read_now: {dev} did not answer")
        missing = [m for m in metrics if m not in reading.m]
        if missing:
            return self.ack(command_id, False, error=f"read_now: {dev} does not report "
                                                     f"{missing} (it reports {sorted(reading.m)})")
        return self.ack(command_id, True, {"dev": dev, "ts": reading.ts,
                                           "values": {m: reading.m[m] for m in metrics}})

    def _set_interval(self, command_id: str, name: str, args: dict[str, Any]) -> None:
        agent = self._agent
        period = args.get("sample_period_s")
        dev = args.get("dev")
        unknown = sorted(set(args) - {"sample_period_s", "dev"})
        if unknown:
            return self.ack(command_id, False, error=f"{name}: unknown args {unknown}")
        if isinstance(period, bool) or not isinstance(period, int | float) or not (
                math.isfinite(period) and period > 0):
            return self.ack(command_id, False,
                            error=f"{name}: sample_period_s must be a number > 0, "
                                  f"got {period!r}")
        if dev is not None and dev not in agent.devices:
            return self.ack(command_id, False, error=f"{name}: unknown device {dev!r}")
        agent.apply(agent.settings.with_period(float(period), dev))
        result: dict[str, Any] = {"sample_period_s": float(period)}
        if dev is not None:
            result["dev"] = dev
        return self.ack(command_id, True, result)


def _receipt(command_id: str) -> bytes:
    return orjson.dumps({"v": 1, "id": command_id, "ok": True, "stage": "received"})


def _read_now_problem(doc: dict[str, Any], devices: list[str]) -> str | None:
    dev, args = doc.get("dev"), doc["args"]
    if dev is None:
        return "needs dev, the device to read"
    if dev not in devices:
        return f"unknown device {dev!r}"
    unknown = sorted(set(args) - {"metrics"})
    metrics = args.get("metrics")
    if unknown:
        return f"unknown args {unknown}"
    if not isinstance(metrics, list) or not metrics or not all(
            isinstance(m, str) for m in metrics):
        return "metrics must be a non-empty list of metric names"
    return None


def _id_of(payload: bytes) -> str | None:
    """The id of a command that failed validation, if it has a usable one."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and _ID.fullmatch(value) else None

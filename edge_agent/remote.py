"""Remote config and commands: what arrives on the gateway's `config` and `cmd` topics.

Config: checked (`edge_agent.settings.parse_remote`), applied without restart,
and answered through the retained status message: `config_version` is the
version running, `config_error` why the last one was refused (the old one stays
in force). A config with a version not newer than the running one is a replay
(the retained message comes again on every reconnect) and changes nothing.

Commands (`ping`, `read-now`, `set-interval`) are answered on `cmd/ack`, always:
a command that cannot run gets `ok: false` and the reason.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any, Protocol

import orjson

from edge_agent.config import AgentConfig
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

log = logging.getLogger("fieldpulse.edge")
_ID = re.compile(ID_PATTERN.strip("^$"))


class RemoteControl:
    def __init__(self, agent: Agent) -> None:
        self._agent = agent
        self.last_error: str | None = None
        self.invalid_commands = 0  # commands without a usable id: nothing to answer to

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
        doc: dict[str, Any] = {"v": 1, "id": command_id, "ok": ok}
        if result is not None:
            doc["result"] = result
        if error is not None:
            doc["error"] = error[:1024]
        self._agent.link.send_control(cmd_ack_topic(self._agent.config.gateway_id),
                                      orjson.dumps(doc))

    def _command(self, payload: bytes) -> None:
        try:
            doc = load("cmd", payload)
        except ContractError as exc:
            command_id = _id_of(payload)
            if command_id is None:
                self.invalid_commands += 1
                log.error("gateway %s got a command it cannot answer: %s",
                          self._agent.config.gateway_id, exc)
            else:
                self.ack(command_id, False, error=f"invalid command: {exc}")
            return
        command_id, name, args = doc["id"], doc["cmd"], doc["args"]
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
                self._agent.read_now(command_id)  # acked by the sampler once read
        else:
            self._set_interval(command_id, args)

    def _set_interval(self, command_id: str, args: dict[str, Any]) -> None:
        agent = self._agent
        period = args.get("sample_period_s")
        dev = args.get("dev")
        unknown = sorted(set(args) - {"sample_period_s", "dev"})
        if unknown:
            return self.ack(command_id, False, error=f"set-interval: unknown args {unknown}")
        if isinstance(period, bool) or not isinstance(period, int | float) or not (
                math.isfinite(period) and period > 0):
            return self.ack(command_id, False,
                            error=f"set-interval: sample_period_s must be a number > 0, "
                                  f"got {period!r}")
        if dev is not None and dev not in agent.devices:
            return self.ack(command_id, False, error=f"set-interval: unknown device {dev!r}")
        agent.apply(agent.settings.with_period(float(period), dev))
        result: dict[str, Any] = {"sample_period_s": float(period)}
        if dev is not None:
            result["dev"] = dev
        return self.ack(command_id, True, result)


def _id_of(payload: bytes) -> str | None:
    """The id of a command that failed validation, if it has a usable one."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    value = doc.get("id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and _ID.fullmatch(value) else None

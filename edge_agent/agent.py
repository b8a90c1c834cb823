"""The gateway process: sample the driver into the outbox; the link publishes from it.

Two threads and nothing shared but the outbox (SQLite, locked) and the run
settings (an immutable object swapped whole):

- the sampler (the caller of `run`): reads due devices, evaluates the edge
  rules, commits every sample to the outbox, closes batches by size or age;
- the link (`edge_agent.link`): the MQTT connection, publishing, and the
  remote config and commands that arrive on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from edge_agent.config import AgentConfig
from edge_agent.drivers import Driver, FaultResetting, Reading
from edge_agent.edge_rules import RuleState
from edge_agent.link import Link
from edge_agent.outbox import Outbox
from edge_agent.remote import RemoteControl
from edge_agent.settings import AppliedConfigFile, RunSettings

log = logging.getLogger("fieldpulse.edge")


def _legacy_seq(state_dir: Path) -> int:
    """The next seq kept by agents before the outbox (a plain `seq` file), else 0."""
    path = state_dir / "seq"
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return 0


class EdgeAgent:
    def __init__(
        self, config: AgentConfig, driver: Driver, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self._driver = driver
        self._clock = clock
        self._started = time.monotonic()
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(config.state_dir / "outbox.sqlite3", config.outbox_max_bytes,
                             first_seq=_legacy_seq(config.state_dir),
                             max_file_bytes=config.outbox_max_file_bytes)
        self._devices = list(driver.device_ids())
        self._applied = AppliedConfigFile(config.state_dir / "remote-config.json")
        self.settings = self._applied.load(self._devices) or RunSettings.local(config)
        self.rules = RuleState(self.settings.rules)
        self.driver_errors = 0
        self.reboot_requested = False  # `run` returns; whoever runs the agent starts anew
        self._wake = threading.Event()  # new settings or read-now: re-plan the sampling
        self._read_now: deque[str] = deque()  # ids of read-now commands waiting for a sample
        self._rules_changed = False
        self._batch_opened: float | None = None
        self.remote = RemoteControl(self)
        self.link = Link(config, self.outbox, self._status, self.remote.handle)
        self.remote.answer_interrupted()  # sent once the link is up
        self.connected = self.link.connected

    # -- what the link and remote control ask for ------------------------------------

    def _status(self, state: str) -> bytes:
        doc: dict[str, Any] = {"v": 1, "gw": self.config.gateway_id, "state": state,
                     "ts": int(self._clock() * 1000), "fw": self.config.firmware}
        if state == "online":
            doc |= {"devices": self._devices, "backlog": self.outbox.backlog_readings,
                    "evicted": self.outbox.evicted_readings,
                    "lost": self.outbox.lost_readings,
                    "config_version": self.settings.version}
            if self.remote.last_error:
                doc["config_error"] = self.remote.last_error[:1024]
        return orjson.dumps(doc)

    @property
    def devices(self) -> list[str]:
        return self._devices

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._started

    def apply(self, settings: RunSettings, payload: bytes | None = None) -> None:
        """New settings from the cloud (`payload`: a remote config to keep) or a command."""
        if payload is not None:
            self._applied.save(payload)
        self.settings = settings
        # The rule state belongs to the sampler thread: it swaps the rules itself.
        self._rules_changed = True
        self._wake.set()

    def read_now(self, command_id: str) -> None:
        self._read_now.append(command_id)
        self._wake.set()

    def reset_fault(self, dev: str) -> list[str] | None:
        """Clear `dev`'s latched faults (their ids); None: this driver cannot."""
        if not isinstance(self._driver, FaultResetting):
            return None
        return self._driver.reset_fault(dev, int(self._clock() * 1000))

    def reboot(self) -> None:
        """The `reboot` command (already answered): stop like on SIGTERM, but `run`
        leaves the caller's stop event alone so it can start a new agent."""
        self.reboot_requested = True
        self._wake.set()

    # -- sampling ----------------------------------------------------------------------

    def _sample(self, due: set[str] | None) -> list[Reading] | None:
        """Read the driver; keep the due devices (None: all); commit.

        Returns the readings kept, None if the driver failed."""
        try:
            readings = self._driver.read(int(self._clock() * 1000))
        except Exception:  # a driver failure costs this sample, never the agent
            self.driver_errors += 1
            log.exception("driver of gateway %s failed", self.config.gateway_id)
            return None
        if due is not None:
            readings = [r for r in readings if r.dev in due]
        events = self.rules.evaluate(readings)
        urgent_devs = {e.dev for e in events}
        for event in events:
            log.warning("gateway %s: %s on %s (%s = %g), sent first", self.config.gateway_id,
                        event.rule.id, event.dev, event.rule.metric, event.value)
        urgent = [r for r in readings if r.dev in urgent_devs]
        normal = [r for r in readings if r.dev not in urgent_devs]
        self.outbox.stage(normal, urgent, self.settings.batch_max_readings)
        if normal and self._batch_opened is None:
            self._batch_opened = time.monotonic()
        return readings

    def _close_due_batches(self, force: bool = False) -> None:
        staged = self.outbox.staged_readings
        if not staged:
            self._batch_opened = None
            return
        if self._batch_opened is None:
            self._batch_opened = time.monotonic()  # staged before a restart
        age = time.monotonic() - self._batch_opened
        if force or staged >= self.settings.batch_max_readings or (
                age >= self.settings.batch_max_age_s):
            self.outbox.close_batches(self.settings.batch_max_readings)
            self._batch_opened = None

    def run(self, stop: threading.Event) -> None:
        # The link stops only after the last batch is closed, so it can still send it.
        link_stop = threading.Event()
        link_thread = threading.Thread(target=self.link.run, args=(link_stop,),
                                       name=f"link-{self.config.gateway_id}", daemon=True)
        link_thread.start()
        next_due = dict.fromkeys(self._devices, time.monotonic())
        try:
            while not stop.is_set() and not self.reboot_requested:
                now = time.monotonic()
                if self._rules_changed:
                    self._rules_changed = False
                    self.rules.replace_rules(self.settings.rules)
                if self._read_now:
                    ids = [self._read_now.popleft() for _ in range(len(self._read_now))]
                    kept = self._sample(None)
                    next_due = {d: now + self.settings.period_of(d) for d in self._devices}
                    self.remote.sampled(ids, kept)
                else:
                    due = {d for d, t in next_due.items() if t <= now}
                    if due:
                        self._sample(due if len(due) < len(next_due) else None)
                        for d in due:
                            # Keep the sampling grid while on time; after a stall start a
                            # new one from now. Never sample again within half a period:
                            # back-to-back reads could share a millisecond timestamp.
                            period = self.settings.period_of(d)
                            next_due[d] = next_due[d] + period
                            if next_due[d] < now + period / 2:
                                next_due[d] = now + period
                self._close_due_batches()
                wake_at = min(next_due.values(), default=now + self.settings.sample_period_s)
                if self._batch_opened is not None:
                    wake_at = min(wake_at, self._batch_opened + self.settings.batch_max_age_s)
                # Capped, so a stop set from outside is seen within a quarter second.
                self._wake.wait(min(0.25, max(0.0, wake_at - time.monotonic())))
                if self._wake.is_set():
                    self._wake.clear()
                    # New periods take effect from now, not from the old schedule.
                    now = time.monotonic()
                    next_due = {d: min(t, now + self.settings.period_of(d))
                                for d, t in next_due.items()}
        finally:
            if not self.reboot_requested:
                stop.set()
            self._close_due_batches(force=True)
            link_stop.set()
            link_thread.join(timeout=15)
            self.outbox.close()
            self.remote.log.close()

"""The chaos scenarios of issue 16, each ending with a produced-vs-stored tally.

Shared by the test suite (`tests/chaos`, small) and `fieldpulse bench chaos` (larger):
the same code, scaled by `Scale`. Every wait is bounded (`ChaosError`), so a run stops
by itself; nothing here judges time, only counts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testing_support.chaos_rig import OUTBOX_FILES, ChaosRig, Tally, wait_for


@dataclass(frozen=True, slots=True)
class Scale:
    gateways: int = 3
    stream_s: float = 2.0  # how long each phase lets the agents produce
    rounds: int = 2  # of the kill -9 cloud-then-broker scenario
    ack_timeout_s: float = 3.0
    drain_timeout_s: float = 120.0
    # False: the previous behaviour (the broker's PUBACK deletes a batch), for comparison.
    cloud_acks: bool = True


def _agent(scale: Scale, **outbox: Any) -> dict[str, dict[str, Any]]:
    return {"outbox": {"ack_timeout_s": scale.ack_timeout_s, "cloud_acks": scale.cloud_acks,
                       **outbox}}


def _finish(rig: ChaosRig, scale: Scale) -> Tally:
    rig.pause_and_drain(scale.drain_timeout_s)
    return rig.tally()


def kill_cloud_then_broker(root: Path, scale: Scale) -> Tally:
    """kill -9 the cloud, seconds later kill -9 the broker (it loses what it acked since its
    last autosave), restart both; again. The agents keep every batch until the cloud acks."""
    rig = ChaosRig(root, scale.gateways, agent=_agent(scale)).start()
    try:
        wait_for(lambda: rig.stored() > 0, 60, "the first readings stored")
        for _ in range(scale.rounds):
            time.sleep(scale.stream_s)
            rig.kill_cloud()
            time.sleep(scale.stream_s)  # the agents publish on; the broker queues for ingest
            rig.kill_broker()
            rig.broker.start()
            rig.start_cloud()
        return _finish(rig, scale)
    finally:
        rig.stop()


def overload(root: Path, scale: Scale) -> Tally:
    """The cloud stalls (SIGSTOP) while fast agents publish into a broker whose queue for it is
    small: acks stop, the agents' windows fill and they hold the backlog on disk (counted in
    `held_back`, batches never handed to the broker) instead of the broker dropping it."""
    rig = ChaosRig(root, scale.gateways + 1, agent={
        **_agent(scale),
        # Small batches: many messages, which is what fills a broker's queue.
        "sampling": {"sample_period_s": 0.01, "batch_max_readings": 2, "batch_max_age_s": 0.05},
    }, broker_extra="max_queued_messages 20").start()
    try:
        wait_for(lambda: rig.stored() > 0, 60, "the first readings stored")
        assert rig.cloud is not None
        rig.cloud.send_signal(signal.SIGSTOP)
        try:
            held: list[int] = []

            def held_back() -> bool:
                held[:] = [gw.outbox("SELECT COUNT(*) FROM batch WHERE sent = 0")
                           for gw in rig.gateways]
                return all(n > 0 for n in held)

            if scale.cloud_acks:
                wait_for(held_back, 60, "every agent to hold batches back")
            time.sleep(3 * scale.stream_s)
            held_back()
        finally:
            rig.cloud.send_signal(signal.SIGCONT)
        tally = _finish(rig, scale)
        tally.extra["held_back"] = sum(held)
        tally.extra["broker_dropped"] = rig.broker.log().lower().count("dropped")
        return tally
    finally:
        rig.stop()


def lost_outbox(root: Path, scale: Scale) -> Tally:
    """A gateway's outbox file is lost (a new disk, a reinstall): its seq starts at 0 again,
    under a new epoch, and the cloud stores the new batches instead of skipping them."""
    rig = ChaosRig(root, scale.gateways, agent=_agent(scale)).start()
    try:
        gw = rig.gateways[0]
        wait_for(lambda: rig.stored() > 0, 60, "the first readings stored")
        time.sleep(scale.stream_s)
        rig.pause_and_drain(scale.drain_timeout_s)  # nothing of it is left to lose
        rig.stop_agent(gw)
        for name in OUTBOX_FILES:
            (gw.state_dir / name).unlink(missing_ok=True)
        before = rig.stored()
        for other in rig.gateways:
            (other.dir / "paused").unlink()
        rig.start_agent(gw)
        wait_for(lambda: rig.stored() > before + 20 * len(gw.values), 60,
                 "the reinstalled gateway's readings stored")
        time.sleep(scale.stream_s)
        return _finish(rig, scale)
    finally:
        rig.stop()


def full_outbox(root: Path, scale: Scale) -> Tally:
    """The broker is away long enough for the outboxes to pass their byte budget: the oldest
    batches never handed to the broker are evicted, counted exactly; the rest is stored."""
    rig = ChaosRig(root, scale.gateways, agent=_agent(scale, max_bytes=160 << 10)).start()
    try:
        wait_for(lambda: rig.stored() > 0, 60, "the first readings stored")
        rig.broker.stop()
        wait_for(lambda: all(gw.evicted() > 0 for gw in rig.gateways), 60,
                 "every outbox to evict")
        time.sleep(scale.stream_s)
        rig.broker.start()
        return _finish(rig, scale)
    finally:
        rig.stop()


def full_disk(root: Path, scale: Scale) -> Tally:
    """The outbox's disk fills up (a 512 KiB tmpfs, with a byte budget far above it, as a
    misconfigured Pi would have): SQLite says "database or disk is full", the agent evicts
    the oldest unsent batches, counted, and keeps sampling; nothing crashes. Without the
    right to mount (not root) the database file's cap (`max_file_bytes`) stands in."""
    disk = 512 << 10
    rig = ChaosRig(root, scale.gateways, agent={
        **_agent(scale, max_bytes=64 << 20),
        "sampling": {"sample_period_s": 0.01, "batch_max_readings": 50, "batch_max_age_s": 0.2},
    })
    mounted = [gw for gw in rig.gateways if mount_tmpfs(gw.state_dir, disk)]
    if not mounted:
        rig.agent_settings["outbox"]["max_file_bytes"] = disk
    try:
        rig.start()
        wait_for(lambda: rig.stored() > 0, 60, "the first readings stored")
        rig.broker.stop()
        wait_for(lambda: all(gw.evicted() > 0 for gw in rig.gateways), 120,
                 "every outbox to evict on its full disk")
        time.sleep(scale.stream_s)
        alive = sum(gw.process is not None and gw.process.poll() is None
                    for gw in rig.gateways)
        rig.broker.start()
        tally = _finish(rig, scale)
        tally.extra |= {"agents_alive": alive, "real_disk_full": int(bool(mounted))}
        return tally
    finally:
        rig.stop()
        for gw in mounted:
            subprocess.run(["umount", str(gw.state_dir)], check=False)


def mount_tmpfs(path: Path, size: int) -> bool:
    """A small filesystem of its own at `path`; False without the right to mount."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    return done.returncode == 0


SCENARIOS: dict[str, Callable[[Path, Scale], Tally]] = {
    "kill_cloud_then_broker": kill_cloud_then_broker,
    "overload": overload,
    "lost_outbox": lost_outbox,
    "full_outbox": full_outbox,
    "full_disk": full_disk,
}

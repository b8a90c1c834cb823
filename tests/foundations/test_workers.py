"""The supervisor: order of start and stop, restarts after a failure, health."""

from __future__ import annotations

import threading

import pytest

from foundations.workers import Life, Periodic, Supervisor, Worker
from support import wait_until


class Recorder(Worker):
    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def setup(self) -> None:
        self.log.append(f"setup {self.name}")

    def run(self, life: Life) -> None:
        while not life.wait(10):
            pass
        self.log.append(f"stopped {self.name}")

    def teardown(self) -> None:
        self.log.append(f"teardown {self.name}")


def test_workers_start_in_order_and_stop_in_reverse_each_finishing_first() -> None:
    log: list[str] = []
    supervisor = Supervisor([Recorder("a", log), Recorder("b", log), Recorder("c", log)])
    supervisor.start()
    assert log == ["setup a", "setup b", "setup c"]
    assert [h.state for h in supervisor.health()] == ["running"] * 3
    supervisor.stop()
    assert log[3:] == ["stopped c", "teardown c", "stopped b", "teardown b",
                       "stopped a", "teardown a"]
    assert [h.state for h in supervisor.health()] == ["stopped"] * 3


def test_a_failing_step_is_reported_then_restarted_with_its_state_kept() -> None:
    calls: list[int] = []

    def step() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise OSError("database unavailable")

    worker = Periodic("flaky", step, every_s=0.01)
    with Supervisor([worker], backoff_s=0.3) as supervisor:
        wait_until(lambda: supervisor.health()[0].state == "restarting",
                   what="the failure to be reported")
        failed = supervisor.health()[0]
        assert not failed.alive and failed.last_error == "OSError: database unavailable"
        wait_until(lambda: supervisor.health()[0].restarts == 1 and len(calls) > 3,
                   what="the restart")
        assert supervisor.health()[0].alive
    assert calls[:4] == [0, 1, 2, 3]  # the same worker object goes on


def test_restarts_back_off_exponentially_up_to_the_cap() -> None:
    now = [0.0]
    worker = Periodic("broken", lambda: 1 / 0, every_s=0.0, first_after_s=0.0)
    supervisor = Supervisor([worker], backoff_s=1.0, max_backoff_s=4.0, watch_every_s=0.01,
                            monotonic=lambda: now[0])
    delays = []
    with supervisor:
        for restarts in range(1, 5):
            wait_until(lambda: supervisor.health()[0].state == "restarting",
                       what="the failure")
            slot = supervisor._slots[0]
            delays.append(slot.restart_at - now[0])
            now[0] = slot.restart_at
            wait_until(lambda r=restarts: supervisor.health()[0].restarts == r,
                       what="the restart")
    assert delays == [1.0, 2.0, 4.0, 4.0]


def test_a_worker_stuck_in_a_step_is_reported_stalled() -> None:
    release = threading.Event()
    worker = Periodic("stuck", lambda: release.wait(30), every_s=0.0, first_after_s=0.0,
                      stall_after_s=0.2)
    with Supervisor([worker]) as supervisor:
        wait_until(lambda: supervisor.health()[0].state == "stalled", what="a stall")
        assert supervisor.health()[0].last_beat_age_s > 0.2
        release.set()
        wait_until(lambda: supervisor.health()[0].state == "running", what="progress")


def test_a_loop_that_returns_on_its_own_is_restarted() -> None:
    runs: list[int] = []

    class Once(Worker):
        name = "once"

        def run(self, life: Life) -> None:
            runs.append(1)

    with Supervisor([Once()], backoff_s=0.05) as supervisor:
        wait_until(lambda: len(runs) >= 2, what="a second run")
        assert supervisor.health()[0].last_error == \
            "the loop returned without being asked to stop"


def test_waking_a_periodic_worker_runs_its_step_at_once() -> None:
    calls: list[int] = []
    worker = Periodic("lazy", lambda: calls.append(1), every_s=3600)
    with Supervisor([worker]):
        worker.wake()
        wait_until(lambda: calls, what="the woken step")


def test_two_workers_cannot_share_a_name() -> None:
    supervisor = Supervisor([Periodic("x", lambda: None, 1.0)])
    with pytest.raises(ValueError, match="two workers named 'x'"):
        supervisor.add(Periodic("x", lambda: None, 1.0))

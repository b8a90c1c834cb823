"""Background work: every loop of a process is a `Worker`, run and watched by one
`Supervisor`.

A worker is a named loop on a thread of its own (`run`), with optional `setup` and
`teardown`. Most loops are a step on a timer: `Periodic` wraps a function. The
supervisor

- starts workers in the order given and stops them in reverse order, so a worker
  can rely on everything started before it;
- restarts a worker whose loop ended with an exception (or returned while nobody
  asked it to stop), after a backoff that doubles from `backoff_s` up to
  `max_backoff_s` (and starts again from `backoff_s` once the worker has run that
  long without failing), and counts the restarts;
- reports every worker's health (`health()`): running, stalled (no heartbeat for
  longer than its `stall_after_s`: stuck inside a step), restarting (with the
  error that ended it), or stopped.

Adding a loop: write a `Periodic` (or subclass `Worker` when the loop needs more
than a timer) and hand it to the process's supervisor where the process is
assembled (`fieldpulse/assembly.py`). Nothing else starts threads of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("fieldpulse.workers")

RUNNING, STALLED, RESTARTING, STOPPED, STARTING = (
    "running", "stalled", "restarting", "stopped", "starting")


class Life:
    """What a running worker is handed: whether to stop, a way to wait that ends early
    when it is woken or stopped, and a heartbeat to say it is making progress."""

    def __init__(self, stop: threading.Event, signal: threading.Event,
                 beat: Callable[[], None]) -> None:
        self._stop, self._signal, self._beat = stop, signal, beat

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Wait up to `seconds`; returns early (True) when woken or asked to stop.
        The wake-up is consumed."""
        self._beat()  # waiting is not being stuck
        woken = self._signal.wait(seconds)
        self._signal.clear()
        return woken

    def sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`, ignoring wake-ups; True when asked to stop."""
        self._beat()
        return self._stop.wait(seconds)

    def beat(self) -> None:
        self._beat()


class Worker(ABC):
    """A loop of its own. `run` returns when `life.stopping`; an exception ends the
    run and the supervisor restarts it."""

    name: str = "worker"
    # Inside one step longer than this: reported stalled (None: never judged).
    stall_after_s: float | None = None

    def __init__(self) -> None:
        self._signal = threading.Event()
        self._interrupted = threading.Event()

    @property
    def stopping(self) -> bool:
        """Asked to stop: a long step (a batch of sends) ends early when it sees this."""
        return self._interrupted.is_set()

    def setup(self) -> None:
        """Once, before the first run (in start order)."""
        return None

    @abstractmethod
    def run(self, life: Life) -> None: ...

    def teardown(self) -> None:
        """Once, after the last run has returned (in reverse start order)."""
        return None

    def wake(self) -> None:
        """Cut the current `life.wait` short (new work is waiting)."""
        self._signal.set()

    def interrupt(self) -> None:
        """Asked to stop: end the current wait. A worker that blocks elsewhere (a
        server's own loop, a network client's thread) also ends that here."""
        self._interrupted.set()
        self.wake()


class Periodic(Worker):
    """`step()` every `every_s` seconds (first after `first_after_s`, default a whole
    period), and at once when woken."""

    def __init__(self, name: str, step: Callable[[], object], every_s: float, *,
                 first_after_s: float | None = None, stall_after_s: float | None = None,
                 setup: Callable[[], object] | None = None,
                 teardown: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.name, self.stall_after_s = name, stall_after_s
        self._step, self._every_s = step, every_s
        self._first_after_s = every_s if first_after_s is None else first_after_s
        self._setup, self._teardown = setup, teardown

    def setup(self) -> None:
        if self._setup is not None:
            self._setup()

    def run(self, life: Life) -> None:
        delay = self._first_after_s
        while True:
            life.wait(delay)
            if life.stopping:
                return
            self._step()
            delay = self._every_s

    def teardown(self) -> None:
        if self._teardown is not None:
            self._teardown()


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    name: str
    state: str  # running | stalled | restarting | starting | stopped
    restarts: int
    # Seconds since the worker last showed progress (None: not running).
    last_beat_age_s: float | None
    last_error: str | None

    @property
    def alive(self) -> bool:
        return self.state == RUNNING


class _Slot:
    """The supervisor's book on one worker (guarded by the supervisor's lock)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread: threading.Thread | None = None
        self.state = STARTING
        self.restarts = 0
        self.failures = 0  # consecutive, for the backoff
        self.last_beat = 0.0
        self.last_error: str | None = None
        self.restart_at = 0.0
        self.launched_at = 0.0
        self.stop = threading.Event()  # one per worker: they stop one by one, in order


class Supervisor:
    """Runs workers on threads, restarts the ones that die, reports their health."""

    def __init__(self, workers: Sequence[Worker] = (), *, backoff_s: float = 1.0,
                 max_backoff_s: float = 30.0, watch_every_s: float = 0.2,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._slots: list[_Slot] = []
        self._backoff_s, self._max_backoff_s = backoff_s, max_backoff_s
        self._watch_every_s, self._monotonic = watch_every_s, monotonic
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        for worker in workers:
            self.add(worker)

    def add(self, worker: Worker) -> None:
        if self._watchdog is not None:
            raise RuntimeError(f"add '{worker.name}' before the supervisor starts")
        if any(s.worker.name == worker.name for s in self._slots):
            raise ValueError(f"two workers named '{worker.name}'")
        self._slots.append(_Slot(worker))

    @property
    def workers(self) -> list[Worker]:
        return [s.worker for s in self._slots]

    def start(self) -> Supervisor:
        if self._watchdog is not None:
            raise RuntimeError("the supervisor is already started")
        for slot in self._slots:
            slot.worker.setup()
            self._launch(slot)
        self._watchdog = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watchdog.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop every worker, the last started first; each finishes its step."""
        if self._watchdog is None:
            return  # never started: nothing runs
        self._stop.set()
        self._watchdog.join(timeout=timeout_s)
        for slot in reversed(self._slots):
            slot.stop.set()
            slot.worker.interrupt()
            if slot.thread is not None:
                slot.thread.join(timeout=timeout_s)
                if slot.thread.is_alive():
                    log.warning("event=worker_stop_timeout worker=%s after_s=%s",
                                slot.worker.name, timeout_s)
            with self._lock:
                slot.state = STOPPED
            try:
                slot.worker.teardown()
            except Exception:
                log.exception("event=worker_teardown_failed worker=%s", slot.worker.name)

    def __enter__(self) -> Supervisor:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def health(self) -> list[WorkerHealth]:
        now = self._monotonic()
        with self._lock:
            out = []
            for slot in self._slots:
                state = slot.state
                stall = slot.worker.stall_after_s
                age = now - slot.last_beat if state in (RUNNING, STALLED) else None
                if state == RUNNING and stall is not None and age is not None and age > stall:
                    state = STALLED
                out.append(WorkerHealth(slot.worker.name, state, slot.restarts,
                                        None if age is None else round(age, 3),
                                        slot.last_error))
            return out

    def healthy(self) -> bool:
        return all(h.alive for h in self.health())

    # -- threads ------------------------------------------------------------------------

    def _launch(self, slot: _Slot) -> None:
        life = Life(slot.stop, slot.worker._signal, lambda: self._beat(slot))
        with self._lock:
            slot.state = RUNNING
            slot.last_beat = slot.launched_at = self._monotonic()
        slot.thread = threading.Thread(target=self._run, args=(slot, life),
                                       name=slot.worker.name, daemon=True)
        slot.thread.start()

    def _beat(self, slot: _Slot) -> None:
        with self._lock:
            slot.last_beat = self._monotonic()

    def _run(self, slot: _Slot, life: Life) -> None:
        try:
            slot.worker.run(life)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.exception("event=worker_failed worker=%s", slot.worker.name)
        else:
            if slot.stop.is_set():
                return
            error = "the loop returned without being asked to stop"
            log.warning("event=worker_exited worker=%s", slot.worker.name)
        with self._lock:
            if slot.stop.is_set():
                return
            if self._monotonic() - slot.launched_at >= self._max_backoff_s:
                slot.failures = 0  # it ran well for a while: a fresh backoff
            slot.failures += 1
            delay = min(self._max_backoff_s, self._backoff_s * 2 ** (slot.failures - 1))
            slot.state, slot.last_error = RESTARTING, error
            slot.restart_at = self._monotonic() + delay
        log.info("event=worker_restart_scheduled worker=%s in_s=%.1f", slot.worker.name, delay)

    def _watch(self) -> None:
        while not self._stop.wait(self._watch_every_s):
            for slot in self._slots:
                with self._lock:
                    due = slot.state == RESTARTING and self._monotonic() >= slot.restart_at
                    if due:
                        slot.restarts += 1
                if due and not self._stop.is_set():
                    log.info("event=worker_restarted worker=%s restarts=%s",
                             slot.worker.name, slot.restarts)
                    self._launch(slot)

"""Every worker of the running system is visible in /healthz and /metrics; a worker whose
thread is killed is reported down, then restarted by the supervisor."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldpulse.broker import MosquittoBroker
from fieldpulse.fleet_import import import_fleet
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem
from foundations.processes import free_port
from simulators.fleet import Fleet
from support import make_account, wait_until
from testing_support.broker_logins import address

WORKERS = {"work-order-notices", "notifications", "dispatcher", "rules-timers", "sla-monitor",
           "maintenance", "webhooks", "sales", "ingest", "stale-devices",
           "telemetry-retention", "http"}


class KilledByTest(Exception):
    pass


def kill_thread(thread: threading.Thread) -> None:
    """Raise KilledByTest inside `thread` (at its next Python instruction)."""
    assert thread.ident is not None
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                      ctypes.py_object(KilledByTest))
    assert done == 1


@pytest.fixture
def system(tmp_path: Path, mosquitto: MosquittoBroker, small_fleet: Fleet
           ) -> Iterator[CloudSystem]:
    settings = Settings(data_dir=tmp_path / "data", http_port=free_port(),
                        dispatch_time_limit_s=1.0, restart_backoff_s=3.0)
    system = CloudSystem(settings, address(mosquitto))
    import_fleet(system.engine, small_fleet)
    system.start()
    wait_until(system.consumer.connected.is_set, what="ingest to connect")
    yield system
    system.stop()


def _health(system: CloudSystem) -> httpx.Response:
    return httpx.get(f"{system.settings.base_url}/healthz", timeout=10)


def _metrics(system: CloudSystem, headers: dict[str, str]) -> set[str]:
    response = httpx.get(f"{system.settings.base_url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200
    return set(response.text.splitlines())


def test_a_killed_worker_is_reported_then_restarted(system: CloudSystem) -> None:
    admin = make_account(system.engine, "admin")
    wait_until(lambda: _health(system).status_code == 200, what="a healthy system")
    body = _health(system).json()
    assert body["status"] == "ok" and body["broker_connected"] and body["database"]
    assert {w["name"] for w in body["workers"]} == WORKERS
    assert all(w["state"] == "running" and w["restarts"] == 0 for w in body["workers"])
    lines = _metrics(system, admin.headers)
    assert 'fieldpulse_worker_up{worker="webhooks"} 1.0' in lines
    assert 'fieldpulse_dependency_up{dependency="database"} 1.0' in lines

    webhooks = next(t for t in threading.enumerate() if t.name == "webhooks")
    kill_thread(webhooks)  # it runs a step every second: it dies within one
    wait_until(lambda: not webhooks.is_alive(), what="the thread to die")

    down = _health(system)
    assert down.status_code == 503 and down.json()["status"] == "degraded"
    [reported] = [w for w in down.json()["workers"] if w["name"] == "webhooks"]
    assert reported["state"] == "restarting" and reported["last_error"] == "KilledByTest: "
    assert 'fieldpulse_worker_up{worker="webhooks"} 0.0' in _metrics(system, admin.headers)

    wait_until(lambda: _health(system).status_code == 200, timeout_s=30,
               what="the supervisor to restart the worker")
    [restarted] = [w for w in _health(system).json()["workers"] if w["name"] == "webhooks"]
    assert restarted["state"] == "running" and restarted["restarts"] == 1
    lines = _metrics(system, admin.headers)
    assert 'fieldpulse_worker_up{worker="webhooks"} 1.0' in lines
    assert 'fieldpulse_worker_restarts_total{worker="webhooks"} 1.0' in lines
    assert any(t.name == "webhooks" and t.is_alive() for t in threading.enumerate())

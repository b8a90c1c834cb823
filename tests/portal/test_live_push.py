"""The live feed pushed from one change feed per process (portal/live_hub.py): every
stream gets every change it may see and nothing else, a reconnecting stream catches
up from its cursor, a client that does not keep up is dropped, not waited for."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import orjson
import pytest
import uvicorn
from portal_app import Portal, build_portal
from sqlmodel import Session

from foundations.database import session_scope
from foundations.processes import free_port
from portal.live_feed import Cursor, LiveEvent
from portal.live_hub import QUEUE_BATCHES, LiveHub
from portal.routers.live_events import customer_view, event_id, staff_view
from rules.tables import AlertEvent
from simulators.fleet import generate_fleet
from support import wait_until


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("live-push"), generate_fleet(seed=7, sites=6))


@pytest.fixture(scope="module")
def base(portal: Portal) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the portal to listen")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def raise_alert(portal: Portal, device_id: str) -> int:
    alert_id = portal.new_alert(device_id)
    with session_scope(portal.engine) as session:
        session.add(AlertEvent(alert_id=alert_id, action="raised", by="system", at=1))
    return alert_id


class Listener:
    """One SSE client in a thread: the events it received, parsed."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[tuple[str, dict]] = []
        self.ids: list[str] = []
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers or {}),
                                        daemon=True)
        self._thread.start()
        assert self.opened.wait(10), url

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with httpx.stream("GET", url, headers=headers, timeout=30) as stream:
            assert stream.status_code == 200, url
            kind = ""
            for line in stream.iter_lines():
                if line.startswith("retry:"):
                    self.opened.set()
                elif line.startswith("id: "):
                    self.ids.append(line[4:])
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.events.append((kind, orjson.loads(line[6:])))

    def alerts(self) -> set[int]:
        return {d["alert_id"] for k, d in self.events if k == "alert"}

    def join(self) -> None:
        self._thread.join(timeout=30)


def test_each_change_reaches_every_stream_that_may_see_it_and_no_other(
        portal: Portal, base: str) -> None:
    a, b = portal.device("A"), portal.device("B")
    staff = portal.accounts["dispatcher"].headers
    consoles = [Listener(f"{base}/api/events?max_s=8", staff) for _ in range(3)]
    customer_a = Listener(f"{base}/q/{portal.tokens[a.id]}/events?max_s=8")
    customer_b = Listener(f"{base}/q/{portal.tokens[b.id]}/events?max_s=8")
    on_a, on_b = raise_alert(portal, a.id), raise_alert(portal, b.id)
    wait_until(lambda: all({on_a, on_b} <= c.alerts() for c in consoles)
               and on_a in customer_a.alerts() and on_b in customer_b.alerts(),
               timeout_s=10, what="every stream to get its alerts")
    for listener in [*consoles, customer_a, customer_b]:
        listener.join()
    assert on_b not in customer_a.alerts() and on_a not in customer_b.alerts()
    # Customers do not learn who acted, nor any other device's or engineer's business.
    for _kind, data in customer_a.events:
        assert "by" not in data and "message" not in data and data["device_id"] == a.id
    # One poll loop for the whole process, however many streams.
    hub = portal.app.state.live_hub
    assert hub.subscribers == set()


def test_a_reconnecting_stream_gets_what_it_missed_once(portal: Portal, base: str) -> None:
    staff = portal.accounts["dispatcher"].headers
    first = Listener(f"{base}/api/events?max_s=3", staff)
    seen = raise_alert(portal, portal.device("A").id)
    wait_until(lambda: seen in first.alerts(), timeout_s=10, what="the first alert")
    first.join()
    last_id = first.ids[-1]
    missed = raise_alert(portal, portal.device("B").id)  # while disconnected
    wait_until(lambda: portal.app.state.live_hub.cursor.alert_event_id >= 1, timeout_s=5,
               what="the hub to move on")
    again = Listener(f"{base}/api/events?max_s=4", {**staff, "Last-Event-ID": last_id})
    wait_until(lambda: missed in again.alerts(), timeout_s=10, what="the missed alert")
    again.join()
    assert seen not in again.alerts()
    assert [d["alert_id"] for k, d in again.events if k == "alert"].count(missed) == 1


def _alert(ref: int, device_id: str) -> LiveEvent:
    return LiveEvent("alert", {"alert_id": ref, "device_id": device_id, "by": "dora",
                               "action": "raised", "at": 1, "severity": "high",
                               "state": "active", "message": "m", "rule_id": "r"}, ref)


def test_a_client_that_does_not_keep_up_is_dropped_and_the_others_are_not(
        portal: Portal) -> None:
    async def scenario() -> None:
        hub = LiveHub(portal.engine)
        slow, fast = hub.subscribe(staff_view), hub.subscribe(staff_view)
        other = hub.subscribe(customer_view("nobody's"))
        received = 0
        for ref in range(1, QUEUE_BATCHES + 11):
            hub.publish([_alert(ref, "d1")], Cursor(ref, 0, 0))
            while not fast.queue.empty():  # the fast one reads every batch
                received += len(fast.queue.get_nowait()[0])
        assert slow.dropped and slow not in hub.subscribers and hub.dropped == 1
        assert received == QUEUE_BATCHES + 10 and fast in hub.subscribers
        # A stream that sees none of the changes has nothing queued, and stays.
        assert other.queue.empty() and other in hub.subscribers

    asyncio.run(scenario())


def test_the_customer_view_keeps_only_its_device_and_no_names() -> None:
    view = customer_view("d1")
    shown = view(_alert(1, "d1"))
    assert shown is not None and "by" not in shown.data and "message" not in shown.data
    assert view(_alert(2, "d2")) is None
    assert view(LiveEvent("plan", {"plan_id": 1}, 1)) is None
    assert event_id(Cursor(3, 2, 1)) == "a3-w2-p1"


def test_every_subscriber_shares_one_poll_of_the_database(portal: Portal) -> None:
    statements: list[str] = []

    async def scenario() -> None:
        hub = LiveHub(portal.engine, poll_s=0.05)
        await hub.start()
        for _ in range(200):
            hub.subscribe(staff_view)
        from sqlalchemy import event

        def count(*args: object) -> None:
            statements.append("x")

        event.listen(portal.engine, "before_cursor_execute", count)
        polls = hub.polls
        await asyncio.sleep(0.5)
        event.remove(portal.engine, "before_cursor_execute", count)
        await hub.stop()
        # Each poll is the same few statements, whatever the number of subscribers.
        assert len(statements) <= (hub.polls - polls + 1) * 4

    with Session(portal.engine):
        asyncio.run(scenario())

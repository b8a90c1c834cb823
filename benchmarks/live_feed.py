"""`fieldpulse bench live`: the pushed live feed with many clients, against 10 clients.

Seeds the portal benchmark's fleet, starts the portal in a process of its own
(pinned to core 0 where there are two or more), and a writer in this process that
plays the fleet: every `--interval` it raises or clears an alert on a device, as an
ingest worker in another process would (straight into the shared database, so the
portal only learns of it through its change feed). Then, in one run:

1. `--baseline-clients` (10) streams for `--baseline-s`;
2. `--clients` (1,000) streams for `--duration` (default five minutes), consoles
   (`/api/events`, a dispatcher's API token) and customer pages
   (`/q/{token}/events`, each its own device, each from its own loopback address
   as phones are, so the per-address rate limit applies as it would) mixed.

Reported per phase: the server's CPU (seconds per second, from /proc via psutil),
streams still connected at the end, how often the server ended a stream (after 5
minutes, or dropping a slow client) and the client reconnected with its
`Last-Event-ID`, as EventSource does, updates each client should have seen (written
while it was connected, more than `GRACE_S` before the end) and did not, updates a
client saw that it may not see (another device's, for a customer), and the delay
from the write to each client's receipt, p50/p99. Also `python -m
benchmarks.live_feed` from the repository root.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import orjson
import psutil
import typer
from sqlmodel import Session, select

from benchmarks.portal import Seeded, _start_server, seed
from foundations.database import make_engine, session_scope
from rules.tables import Alert, AlertEvent

GRACE_S = 3.0  # updates written this close to a phase's end may still be on their way


@dataclass
class Written:
    alert_id: int
    action: str
    device_id: str
    at_ms: int


@dataclass
class Client:
    path: str
    device_id: str | None  # a customer's device; None: a console (sees everything)
    local_host: str
    connected_at: float = 0.0
    closed_at: float | None = None
    got: dict[tuple[int, str], float] = field(default_factory=dict)  # -> delay ms
    foreign: int = 0  # updates of other devices a customer was sent
    reconnects: int = 0  # streams the server ended (5 minutes, too slow), reopened
    failures: int = 0  # connections refused or answered other than 200


class Fleet(threading.Thread):
    """Raises an alert on a device, or clears the one raised before, every interval."""

    def __init__(self, db: Path, devices: list[str], favoured: list[str], interval: float
                 ) -> None:
        super().__init__(daemon=True, name="fleet")
        self.engine = make_engine(f"sqlite:///{db}")
        self.devices, self.favoured, self.interval = devices, favoured, interval
        self.written: list[Written] = []
        self.stop = threading.Event()
        self.rng = random.Random(11)

    def run(self) -> None:
        open_alerts: list[tuple[int, str]] = []
        serial = 0
        while not self.stop.wait(self.interval):
            now = int(time.time() * 1000)
            with session_scope(self.engine) as s:
                if open_alerts and self.rng.random() < 0.4:
                    alert_id, device = open_alerts.pop(0)
                    alert = s.get(Alert, alert_id)
                    assert alert is not None
                    alert.state, alert.cleared_at = "cleared", now
                    s.add(AlertEvent(alert_id=alert_id, action="cleared", by="system", at=now))
                    action = "cleared"
                else:
                    serial += 1
                    pool = self.favoured if self.favoured and self.rng.random() < 0.5 \
                        else self.devices
                    device = self.rng.choice(pool)
                    alert = Alert(device_id=device, rule_id=f"live-{serial}", metric="tds_ppm",
                                  severity="high", message="live bench", raised_at=now,
                                  raised_value=1.0)
                    s.add(alert)
                    s.flush()
                    assert alert.id is not None
                    alert_id, action = alert.id, "raised"
                    s.add(AlertEvent(alert_id=alert_id, action=action, by="system", at=now))
                    open_alerts.append((alert_id, device))
            self.written.append(Written(alert_id, action, device, now))


async def _listen(host: str, port: int, client: Client, token: str, until: float) -> None:
    """One EventSource: reconnects with its Last-Event-ID when the server ends the
    stream (it does after 5 minutes, or when it drops a slow client), as browsers do."""
    last_id = ""
    while time.time() < until:
        last_id = await _stream_once(host, port, client, token, until, last_id)
        if time.time() < until:
            client.reconnects += 1
            await asyncio.sleep(0.1)
    client.closed_at = time.time()


async def _stream_once(host: str, port: int, client: Client, token: str, until: float,
                       last_id: str) -> str:
    headers = f"Authorization: Bearer {token}\r\n" if client.device_id is None else ""
    if last_id:
        headers += f"Last-Event-ID: {last_id}\r\n"
    try:
        reader, writer = await asyncio.open_connection(
            host, port, local_addr=(client.local_host, 0), limit=1 << 20)
    except OSError:
        client.failures += 1
        return last_id
    writer.write(f"GET {client.path} HTTP/1.1\r\nHost: {host}\r\n{headers}"
                 "Accept: text/event-stream\r\n\r\n".encode())
    try:
        status = await reader.readline()
        if b" 200 " not in status:
            client.failures += 1
            return last_id
        client.connected_at = client.connected_at or time.time()
        kind = b""
        while time.time() < until:
            line = await asyncio.wait_for(reader.readline(), max(0.1, until - time.time()))
            if not line:
                break
            if line.startswith(b"id: "):
                last_id = line[4:].strip().decode()
            elif line.startswith(b"event: "):
                kind = line[7:].strip()
            elif line.startswith(b"data: ") and kind == b"alert":
                data = orjson.loads(line[6:])
                if client.device_id is not None and data.get("device_id") != client.device_id:
                    client.foreign += 1
                client.got.setdefault((data["alert_id"], data["action"]),
                                      time.time() * 1000 - data["at"])
    except (TimeoutError, OSError, ValueError):
        pass
    finally:
        writer.close()
    return last_id


def _clients(seeded: Seeded, n: int, consoles: float) -> list[Client]:
    devices = sorted(seeded.qr_tokens)
    out = []
    for i in range(n):
        # 127.0.0.0/8 is all loopback: each client its own address, as phones are.
        host = f"127.{1 + i // 62500}.{i // 250 % 250}.{1 + i % 250}"
        if i % int(1 / consoles) == 0:
            out.append(Client("/api/events", None, host))
        else:
            device = devices[i % len(devices)]
            out.append(Client(f"/q/{seeded.qr_tokens[device]}/events", device, host))
    return out


async def _phase(base: str, clients: list[Client], token: str, seconds: float) -> None:
    host, port = base.removeprefix("http://").split(":")
    until = time.time() + seconds
    await asyncio.gather(*(_listen(host, int(port), c, token, until) for c in clients))


def _figures(clients: list[Client], written: list[Written], end: float, cpu_s: float,
             wall_s: float) -> dict[str, float]:
    delays: list[float] = []
    missed = expected = 0
    for c in clients:
        if not c.connected_at:
            continue
        for w in written:
            if not (c.connected_at * 1000 + 500 <= w.at_ms <= (end - GRACE_S) * 1000):
                continue
            if c.device_id is not None and w.device_id != c.device_id:
                continue
            expected += 1
            if (w.alert_id, w.action) not in c.got:
                missed += 1
        delays.extend(c.got.values())
    delays.sort()

    def at(q: float) -> float:
        return delays[min(len(delays) - 1, int(len(delays) * q))] if delays else 0.0

    return {"clients": len(clients), "connected": sum(1 for c in clients if c.connected_at),
            "stayed_to_the_end": sum(1 for c in clients if c.connected_at and c.closed_at
                                     and c.closed_at >= end - 1),
            "reconnects": sum(c.reconnects for c in clients),
            "failed_connections": sum(c.failures for c in clients),
            "expected_deliveries": expected, "missed": missed,
            "foreign": sum(c.foreign for c in clients), "deliveries": len(delays),
            "delay_p50_ms": at(0.5), "delay_p99_ms": at(0.99),
            "server_cpu_cores": cpu_s / wall_s, "seconds": wall_s}


def bench_live(
    clients: Annotated[int, typer.Option(help="Concurrent streams in the main phase.")] = 1000,
    duration: Annotated[float, typer.Option(help="Seconds of the main phase.")] = 300.0,
    baseline_clients: Annotated[int, typer.Option(help="Streams of the baseline phase.")] = 10,
    baseline_s: Annotated[float, typer.Option(help="Seconds of the baseline phase.")] = 30.0,
    consoles: Annotated[float, typer.Option(help="Share of consoles among the streams.")
                        ] = 0.2,
    devices: Annotated[int, typer.Option(help="Devices in the seeded fleet.")] = 10_000,
    interval: Annotated[float, typer.Option(help="Seconds between the fleet's updates.")
                        ] = 0.5,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The pushed live feed: N mixed streams for minutes vs 10, delivery and server CPU."""
    with tempfile.TemporaryDirectory(prefix="live-bench-") as tmp:
        print(f"seeding {devices} devices ...", file=sys.stderr)
        seeded = seed(Path(tmp), devices)
        proc, base = _start_server(seeded.db, Path(tmp) / "server.log")
        server = psutil.Process(proc.pid)
        main = _clients(seeded, clients, consoles)
        fleet = Fleet(seeded.db, sorted(seeded.qr_tokens),
                      [c.device_id for c in main if c.device_id], interval)
        fleet.start()
        result: dict[str, object] = {"loadavg_before": os.getloadavg(), "cpus": os.cpu_count()}
        try:
            for name, group, seconds in (("baseline", _clients(seeded, baseline_clients,
                                                               consoles), baseline_s),
                                         ("main", main, duration)):
                print(f"{name}: {len(group)} streams for {seconds:g} s ...", file=sys.stderr)
                cpu0, t0 = sum(server.cpu_times()[:2]), time.time()
                asyncio.run(_phase(base, group, seeded.token, seconds))
                end = time.time()
                cpu = sum(server.cpu_times()[:2]) - cpu0
                result[name] = _figures(group, fleet.written, end, cpu, end - t0)
        finally:
            fleet.stop.set()
            proc.terminate()
            proc.wait(timeout=30)
        result["loadavg_after"] = os.getloadavg()
        result["updates_written"] = len(fleet.written)
        with Session(fleet.engine) as s:  # the fleet's alerts are really in the database
            result["alerts_in_db"] = len(s.exec(select(Alert.id)).all())
    if json_output:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    print(f"live feed: {devices} devices, an update every {interval:g} s, "
          f"load average before {result['loadavg_before']}")
    print(f"{'phase':<10}{'streams':>8}{'stayed':>8}{'reconn':>7}{'expected':>10}{'missed':>8}"
          f"{'foreign':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU cores':>10}")
    for name in ("baseline", "main"):
        r = result[name]
        assert isinstance(r, dict)
        print(f"{name:<10}{r['clients']:>8}{r['stayed_to_the_end']:>8}{r['reconnects']:>7}"
              f"{r['expected_deliveries']:>10}{r['missed']:>8}{r['foreign']:>8}"
              f"{r['delay_p50_ms']:>8.0f}{r['delay_p99_ms']:>8.0f}"
              f"{r['server_cpu_cores']:>10.3f}")


if __name__ == "__main__":
    cli = typer.Typer(add_completion=False)
    cli.command()(bench_live)
    cli(prog_name="python -m benchmarks.live_feed")

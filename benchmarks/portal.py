"""`fieldpulse bench portal`: the dispatcher console's map and API under load.

Seeds a SQLite database with a fleet of 10,000 devices (some with open alerts,
some offline), starts the portal with uvicorn on a free loopback port in a
process of its own, then measures

* the map's first paint in headless Chromium (Playwright, Debian's chromium,
  the browser tests' flags): from navigation until every device is clustered
  and drawn (the page sets `#map[data-drawn]` and `window.fpMapDrawnAt`); the
  baseline is the login page's load in the same browser;
* throughput and p50/p99 latency of read endpoints under N concurrent clients:
  by default with wrk (`benchmarks/portal_wrk.py`: compiled, pinned to other cores
  than the server), each endpoint as a ratio to the baseline endpoint
  `GET /bench/static` (a constant JSON answer through the same app and
  middlewares), which is itself stated against a bare ASGI hello-world served
  the same way in the same run; `--load httpx` keeps the old in-Python clients
  (one connection each, GET /healthz the baseline). The device list is also
  measured with its current ETag in If-None-Match (answered 304), as the
  console's browser revalidates it on every refresh after the first.

Figures depend on the machine; compare them with the baseline of the same run.
Also runnable as `python -m benchmarks.portal [--json]` from the repository root.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import orjson
import typer
import uvicorn
from sqlmodel import select
from starlette.responses import Response

from asset_registry.catalog import load_models
from asset_registry.tables import Device
from benchmarks import checkout_env, portal_wrk
from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from foundations.processes import free_port
from ingest.telemetry_store import SqlTelemetryStore
from portal.app import create_app
from portal.auth.accounts import create_user, issue_api_token
from portal.context import PortalContext
from rules.tables import Alert
from simulators.fleet import generate_fleet

CHROMIUM = Path("/usr/bin/chromium")
# As in tests/portal/test_pages_in_browser.py: without these, Chromium keeps
# trying to reach Google's services, which a closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SEVERITIES = ("low", "medium", "high", "critical")
REVALIDATE = "/api/devices If-None-Match"  # the row of conditional requests (304)
PASSWORD = "bench-password-not-secret"


@dataclass(frozen=True)
class Seeded:
    db: Path
    devices: int
    open_alerts: int
    token: str
    device_id: str
    qr_tokens: dict[str, str] = dataclasses.field(default_factory=dict)  # device -> QR


def seed(folder: Path, devices: int, seed_value: int = 7) -> Seeded:
    """A fleet of exactly `devices` devices around Munich, 3 % with an open alert
    and 5 % offline, plus a dispatcher (password and API token)."""
    # About 2.5 devices per site; generate enough sites, then keep `devices` of them.
    fleet = generate_fleet(seed=seed_value, sites=max(1, devices * 2 // 5 + 50))
    kept = fleet.devices[:devices]
    sites = {d.site_id for d in kept}
    fleet = dataclasses.replace(
        fleet, devices=kept, sites=tuple(s for s in fleet.sites if s.id in sites),
        gateways=tuple(g for g in fleet.gateways if g.site_id in sites),
        customers=tuple(c for c in fleet.customers
                        if c.id in {s.customer_id for s in fleet.sites if s.id in sites}))
    db = folder / "bench.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    qr_tokens = import_fleet(engine, fleet)
    rng = random.Random(seed_value)
    now = int(time.time() * 1000)
    alerted = rng.sample([d.id for d in kept], len(kept) * 3 // 100)
    offline = set(rng.sample([d.id for d in kept], len(kept) * 5 // 100))
    with session_scope(engine) as session:
        for d in session.exec(select(Device)).all():
            d.online, d.last_seen = d.id not in offline, now - 60_000
        session.add_all(Alert(device_id=device_id, rule_id="bench", metric="tds_ppm",
                              severity=rng.choice(SEVERITIES), message="bench alert",
                              raised_at=now - rng.randint(0, 86_400_000), raised_value=1.0)
                        for device_id in alerted)
        user, _ = create_user(session, "bench-dispatcher", "dispatcher", password=PASSWORD)
        _, token = issue_api_token(session, user, "bench")
    engine.dispose()
    return Seeded(db, len(kept), len(alerted), token, kept[0].id, qr_tokens)


def serve(db: Path, port: int) -> None:
    """The portal over `db` (no broker, no background services), in this process, with
    the baseline endpoint added to the same app: the framework's own ceiling."""
    engine = make_engine(f"sqlite:///{db}")
    app = create_app(PortalContext(engine=engine, models=load_models(),
                                   telemetry=SqlTelemetryStore(engine)))
    static = Response(b'{"status":"ok"}', media_type="application/json")

    async def bench_static() -> Response:  # async: no threadpool hop, as cheap as it gets
        return static

    app.add_api_route(portal_wrk.BASELINE, bench_static, include_in_schema=False)
    # First in the routing table: Starlette tries routes in order, and a baseline
    # matched after every other route would measure that walk, not the framework.
    app.router.routes.insert(0, app.router.routes.pop())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_bare(port: int) -> None:
    """The bare ASGI hello-world, served by the same uvicorn as the portal."""
    uvicorn.run(portal_wrk.hello_asgi, host="127.0.0.1", port=port, log_level="warning",
                access_log=False, lifespan="on")


def _start_server(db: Path | None, log: Path) -> tuple[subprocess.Popen, str]:
    """The portal over `db` (None: the bare hello-world) in a process of its own,
    pinned to its own core where the machine has one to spare."""
    port = free_port()
    what = ["--serve", str(db)] if db is not None else ["--serve-bare"]
    server_cores, _ = portal_wrk.cores()
    with log.open("ab") as out:  # the server's errors, summarised after the run
        proc = subprocess.Popen([*server_cores, sys.executable, "-m", "benchmarks.portal",
                                 *what, "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, env=checkout_env())
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the portal exited with {proc.returncode} before serving")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the portal did not answer /healthz within 60 s")


def first_paint(base: str, devices: int, runs: int) -> dict[str, float]:
    """Median ms from navigation to all markers drawn, and to the devices' JSON."""
    # Playwright comes with the test extra; the rest of the bench runs without it.
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit("Debian's chromium is missing: apt-get install chromium")
    paints, fetches, logins = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(f"{base}/login?next=/dispatch")
        page.fill("input[name=username]", "bench-dispatcher")
        page.fill("input[name=password]", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(f"{base}/dispatch")
        for _ in range(runs):
            page.goto(f"{base}/login")  # the baseline: a page without the map
            logins.append(page.evaluate(
                "() => performance.getEntriesByType('navigation')[0].loadEventEnd"))
            page.goto(f"{base}/dispatch")
            page.wait_for_selector(f"#map[data-drawn='{devices}']", state="attached",
                                   timeout=300_000)
            paints.append(page.evaluate("() => window.fpMapDrawnAt"))
            fetches.append(page.evaluate(
                "() => performance.getEntriesByType('resource')"
                ".find((e) => e.name.endsWith('/api/devices')).responseEnd"))
        browser.close()
    return {"first_paint_ms": statistics.median(paints),
            "devices_json_ms": statistics.median(fetches),
            "login_page_load_ms": statistics.median(logins)}


async def _load(base: str, token: str, path: str, clients: int, per_client: int,
                revalidate: bool = False) -> dict[str, float]:
    """`revalidate`: send the current ETag in If-None-Match, as the console's browser
    does on every refresh after the first; a 304 is then the expected answer."""
    latencies: list[float] = []
    errors = 0
    sizes: list[int] = []
    headers = {"Authorization": f"Bearer {token}"}
    expected = 200
    if revalidate:
        async with httpx.AsyncClient(base_url=base, timeout=300, headers=headers) as http:
            headers["If-None-Match"] = (await http.get(path)).headers["etag"]
        expected = 304

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=300, headers=headers) as http:
            for _ in range(per_client):
                started = time.perf_counter()
                try:
                    response = await http.get(path)
                except httpx.HTTPError:  # counted: a dropped connection is a failure too
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                sizes.append(len(response.content))
                errors += response.status_code != expected

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - started
    latencies.sort()
    if not latencies:
        raise SystemExit(f"every request to {path} failed")
    return {"p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "requests": len(latencies), "errors": errors, "per_s": len(latencies) / wall,
            "bytes": statistics.median(sizes)}


def latency(base: str, seeded: Seeded, clients: int, per_client: int,
            heavy_per_client: int) -> dict[str, dict[str, float]]:
    paths = {"/healthz": per_client, "/api/alerts?state=open": per_client,
             "/api/work-orders": per_client, f"/api/devices/{seeded.device_id}": per_client,
             "/api/devices?q=AQ-500-21": heavy_per_client, "/api/devices": heavy_per_client}
    result = {path: asyncio.run(_load(base, seeded.token, path, clients, n))
              for path, n in paths.items()}
    # The console's refreshes after its first load: the list unchanged, answered 304.
    result[REVALIDATE] = asyncio.run(_load(base, seeded.token, "/api/devices", clients,
                                           per_client, revalidate=True))
    return result


def paths_of(seeded: Seeded) -> list[str]:
    """The read endpoints of issue 24, in the order they are reported."""
    return ["/healthz", "/api/work-orders", f"/api/devices/{seeded.device_id}",
            "/api/alerts?state=open", "/api/devices", "/api/devices?q=AQ-500-21"]


def latency_wrk(base: str, bare: str, seeded: Seeded, clients: int, duration_s: float,
                rounds: int) -> dict[str, dict[str, float]]:
    """Every endpoint under `clients` wrk connections for `duration_s`, after the bare
    ASGI hello-world and the baseline endpoint, all in this one run; `rounds` times
    over, interleaved, each figure the median of its rounds (a shared machine's load
    drifts over minutes: interleaving spreads it over every row alike)."""
    auth = {"Authorization": f"Bearer {seeded.token}", "Accept-Encoding": "gzip"}
    plain = {"Accept-Encoding": "gzip"}
    etag = httpx.get(f"{base}/api/devices", headers=auth).headers["etag"]
    targets = {portal_wrk.BARE: (f"{bare}/", plain),
               portal_wrk.BASELINE: (base + portal_wrk.BASELINE, plain),
               **{path: (base + path, auth if path != "/healthz" else plain)
                  for path in paths_of(seeded)},
               REVALIDATE: (f"{base}/api/devices", {**auth, "If-None-Match": etag})}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for url, headers in targets.values():  # warm every path (caches, connections) once
        portal_wrk.run_wrk(url, connections=clients, duration_s=1, headers=headers)
    for _ in range(rounds):
        for name, (url, headers) in targets.items():
            runs[name].append(portal_wrk.run_wrk(url, connections=clients,
                                                 duration_s=duration_s, headers=headers))
    return portal_wrk.with_ratios({name: portal_wrk.median_of(r) for name, r in runs.items()})


def _table(result: dict) -> str:
    fp = result["map"]
    lines = [f"portal bench: {result['devices']} devices ({result['open_alerts']} with an "
             f"open alert), {result['clients']} concurrent clients, loopback",
             "", "map first paint (headless Chromium, median of "
             f"{result['paint_runs']})             ms   x baseline"]
    if fp:
        base = fp["login_page_load_ms"]
        lines += [f"  baseline: login page load              {base:9.0f}   1.0",
                  f"  GET /api/devices answered               {fp['devices_json_ms']:9.0f}"
                  f"   {fp['devices_json_ms'] / base:.1f}",
                  f"  all {result['devices']} devices clustered and drawn "
                  f"{fp['first_paint_ms']:9.0f}   {fp['first_paint_ms'] / base:.1f}"]
    else:
        lines.append("  (skipped: --no-browser)")
    if result.get("load") == "wrk":
        lines += ["", f"wrk, {result['clients']} connections, {result['duration_s']:g} s per "
                  f"endpoint and round, median of {result['rounds']} interleaved rounds; "
                  f"{result['pinning']}; load average {result['loadavg'][0]:.1f} before, "
                  f"{result['loadavg_after'][0]:.1f} after"]
        return "\n".join(lines + portal_wrk.table(result["latency"]))
    lines += ["", f"{'endpoint':<34}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>8}{'x p50':>7}"
              f"{'reqs':>6}{'errs':>5}{'KiB':>8}"]
    base = result["latency"]["/healthz"]["p50_ms"]
    for path, r in result["latency"].items():
        label = f"{path} (baseline)" if path == "/healthz" else path
        lines.append(f"{label:<34}{r['p50_ms']:9.1f}{r['p99_ms']:9.1f}{r['per_s']:8.1f}"
                     f"{r['p50_ms'] / base:7.1f}{r['requests']:6d}{r['errors']:5d}"
                     f"{r['bytes'] / 1024:8.1f}")
    return "\n".join(lines)


def _summarise_errors(log: Path) -> None:
    """The server's exceptions by their last line, with counts (tracebacks stay out)."""
    counts: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        if line and not line[0].isspace() and ("Error" in line or "Exception:" in line) \
                and not line.startswith(("ERROR:", "Traceback")):
            counts[line[:200]] = counts.get(line[:200], 0) + 1
    for line, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"server error x{n}: {line}", file=sys.stderr)


def bench_portal(
    devices: Annotated[int, typer.Option(help="Devices in the seeded fleet.")] = 10_000,
    clients: Annotated[int, typer.Option(help="Concurrent API clients.")] = 100,
    requests: Annotated[int, typer.Option(
        help="Requests per client for the light endpoints.")] = 5,
    heavy_requests: Annotated[int, typer.Option(
        help="Requests per client for the device list.")] = 1,
    paint_runs: Annotated[int, typer.Option(help="First paints measured (median).")] = 3,
    no_browser: Annotated[bool, typer.Option("--no-browser",
                                             help="Skip the first paint.")] = False,
    load: Annotated[str, typer.Option(
        help="Load generator: wrk (compiled; `apt-get install -y wrk`) or httpx "
             "(the old in-Python clients; --requests, --heavy-requests).")] = "wrk",
    duration: Annotated[float, typer.Option(
        help="wrk: seconds of load per endpoint and round.")] = 5.0,
    rounds: Annotated[int, typer.Option(
        help="wrk: rounds over every endpoint, interleaved; figures are medians.")] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")
                           ] = False,
    serve_db: Annotated[Path | None, typer.Option("--serve", hidden=True)] = None,
    serve_bare_asgi: Annotated[bool, typer.Option("--serve-bare", hidden=True)] = False,
    port: Annotated[int, typer.Option(hidden=True)] = 0,
) -> None:
    """Dispatcher console: the map's first paint and API latency under load, vs baselines."""
    if serve_db:  # the portal's own process, started by the benchmark (`_start_server`)
        serve(serve_db, port)
        return
    if serve_bare_asgi:
        serve_bare(port)
        return
    if load not in ("wrk", "httpx"):
        raise typer.BadParameter("--load is wrk or httpx")
    if load == "wrk":
        portal_wrk.wrk_path()  # install-or-explain, before anything is seeded
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        print(f"seeding {devices} devices ...", file=sys.stderr)
        seeded = seed(Path(tmp), devices)
        log = Path(tmp) / "server.log"
        proc, base = _start_server(seeded.db, log)
        try:
            print("measuring the map's first paint ...", file=sys.stderr)
            paint = None if no_browser else first_paint(base, seeded.devices, paint_runs)
            print(f"  {paint}", file=sys.stderr)
            print(f"measuring latency with {clients} clients ({load}) ...", file=sys.stderr)
            result = {"devices": seeded.devices, "open_alerts": seeded.open_alerts,
                      "clients": clients, "paint_runs": paint_runs, "map": paint,
                      "load": load, "cpus": os.cpu_count(), "python": sys.version.split()[0],
                      "loadavg": os.getloadavg()}
            if load == "wrk":
                bare, bare_base = _start_server(None, log)
                try:
                    result["latency"] = latency_wrk(base, bare_base, seeded, clients,
                                                    duration, rounds)
                finally:
                    bare.terminate()
                    bare.wait(timeout=30)
                result |= {"duration_s": duration, "rounds": rounds,
                           "pinning": portal_wrk.pinning()}
            else:
                result["latency"] = latency(base, seeded, clients, requests, heavy_requests)
            result["loadavg_after"] = os.getloadavg()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            _summarise_errors(log)
    if json_output:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        print(_table(result))


if __name__ == "__main__":
    cli = typer.Typer(add_completion=False)
    cli.command()(bench_portal)
    cli(prog_name="python -m benchmarks.portal")

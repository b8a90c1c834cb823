"""The portal's read endpoints under load, measured with wrk (`fieldpulse bench portal`).

Why wrk and not the Python client the benchmark used before: a load generator
written in Python spends as much CPU per request as the server it measures, on
the same two cores, so it measured itself. wrk is compiled (Debian's `wrk`), and
runs pinned to other cores than the server where the machine has them (taskset).

Every figure is set against two ceilings measured in the same run:

* the bare ASGI hello-world (`hello_asgi`, served by the same uvicorn on the same
  core): what the server and the loop can do at all;
* the baseline endpoint `GET /bench/static` added to the portal's own app (a
  constant JSON answer, no database, no credential), so it passes through every
  middleware the real routes do: the framework's ceiling.

Each endpoint is then reported as its throughput's ratio to the baseline's and
its p99 as a multiple of the baseline's p99.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

BARE = "bare ASGI hello-world"
BASELINE = "/bench/static"
INSTALL_HINT = ("wrk is missing. It is Debian's compiled HTTP load generator: "
                "`sudo apt-get install -y wrk` (or `apt-get install -y wrk` as root). "
                "Without it: `--load httpx` runs the old in-Python clients, whose "
                "figures measure the client as much as the portal.")

# wrk's summary as one JSON line, from its Lua `done` hook (exact percentiles in µs).
_DONE_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    "FPJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"status_errors\":%d," ..
    "\"socket_errors\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d}\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
"""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Scope]]
Send = Callable[[Scope], Awaitable[None]]


async def hello_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """The bare ASGI hello-world: no framework, no middleware, a constant JSON body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


def wrk_path() -> str:
    """The wrk binary, or SystemExit saying how to get it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(INSTALL_HINT)
    return found


def cores() -> tuple[list[str], list[str]]:
    """taskset prefixes for the server and for wrk: the server alone on core 0, wrk on
    the others. With one core, or without taskset, nobody is pinned (and the result
    says so)."""
    n = os.cpu_count() or 1
    if n < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", "0"], ["taskset", "-c", f"1-{n - 1}"]


def pinning() -> str:
    server, client = cores()
    if not server:
        return "not pinned (one core, or no taskset)"
    return f"server on core {server[-1]}, wrk on cores {client[-1]}"


def run_wrk(url: str, *, connections: int, duration_s: float, headers: dict[str, str],
            threads: int | None = None) -> dict[str, float]:
    """One wrk run against `url`: req/s, p50/p90/p99 in ms, errors, bytes per answer."""
    _server, client = cores()
    threads = threads or max(1, min(connections, (os.cpu_count() or 2) - 1))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_DONE_LUA)
    try:
        command = [*client, wrk_path(), f"-t{threads}", f"-c{connections}",
                   f"-d{max(1, round(duration_s))}s", "--timeout", "10s", "-s", script.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        run = subprocess.run([*command, url], capture_output=True, text=True, check=False,
                             timeout=duration_s + 60)
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("FPJSON ")), None)
    if run.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed on {url}: {run.stderr.strip() or run.stdout.strip()}")
    raw = json.loads(line.removeprefix("FPJSON "))
    requests = max(1, raw["requests"])
    return {"per_s": raw["requests"] / (raw["duration_us"] / 1e6),
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000, "requests": raw["requests"],
            # wrk counts 4xx/5xx as status errors; 304 is a success (the ETag row).
            "errors": raw["status_errors"] + raw["socket_errors"],
            "bytes": raw["bytes"] / requests}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds; requests and errors summed."""
    out = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    out["requests"] = sum(r["requests"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    return out


def with_ratios(result: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each row's throughput as a share of the baseline's, its p99 as a multiple."""
    base = result[BASELINE]
    for figures in result.values():
        figures["x_baseline_per_s"] = figures["per_s"] / base["per_s"]
        figures["x_baseline_p99"] = figures["p99_ms"] / max(base["p99_ms"], 1e-3)
    return result


def table(result: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"{'endpoint (wrk)':<40}{'req/s':>9}{'x base':>8}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'p99 x':>7}{'errs':>6}{'KiB':>8}"]
    for path, r in result.items():
        label = f"{path} (baseline)" if path == BASELINE else path
        lines.append(f"{label:<40}{r['per_s']:9.0f}{r['x_baseline_per_s']:8.2f}"
                     f"{r['p50_ms']:9.1f}{r['p99_ms']:9.1f}{r['x_baseline_p99']:7.1f}"
                     f"{int(r['errors']):6d}{r['bytes'] / 1024:8.1f}")
    return lines

"""The OSRM table adapter against a small local HTTP server speaking its format."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
from plan_checker import check_plan

from dispatch.osrm import OsrmError, OsrmTable
from dispatch.problem import Engineer, Job, Location, Problem
from dispatch.solver import solve

SEEN: list[str] = []


class _Table(BaseHTTPRequestHandler):
    """Durations = 100 s per index step, plus .4 s (to see the rounding up)."""

    def do_GET(self) -> None:
        SEEN.append(self.path)
        coords = self.path.split("/")[4].split("?")[0].split(";")
        if len(coords) > 5:
            body = {"code": "TooBig", "message": "Too many table coordinates"}
        else:
            n = len(coords)
            body = {"code": "Ok", "durations": [
                [0.0 if i == j else 100.0 * abs(i - j) + 0.4 for j in range(n)]
                for i in range(n)
            ]}
        data = json.dumps(body).encode()
        self.send_response(200 if body["code"] == "Ok" else 400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def osrm() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Table)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


POINTS = [Location(48.1, 11.5), Location(48.2, 11.6), Location(48.3, 11.7)]


def test_matrix_is_read_rounded_up_with_lon_lat_order(osrm: str) -> None:
    matrix = OsrmTable(osrm).matrix(POINTS)
    assert matrix.tolist() == [[0, 101, 201], [101, 0, 101], [201, 101, 0]]
    assert matrix.dtype == np.int64
    assert "/table/v1/driving/11.500000,48.100000;11.600000,48.200000;" in SEEN[-1]


def test_service_errors_are_raised_with_the_servers_message(osrm: str) -> None:
    with pytest.raises(OsrmError, match="TooBig: Too many table coordinates"):
        OsrmTable(osrm).matrix(POINTS * 2)


def test_unreachable_service_is_a_clear_error() -> None:
    with pytest.raises(OsrmError, match="request failed"):
        OsrmTable("http://127.0.0.1:9", timeout_s=2).matrix(POINTS)


def test_solver_plans_with_osrm_times(osrm: str) -> None:
    home = POINTS[0]
    tech = Engineer("t", frozenset({"a"}), home, home, 0, 3600)
    problem = Problem((tech,), (Job("j", POINTS[1], "a", 600, 3),), 7200)
    plan = solve(problem, travel=OsrmTable(osrm))
    (stop,) = plan.routes[0].stops
    # Rows: job, engineer start, engineer end -> job is index 0, start index 1.
    assert stop.arrival == 101
    assert plan.unassigned == ()
    # The great-circle checker would disagree on the times, so only structure here.
    assert [e for e in check_plan(problem, plan) if "cannot be there" not in e] == []

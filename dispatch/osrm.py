"""Travel times from an OSRM-compatible ``/table`` service (real road network).

``OsrmTable("http://localhost:5000")`` plugs into ``solve(..., travel=...)``
like the default great-circle estimate. One request per matrix: OSRM's
default ``max-table-size`` is 100 locations, so big days need a server
started with a larger ``--max-table-size`` (a limit the server reports as an
error, which is raised here, not guessed around).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.problem import Location


class OsrmError(RuntimeError):
    """The table service refused or failed the request."""


@dataclass(frozen=True, slots=True)
class OsrmTable:
    base_url: str  # e.g. "http://localhost:5000"
    profile: str = "driving"
    timeout_s: float = 30.0

    def matrix(self, locations: Sequence[Location]) -> np.ndarray:
        if len(locations) < 2:
            return np.zeros((len(locations), len(locations)), dtype=np.int64)
        # OSRM wants lon,lat pairs; 6 decimals is ~10 cm.
        coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in locations)
        url = f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}?annotations=duration"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # OSRM explains a 400 in its JSON body
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise OsrmError(f"OSRM table request failed: {exc}") from exc
        except (OSError, ValueError) as exc:  # unreachable, timed out, not JSON
            raise OsrmError(f"OSRM table request failed: {exc}") from exc
        if body.get("code") != "Ok":
            raise OsrmError(f"OSRM table: {body.get('code')}: {body.get('message', '')}")
        durations = body["durations"]
        n = len(locations)
        out = np.zeros((n, n), dtype=np.int64)
        for i, row in enumerate(durations):
            for j, seconds in enumerate(row):
                if seconds is None:  # no route (e.g. an island): never usable
                    raise OsrmError(f"OSRM table: no route from location {i} to {j}")
                # Rounded up, as the great-circle estimate is: never promise early.
                out[i, j] = 0 if i == j else math.ceil(seconds)
        return out

"""A device's data gaps: what its gateway reported dropping (recorded by ingest from the
gateway's status) is served per device, newest first, and only for that gateway's devices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal

from ingest.gaps import record_gaps
from simulators.fleet import generate_fleet

T = 1_780_000_000_000


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("gaps"), generate_fleet(seed=7, sites=6))


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app) as client:
        client.headers.update(portal.accounts["dispatcher"].headers)
        yield client


def test_a_devices_gateway_gaps_are_served_newest_first(portal: Portal,
                                                         client: TestClient) -> None:
    device = portal.fleet.devices[0]
    other = next(d for d in portal.fleet.devices if d.gateway_id != device.gateway_id)
    assert client.get(f"/api/devices/{device.id}/gaps").json() == []
    with portal.engine.begin() as conn:  # as ingest records them from three statuses
        for ts, counts in [(T, {"evicted": 0}), (T + 300_000, {"evicted": 340}),
                           (T + 600_000, {"evicted": 400, "lost": 5})]:
            record_gaps(conn, device.gateway_id, {"ts": ts, **counts}, ts)
    gaps = client.get(f"/api/devices/{device.id}/gaps").json()
    gw = device.gateway_id
    assert gaps == [
        {"gateway_id": gw, "kind": "lost", "readings": 5, "since_ts": None,
         "until_ts": T + 600_000},
        {"gateway_id": gw, "kind": "evicted", "readings": 60, "since_ts": T + 300_000,
         "until_ts": T + 600_000},
        {"gateway_id": gw, "kind": "evicted", "readings": 340, "since_ts": None,
         "until_ts": T + 300_000},
    ]
    assert client.get(f"/api/devices/{other.id}/gaps").json() == []
    assert client.get("/api/devices/no-such-device/gaps").status_code == 404

"""The in-process portal most API tests of this folder use: a small demo fleet (four
sites) on a fresh database, and a test client that does not follow redirects. A test
file that needs another fleet or limiter defines its own `portal` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal

from simulators.fleet import generate_fleet


@pytest.fixture
def portal(tmp_path: Path) -> Portal:
    return build_portal(tmp_path, generate_fleet(seed=7, sites=4))


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, follow_redirects=False) as client:
        yield client

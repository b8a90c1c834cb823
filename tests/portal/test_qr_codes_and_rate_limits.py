"""Customer QR codes: rotated (old code dead, new files written), re-printed, and the
public pages rate-limited per client address."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal

from portal.auth.dependencies import CSRF_COOKIE
from portal.auth.ratelimit import RateLimiter
from simulators.fleet import generate_fleet


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def portal(tmp_path: Path, clock: FakeClock) -> Portal:
    return build_portal(tmp_path, generate_fleet(seed=7, sites=4),
                        public_limiter=RateLimiter(per_second=0.5, burst=3, clock=clock))


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, follow_redirects=False) as client:
        yield client


def _svg(url: str, path: Path) -> bytes:
    segno.make(url, error="m").save(path, scale=4, border=2)
    return path.read_bytes()


def test_rotating_a_qr_code_revokes_the_old_one_and_writes_the_new_one(
        portal: Portal, client: TestClient, tmp_path: Path) -> None:
    portal.app.state.ctx.public_limiter = RateLimiter(per_second=100.0, burst=100)
    device = portal.device("B")
    old = portal.tokens[device.id]
    admin = portal.accounts["admin"].headers
    assert client.get(f"/q/{old}").status_code == 200

    issued = client.post(f"/api/devices/{device.id}/qr-token", headers=admin).json()
    new = issued["url"].rsplit("/q/", 1)[1]
    assert new != old and len(new) >= 22  # 128 random bits, URL-safe
    assert issued["files"] == [str(portal.qr_dir / f"{device.id}.svg"),
                               str(portal.qr_dir / f"{device.id}.png")]
    assert Path(issued["files"][0]).read_bytes() == _svg(issued["url"], tmp_path / "want.svg")
    assert Path(issued["files"][1]).stat().st_size > 0

    gone = client.get(f"/q/{old}")
    assert gone.status_code == 404 and device.serial not in gone.text
    client.cookies.set(CSRF_COOKIE, "c" * 22)
    refused = client.post(f"/q/{old}/report", data={"category": "Leak", "csrf_token": "c" * 22})
    assert refused.status_code == 404
    page = client.get(f"/q/{new}")
    assert page.status_code == 200 and device.serial in page.text

    # Re-printing the current label does not revoke it.
    svg = client.get(f"/api/devices/{device.id}/qr.svg", headers=admin)
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content == _svg(issued["url"], tmp_path / "again.svg")
    assert client.get(f"/q/{new}").status_code == 200

    log = client.get("/api/audit", params={"action": "qr_token.rotate"}, headers=admin).json()
    assert [(e["actor"], e["target"]) for e in log] == [("user:admin-test",
                                                         f"device:{device.id}")]


def test_public_pages_answer_429_with_retry_after_per_client(
        portal: Portal, clock: FakeClock) -> None:
    token = portal.tokens[portal.device("A").id]
    with TestClient(portal.app, client=("192.0.2.1", 5000)) as first, \
            TestClient(portal.app, client=("192.0.2.2", 5000)) as second:
        # Guessing costs as much as a real visit: a wrong code spends the bucket too.
        assert [first.get(f"/q/{t}").status_code for t in (token, "wrong", token)] == [
            200, 404, 200]
        limited = first.get(f"/q/{token}")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) == 2  # one token back at 0.5/s
        assert "try again" in limited.json()["detail"]
        assert second.get(f"/q/{token}").status_code == 200  # another address, own bucket
        # Staff pages are not the public bucket's business.
        assert first.get("/api/me", headers=portal.accounts["admin"].headers).status_code == 200
        clock.now += 2.0
        assert first.get(f"/q/{token}").status_code == 200
        assert first.get(f"/q/{token}").status_code == 429


def test_login_attempts_are_rate_limited(portal: Portal, clock: FakeClock) -> None:
    portal.app.state.ctx.login_limiter = RateLimiter(per_second=0.1, burst=2, clock=clock)
    with TestClient(portal.app, follow_redirects=False) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"username": "admin-test", "password": "guess", "csrf_token": csrf.group(1)}
        assert [client.post("/login", data=form).status_code for _ in range(3)] == [
            401, 401, 429]


def test_token_bucket_refills_at_its_rate_and_forgets_old_clients() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=2.0, burst=2, clock=clock, max_clients=2)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.5]
    clock.now += 0.25
    assert limiter.take("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.take("a") == 0.0
    limiter.take("b")
    limiter.take("c")  # "a" is the least recently seen: forgotten, so starts full again
    assert limiter.take("a") == 0.0 and limiter.take("a") == 0.0

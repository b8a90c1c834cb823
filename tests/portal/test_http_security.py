"""The portal's HTTP defences, each against the attack that found it missing: request
bodies limited and left unread until the caller is known, rate limits that a forged
X-Forwarded-For does not reset, security headers, uploads judged by their bytes and
checked before they are written (readable by the owner only), the authenticated
user as the actor, the live stream ending with the caller's access, and webhooks'
targets, credentials and secrets."""

from __future__ import annotations

import base64
import gzip
import re
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from portal_app import MODELS, PNG, Portal, build_portal
from sqlmodel import Session, select
from test_access_matrix import _walk

from foundations.database import make_engine
from foundations.processes import free_port
from foundations.workers import Supervisor
from integrations.webhooks.targets import TargetPolicy
from portal.app import create_app
from portal.auth.dependencies import CSRF_COOKIE, GuardedRoute
from portal.auth.ratelimit import RateLimiter
from portal.auth.tables import ApiToken, AuditEvent, PortalUser
from portal.context import PortalContext
from portal.server import HttpServer
from rules.tables import Alert
from service.tables import Case
from simulators.fleet import generate_fleet
from support import make_account, wait_until

sys.path.insert(0, str(Path(__file__).parents[1] / "integrations"))
from webhook_receiver import RECEIVERS_ALLOWED, Receiver

FLEET = generate_fleet(seed=7, sites=4)
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture
def portal(tmp_path: Path) -> Portal:
    return build_portal(tmp_path, FLEET)


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, follow_redirects=False) as client:
        yield client


@contextmanager
def served(app: FastAPI, trusted_proxies: tuple[str, ...] = ()) -> Iterator[int]:
    """The app behind uvicorn, as `fieldpulse run` serves it (portal/server.py)."""
    port = free_port()
    server = (HttpServer(app, "127.0.0.1", port, trusted_proxies=trusted_proxies)
              if trusted_proxies else HttpServer(app, "127.0.0.1", port))
    supervisor = Supervisor([server]).start()

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
        return True

    wait_until(listening, timeout_s=10, what="the portal to listen")
    try:
        yield port
    finally:
        supervisor.stop()


def _answer_to_head(port: int, head: str, wait_s: float = 5.0) -> int:
    """Send a request's head and none of the body it announces: the status of the
    answer, which can only come before the body if nothing waits for the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        try:
            first = sock.recv(200)
        except TimeoutError:
            return 0  # the server is still waiting for the body
    match = re.match(rb"HTTP/1\.1 (\d{3})", first)
    assert match, first
    return int(match.group(1))


def _head(method: str, path: str, length: int, *extra: str,
          content_type: str = "application/json") -> str:
    return "\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
                      f"Content-Type: {content_type}", f"Content-Length: {length}",
                      *extra, ""])


def _answer_to_chunks(port: int, head: str, chunks: int, size: int = 64 * 1024) -> int:
    """Send a chunked body (no length announced) of `chunks` chunks; the answer's status."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
            for _ in range(chunks):
                sock.sendall(f"{size:x}\r\n".encode() + b" " * size + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the rest was sent
        first = sock.recv(200)
    match = re.match(rb"HTTP/1\.1 (\d{3})", first)
    assert match, first
    return int(match.group(1))


def _csrf(client: TestClient) -> str:
    """A double-submit CSRF token (cookie set on the client) for the public forms."""
    page = client.get("/login").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _session(portal: Portal) -> tuple[str, str, TestClient]:
    """A dispatcher's browser session: its cookie, its CSRF token, the browser."""
    account = portal.new_login()
    browser = TestClient(portal.app, follow_redirects=False)
    csrf = _csrf(browser)
    assert browser.post("/login", data={"username": account.username,
                                        "password": account.password,
                                        "csrf_token": csrf}).status_code == 303
    found = re.search(r'name="csrf-token" content="([^"]+)"', browser.get("/dispatch").text)
    cookie = browser.cookies.get("fp_session")
    assert found and cookie
    return cookie, found.group(1), browser


# -- 6: bodies limited, and left unread until the caller is known ------------------------

def test_a_body_larger_than_its_route_takes_is_refused_before_it_arrives(
        portal: Portal) -> None:
    """An anonymous 150 MB JSON once grew the server by 400 MB before its 401."""
    with served(portal.app) as port:
        assert _answer_to_head(port, _head("POST", "/api/cases", 150_000_000)) == 413
        upload = portal.accounts["engineer_own"].headers["Authorization"]
        order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
        photos = f"/api/work-orders/{order_id}/photos"
        assert _answer_to_head(port, _head(
            "POST", photos, 9 * 1024 * 1024, f"Authorization: {upload}",
            content_type="multipart/form-data; boundary=x")) == 413
        # Chunked, without a length: counted as it arrives, refused past the limit.
        admin = portal.accounts["admin"].headers["Authorization"]
        chunked = "\n".join(["POST /api/cases HTTP/1.1", "Host: 127.0.0.1",
                             "Content-Type: application/json", "Transfer-Encoding: chunked",
                             f"Authorization: {admin}", ""])
        assert _answer_to_chunks(port, chunked, chunks=18) == 413  # 1.1 MiB


def test_routes_that_take_images_have_room_for_them_and_no_more(
        portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    engineer = portal.accounts["engineer_own"].headers
    photo = PNG + b"\0" * (7 * 1024 * 1024)  # 7 MB: under the image limit of 8 MB
    taken = client.post(f"/api/work-orders/{order_id}/photos", headers=engineer,
                        files={"photo": ("big.png", photo, "image/png")})
    assert taken.status_code == 200, taken.text
    # The same 7 MB as JSON to a route that takes small bodies: refused.
    assert client.post("/api/cases", headers=portal.accounts["admin"].headers,
                       content=b"[" + b" " * (2 * 1024 * 1024) + b"]").status_code == 413


def test_bodies_wait_until_the_caller_is_known_rate_limited_and_csrf_checked(
        portal: Portal) -> None:
    """Each refusal comes while the announced body is still unsent: nothing of it was
    read, parsed or spooled (a 200 MB form to a wrong QR code was written to disk first)."""
    portal.app.state.ctx.login_limiter = RateLimiter(per_second=0.001, burst=1)
    token = portal.tokens[portal.device("A").id]
    form = "multipart/form-data; boundary=x"
    with served(portal.app) as port:
        # No credentials: 401, a bad API token: 401, the wrong role: 403.
        assert _answer_to_head(port, _head("POST", "/api/cases", 500_000)) == 401
        assert _answer_to_head(port, _head("POST", "/api/cases", 500_000,
                                           "Authorization: Bearer fpt_wrong")) == 401
        engineer = portal.accounts["engineer_own"].headers["Authorization"]
        assert _answer_to_head(port, _head("POST", "/api/cases", 500_000,
                                           f"Authorization: {engineer}")) == 403
        # A session: without its CSRF token (403), with it (the body is awaited).
        cookie, csrf, _browser = _session(portal)
        assert _answer_to_head(port, _head("POST", "/api/cases", 500_000,
                                           f"Cookie: fp_session={cookie}")) == 403
        assert _answer_to_head(port, _head("POST", "/api/cases", 500_000,
                                           f"Cookie: fp_session={cookie}",
                                           f"X-CSRF-Token: {csrf}"), wait_s=1.0) == 0
        # The customer's fault form: no CSRF cookie (403), a wrong code (404).
        assert _answer_to_head(port, _head("POST", f"/q/{token}/report", 20_000_000,
                                           content_type=form)) == 403
        assert _answer_to_head(port, _head("POST", "/q/not-a-code/report", 20_000_000,
                                           f"Cookie: {CSRF_COOKIE}=abc",
                                           content_type=form)) == 404
        # Logins past the rate limit.
        login = _head("POST", "/login", 100_000,
                      content_type="application/x-www-form-urlencoded")
        assert [_answer_to_head(port, login) for _ in range(2)] == [403, 429]


# -- 7: rate limits that forged addresses do not reset; per account on login ------------

def _login_statuses(port: int, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        return [http.post("/login", data={"username": "x", "password": "y"},
                          headers={"X-Forwarded-For": ip}).status_code
                for ip in forwarded_for]


def test_a_forged_forwarded_for_does_not_reset_the_login_limit(portal: Portal) -> None:
    portal.app.state.ctx.login_limiter = RateLimiter(per_second=0.001, burst=3)
    with served(portal.app) as port:  # no trusted proxy: the header counts for nothing
        statuses = _login_statuses(port, [f"203.0.113.{i}" for i in range(6)])
    assert statuses[:3] == [403] * 3  # (no CSRF cookie: refused, but counted)
    assert statuses[3:] == [429] * 3


def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(portal: Portal) -> None:
    portal.app.state.ctx.login_limiter = RateLimiter(per_second=0.001, burst=2)
    with served(portal.app, trusted_proxies=("127.0.0.1",)) as port:
        first = _login_statuses(port, ["203.0.113.7"] * 3)
        second = _login_statuses(port, ["198.51.100.9"] * 3)
    assert first == second == [403, 403, 429]


def test_failed_logins_are_limited_per_account_from_any_address(
        tmp_path: Path) -> None:
    portal = build_portal(tmp_path, FLEET)
    portal.app.state.ctx.login_account_limiter = RateLimiter(per_second=0.001, burst=3)
    target, other = portal.new_login(), portal.new_login()
    with TestClient(portal.app, follow_redirects=False) as client:
        csrf = _csrf(client)

        def log_in(username: str, password: str) -> int:
            return client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": csrf}).status_code

        assert [log_in(target.username, "guess") for _ in range(3)] == [401] * 3
        # Throttled: not even the right password is tried now.
        assert log_in(target.username, target.password) == 429
        assert log_in(other.username, "guess") == 401
        assert log_in(other.username, other.password) == 303


# -- 9: security headers -----------------------------------------------------------------

def test_every_answer_carries_the_security_headers(portal: Portal, client: TestClient) -> None:
    admin = portal.accounts["admin"]
    token = portal.tokens[portal.device("A").id]
    pages = {
        "/admin/users": client.get("/admin/users", headers=admin.headers),
        "/api/me": client.get("/api/me", headers=admin.headers),
        "/login": client.get("/login"),
        "/q/…": client.get(f"/q/{token}"),
        "404": client.get("/no/such/page", headers={"Accept": "text/html"}),
        "413": client.post("/api/cases", content=b" " * (2 * 1024 * 1024)),
    }
    for name, response in pages.items():
        h = response.headers
        csp = h.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp, name
        assert "'unsafe-inline'" not in csp, name
        assert h.get("x-frame-options") == "DENY", name
        assert h.get("x-content-type-options") == "nosniff", name
        assert h.get("referrer-policy") == "no-referrer", name
        assert h.get("cache-control") == "no-store", name
    static = client.get("/static/app.css")
    assert static.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in static.headers.get("cache-control", "")


def test_static_scripts_and_styles_go_out_gzipped_to_clients_that_take_it() -> None:
    app = create_app(PortalContext(engine=make_engine("sqlite://"), models=MODELS))
    with TestClient(app) as client:
        plain = client.get("/static/vendor/leaflet/leaflet.js",
                           headers={"Accept-Encoding": "identity"})
        with client.stream("GET", "/static/vendor/leaflet/leaflet.js",
                           headers={"Accept-Encoding": "gzip"}) as packed:
            sent = b"".join(packed.iter_raw())  # the bytes on the wire
            headers = packed.headers
    assert "content-encoding" not in plain.headers
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(sent) == plain.content
    assert len(sent) < len(plain.content) // 2
    assert headers["x-content-type-options"] == "nosniff"


def test_the_map_may_load_tiles_from_its_tile_server_and_no_other() -> None:
    app = create_app(PortalContext(engine=make_engine("sqlite://"), models=MODELS,
                                   tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png"))
    with TestClient(app) as client:
        csp = client.get("/login").headers["content-security-policy"]
    images = re.search(r"img-src ([^;]+);", csp)
    assert images and images.group(1).split() == [
        "'self'", "data:", "blob:", "https://*.tiles.example.org"]
    assert csp.count("example.org") == 1  # scripts, styles, connections: this site only


# -- 10: an upload is what its bytes are -------------------------------------------------

def test_html_sent_as_an_image_is_refused(portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    refused = client.post(f"/api/work-orders/{order_id}/photos",
                          headers=portal.accounts["engineer_own"].headers,
                          files={"photo": ("x.png", HTML, "image/png")})
    assert refused.status_code == 415 and "JPEG, PNG or WebP" in refused.json()["detail"]
    assert not (portal.uploads_dir / "work-orders" / str(order_id)).exists() or not any(
        (portal.uploads_dir / "work-orders" / str(order_id)).iterdir())
    # A PNG declared as JPEG is stored as the PNG it is, and served as one.
    stored = client.post(f"/api/work-orders/{order_id}/photos",
                         headers=portal.accounts["engineer_own"].headers,
                         files={"photo": ("x.jpg", PNG, "image/jpeg")}).json()
    assert stored["photos"][0].endswith(".png")
    served_back = client.get(f"/api/work-orders/{order_id}/files/{stored['photos'][0]}",
                             headers=portal.accounts["engineer_own"].headers)
    assert served_back.headers["content-type"] == "image/png"
    # The customer's form too: no case is opened for a report with such a "photo".
    token = portal.tokens[portal.device("A").id]
    csrf = _csrf(client)
    with Session(portal.engine) as s:
        cases = len(s.exec(select(Case)).all())
    report = client.post(f"/q/{token}/report", data={"category": "Leak", "csrf_token": csrf},
                         files={"photos": ("p.png", HTML, "image/png")})
    assert report.status_code == 415
    with Session(portal.engine) as s:
        assert len(s.exec(select(Case)).all()) == cases


# -- 4, 5: every check before any write --------------------------------------------------

def _signed_off_job(portal: Portal, client: TestClient) -> tuple[int, Path, bytes]:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    signature = PNG + b"the customer's own"
    signed = client.post(f"/api/work-orders/{order_id}/sign-off",
                         headers=portal.accounts["engineer_own"].headers,
                         json={"signed_by": "Ms Customer", "client_id": "c" * 32,
                               "signature_png": base64.b64encode(signature).decode()})
    assert signed.status_code == 200, signed.text
    return order_id, portal.uploads_dir / "work-orders" / str(order_id), signature


def test_a_signed_off_jobs_signature_cannot_be_overwritten(
        portal: Portal, client: TestClient) -> None:
    order_id, folder, signature = _signed_off_job(portal, client)
    forged = client.post(f"/api/work-orders/{order_id}/photos",
                         headers=portal.accounts["engineer_own"].headers,
                         data={"client_id": "signature-" + "c" * 32},
                         files={"photo": ("s.png", PNG + b"forged", "image/png")})
    assert forged.status_code == 409
    assert (folder / f"signature-{'c' * 32}.png").read_bytes() == signature


def test_refused_photos_leave_nothing_on_disk(portal: Portal, client: TestClient) -> None:
    engineer = portal.accounts["engineer_own"].headers
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    folder = portal.uploads_dir / "work-orders" / str(order_id)
    statuses = [client.post(f"/api/work-orders/{order_id}/photos", headers=engineer,
                            files={"photo": (f"{i}.png", PNG, "image/png")}).status_code
                for i in range(24)]
    assert statuses == [200] * 20 + [409] * 4
    assert len(list(folder.iterdir())) == 20
    # A signed-off report takes no photo, and no file is left behind by the refusals.
    order_id, folder, _ = _signed_off_job(portal, client)
    before = sorted(folder.iterdir())
    for i in range(5):
        refused = client.post(f"/api/work-orders/{order_id}/photos", headers=engineer,
                              files={"photo": (f"{i}.png", PNG + b"\0" * 100_000,
                                               "image/png")})
        assert refused.status_code == 409 and "signed off" in refused.json()["detail"]
    late = client.post(f"/api/work-orders/{order_id}/sign-off", headers=engineer,
                       json={"signed_by": "Someone else", "client_id": "d" * 32,
                             "signature_png": base64.b64encode(PNG).decode()})
    assert late.status_code == 409
    assert sorted(folder.iterdir()) == before


# -- 11: uploaded and QR files are the owner's alone -------------------------------------

def test_uploads_and_qr_codes_are_readable_by_their_owner_only(
        portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    assert client.post(f"/api/work-orders/{order_id}/photos",
                       headers=portal.accounts["engineer_own"].headers,
                       files={"photo": ("p.png", PNG, "image/png")}).status_code == 200
    token = portal.tokens[portal.device("A").id]
    csrf = _csrf(client)
    assert client.post(f"/q/{token}/report", data={"category": "Leak", "csrf_token": csrf},
                       files={"photos": ("p.png", PNG, "image/png")}).status_code == 303
    assert client.post(f"/api/devices/{portal.device('C').id}/qr-token",
                       headers=portal.accounts["admin"].headers).status_code == 200

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    folders = [portal.uploads_dir, portal.qr_dir, *portal.uploads_dir.rglob("*")]
    files = [p for p in [*folders, *portal.qr_dir.iterdir()] if p.is_file()]
    assert len(files) >= 4  # a job photo, a customer's photo, the QR code's SVG and PNG
    assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
    dirs = [p for p in folders if p.is_dir()]
    assert {str(p): mode(p) for p in dirs} == {str(p): 0o700 for p in dirs}


# -- 12: the actor is the authenticated user ---------------------------------------------

def test_an_alert_action_records_who_is_authenticated_not_whom_the_body_names(
        portal: Portal, client: TestClient) -> None:
    alert_id = portal.new_alert(portal.device("B").id)
    dispatcher = portal.accounts["dispatcher"]
    acked = client.post(f"/api/alerts/{alert_id}/acknowledge", headers=dispatcher.headers,
                        json={"by": "admin", "note": "seen"})
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == dispatcher.username
    closed = client.post(f"/api/alerts/{alert_id}/close", headers=dispatcher.headers,
                         json={"by": "admin"}).json()
    assert closed["closed_by"] == dispatcher.username
    with Session(portal.engine) as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_by == dispatcher.username


# -- 14: the live stream ends with the caller's access -----------------------------------

def _stream_lasts(port: int, headers: dict[str, str], end_access: Callable[[], object]
                  ) -> float:
    """Seconds the live stream goes on after `end_access()` (it would run 20 s)."""
    with httpx.Client(timeout=30) as http, http.stream(
            "GET", f"http://127.0.0.1:{port}/api/events?max_s=20", headers=headers) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        end_access()
        ended = time.monotonic()
        for _ in lines:
            pass
        return time.monotonic() - ended


def test_the_live_stream_ends_when_the_token_is_revoked_or_the_user_disabled(
        portal: Portal, client: TestClient) -> None:
    admin = portal.accounts["admin"].headers
    caller = make_account(portal.engine, "dispatcher", username="live-watcher")
    with Session(portal.engine) as s:
        user = s.exec(select(PortalUser).where(PortalUser.username == caller.username)).one()
        token_id = s.exec(select(ApiToken.id).where(ApiToken.user_id == user.id)).one()
    with served(portal.app) as port:
        took = _stream_lasts(port, caller.headers, lambda: client.delete(
            f"/api/tokens/{token_id}", headers=admin).raise_for_status())
        assert took < 8, f"the stream ran on {took:.1f} s after the token was revoked"
        other = make_account(portal.engine, "dispatcher", username="live-watcher-2")
        took = _stream_lasts(port, other.headers, lambda: client.post(
            f"/api/users/{other.username}/disable", headers=admin).raise_for_status())
        assert took < 8, f"the stream ran on {took:.1f} s after the user was disabled"


# -- 8, 15: webhooks' targets, credentials and secrets -----------------------------------

SSRF_TARGETS = ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
                "http://127.0.0.1:5432/", "http://localhost/hook", "http://10.0.0.1/",
                "http://0.0.0.0/", "http://2130706433/", "http://[::ffff:127.0.0.1]/",
                "http://192.168.1.1/", "http://224.0.0.1/"]


def test_webhooks_to_internal_addresses_are_refused_unless_allowed(tmp_path: Path) -> None:
    portal = build_portal(tmp_path, FLEET)
    portal.app.state.ctx.webhook_targets = TargetPolicy()  # the default: no allow-list
    admin = portal.accounts["admin"].headers
    with TestClient(portal.app, headers=admin) as client:
        for url in SSRF_TARGETS:
            refused = client.post("/api/webhooks", json={"url": url})
            assert refused.status_code == 422, url
            assert "not allowed as a webhook target" in refused.json()["detail"], url
        assert client.get("/api/webhooks").json() == []
        # Changing an allowed subscription to such a target is refused the same way.
        sub = client.post("/api/webhooks", json={"url": "https://93.184.215.14/hook"}).json()
        moved = client.patch(f"/api/webhooks/{sub['id']}", json={"url": SSRF_TARGETS[0]})
        assert moved.status_code == 422
        # What an admin allows explicitly is allowed.
        portal.app.state.ctx.webhook_targets = TargetPolicy(("10.0.0.0/8",))
        assert client.post("/api/webhooks", json={"url": "http://10.0.0.1/"}).status_code == 201


def test_webhook_credentials_are_masked_and_the_secret_can_be_rotated(
        portal: Portal) -> None:
    admin = portal.accounts["admin"].headers
    receiver = Receiver(free_port()).start()
    url = receiver.url.replace("http://", "http://crm-user:s3cr3t-pass@")
    try:
        with TestClient(portal.app, headers=admin) as client:
            created = client.post("/api/webhooks", json={"url": url}).json()
            assert created["url"] == url.replace("s3cr3t-pass", "***")
            sub_id = created["id"]
            assert [s["url"] for s in client.get("/api/webhooks").json()] == [created["url"]]
            assert client.patch(f"/api/webhooks/{sub_id}",
                                json={"url": url, "description": "CRM"}).status_code == 200
            refused = client.patch(f"/api/webhooks/{sub_id}", json={"secret": "mine"})
            assert refused.status_code == 422  # not ignored: refused
            rotated = client.post(f"/api/webhooks/{sub_id}/secret")
            assert rotated.status_code == 200
            secret = rotated.json()["secret"]
            assert secret.startswith("whsec_") and secret != created["secret"]
            assert "secret" not in client.get(f"/api/webhooks/{sub_id}").json()
            log = client.get("/api/audit", params={"target": f"webhook:{sub_id}"}).json()
            assert {e["action"] for e in log} == {"webhook.create", "webhook.change",
                                                  "webhook.rotate_secret"}
            assert "s3cr3t-pass" not in str(log) and secret not in str(log)
            # Deliveries are signed with the new secret.
            receiver.secret = secret
            client.post("/api/cases", json={"device_id": portal.device("B").id,
                                            "title": "signed anew"}).raise_for_status()
        from integrations.webhooks.worker import WebhookWorker
        WebhookWorker(portal.engine, gap_wait_s=0.0, targets=RECEIVERS_ALLOWED).run_once()
        assert receiver.got.processed and receiver.got.bad_signatures == 0
    finally:
        receiver.stop()
    with Session(portal.engine) as s:
        details = " ".join(e.detail for e in s.exec(select(AuditEvent)))
    assert "s3cr3t-pass" not in details


def test_a_browser_sessions_stream_ends_when_it_logs_out(portal: Portal) -> None:
    cookie, csrf, browser = _session(portal)
    with served(portal.app) as port:
        took = _stream_lasts(port, {"Cookie": f"fp_session={cookie}"}, lambda: browser.post(
            "/logout", data={"csrf_token": csrf}).raise_for_status)
    assert took < 8, f"the stream ran on {took:.1f} s after logging out"


def test_every_route_checks_what_it_can_before_the_body(portal: Portal) -> None:
    """Every router is made with GuardedRoute: a new one without it would parse bodies
    (and spool forms to disk) before it knew who called."""
    routes = [r for r in _walk(portal.app.routes) if isinstance(r, APIRoute)]
    docs = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    unguarded = [r.path for r in routes if not isinstance(r, GuardedRoute)
                 and r.path not in docs]
    assert len(routes) > 50 and unguarded == []

"""Every change made through the portal leaves who, what, to what and when in the audit log."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from portal_app import Portal

from portal.auth.dependencies import CSRF_COOKIE


def test_each_change_is_logged_with_who_what_and_when(portal: Portal,
                                                      client: TestClient) -> None:
    admin, dispatcher = portal.accounts["admin"], portal.accounts["dispatcher"]
    engineer = portal.accounts["engineer_own"]
    device_b = portal.device("B").id
    alert_id = portal.new_alert(device_b)
    order_id = portal.new_job(device_b, portal.engineer_id("own"))

    changes = [
        client.post(f"/api/alerts/{alert_id}/acknowledge", json={"by": "dana", "note": "on it"},
                    headers=dispatcher.headers),
        client.post(f"/api/alerts/{alert_id}/comment", json={"by": "dana", "note": "called"},
                    headers=dispatcher.headers),
        client.post(f"/api/alerts/{alert_id}/close", json={"by": "dana"},
                    headers=dispatcher.headers),
        client.put("/api/models/torrent-cp75/rules", headers=admin.headers,
                   json=portal.app.state.ctx.rules.rules_of("torrent-cp75")[1]),
        client.post(f"/engineer/{portal.engineer_id('own')}/jobs/{order_id}/status",
                    data={"status": "en_route"}, headers=engineer.headers),
        client.post(f"/api/devices/{device_b}/qr-token", headers=admin.headers),
        client.post("/api/tokens", json={"name": "ci"}, headers=engineer.headers),
        client.post("/api/users", json={"username": "newbie", "role": "dispatcher"},
                    headers=admin.headers),
    ]
    assert [r.status_code for r in changes] == [200, 200, 200, 200, 303, 200, 201, 201]
    # A customer's report through device A's code, and a failed and a good login.
    token = portal.tokens[portal.device("A").id]
    client.cookies.set(CSRF_COOKIE, "x" * 22)
    assert client.post(f"/q/{token}/report", data={"category": "Leak", "csrf_token": "x" * 22}
                       ).status_code == 303
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    for password in ("wrong", dispatcher.password):
        client.post("/login", data={"username": dispatcher.username, "password": password,
                                    "csrf_token": csrf})

    client.cookies.clear()
    log = client.get("/api/audit", params={"limit": 50}, headers=admin.headers).json()
    assert client.get("/api/audit", headers=dispatcher.headers).status_code == 403
    rows = [(e["actor"], e["action"], e["target"]) for e in reversed(log)]
    token_id = changes[6].json()["id"]
    assert rows == [
        ("user:dispatcher-test", "alert.acknowledge", f"alert:{alert_id}"),
        ("user:dispatcher-test", "alert.comment", f"alert:{alert_id}"),
        ("user:dispatcher-test", "alert.close", f"alert:{alert_id}"),
        ("user:admin-test", "rules.update", "model:torrent-cp75"),
        ("user:engineer-eng-01", "work_order.status", f"work_order:{order_id}"),
        ("user:admin-test", "qr_token.rotate", f"device:{device_b}"),
        ("user:engineer-eng-01", "token.create", f"token:{token_id}"),
        ("user:admin-test", "user.create", "user:newbie"),
        ("customer:qr", "fault.report", f"device:{portal.device('A').id}"),
        ("anonymous", "login.failed", "user:dispatcher-test"),
        ("user:dispatcher-test", "login", "user:dispatcher-test"),
    ]
    # The authenticated user acts: a body's "by" is not who is recorded.
    assert log[-1]["detail"] == "on it" and log[-5]["detail"] == "en_route"
    times = [e["at"] for e in reversed(log)]
    assert times == sorted(times)  # "when": in the order things happened
    # Secrets never reach the log.
    text = str(log)
    assert dispatcher.password not in text and token not in text
    assert changes[6].json()["token"] not in text


def test_refused_changes_leave_the_log_alone(portal: Portal, client: TestClient) -> None:
    alert_id = portal.new_alert(portal.device("B").id)
    engineer = portal.accounts["engineer_own"]
    assert client.post(f"/api/alerts/{alert_id}/acknowledge", json={"by": "x"},
                       headers=engineer.headers).status_code == 403
    assert client.post(f"/api/alerts/{alert_id + 1000}/acknowledge", json={"by": "x"},
                       headers=portal.accounts["admin"].headers).status_code == 404
    log = client.get("/api/audit", headers=portal.accounts["admin"].headers).json()
    assert log == []

"""Acting on alerts and editing rules through the API, against the running system."""

from __future__ import annotations

from ingest.checks import AcceptedReading
from support import RunningCloud, evaluate, wait_until


def _raise_alert(cloud: RunningCloud) -> dict:
    device = next(d for d in cloud.fleet.devices if d.model_id == "torrent-cp75")
    evaluate(cloud.system.rules, [AcceptedReading(device.id, device.model_id, 1, {
        "vibration_mm_s": 9.0, "rpm": 1480.0, "bearing_temp_c": 50.0})])
    alerts = cloud.api.get(f"{cloud.base_url}/api/alerts?state=open").json()
    assert [a["rule_id"] for a in alerts] == ["vibration-high"]
    return alerts[0]


def test_acknowledge_then_close_an_alert_with_who_and_when(cloud: RunningCloud) -> None:
    alert = _raise_alert(cloud)
    base = f"{cloud.base_url}/api/alerts/{alert['id']}"
    acked = cloud.api.post(f"{base}/acknowledge", json={"by": "dana", "note": "seen"}).json()
    # The caller is who acknowledged, not whom the body names.
    assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == cloud.admin.username
    again = cloud.api.post(f"{base}/acknowledge", json={"by": "dana"})
    assert again.status_code == 409 and "acknowledged" in again.json()["detail"]
    closed = cloud.api.post(f"{base}/close", json={"by": "dana", "note": "false alarm"}).json()
    assert closed["state"] == "closed" and closed["closed_at"] >= acked["acknowledged_at"]
    assert cloud.api.post(f"{cloud.base_url}/api/alerts/999999/close",
                      json={"by": "x"}).status_code == 404


def test_edited_rules_are_versioned_validated_and_in_force_without_restart(cloud) -> None:
    url = f"{cloud.base_url}/api/models/torrent-cp75/rules"
    current = cloud.api.get(url).json()
    assert current["version"] == 1 and {r["id"] for r in current["rules"]} >= {"vibration-high"}

    bad = [{**current["rules"][0], "clear": 99.0}]
    refused = cloud.api.put(url, json=bad)
    assert refused.status_code == 422 and "rules[0].clear" in refused.json()["detail"]
    assert cloud.api.get(url).json()["version"] == 1

    stricter = [{**r, "threshold": 5.0, "clear": 4.0} if r["id"] == "vibration-high" else r
                for r in current["rules"]]
    assert cloud.api.put(url, json=stricter, params={"by": "dana"}).json()["version"] == 2
    assert cloud.api.get(url).json()["rules"] == stricter
    # 6 mm/s was fine under version 1; under version 2 it raises.
    device = next(d for d in cloud.fleet.devices if d.model_id == "torrent-cp75")
    evaluate(cloud.system.rules, [AcceptedReading(device.id, device.model_id, 1, {
        "vibration_mm_s": 6.0, "rpm": 1480.0, "bearing_temp_c": 50.0})])
    wait_until(lambda: cloud.api.get(f"{cloud.base_url}/api/alerts?state=open").json(),
               what="an alert under the new rules")

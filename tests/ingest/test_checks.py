"""Reading-level checks name the exact field and a reason, and keep good readings."""

from __future__ import annotations

from asset_registry.catalog import load_models
from ingest.checks import MAX_FUTURE_MS, DeviceInfo, check_readings

MODELS = load_models()
DEVICES = {
    "dev-1": DeviceInfo(MODELS["aquapure-ro500"], "gw-1"),
    "dev-2": DeviceInfo(MODELS["torrent-cp75"], "gw-2"),
}
NOW = 1_800_000_000_000


def test_good_readings_pass_and_each_bad_one_is_rejected_with_its_field() -> None:
    readings = [
        {"dev": "dev-1", "ts": NOW, "m": {"tds_ppm": 30.0}},
        {"dev": "dev-9", "ts": NOW, "m": {"tds_ppm": 30.0}},
        {"dev": "dev-2", "ts": NOW, "m": {"rpm": 1500.0}},
        {"dev": "dev-1", "ts": NOW + MAX_FUTURE_MS + 1, "m": {"tds_ppm": 30.0}},
        {"dev": "dev-1", "ts": NOW, "m": {"tds_ppm": 30.0, "colour": 3}},
        {"dev": "dev-1", "ts": NOW, "m": {"tds_ppm": -5}},
    ]
    accepted, rejects = check_readings("gw-1", readings, DEVICES, NOW)
    assert [(a.device_id, a.model_id) for a in accepted] == [("dev-1", "aquapure-ro500")]
    assert [(r.kind, r.field) for r in rejects] == [
        ("unknown_device", "readings[1].dev"),
        ("foreign_device", "readings[2].dev"),
        ("future_timestamp", "readings[3].ts"),
        ("unknown_metric", "readings[4].m.colour"),
        ("out_of_range", "readings[5].m.tds_ppm"),
    ]
    assert "gw-1" in rejects[1].reason and "ppm" in rejects[4].reason
    assert rejects[4].reading is readings[5]

"""Several processes on one database: rule edits and no-data rules reach all of them."""

from __future__ import annotations

from pathlib import Path

from rules_world import PURIFIER, T0, make_service, readings
from sqlmodel import Session, select

from asset_registry.tables import Device
from rules.tables import Alert
from support import evaluate


def test_a_rule_edit_stored_by_one_process_is_picked_up_by_another(tmp_path: Path) -> None:
    portal_side, _ = make_service(tmp_path / "rules.db")
    worker, _ = make_service(tmp_path / "rules.db", fresh=False)
    model = PURIFIER.model_id
    _, specs = portal_side.rules_of(model)
    tds = next(s for s in specs if s.get("metric") == "tds_ppm" and "threshold" in s)
    tds.update(threshold=400.0, clear=300.0)

    assert worker.reload_rules() == []  # nothing new yet
    version = portal_side.update_rules(model, specs, by="dispatcher")
    assert worker.reload_rules() == [model]
    assert worker.reload_rules() == []  # once only
    assert worker.rules_of(model)[0] == version

    # 200 ppm breached the old threshold (150) but not the edited one (400).
    assert evaluate(worker, readings({"tds_ppm": 200})) == []
    raised = evaluate(worker, readings({"tds_ppm": 450}, start=T0 + 10_000))
    assert [t.rule.id for t in raised] == [tds["id"]]


def test_no_data_rules_see_readings_other_processes_stored(tmp_path: Path) -> None:
    main, clock = make_service(tmp_path / "rules.db")
    model = PURIFIER.model_id
    _, specs = main.rules_of(model)
    main.update_rules(model, [*specs, {"id": "silent", "severity": "high",
                                       "message": "No data for 10 minutes",
                                       "condition": "no_data", "silent_s": 600}], by="admin")

    def stored_last_seen(ts: int) -> None:  # what an ingest worker's transaction writes
        with Session(main._engine) as s:
            device = s.get(Device, PURIFIER.id)
            device.last_seen = ts
            s.add(device)
            s.commit()

    def open_silent_alerts() -> list[Alert]:
        with Session(main._engine) as s:
            return list(s.exec(select(Alert).where(Alert.rule_id == "silent",
                                                   Alert.device_id == PURIFIER.id,
                                                   Alert.state == "active")))

    stored_last_seen(T0)
    clock.now = T0 + 300_000
    main.tick()
    assert open_silent_alerts() == []
    clock.now = T0 + 700_000  # this process never saw a reading of the device
    main.tick()
    assert len(open_silent_alerts()) == 1
    stored_last_seen(T0 + 690_000)
    clock.now = T0 + 710_000
    main.tick()
    assert open_silent_alerts() == []

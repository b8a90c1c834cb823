"""A part edited through the running system's API is in force for everything in the
process that opens work orders with parts: the rule engines (an alert's work order),
the customer's fault reports and the maintenance plans (fieldpulse/system.py wires it);
and in a separate ingest worker's rule engines from its next reload."""

from __future__ import annotations

from asset_registry.parts import PartNeed
from fieldpulse.system import IngestWorker
from rules.actions import work_order_request
from support import RunningCloud
from testing_support.broker_logins import address

PURIFIER = "aquapure-ro500"


def test_an_edited_part_reaches_the_rule_engines_and_the_maintenance_plans(
        cloud: RunningCloud) -> None:
    edited = cloud.api.patch(f"{cloud.base_url}/api/parts/AP-PREF-10", json={
        "needs": [{"model_id": PURIFIER, "need": "rule:tds-high", "qty": 2}]})
    assert edited.status_code == 200, edited.text

    # What the rules service asks the service desk for when tds-high trips.
    rules_model = cloud.system.rules.book.models[PURIFIER]
    request = work_order_request(rules_model, device_id="d", alert_id=1, message="TDS high",
                                 severity="high", rule_id="tds-high")
    assert request.parts == (PartNeed("AP-MEM-75G", 1), PartNeed("AP-PREF-10", 2))
    # Its needs were replaced: the filter change and low inlet pressure no longer take it.
    for model in (rules_model, cloud.system.models[PURIFIER]):
        plan = next(p for p in model.maintenance if p.id == "filter-change")
        assert plan.parts == (PartNeed("AP-FILT-KIT", 1),)
        assert model.parts.needed_for("rule", "inlet-pressure-low") == (
            PartNeed("AP-VALVE-IN", 1),)
    assert cloud.system.models[PURIFIER].parts.needed_for("rule", "tds-high") == request.parts


def test_a_separate_ingest_worker_takes_the_edit_at_its_next_reload(
        cloud: RunningCloud) -> None:
    worker = IngestWorker(cloud.system.settings, address(cloud.broker, "ingest-parts-test"),
                          engine=cloud.system.engine)  # not started: its reload is called
    edited = cloud.api.patch(f"{cloud.base_url}/api/parts/AP-VALVE-IN", json={
        "needs": [{"model_id": PURIFIER, "need": "rule:tds-high", "qty": 1}]})
    assert edited.status_code == 200, edited.text
    model = worker.rules.book.models[PURIFIER]
    assert model.parts.needed_for("rule", "tds-high") == (PartNeed("AP-MEM-75G", 1),)
    worker.reload()
    model = worker.rules.book.models[PURIFIER]
    assert model.parts.needed_for("rule", "tds-high") == (PartNeed("AP-MEM-75G", 1),
                                                          PartNeed("AP-VALVE-IN", 1))
    assert model.parts.needed_for("fault", "Leak") == ()

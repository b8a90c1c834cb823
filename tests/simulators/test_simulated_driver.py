import pytest

from edge_agent.drivers import Driver
from simulators.driver import ScriptedDriver, SimulatedDriver
from simulators.profiles import SimulatorError
from simulators.signals import fault_schedule

NOW_MS = 1_750_000_000_000


def test_simulated_driver_reads_every_device_with_all_its_metrics(fleet, models):
    for gateway in fleet.gateways:
        devices = fleet.devices_of(gateway.id)
        driver: Driver = SimulatedDriver(devices, models, fault_schedule(fleet, NOW_MS, 1), 1)
        assert driver.device_ids() == [d.id for d in devices]
        readings = driver.read(NOW_MS)
        assert [r.dev for r in readings] == driver.device_ids()
        for reading, device in zip(readings, devices, strict=True):
            assert reading.ts == NOW_MS
            assert reading.m.keys() == models[device.model_id].attributes.keys()
            assert all(isinstance(v, float) for v in reading.m.values())


def test_simulated_driver_shows_a_scheduled_fault(fleet, models):
    fault = fault_schedule(fleet, NOW_MS, seed=3)[0]
    device = fleet.device(fault.device_id)
    driver = SimulatedDriver([device], models, [fault], seed=3)
    rule = next(r for r in models[device.model_id].rules if r.id == fault.expected_rule_id)
    value = driver.read(fault.start_ms + 15_000)[0].m[fault.metric]
    assert value > rule.threshold if rule.condition == "above" else value < rule.threshold


def test_simulated_driver_refuses_a_device_of_an_unknown_model(fleet, models):
    known = {k: v for k, v in models.items() if k != fleet.devices[0].model_id}
    with pytest.raises(SimulatorError, match=fleet.devices[0].id):
        SimulatedDriver([fleet.devices[0]], known)


def test_scripted_driver_replays_in_order_then_repeats_the_last_values():
    driver: Driver = ScriptedDriver(
        {
            "dev-a": [{"x": 1.0}, {"x": 2.0}],
            "dev-b": [{"y": 9.0}],
        }
    )
    assert driver.device_ids() == ["dev-a", "dev-b"]
    seen = [[(r.dev, r.ts, r.m) for r in driver.read(ts)] for ts in (1, 2, 3)]
    assert seen == [
        [("dev-a", 1, {"x": 1.0}), ("dev-b", 1, {"y": 9.0})],
        [("dev-a", 2, {"x": 2.0}), ("dev-b", 2, {"y": 9.0})],
        [("dev-a", 3, {"x": 2.0}), ("dev-b", 3, {"y": 9.0})],
    ]


def test_scripted_driver_hands_out_copies_so_callers_cannot_edit_the_script():
    driver = ScriptedDriver({"dev-a": [{"x": 1.0}]})
    driver.read(1)[0].m["x"] = 99.0
    assert driver.read(2)[0].m == {"x": 1.0}


def test_scripted_driver_refuses_a_device_without_values():
    with pytest.raises(SimulatorError, match="dev-a"):
        ScriptedDriver({"dev-a": []})

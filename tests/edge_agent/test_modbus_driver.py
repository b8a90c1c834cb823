"""The Modbus TCP driver against a real pymodbus server on loopback."""

from __future__ import annotations

import pytest
from edge_support import MAP, words

from edge_agent.config import ConfigError
from edge_agent.modbus import ModbusDriver, decode, parse_devices, plan_requests
from foundations.processes import free_port


def spec(port: int, *devices: dict) -> dict:
    return {"kind": "modbus", "timeout_s": 1.0, "models": {"ro500": MAP},
            "devices": list(devices) or [{"id": "dev-1", "model": "ro500",
                                          "host": "127.0.0.1", "port": port, "unit": 1}]}


def test_registers_are_read_scaled_and_mapped_to_attributes(modbus_port: int) -> None:
    driver = ModbusDriver.from_config(spec(modbus_port))
    try:
        (reading,) = driver.read(1_000)
    finally:
        driver.close()
    assert reading.dev == "dev-1" and reading.ts == 1_000
    assert reading.m == pytest.approx({"tds_ppm": 412.3, "flow_lpm": -2.5, "pressure_bar": 3.25,
                                       "filter_hours": 70000.0, "temp_c": 95.0})
    assert driver.errors == 0


def test_a_device_that_does_not_answer_costs_only_its_own_reading(modbus_port: int) -> None:
    dead = free_port()
    driver = ModbusDriver.from_config(spec(
        modbus_port,
        {"id": "dev-1", "model": "ro500", "host": "127.0.0.1", "port": modbus_port, "unit": 1},
        {"id": "dev-2", "model": "ro500", "host": "127.0.0.1", "port": dead},
        {"id": "dev-3", "model": "ro500", "host": "127.0.0.1", "port": modbus_port, "unit": 9},
    ))
    try:
        readings = driver.read(1)
        assert [r.dev for r in readings] == ["dev-1"]
        assert driver.errors == 2
        assert [r.dev for r in driver.read(2)] == ["dev-1"]  # and the next sample too
    finally:
        driver.close()


def test_registers_close_together_are_read_in_one_request() -> None:
    (device,) = parse_devices(spec(502))
    plan = [(table, start, count) for table, start, count, _ in plan_requests(device.registers)]
    assert plan == [("holding", 10, 12), ("input", 0, 2)]


def test_decode_covers_every_type() -> None:
    assert decode([0xFFFF], "int16") == -1 and decode([0xFFFF], "uint16") == 65535
    assert decode(words(">i", -70000), "int32") == -70000
    assert decode(list(reversed(words(">f", 1.5))), "float32", "little") == 1.5
    with pytest.raises(ValueError, match="needs 2 register"):
        decode([1], "float32")


@pytest.mark.parametrize(("change", "message"), [
    ({"models": {"ro500": {"tds_ppm": {"address": 0, "type": "int64"}}}},
     r"driver.models.ro500.tds_ppm.type: 'int64'"),
    ({"models": {"ro500": {"tds_ppm": {"table": "coil", "address": 0}}}},
     r"driver.models.ro500.tds_ppm.table"),
    ({"models": {"ro500": {"tds_ppm": {"type": "uint16"}}}},
     r"driver.models.ro500.tds_ppm: missing 'address'"),
    ({"models": {"ro500": {"TDS": {"address": 0}}}}, "'TDS' is not a valid metric name"),
    ({"devices": [{"id": "dev-1", "model": "ro999", "host": "h"}]},
     r"driver.devices\[0\].model: no register map"),
    ({"devices": [{"id": "dev 1", "model": "ro500", "host": "h"}]}, r"devices\[0\].id"),
    ({"devices": []}, "at least one"),
])
def test_a_bad_register_map_is_refused_naming_the_key(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_devices({**spec(502), **change})

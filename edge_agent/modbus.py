"""Modbus TCP driver: holding/input registers mapped to a device model's attributes.

The register map lives in the gateway config, once per device model (every
device of a model has the same registers), and each device names its model,
address and unit id:

    [driver]
    kind = "modbus"
    [driver.models.aquapure-ro500]
    tds_ppm = { table = "input", address = 0, type = "uint16", scale = 0.1 }
    [[driver.devices]]
    id = "dev-0001"
    model = "aquapure-ro500"
    host = "192.0.2.10"

A value is `raw * scale + offset`. 32-bit types span two registers, high word
first unless `word_order = "little"`. Registers of one table that lie close
together are read in one request. A device that does not answer costs its
reading for that sample (counted in `errors`), never the others'.
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge_agent.config import ConfigError
from edge_agent.drivers import Reading
from firmware_contracts.kinds import ID_PATTERN, METRIC_PATTERN

log = logging.getLogger("fieldpulse.edge.modbus")

WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
_FORMAT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
MAX_SPAN = 125  # registers per read request (Modbus limit)
_METRIC = re.compile(METRIC_PATTERN.strip("^$"))
_ID = re.compile(ID_PATTERN.strip("^$"))


@dataclass(frozen=True, slots=True)
class Register:
    metric: str
    table: str  # "holding" | "input"
    address: int
    type: str = "uint16"
    scale: float = 1.0
    offset: float = 0.0
    word_order: str = "big"


@dataclass(frozen=True, slots=True)
class ModbusDevice:
    id: str
    host: str
    port: int
    unit: int
    model: str
    registers: tuple[Register, ...] = field(default_factory=tuple)


def decode(words: Sequence[int], type_: str, word_order: str = "big") -> float:
    """Registers (16-bit words) to the number they hold."""
    if len(words) != WIDTH[type_]:
        raise ValueError(f"{type_} needs {WIDTH[type_]} register(s), got {len(words)}")
    ordered = list(words) if word_order == "big" else list(reversed(words))
    return float(struct.unpack(_FORMAT[type_], struct.pack(f">{len(ordered)}H", *ordered))[0])


# -- config ------------------------------------------------------------------------------


def _field(spec: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str,
           default: Any = None) -> Any:
    if key not in spec:
        if default is None:
            raise ConfigError(f"{where}: missing '{key}'")
        return default
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, "
                          f"got {value!r}")
    return value


def _register(metric: str, spec: Any, where: str) -> Register:
    if not _METRIC.fullmatch(metric):
        raise ConfigError(f"{where}: '{metric}' is not a valid metric name")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(spec) - {"table", "address", "type", "scale", "offset", "word_order"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    reg = Register(
        metric=metric,
        table=_field(spec, "table", str, where, "holding"),
        address=_field(spec, "address", int, where),
        type=_field(spec, "type", str, where, "uint16"),
        scale=float(_field(spec, "scale", (int, float), where, 1.0)),
        offset=float(_field(spec, "offset", (int, float), where, 0.0)),
        word_order=_field(spec, "word_order", str, where, "big"),
    )
    if reg.table not in ("holding", "input"):
        raise ConfigError(f"{where}.table: '{reg.table}' is not 'holding' or 'input'")
    if reg.type not in WIDTH:
        raise ConfigError(f"{where}.type: '{reg.type}' is not one of {sorted(WIDTH)}")
    if not 0 <= reg.address <= 0xFFFF - WIDTH[reg.type] + 1:
        raise ConfigError(f"{where}.address: {reg.address} is outside 0..65535")
    if reg.word_order not in ("big", "little"):
        raise ConfigError(f"{where}.word_order: '{reg.word_order}' is not 'big' or 'little'")
    if not (math.isfinite(reg.scale) and math.isfinite(reg.offset)) or reg.scale == 0:
        raise ConfigError(f"{where}: scale must be a non-zero number, offset a number")
    return reg


def parse_devices(spec: Mapping[str, Any]) -> list[ModbusDevice]:
    """The `[driver]` section of a gateway config; ConfigError names the bad key."""
    models = spec.get("models", {})
    if not isinstance(models, dict):
        raise ConfigError("driver.models: expected a table of register maps")
    maps = {name: tuple(_register(metric, reg, f"driver.models.{name}.{metric}")
                        for metric, reg in regs.items())
            for name, regs in models.items()}
    devices = []
    raw_devices = spec.get("devices")
    if not isinstance(raw_devices, list) or not raw_devices:
        raise ConfigError("driver.devices: expected at least one [[driver.devices]]")
    for i, dev in enumerate(raw_devices):
        where = f"driver.devices[{i}]"
        if not isinstance(dev, dict):
            raise ConfigError(f"{where}: expected a table")
        unknown = set(dev) - {"id", "model", "host", "port", "unit"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        dev_id = _field(dev, "id", str, where)
        if not _ID.fullmatch(dev_id):
            raise ConfigError(f"{where}.id: '{dev_id}' must match {ID_PATTERN}")
        model = _field(dev, "model", str, where)
        if model not in maps or not maps[model]:
            raise ConfigError(f"{where}.model: no register map [driver.models.{model}]")
        devices.append(ModbusDevice(dev_id, _field(dev, "host", str, where),
                                    _field(dev, "port", int, where, 502),
                                    _field(dev, "unit", int, where, 1), model, maps[model]))
    if len({d.id for d in devices}) != len(devices):
        raise ConfigError("driver.devices: device ids must be unique")
    return devices


# -- reading ------------------------------------------------------------------------------


def plan_requests(registers: Sequence[Register]) -> list[tuple[str, int, int, list[Register]]]:
    """Group registers into (table, start, count, registers) requests of <= MAX_SPAN."""
    requests: list[tuple[str, int, int, list[Register]]] = []
    for table in ("holding", "input"):
        regs = sorted((r for r in registers if r.table == table), key=lambda r: r.address)
        group: list[Register] = []
        for reg in regs:
            end = reg.address + WIDTH[reg.type]
            if group and end - group[0].address > MAX_SPAN:
                requests.append(_request(table, group))
                group = []
            group.append(reg)
        if group:
            requests.append(_request(table, group))
    return requests


def _request(table: str, group: list[Register]) -> tuple[str, int, int, list[Register]]:
    start = group[0].address
    count = max(r.address + WIDTH[r.type] for r in group) - start
    return table, start, count, group


class ModbusDriver:
    def __init__(self, devices: Sequence[ModbusDevice], timeout_s: float = 1.0,
                 client_factory: Callable[..., Any] = ModbusTcpClient) -> None:
        self._devices = list(devices)
        self._plans = {d.id: plan_requests(d.registers) for d in self._devices}
        self._timeout_s = timeout_s
        self._factory = client_factory
        self._clients: dict[tuple[str, int], Any] = {}
        self.errors = 0  # device reads that failed (no reading for that sample)

    @classmethod
    def from_config(cls, spec: Mapping[str, Any]) -> ModbusDriver:
        timeout = spec.get("timeout_s", 1.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError(f"driver.timeout_s: expected a number > 0, got {timeout!r}")
        return cls(parse_devices(spec), float(timeout))

    def device_ids(self) -> list[str]:
        return [d.id for d in self._devices]

    def _client(self, device: ModbusDevice) -> Any:
        key = (device.host, device.port)
        client = self._clients.get(key)
        if client is None:
            client = self._factory(device.host, port=device.port, timeout=self._timeout_s,
                                   retries=0)
            self._clients[key] = client
        if not client.connected:
            client.connect()
        return client

    def read(self, now_ms: int) -> list[Reading]:
        readings = []
        for device in self._devices:
            try:
                metrics = self._read_device(device)
            except (ModbusException, OSError, ValueError) as exc:
                self.errors += 1
                log.warning("modbus device %s (%s:%d unit %d) not read: %s", device.id,
                            device.host, device.port, device.unit, exc)
                client = self._clients.get((device.host, device.port))
                if client is not None:
                    client.close()  # reconnect on the next sample
                continue
            readings.append(Reading(device.id, now_ms, metrics))
        return readings

    def _read_device(self, device: ModbusDevice) -> dict[str, float]:
        client = self._client(device)
        metrics: dict[str, float] = {}
        for table, start, count, group in self._plans[device.id]:
            call = (client.read_holding_registers if table == "holding"
                    else client.read_input_registers)
            response = call(start, count=count, device_id=device.unit)
            if response.isError():
                raise ModbusException(f"{table} registers {start}..{start + count - 1}: "
                                      f"{response}")
            words = response.registers
            for reg in group:
                at = reg.address - start
                raw = decode(words[at:at + WIDTH[reg.type]], reg.type, reg.word_order)
                metrics[reg.metric] = raw * reg.scale + reg.offset
        return metrics

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

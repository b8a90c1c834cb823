"""Fixtures for the edge agent: a gateway of the test fleet, a Modbus device on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from edge_support import HOLDING, INPUT, MODELS, normal_values
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from foundations.processes import free_port, wait_for_port
from simulators.fleet import Fleet


@pytest.fixture
def gateway(small_fleet: Fleet) -> tuple[str, dict[str, dict[str, float]]]:
    """A gateway of the fleet the cloud knows, with normal values for its devices."""
    gw = small_fleet.gateways[0]
    return gw.id, {d.id: normal_values(MODELS[d.model_id]) for d in small_fleet.devices_of(gw.id)}


@pytest.fixture
def modbus_port() -> Iterator[int]:
    """A pymodbus server on loopback holding INPUT and HOLDING for unit 1."""
    port = free_port()
    device = SimDevice(1, simdata=([SimData(0, values=False, datatype=DataType.BITS)],
                                   [SimData(0, values=False, datatype=DataType.BITS)],
                                   [SimData(0, values=HOLDING, datatype=DataType.REGISTERS)],
                                   [SimData(0, values=INPUT, datatype=DataType.REGISTERS)]))
    loop = asyncio.new_event_loop()
    servers: list[ModbusTcpServer] = []

    async def serve() -> None:  # pymodbus servers are made inside their event loop
        servers.append(ModbusTcpServer([device], address=("127.0.0.1", port)))
        await servers[0].serve_forever()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    wait_for_port(port)
    yield port
    asyncio.run_coroutine_threadsafe(servers[0].shutdown(), loop).result(timeout=10)
    thread.join(timeout=10)

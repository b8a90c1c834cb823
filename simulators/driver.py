"""Drivers that stand in for hardware behind the edge agent's `Driver` protocol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from asset_registry.catalog import DeviceModel
from edge_agent.drivers import Reading
from simulators.faults import Fault
from simulators.fleet import Device
from simulators.profiles import SimulatorError, builtin_profiles
from simulators.signals import DeviceSimulator


class SimulatedDriver:
    """Every device of a gateway, simulated from its catalogue model and profile."""

    def __init__(
        self,
        devices: Iterable[Device],
        models: Mapping[str, DeviceModel],
        faults: Iterable[Fault] = (),
        seed: int = 0,
        *,
        tz: str = "Europe/Berlin",
        feed_water: Mapping[str, float] | None = None,
    ) -> None:
        """`feed_water` (site id -> feed TDS, ppm) turns on filter consumption for the
        models that have a filter (simulators/consumables.py); without it, none."""
        faults = tuple(faults)
        self._sims: list[DeviceSimulator] = []
        for device in devices:
            if device.model_id not in models:
                raise SimulatorError(f"device {device.id}: unknown model '{device.model_id}'")
            water = (feed_water or {}).get(device.site_id)
            profile = builtin_profiles().get(device.model_id)
            has_filter = profile is not None and profile.filter is not None
            self._sims.append(
                DeviceSimulator(device.id, models[device.model_id], seed, faults, tz=tz,
                                feed_tds_ppm=water if has_filter else None)
            )

    def device_ids(self) -> list[str]:
        return [sim.device_id for sim in self._sims]

    def read(self, now_ms: int) -> list[Reading]:
        return [Reading(sim.device_id, now_ms, sim.sample(now_ms)) for sim in self._sims]

    def reset_fault(self, dev: str, now_ms: int) -> list[str]:
        """The device's latched (injected equipment) faults end now; their ids."""
        sim = next((s for s in self._sims if s.device_id == dev), None)
        if sim is None:
            raise KeyError(dev)
        return sim.reset_faults(now_ms)


class ScriptedDriver:
    """Replays fixed values per device, one step per `read`, then repeats the last."""

    def __init__(self, script: Mapping[str, list[dict[str, float]]]) -> None:
        empty = [dev for dev, steps in script.items() if not steps]
        if empty:
            raise SimulatorError(f"ScriptedDriver: no values for {empty}")
        self._script = {dev: [dict(step) for step in steps] for dev, steps in script.items()}
        self._step = 0

    def device_ids(self) -> list[str]:
        return list(self._script)

    def read(self, now_ms: int) -> list[Reading]:
        readings = [
            Reading(dev, now_ms, dict(steps[min(self._step, len(steps) - 1)]))
            for dev, steps in self._script.items()
        ]
        self._step += 1
        return readings

"""Which devices exist, their model and their gateway, cached for the hot path."""

from __future__ import annotations

import time
from collections.abc import Mapping

from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.catalog import DeviceModel
from asset_registry.tables import Device
from ingest.checks import DeviceInfo, valid_id

# An unknown device id triggers a reload at most this often, so a burst of
# readings for a bogus id cannot hammer the database.
RELOAD_INTERVAL_S = 5.0


class DeviceDirectory:
    def __init__(self, engine: Engine, models: Mapping[str, DeviceModel]) -> None:
        self._engine = engine
        self._models = models
        self._devices: dict[str, DeviceInfo] = {}
        # Loaded on first use, so devices registered after start-up are seen.
        self._loaded_at = float("-inf")

    def reload(self) -> None:
        with Session(self._engine) as session:
            rows = session.exec(select(Device.id, Device.model_id, Device.gateway_id)).all()
        self._devices = {
            dev: DeviceInfo(self._models[model_id], gw)
            for dev, model_id, gw in rows
            # An id the contract forbids can never arrive valid; leaving it out keeps
            # the fast path's acceptance a subset of the schema's.
            if model_id in self._models and valid_id(dev)
        }
        self._loaded_at = time.monotonic()

    def current(self) -> Mapping[str, DeviceInfo]:
        """The directory as loaded (loaded once first); never reloads for a miss."""
        if self._loaded_at == float("-inf"):
            self.reload()
        return self._devices

    def lookup(self, device_ids: set[str]) -> Mapping[str, DeviceInfo]:
        """The directory, reloaded first if it misses a device and may be stale."""
        stale = time.monotonic() - self._loaded_at > RELOAD_INTERVAL_S
        if stale and not device_ids <= self._devices.keys():
            self.reload()
        return self._devices

    def devices_of(self, gateway_id: str) -> list[str]:
        return [dev for dev, info in self._devices.items() if info.gateway_id == gateway_id]

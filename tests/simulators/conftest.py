from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from asset_registry.catalog import DeviceModel, load_models
from simulators.fleet import Fleet, generate_fleet


@pytest.fixture(scope="session")
def models() -> dict[str, DeviceModel]:
    return load_models()


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    return generate_fleet(seed=7)


@pytest.fixture(scope="session")
def wednesday_ms() -> int:
    """Local midnight starting a working day in Munich, so a 24 h run sees office hours."""
    return int(datetime(2025, 6, 18, tzinfo=ZoneInfo("Europe/Berlin")).timestamp() * 1000)

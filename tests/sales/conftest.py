from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine
from simulators.fleet import Fleet, generate_fleet


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    return generate_fleet(seed=7, sites=12)


@pytest.fixture
def engine(tmp_path: Path, fleet: Fleet) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'sales.db'}")
    upgrade(engine)
    import_fleet(engine, fleet)
    yield engine
    engine.dispose()

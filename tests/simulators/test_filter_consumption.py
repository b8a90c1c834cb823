"""Filter consumption of the simulated purifiers: the ground truth of the sales forecast."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.driver import SimulatedDriver
from simulators.fleet import generate_fleet
from simulators.profiles import SimulatorError
from simulators.signals import DeviceSimulator

DAY_MS = 86_400_000


def purifier(models, feed_tds_ppm, origin_ms, device_id="dev-0001"):
    return DeviceSimulator(device_id, models["aquapure-ro500"], seed=3, origin_ms=origin_ms,
                           feed_tds_ppm=feed_tds_ppm)


def test_without_feed_water_a_purifier_reads_as_before(models, wednesday_ms):
    plain = DeviceSimulator("dev-0001", models["aquapure-ro500"], seed=3, origin_ms=wednesday_ms)
    assert plain.filter_wear() is None
    stamps = range(wednesday_ms, wednesday_ms + DAY_MS, 600_000)
    # The noise and offsets of existing signals are drawn as they always were.
    again = DeviceSimulator("dev-0001", models["aquapure-ro500"], seed=3, origin_ms=wednesday_ms)
    assert [plain.sample(t) for t in stamps] == [again.sample(t) for t in stamps]


def test_only_a_model_with_a_filter_consumes_one(models, wednesday_ms):
    with pytest.raises(SimulatorError, match="no filter"):
        DeviceSimulator("dev-0002", models["torrent-cp75"], feed_tds_ppm=400.0)


def test_an_exhausted_filter_is_replaced_the_counter_restarts_and_pressure_recovers(
        models, wednesday_ms):
    sim = purifier(models, 450.0, wednesday_ms)
    wear = sim.filter_wear()
    assert wear is not None
    replaced = wear.replacements(wednesday_ms + 300 * DAY_MS)
    assert len(replaced) >= 3
    lives = np.diff(replaced) / DAY_MS
    assert lives.min() > 20 and lives.max() < 250
    for t in replaced[:3]:
        before, after = sim.sample(t - 60_000), sim.sample(t + 60_000)
        assert before["filter_hours"] > 400 and after["filter_hours"] < 0.1
        _, used_before = wear.state(t - 60_000)
        _, used_after = wear.state(t + 60_000)
        assert used_before > 0.99 and used_after < 0.01
        # Same time of day, so the mains' daily sag cancels: the clogged cartridge's drop.
        assert wear.pressure_drop(used_before) - wear.pressure_drop(used_after) > 0.45


def test_harder_water_fills_the_filter_sooner(models, wednesday_ms):
    def mean_life(tds: float) -> float:
        lives = []
        for n in range(4):
            wear = purifier(models, tds, wednesday_ms, f"dev-{n:04d}").filter_wear()
            assert wear is not None
            lives.extend(np.diff(wear.replacements(wednesday_ms + 400 * DAY_MS)) / DAY_MS)
        return float(np.mean(lives))

    assert mean_life(600.0) < 0.7 * mean_life(300.0)


def test_a_filtered_sample_is_still_a_function_of_the_timestamp(models, wednesday_ms):
    a, b = purifier(models, 400.0, wednesday_ms), purifier(models, 400.0, wednesday_ms)
    late = wednesday_ms + 90 * DAY_MS
    b.sample(wednesday_ms + 5 * DAY_MS)  # another call history
    assert a.sample(late) == b.sample(late)


def test_sites_have_feed_water_and_customers_a_sales_owner():
    fleet = generate_fleet(seed=7)
    assert all(250 <= s.feed_tds_ppm <= 650 for s in fleet.sites)
    assert len({s.feed_tds_ppm for s in fleet.sites}) > 3
    assert all(c.sales_owner_email.endswith("@sales.example.com") for c in fleet.customers)


def test_the_driver_consumes_filters_only_with_the_sites_feed_water(models, wednesday_ms):
    fleet = generate_fleet(seed=7)
    devices = fleet.devices_of(fleet.gateways[0].id)
    water = {s.id: s.feed_tds_ppm for s in fleet.sites}
    plain = SimulatedDriver(devices, models, seed=7)
    wet = SimulatedDriver(devices, models, seed=7, feed_water=water)
    late = wednesday_ms + 200 * DAY_MS
    plain.read(wednesday_ms), wet.read(wednesday_ms)  # the counters' origin
    by_plain = {r.dev: r.m for r in plain.read(late)}
    purifiers = 0
    for reading in wet.read(late):
        if "filter_hours" in reading.m:  # a purifier: its cartridge was replaced since
            purifiers += 1
            assert reading.m["filter_hours"] < by_plain[reading.dev]["filter_hours"]
        else:
            assert reading.m == by_plain[reading.dev]
    assert purifiers and purifiers < len(devices)

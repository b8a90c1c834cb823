"""Chaos with a ledger as the oracle: every reading the drivers produced is stored exactly
once, or was evicted from a full outbox and counted (issue 16's scenarios; the scenarios
themselves are in `testing_support.chaos_scenarios`, shared with `fieldpulse bench chaos`).
"""

from __future__ import annotations

from pathlib import Path

from testing_support.chaos_scenarios import (
    Scale,
    full_disk,
    full_outbox,
    kill_cloud_then_broker,
    lost_outbox,
    overload,
)

SMALL = Scale(gateways=2, stream_s=1.5, rounds=2, ack_timeout_s=3.0)


def assert_nothing_lost_nothing_twice(tally) -> None:
    assert tally.produced > 0
    assert tally.lost == 0, tally
    assert tally.duplicated == 0, tally
    assert tally.stored + tally.evicted == tally.produced, tally


def test_kill_9_cloud_then_broker_and_restart_loses_nothing(tmp_path: Path) -> None:
    tally = kill_cloud_then_broker(tmp_path, SMALL)
    assert_nothing_lost_nothing_twice(tally)
    assert tally.evictions_counted == 0


def test_overload_makes_the_agents_hold_back_and_loses_nothing(tmp_path: Path) -> None:
    tally = overload(tmp_path, SMALL)
    assert_nothing_lost_nothing_twice(tally)
    assert tally.extra["held_back"] > 0  # batches waited on the gateways' disks
    assert tally.evictions_counted == 0


def test_a_lost_outbox_starts_a_new_epoch_whose_batches_are_stored(tmp_path: Path) -> None:
    tally = lost_outbox(tmp_path, SMALL)
    assert_nothing_lost_nothing_twice(tally)
    assert tally.evictions_counted == 0


def test_a_full_outbox_evicts_the_oldest_counted_exactly(tmp_path: Path) -> None:
    tally = full_outbox(tmp_path, SMALL)
    assert_nothing_lost_nothing_twice(tally)
    assert tally.evicted == tally.evictions_counted > 0



def test_a_full_disk_evicts_counted_and_the_agents_keep_running(tmp_path: Path) -> None:
    tally = full_disk(tmp_path, SMALL)
    assert_nothing_lost_nothing_twice(tally)
    assert tally.evicted == tally.evictions_counted > 0
    assert tally.extra["agents_alive"] == SMALL.gateways

"""Readings as column blocks: the hand-over from ingest to the rules and device state."""

from __future__ import annotations

import math

import numpy as np

from ingest.reading_blocks import (
    ReadingBlock,
    blocks_from_readings,
    concat_blocks,
    latest_per_device,
)


def test_blocks_keep_every_reading_and_its_missing_metrics() -> None:
    rows = [("dev-a", "m1", 3, {"x": 1.0}), ("dev-b", "m2", 1, {"y": 2.0}),
            ("dev-a", "m1", 2, {"x": 3.0, "z": 4.0})]
    blocks = {b.model_id: b for b in blocks_from_readings(rows)}
    assert blocks["m1"].metrics == ("x", "z")
    assert blocks["m1"].rows() == [("dev-a", 3, {"x": 1.0}), ("dev-a", 2, {"x": 3.0, "z": 4.0})]
    assert blocks["m2"].rows() == [("dev-b", 1, {"y": 2.0})]


def test_concat_unions_columns_and_keeps_row_order() -> None:
    a = ReadingBlock.from_rows("m", [("d1", 1, {"x": 1.0})])
    b = ReadingBlock.from_rows("m", [("d2", 2, {"y": 2.0}), ("d1", 3, {"x": 5.0, "y": 6.0})])
    (joined,) = concat_blocks([a, b])
    assert joined.metrics == ("x", "y")
    assert joined.devices == ["d1", "d2", "d1"]
    assert joined.rows() == [("d1", 1, {"x": 1.0}), ("d2", 2, {"y": 2.0}),
                             ("d1", 3, {"x": 5.0, "y": 6.0})]
    assert joined.take(np.array([False, True, True])).rows() == joined.rows()[1:]


def test_from_columns_turns_none_into_missing() -> None:
    block = ReadingBlock.from_columns("m", ["d1", "d2"], [5, 6], ("x", "y"),
                                      [[1.0, None], [None, 2]])
    assert block.rows() == [("d1", 5, {"x": 1.0}), ("d2", 6, {"y": 2.0})]


def test_latest_value_per_metric_is_the_newest_reading_that_carries_it() -> None:
    block = ReadingBlock.from_rows("m", [
        ("d1", 30, {"x": 3.0}),            # newest, but without y
        ("d1", 10, {"x": 1.0, "y": 1.0}),
        ("d1", 20, {"x": 2.0, "y": 2.0}),  # newest y
        ("d2", 5, {"x": 7.0}),
        ("d2", 5, {"x": 8.0}),             # same time: the later arrival wins
    ])
    latest = latest_per_device(block)
    assert latest == {"d1": {"x": (30, 3.0), "y": (20, 2.0)}, "d2": {"x": (5, 8.0)}}
    assert not any(math.isnan(v) for per in latest.values() for _, v in per.values())

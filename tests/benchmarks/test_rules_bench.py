"""`fieldpulse bench rules`: the anomaly part measures what it says, on a tiny fleet."""

from __future__ import annotations

import json

from benchmarks.rules import bench_rules


def test_bench_prints_anomaly_figures_next_to_their_baseline(capsys) -> None:
    bench_rules(devices=6, samples=120, batch=200, anomaly=True, json_output=True)
    result = json.loads(capsys.readouterr().out)
    assert result["readings"] > 0 and result["readings"] % 120 == 0  # 120 samples a device
    assert result["alerts_batched"] == result["alerts_naive"]
    for key in ("threshold_blocks_readings_per_s_per_core", "anomaly_readings_per_s_per_core",
                "model_anomaly_readings_per_s_per_core",
                "anomaly_per_reading_baseline_readings_per_s_per_core"):
        assert result[key] > 0, key
    assert 0 < result["anomaly_baseline_readings"] <= 3000

"""`anomaly score`: CSV in, CSV out, clear errors on bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from rules.anomaly.cli import app

runner = CliRunner()


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def series(n: int, cols: int = 1, spike_at: int | None = None) -> list[list[object]]:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    vals = [5 + np.sin(2 * np.pi * t / 50) * (c + 1) + 0.05 * rng.standard_normal(n)
            for c in range(cols)]
    if spike_at is not None:
        vals[0][spike_at] += 10
    return [[f"2024-01-01 00:{i // 60:02d}:{i % 60:02d}", *(round(v[i], 5) for v in vals)]
            for i in range(n)]


def read_out(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_writes_one_row_per_input_row_with_the_three_columns(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", ["timestamp", "value"], series(600, spike_at=450))
    out = tmp_path / "out" / "scores.csv"
    res = runner.invoke(app, ["score", str(src), "--output", str(out)])
    assert res.exit_code == 0, res.output
    rows = read_out(out)
    assert list(rows[0]) == ["timestamp", "anomaly_score", "is_anomaly"]
    assert len(rows) == 600
    assert rows[0]["timestamp"] == "2024-01-01 00:00:00"
    scores = [float(r["anomaly_score"]) for r in rows]
    assert all(0.0 <= s <= 1.0 for s in scores)
    flags = [int(r["is_anomaly"]) for r in rows]
    assert set(flags) <= {0, 1}
    assert flags[450] == 1


def test_multi_column_input_and_custom_timestamp_column(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", ["pressure", "time", "flow"],
                    [[r[1], r[0], r[2]] for r in series(400, cols=2)])
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["score", str(src), "--output", str(out),
                              "--timestamp-column", "time", "--train-rows", "200"])
    assert res.exit_code == 0, res.output
    rows = read_out(out)
    assert len(rows) == 400
    assert all(r["is_anomaly"] == "0" for r in rows[:200])


def test_missing_timestamp_column_is_a_clear_error(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", ["time", "value"], series(10))
    res = runner.invoke(app, ["score", str(src), "--output", str(tmp_path / "o.csv")])
    assert res.exit_code != 0
    assert "no timestamp column 'timestamp'" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_non_numeric_value_is_a_clear_error(tmp_path: Path) -> None:
    rows = series(10)
    rows[4][1] = "hot"
    src = write_csv(tmp_path / "in.csv", ["timestamp", "value"], rows)
    res = runner.invoke(app, ["score", str(src), "--output", str(tmp_path / "o.csv")])
    assert res.exit_code != 0
    assert "line 6" in res.output and "'value' is not numeric: 'hot'" in res.output


def test_no_metric_columns_and_missing_file_are_errors(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", ["timestamp"], [["2024-01-01"]])
    res = runner.invoke(app, ["score", str(src), "--output", str(tmp_path / "o.csv")])
    assert res.exit_code != 0 and "no metric columns" in res.output
    res = runner.invoke(app, ["score", str(tmp_path / "nope.csv"), "--output",
                              str(tmp_path / "o.csv")])
    assert res.exit_code != 0 and "cannot read" in res.output


def test_runs_as_a_module(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "in.csv", ["timestamp", "value"], series(50))
    out = tmp_path / "out.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "rules.anomaly.cli", "score", str(src), "--output", str(out)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr
    assert len(read_out(out)) == 50


def test_train_rows_with_several_columns_also_use_the_multivariate_detector(tmp_path: Path
                                                                            ) -> None:
    from rules.anomaly.detector import score_batch
    from rules.anomaly.model_detector import score_table

    rows = series(900, cols=2)
    # Rows 700-729: the second column reads 0.25 high, far off its usual relation
    # to the first (noise 0.05).
    for i in range(700, 730):
        rows[i][2] = round(rows[i][2] + 0.25, 5)
    src = write_csv(tmp_path / "in.csv", ["timestamp", "a", "b"], rows)
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["score", str(src), "--output", str(out), "--train-rows", "600"])
    assert res.exit_code == 0, res.output
    got = np.array([float(r["anomaly_score"]) for r in read_out(out)])
    values = np.array([r[1:] for r in rows], dtype=float)
    single = score_batch(values, train_rows=600)[0]
    multi = score_table(values, train_rows=600)
    assert (multi[700:730] > single[700:730]).any()  # the two really differ here
    # The multivariate detector alone: its per-metric deviations see one metric's shift
    # too, and one calibrated score keeps the false-alarm rate one figure.
    np.testing.assert_allclose(got, np.nan_to_num(multi, nan=0.0))
    flags = np.array([int(r["is_anomaly"]) for r in read_out(out)])
    from rules.anomaly.evaluation import FALSE_ALARM_RATE, flag_level

    level = flag_level(FALSE_ALARM_RATE)
    assert 0.4 < level < 0.5  # flagged where normal rows are rarer than one in 200
    assert np.array_equal(flags, got >= level) and flags[700:730].any()
    assert not flags[:600].any()


def test_evaluate_reports_f1_false_alarms_misses_and_delay_on_labelled_files(
        tmp_path: Path) -> None:
    import json

    rng = np.random.default_rng(3)
    folder = tmp_path / "history"
    folder.mkdir()
    for k in range(2):
        n = 700
        a = rng.normal(0, 1, n)
        b = a + rng.normal(0, 0.1, n)
        label = np.zeros(n, dtype=int)
        label[500:560] = 1
        b[500:560] += 1.5  # the relation breaks for sixty rows: the labelled episode
        rows = [[1_700_000_000 + i, round(a[i], 5), round(b[i], 5), label[i]] for i in range(n)]
        # A semicolon-separated file with its own column names, as exports come.
        with open(folder / f"run{k}.csv", "w", newline="") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(["datetime", "a", "b", "anomaly"])
            w.writerows(rows)
    res = runner.invoke(app, ["evaluate", str(folder), "--label-column", "anomaly",
                              "--timestamp-column", "datetime", "--train-rows", "400",
                              "--json"])
    assert res.exit_code == 0, res.output
    total = json.loads(res.output)["total"]
    assert total["files"] == 2 and total["rows"] == 2 * 300 and total["anomalous_rows"] == 120
    # False alarms: the sustained channel's weighted mean takes a few time constants
    # (ten rows each) to fall once the episode is over.
    assert total["f1"] > 0.8 and total["false_alarm_rate"] < 0.1
    assert total["missed_anomaly_rate"] < 0.2
    assert total["segments"] == total["segments_detected"] == 2
    # Epoch seconds as timestamps: the delay is in seconds, as many as rows here.
    assert total["median_delay_s"] == total["median_delay_rows"] < 10

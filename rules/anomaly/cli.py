"""``fieldpulse anomaly score`` and ``fieldpulse anomaly evaluate``.

Mount in the main CLI with ``app.add_typer(anomaly_app, name="anomaly")``; also runnable
as ``python -m rules.anomaly.cli score IN.csv --output OUT.csv``. The input format is
in ``csv_io``; which detector scores a table is in ``evaluation.score_values``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rules.anomaly.csv_io import InputError, Table, read_metrics, write_scores
from rules.anomaly.evaluation import (
    FALSE_ALARM_RATE,
    FileResult,
    judge_flags,
    score_values,
    summarise,
)

app = typer.Typer(help="Streaming anomaly detection on metric CSVs.", no_args_is_help=True)

TimestampOption = Annotated[str, typer.Option(help="Name of the timestamp column.")]
TrainRowsOption = Annotated[int | None, typer.Option(
    min=0, help="The first N rows of each file are known-normal: learned from, never "
                "flagged. With two or more metrics this selects the multivariate detector.")]
RateOption = Annotated[float, typer.Option(
    min=1e-9, max=0.5, help="Multivariate detector: the share of normal rows it may flag "
                            "(calibrated on held-back parts of the training rows).")]
IgnoreOption = Annotated[list[str] | None, typer.Option(
    "--ignore-column", help="A column that is not a metric (repeatable).")]


@app.callback()
def _group() -> None:
    """Streaming anomaly detection on metric CSVs."""


def _read(path: Path, timestamp_column: str, label_column: str | None,
          ignore: list[str] | None) -> Table:
    try:
        return read_metrics(path, timestamp_column, label_column, ignore or ())
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


@app.command()
def score(
    input: Annotated[Path, typer.Argument(help="CSV: a timestamp column and numeric metrics.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where the scores go.")],
    timestamp_column: TimestampOption = "timestamp",
    train_rows: TrainRowsOption = None,
    ignore_column: IgnoreOption = None,
    false_alarm_rate: RateOption = FALSE_ALARM_RATE,
) -> None:
    """Score every row causally; write timestamp, anomaly_score (0-1) and is_anomaly (0/1).

    Anomaly scores are probabilities in disguise: 0.5 is a row that normal operation
    reaches once in a thousand; --false-alarm-rate sets where is_anomaly starts.

    With several metric columns and --train-rows, the multivariate detector that
    `model_anomaly` rules use is fitted on the known-normal rows, and an
    `explanation` column names the metrics behind each flagged row.
    """
    table = _read(input, timestamp_column, None, ignore_column)
    if table.skipped:
        typer.echo(f"not metrics: {', '.join(table.skipped)}", err=True)
    scored = score_values(table.values, table.columns, train_rows, false_alarm_rate)
    if not scored.fitted:
        typer.echo("warning: too few usable training rows to fit and calibrate the "
                   "multivariate detector (it needs 200): nothing is flagged", err=True)
    write_scores(output, table.timestamps, scored.scores, scored.flags, scored.explanations)


@app.command()
def evaluate(
    folder: Annotated[Path, typer.Argument(help="A folder of labelled CSVs (searched "
                                                "recursively), or one CSV.")],
    label_column: Annotated[str, typer.Option(help="The 0/1 column marking anomalous rows.")],
    timestamp_column: TimestampOption = "timestamp",
    train_rows: TrainRowsOption = None,
    ignore_column: IgnoreOption = None,
    false_alarm_rate: RateOption = FALSE_ALARM_RATE,
    pattern: Annotated[str, typer.Option(help="Which files in the folder.")] = "*.csv",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run labelled history through the detector: F1, false alarms, missed anomalies, delay.

    Every file is scored on its own, as `anomaly score` would; the rows after the
    training rows are compared with the labels, pooled over all files.
    """
    files = [folder] if folder.is_file() else sorted(folder.rglob(pattern))
    if not files:
        typer.echo(f"error: no files matching {pattern!r} in {folder}", err=True)
        raise typer.Exit(2)
    results: list[FileResult] = []
    for path in files:
        table = _read(path, timestamp_column, label_column, ignore_column)
        assert table.labels is not None
        scored = score_values(table.values, table.columns, train_rows, false_alarm_rate)
        name = str(path.relative_to(folder)) if folder.is_dir() else path.name
        results.append(judge_flags(name, scored.flags, table.labels, table.timestamps,
                                   train_rows or 0))
    total = summarise(results)
    if json_output:
        typer.echo(json.dumps({"total": total, "files": {
            r.name: summarise([r]) for r in results}}))
        return
    _print(results, total)


def _fmt(v: object, pct: bool = False) -> str:
    if v is None:
        return "—"
    if pct and isinstance(v, float):
        return f"{100 * v:.1f} %"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _print(results: list[FileResult], total: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(title="anomaly evaluate: rows after the training rows")
    for col in ("file", "rows", "anomalous", "F1", "false alarms", "missed",
                "segments found", "median delay"):
        table.add_column(col, justify="left" if col == "file" else "right")

    def row(name: str, s: dict[str, object]) -> None:
        delay = s["median_delay_s"] if s["median_delay_s"] is not None else None
        table.add_row(name, str(s["rows"]), str(s["anomalous_rows"]), _fmt(s["f1"]),
                      _fmt(s["false_alarm_rate"], pct=True),
                      _fmt(s["missed_anomaly_rate"], pct=True),
                      f"{s['segments_detected']}/{s['segments']}",
                      (f"{delay:g} s" if isinstance(delay, float | int) else
                       f"{_fmt(s['median_delay_rows'])} rows"))

    for r in results:
        row(r.name, summarise([r]))
    row("all files (pooled)", total)
    Console().print(table)


if __name__ == "__main__":
    app()

"""``fieldpulse anomaly score``: score a CSV of readings with the streaming detector.

Mount in the main CLI with ``app.add_typer(anomaly_app, name="anomaly")``; also runnable
as ``python -m rules.anomaly.cli score IN.csv --output OUT.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from rules.anomaly.csv_io import InputError, read_metrics, write_scores
from rules.anomaly.detector import score_batch
from rules.anomaly.model_detector import score_table as model_scores

app = typer.Typer(help="Streaming anomaly detection on metric CSVs.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Streaming anomaly detection on metric CSVs."""


@app.command()
def score(
    input: Annotated[Path, typer.Argument(help="CSV: a timestamp column and numeric metrics.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where the scores go.")],
    timestamp_column: Annotated[str, typer.Option(help="Name of the timestamp column.")] = (
        "timestamp"),
    train_rows: Annotated[int | None, typer.Option(
        min=0, help="The first N rows are known-normal: learned from, never flagged.")] = None,
) -> None:
    """Score every row causally; write timestamp, anomaly_score (0-1) and is_anomaly (0/1).

    With several metric columns and --train-rows, the multivariate detector that
    `model_anomaly` rules use is fitted on the known-normal rows too, and a row's
    score is the higher of the two.
    """
    try:
        table = read_metrics(input, timestamp_column)
    except InputError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    scores, _, flags, det = score_batch(table.values, train_rows=train_rows)
    if train_rows and table.values.shape[1] > 1:
        scores = np.fmax(scores, model_scores(table.values, train_rows))  # NaN: not scored
        flags = (scores >= det.cfg.threshold).astype(np.int8)
    write_scores(output, table.timestamps, scores, flags)


if __name__ == "__main__":
    app()

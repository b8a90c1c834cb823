"""`fieldpulse`: the one console script that assembles the components.

The gateway's commands (`edge`, `contracts`, `provision`) are imported here and
load only what the edge agent needs. The cloud side's commands are named, not
imported: each loads when it is run (`fieldpulse.lazy_group`), and only where
the cloud side's packages are installed (`pip install 'fieldpulse[cloud]'`). So
are the benchmarks (`fieldpulse bench`, from a source checkout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import typer

from edge_agent.cli import edge
from fieldpulse.bench_cli import bench_app
from fieldpulse.broker_accounts import provision_app
from fieldpulse.cli_common import CLOUD_ONLY
from fieldpulse.lazy_group import LazyCommand, LazyGroup
from firmware_contracts.cli import app as contracts_app

__all__ = ["CLOUD_ONLY", "app"]  # CLOUD_ONLY: what a gateway install lacks, for its test


class FieldPulseGroup(LazyGroup):
    lazy: ClassVar[Mapping[str, LazyCommand]] = {
        "demo": LazyCommand("fieldpulse.cloud_cli:demo", requires=CLOUD_ONLY),
        "run": LazyCommand("fieldpulse.cloud_cli:run", requires=CLOUD_ONLY),
        "simulate": LazyCommand("fieldpulse.cloud_cli:simulate_app", requires=CLOUD_ONLY),
        "user": LazyCommand("fieldpulse.users_cli:app", requires=CLOUD_ONLY),
        "anomaly": LazyCommand("rules.anomaly.cli:app", requires=CLOUD_ONLY,
                               help="Score CSV files with the streaming detector."),
        "db": LazyCommand("fieldpulse.cloud_cli:db_app", requires=CLOUD_ONLY),
        "articles": LazyCommand("fieldpulse.articles_cli:app", requires=CLOUD_ONLY),
        "i18n": LazyCommand("fieldpulse.i18n_catalogues:app", requires=("babel",)),
    }


app = typer.Typer(cls=FieldPulseGroup, no_args_is_help=True,
                  help="FieldPulse: IoT telemetry, alerts and field-service dispatch.")
app.command("edge")(edge)
app.add_typer(contracts_app, name="contracts", help="Check payloads against the wire contract.")
app.add_typer(provision_app, name="provision",
              help="Broker accounts (gateway and cloud passwords, the ACL Mosquitto "
                   "enforces) and the broker's TLS certificate.")
app.add_typer(bench_app, name="bench")

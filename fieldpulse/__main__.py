"""`python -m fieldpulse …`: the same as the `fieldpulse` console script."""

from fieldpulse.cli import app

app()

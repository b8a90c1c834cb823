"""`python -m benchmarks.dispatch ...` from the repository root: `fieldpulse bench dispatch ...`."""

from benchmarks.dispatch.cli import app

if __name__ == "__main__":  # a guard: the solver's worker processes import this module
    app(prog_name="python -m benchmarks.dispatch")

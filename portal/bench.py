"""`python -m portal.bench [--json] ...`: the old name of `fieldpulse bench portal`
(the benchmark is `benchmarks/portal.py`; see `foundations.bench_alias`)."""

from __future__ import annotations

from foundations.bench_alias import run_benchmark

if __name__ == "__main__":
    run_benchmark("benchmarks.portal", "python -m portal.bench", "fieldpulse bench portal")

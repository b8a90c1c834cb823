"""`python -m dispatch.bench solomon FILE --time-limit S`, `… field`, ...: the old name
of `fieldpulse bench dispatch` (the benchmark is `benchmarks/dispatch/`; see
`foundations.bench_alias`)."""

from __future__ import annotations

from foundations.bench_alias import run_benchmark

if __name__ == "__main__":
    run_benchmark("benchmarks.dispatch", "python -m dispatch.bench", "fieldpulse bench dispatch")

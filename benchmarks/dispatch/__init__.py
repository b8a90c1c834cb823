"""Dispatcher benchmarks: Solomon VRPTW instances against the best known, and a
synthetic field-scale city day (`fieldpulse bench dispatch`, `python -m benchmarks.dispatch`)."""

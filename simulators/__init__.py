"""Simulated fleet, telemetry and labelled faults for demos and tests.

fleet (who and where) → profiles (per-model numbers, profiles.toml) →
signals (one device's readings) → faults (what goes wrong, when) → driver
(the edge agent's `Driver` protocol). Production code never imports this.
"""

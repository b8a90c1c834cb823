"""Sales cloud: opportunities the telemetry creates (consumables, upgrades)."""

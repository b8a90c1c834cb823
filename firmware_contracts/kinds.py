"""The payload kinds of contract v1 and the identifier patterns they share."""

from typing import Final, Literal

# Bumped only together with the topic version (fp/v1 -> fp/v2); see README.md.
CONTRACT_VERSION: Final = 1

Kind = Literal["telemetry", "status", "config", "cmd", "cmd_ack", "ack"]
KINDS: Final[tuple[Kind, ...]] = ("telemetry", "status", "config", "cmd", "cmd_ack", "ack")

# Gateway, device and command ids end up in MQTT topics, file names and log lines,
# so no slashes, wildcards (+ #), spaces or dots; 64 characters at most.
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
METRIC_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"
# A gateway outbox's epoch: made at random when the outbox is created, so batches of a
# reinstalled gateway (seq from 0 again) are never taken for ones the cloud has stored.
EPOCH_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"

# Integers beyond 2**53 - 1 lose precision in JavaScript and in any parser that
# reads numbers as doubles (orjson itself turns integers past 64 bits into floats).
MAX_JSON_INT: Final = 2**53 - 1

MAX_READINGS: Final = 10_000
MAX_METRICS: Final = 64
# One ack message answers at most this many batches (a group of ingest's, per gateway).
MAX_ACKS: Final = 10_000

# A config's `version` counts changes; at one a second this lasts 68 years, and it fits
# a signed 32-bit integer in firmware. A version beyond it is refused: a retained config
# with an absurd version (2**53 - 1) would otherwise outrank every later real one.
MAX_CONFIG_VERSION: Final = 2**31 - 1


def schema_filename(kind: Kind) -> str:
    """Name of the kind's JSON Schema file in `firmware_contracts/schemas/`."""
    return f"{kind}.v{CONTRACT_VERSION}.schema.json"

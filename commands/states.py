"""A command's life, as a pure function: which status may follow which.

queued ──▶ sent ──▶ delivered ──▶ succeeded | failed
   │         │          │
   └─────────┴──────────┴──▶ expired (its deadline passed first)

- sent: published to the gateway (again and again, same id, until the receipt comes);
- delivered: the gateway acked receipt (`stage: received`) and keeps the command;
- succeeded / failed: the device's answer (`ok` true / false), with its payload;
- a gateway's answer may overtake its receipt (both QoS 1, redelivered independently), so
  an answer is taken from `sent` too; anything reaching a final status stays there.
"""

from __future__ import annotations

from typing import Final

QUEUED, SENT, DELIVERED, SUCCEEDED, FAILED, EXPIRED = (
    "queued", "sent", "delivered", "succeeded", "failed", "expired")
STATUSES: Final = (QUEUED, SENT, DELIVERED, SUCCEEDED, FAILED, EXPIRED)
FINAL: Final = frozenset({SUCCEEDED, FAILED, EXPIRED})
# Not yet received by the gateway: these are (re)published while it is online.
UNDELIVERED: Final = (QUEUED, SENT)

_NEXT: Final[dict[str, frozenset[str]]] = {
    QUEUED: frozenset({SENT, EXPIRED}),
    SENT: frozenset({DELIVERED, SUCCEEDED, FAILED, EXPIRED}),
    DELIVERED: frozenset({SUCCEEDED, FAILED, EXPIRED}),
    SUCCEEDED: frozenset(), FAILED: frozenset(), EXPIRED: frozenset(),
}


class TransitionError(ValueError):
    """A status that may not follow the current one."""


def can_move(current: str, new: str) -> bool:
    return new in _NEXT.get(current, frozenset())


def move(current: str, new: str) -> str:
    """`new`, if it may follow `current`; TransitionError says why not."""
    if current not in _NEXT or new not in _NEXT:
        raise TransitionError(f"unknown status: {current!r} -> {new!r}")
    if not can_move(current, new):
        raise TransitionError(f"a {current} command cannot become {new}")
    return new


def is_final(status: str) -> bool:
    return status in FINAL

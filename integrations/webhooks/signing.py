"""What a receiver gets: the event as JSON, and headers that prove who sent it.

`X-FieldPulse-Signature` is HMAC-SHA256, in hex, over `f"{timestamp}.{body}"` with the
subscription's secret, where `timestamp` is `X-FieldPulse-Timestamp` (Unix seconds
of this attempt) and `body` the raw request body. Signing the timestamp lets a
receiver refuse an old request replayed by someone who recorded it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from integrations.domain_events.tables import OutboxEvent

EVENT_ID_HEADER = "X-FieldPulse-Event-Id"  # the idempotency key: the same on every retry
TIMESTAMP_HEADER = "X-FieldPulse-Timestamp"
SIGNATURE_HEADER = "X-FieldPulse-Signature"
ATTEMPT_HEADER = "X-FieldPulse-Attempt"
# Receivers should refuse signatures older (or newer) than this.
DEFAULT_TOLERANCE_S = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, supplied: str, *, now_s: float,
           tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """The receiver's check (also the recipe in portal/README.md)."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now_s - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), supplied)


def event_body(event: OutboxEvent) -> bytes:
    """The same bytes on every attempt: only the headers' timestamp and signature change."""
    return json.dumps({
        "id": event.id,
        "type": event.event_type,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "sequence": event.seq,
        "occurred_at": event.occurred_at,
        "changed": json.loads(event.changed) if event.changed else [],
        "data": json.loads(event.payload),
    }, separators=(",", ":"), sort_keys=True).encode()


def signed_headers(secret: str, event_id: int, timestamp: int, body: bytes,
                   attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "FieldPulse-Webhooks/1",
        EVENT_ID_HEADER: str(event_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        ATTEMPT_HEADER: str(attempt),
    }

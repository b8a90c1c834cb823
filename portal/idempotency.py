"""Idempotency keys for inbound writes: a retried request gets the first answer again.

The key's row is stored in the same transaction as the change it answers for, so a
change is never done without its key being recorded, nor the other way round. Two
requests with one key at the same moment: the second one's insert of the key fails,
its change rolls back, and it answers what the first stored. Only successes are
stored; a refused request changed nothing and may be retried with the same key.
Keys belong to a caller (two integrations cannot collide) and expire after a day.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from asset_registry.database import session_scope
from portal.webhooks.tables import IdempotencyKey

TTL_MS = 24 * 3600 * 1000
REPLAYED_HEADER = "Idempotent-Replayed"

KeyHeader = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="send the same key to retry safely: the first answer is returned again")]

# What a change does in the caller's transaction: (status code, JSON body).
Action = Callable[[Session], tuple[int, dict[str, Any]]]


def request_hash(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def run_once(engine: Engine, caller: str, key: str | None, fingerprint: str, action: Action,
             *, now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
             ) -> tuple[JSONResponse, bool]:
    """Do `action` unless `key` already answered; returns (response, done now)."""
    if key is None:
        with session_scope(engine) as session:
            status, body = action(session)
        return JSONResponse(body, status), True
    for _ in range(3):
        try:
            return _attempt(engine, caller, key, fingerprint, action, now_ms())
        except IntegrityError:
            continue  # a concurrent request with this key committed first: answer as it
    raise HTTPException(409, f"Idempotency-Key '{key}' is in use by a concurrent request")


def _attempt(engine: Engine, caller: str, key: str, fingerprint: str, action: Action,
             now: int) -> tuple[JSONResponse, bool]:
    with session_scope(engine) as session:
        stored = session.get(IdempotencyKey, (caller, key))
        if stored is not None and stored.expires_at > now:
            if stored.request_hash != fingerprint:
                raise HTTPException(422, f"Idempotency-Key '{key}' was used for a different "
                                    "request; use a new key for a new request")
            return JSONResponse(json.loads(stored.response), stored.status_code,
                                headers={REPLAYED_HEADER: "true"}), False
        session.connection().execute(delete(IdempotencyKey).where(
            col(IdempotencyKey.expires_at) <= now))
        session.expunge_all()  # the expired row just deleted, if it was this key
        status, body = action(session)
        session.add(IdempotencyKey(caller=caller, key=key, request_hash=fingerprint,
                                   status_code=status, response=json.dumps(body, default=str),
                                   created_at=now, expires_at=now + TTL_MS))
        session.flush()
    return JSONResponse(body, status), True

"""Idempotency keys for inbound writes: a retried request gets the first answer again.

The key's row is stored in the same transaction as the change it answers for, so a
change is never done without its key being recorded, nor the other way round. Two
requests with one key at the same moment: the second one's insert of the key fails,
its change rolls back, and it answers what the first stored. Only successes are
stored; a refused request changed nothing and may be retried with the same key.
Keys belong to a caller (two integrations cannot collide) and expire after a day.

HTTP-free: the portal turns an `Answer` into a response and `KeyConflict` into its
status code (portal/idempotency.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col

from foundations.clock import Clock, now_ms
from foundations.database import session_scope

TTL_MS = 24 * 3600 * 1000

# What a change does in the caller's transaction: (status code, JSON body).
Action = Callable[[Session], tuple[int, dict[str, Any]]]


class IdempotencyKey(SQLModel, table=True):
    """An inbound request's answer, kept so a retry with the same key gets it again."""

    __tablename__ = "idempotency_key"
    caller: str = Field(primary_key=True)  # keys are per caller: one cannot replay another's
    key: str = Field(primary_key=True)
    request_hash: str  # SHA-256 of method, path and canonical JSON body
    status_code: int
    response: str  # JSON body
    created_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger, index=True)


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int
    body: dict[str, Any]
    replayed: bool  # the stored answer of an earlier request with the same key


class KeyConflict(Exception):
    """The key cannot be used for this request; `status` says how (409, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def request_hash(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def run_once(engine: Engine, caller: str, key: str | None, fingerprint: str, action: Action,
             *, clock: Clock = now_ms) -> Answer:
    """Do `action` unless `key` already answered."""
    if key is None:
        with session_scope(engine) as session:
            status, body = action(session)
        return Answer(status, body, replayed=False)
    for _ in range(3):
        try:
            return _attempt(engine, caller, key, fingerprint, action, clock())
        except IntegrityError:
            continue  # a concurrent request with this key committed first: answer as it
    raise KeyConflict(409, f"Idempotency-Key '{key}' is in use by a concurrent request")


def _attempt(engine: Engine, caller: str, key: str, fingerprint: str, action: Action,
             now: int) -> Answer:
    with session_scope(engine) as session:
        stored = session.get(IdempotencyKey, (caller, key))
        if stored is not None and stored.expires_at > now:
            if stored.request_hash != fingerprint:
                raise KeyConflict(422, f"Idempotency-Key '{key}' was used for a different "
                                  "request; use a new key for a new request")
            return Answer(stored.status_code, json.loads(stored.response), replayed=True)
        session.connection().execute(delete(IdempotencyKey).where(
            col(IdempotencyKey.expires_at) <= now))
        session.expunge_all()  # the expired row just deleted, if it was this key
        status, body = action(session)
        session.add(IdempotencyKey(caller=caller, key=key, request_hash=fingerprint,
                                   status_code=status, response=json.dumps(body, default=str),
                                   created_at=now, expires_at=now + TTL_MS))
        session.flush()
    return Answer(status, body, replayed=False)

"""Password hashing (argon2id) and generated secrets."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
# Verified against when the user does not exist, so a wrong name costs as long as
# a wrong password and timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    return secrets.token_urlsafe(12)


def new_secret(prefix: str = "") -> str:
    """A 256-bit random secret (API tokens, session keys)."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    # Secrets made by new_secret() carry 256 random bits: a plain SHA-256 cannot be
    # brute-forced and keeps the per-request lookup cheap (argon2 is for passwords).
    return hashlib.sha256(secret.encode()).hexdigest()

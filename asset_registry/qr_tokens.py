"""QR tokens: the secret in the URL of a device's customer page, printed on its label."""

from __future__ import annotations

import secrets


def new_qr_token() -> str:
    # 128 bits: unguessable, and short enough for a small QR code.
    return secrets.token_urlsafe(16)

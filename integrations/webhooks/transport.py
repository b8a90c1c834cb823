"""The one place that talks HTTP: POST a body, report the status or why there is none.

Standard library only (http.client), so the cloud install needs no further HTTP
client. It connects to the address `targets.TargetPolicy.resolve` checked, never
resolving the name again, and speaks to the URL's host (Host header, TLS server
name and certificate). A URL's `user:password@` goes as HTTP Basic authentication.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from integrations.webhooks.targets import Target


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None  # None: no HTTP answer at all
    error: str | None  # why it did not count as delivered

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Transport(Protocol):
    def __call__(self, target: Target, body: bytes, headers: Mapping[str, str],
                 timeout_s: float) -> Answer: ...


class _Pinned(http.client.HTTPConnection):
    """Plain HTTP to the checked address."""

    def __init__(self, target: Target, timeout_s: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTls(_Pinned):
    """HTTPS to the checked address, the certificate verified for the URL's host."""

    tls = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Answer:
    connection = (_PinnedTls if target.scheme == "https" else _Pinned)(target, timeout_s)
    sent = dict(headers)
    if target.username is not None:
        pair = f"{target.username}:{target.password or ''}".encode()
        sent["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    try:
        connection.request("POST", target.path, body=body, headers=sent)
        # Redirects are not followed: a redirected POST would lose its body.
        response = connection.getresponse()
        response.read(64 * 1024)  # drain a little, so the connection closes cleanly
        code, reason = response.status, response.reason
    except (OSError, http.client.HTTPException, ValueError) as err:
        return Answer(None, f"{type(err).__name__}: {err}"[:500])
    finally:
        connection.close()
    return Answer(code, None) if 200 <= code < 300 else Answer(code, f"HTTP {code} {reason}")

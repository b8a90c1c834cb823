"""The one place that talks HTTP: POST a body, report the status or why there is none.

Standard library only (urllib), so the cloud install needs no further HTTP client.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None  # None: no HTTP answer at all
    error: str | None  # why it did not count as delivered

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Transport(Protocol):
    def __call__(self, url: str, body: bytes, headers: Mapping[str, str],
                 timeout_s: float) -> Answer: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirected POST would arrive as a GET without its body: a 3xx is a failure.
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Answer:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            response.read(64 * 1024)  # drain a little, so the connection closes cleanly
            code = response.status
    except urllib.error.HTTPError as err:  # an answer, but not 2xx
        return Answer(err.code, f"HTTP {err.code} {err.reason}")
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return Answer(None, f"{type(err).__name__}: {reason}"[:500])
    return Answer(code, None)

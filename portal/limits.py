"""How large a request body may be, enforced before anything reads it.

`BodyLimit` is the outermost ASGI middleware of the portal: a request whose
`Content-Length` says more than its route may take gets a 413 before any
handler, dependency or parser runs (nothing is read, parsed or spooled to disk);
a body without a length (chunked) is counted as it arrives and refused at the
first byte past the limit. Most routes take small JSON or forms (`DEFAULT_BYTES`);
the routes that take images have the room their images need.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.context import DEFAULT_BODY_BYTES
from portal.schemas.work_orders import MAX_SIGNATURE_CHARS
from portal.uploads import MAX_IMAGE_BYTES
from service.customer_reports import MAX_PHOTOS as MAX_FAULT_PHOTOS

DEFAULT_BYTES = DEFAULT_BODY_BYTES
# A multipart form's boundaries, part headers and its small fields.
FORM_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class RouteLimit:
    method: str
    path: re.Pattern[str]
    max_bytes: int


ROUTE_LIMITS = (
    # The engineer's job photo (one image).
    RouteLimit("POST", re.compile(r"/api/work-orders/[^/]+/photos\Z"),
               MAX_IMAGE_BYTES + FORM_OVERHEAD),
    # The customer's signature, a PNG as base64 in JSON.
    RouteLimit("POST", re.compile(r"/api/work-orders/[^/]+/sign-off\Z"),
               MAX_SIGNATURE_CHARS + FORM_OVERHEAD),
    # The customer's fault report with its photos.
    RouteLimit("POST", re.compile(r"/q/[^/]+/report\Z"),
               MAX_FAULT_PHOTOS * MAX_IMAGE_BYTES + FORM_OVERHEAD),
)


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is too large: at most {max_bytes} bytes here")


class BodyLimit:
    def __init__(self, app: ASGIApp, default_bytes: int = DEFAULT_BYTES,
                 routes: Sequence[RouteLimit] = ROUTE_LIMITS) -> None:
        self.app, self.default_bytes, self.routes = app, default_bytes, routes

    def limit_for(self, method: str, path: str) -> int:
        return next((r.max_bytes for r in self.routes
                     if r.method == method and r.path.match(path)), self.default_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            error = (BodyTooLarge(limit) if declared.isdigit()
                     else HTTPException(400, "Content-Length: not a number of bytes"))
            await _refuse(error, scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised into whoever reads: FastAPI answers it as the 413 it is.
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as error:
            if not started:  # else the answer is under way: the connection just ends
                await _refuse(error, scope, receive, send)


async def _refuse(error: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    # The unread body is left unread: the server closes the connection after this.
    response = JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers={"Connection": "close"})
    await response(scope, receive, send)

"""Security headers on every answer of the portal, pages and API alike.

- `Content-Security-Policy`: the pages run only the portal's own scripts and
  styles (`/static/`, Leaflet bundled; no inline script, style or style
  attribute), show images from the portal itself (and `data:`/`blob:`, the
  engineer app's thumbnails) and from the map's tile server when one is set
  (`--tile-url`: that origin and no other), talk only to the portal, and may not
  be framed (`frame-ancestors 'none'`) or post forms elsewhere. `/docs` is one of
  these pages (Swagger UI bundled); `/redoc` and `/docs/oauth2-redirect` are
  FastAPI's, with an inline script (ReDoc from its CDN): they get a policy of
  their own for that.
- `X-Frame-Options: DENY` for browsers without `frame-ancestors`,
  `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (a customer's
  page has its QR token in the URL), `Permissions-Policy` off for what no page
  uses, `Cross-Origin-Opener-Policy: same-origin`.
- `Cache-Control: no-store` on everything but the static files, unless the route
  says otherwise (the device list: `private, no-cache`, revalidated by its ETag).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = ("/docs/oauth2-redirect", "/redoc")
STATIC_PREFIX = "/static/"
DOCS_CDN = "https://cdn.jsdelivr.net"


def tile_origin(tile_url: str) -> str:
    """The origin of a Leaflet tile URL template, as a CSP source: `{s}` (the
    subdomain) becomes `*`. "" when no tile server is set."""
    if not tile_url:
        return ""
    parts = urlsplit(tile_url)
    labels = parts.hostname.split(".") if parts.hostname else []
    if parts.scheme not in ("http", "https") or not labels:
        raise ValueError(f"tile URL: expected http(s)://host/..., not '{tile_url}'")
    host = ".".join("*" if "{" in label else label for label in labels)
    if "*" in host[1:]:
        raise ValueError(f"tile URL: only the first label of the host may vary: '{tile_url}'")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def content_security_policy(tile_url: str = "") -> str:
    images = " ".join(filter(None, ("'self' data: blob:", tile_origin(tile_url))))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src {images}; connect-src 'self'; font-src 'self'; manifest-src 'self'; "
            "worker-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")


DOCS_POLICY = (f"default-src 'none'; script-src 'self' 'unsafe-inline' {DOCS_CDN}; "
               f"style-src 'self' 'unsafe-inline' {DOCS_CDN}; img-src 'self' data: https:; "
               "connect-src 'self'; font-src 'self' https:; worker-src blob:; "
               "form-action 'none'; base-uri 'none'; frame-ancestors 'none'")

COMMON = (
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, tile_url: str = "") -> None:
        self.app = app
        self.policy = content_security_policy(tile_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = DOCS_POLICY if path in DOCS_PATHS else self.policy

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                for name, value in COMMON:
                    headers[name] = value
                if not path.startswith(STATIC_PREFIX) and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)

"""The `http` worker: the portal's ASGI app served by uvicorn on a thread of its own.

`X-Forwarded-For` and `X-Forwarded-Proto` are believed only from the proxies the
operator names (`trusted_proxies`: addresses or networks, the `trusted_proxies`
setting): from them uvicorn takes the client's address (which the rate limits key
on) and the scheme (https makes the session cookie Secure). Without any, the
headers are ignored from everyone, loopback included: anyone could otherwise
send a new address with every request and never meet a rate limit.
"""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI

from foundations.workers import Life, Worker


class HttpServer(Worker):
    name = "http"

    def __init__(self, app: FastAPI, host: str, port: int,
                 trusted_proxies: Sequence[str] = ()) -> None:
        super().__init__()
        self._app, self._host, self._port = app, host, port
        self._trusted = list(trusted_proxies)
        self._server: uvicorn.Server | None = None

    def config(self) -> uvicorn.Config:
        return uvicorn.Config(self._app, host=self._host, port=self._port,
                              log_level="warning", proxy_headers=bool(self._trusted),
                              forwarded_allow_ips=self._trusted or None,
                              server_header=False)

    def run(self, life: Life) -> None:
        self._server = uvicorn.Server(self.config())
        if life.stopping:
            return
        self._server.run()  # until interrupt() asks it to exit
        if not life.stopping:
            raise RuntimeError(f"the HTTP server on {self._host}:{self._port} stopped")

    def interrupt(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        super().interrupt()

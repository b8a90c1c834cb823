"""The `http` worker: the portal's ASGI app served by uvicorn on a thread of its own."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from foundations.workers import Life, Worker


class HttpServer(Worker):
    name = "http"

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        super().__init__()
        self._app, self._host, self._port = app, host, port
        self._server: uvicorn.Server | None = None

    def run(self, life: Life) -> None:
        config = uvicorn.Config(self._app, host=self._host, port=self._port,
                                log_level="warning")
        self._server = uvicorn.Server(config)
        if life.stopping:
            return
        self._server.run()  # until interrupt() asks it to exit
        if not life.stopping:
            raise RuntimeError(f"the HTTP server on {self._host}:{self._port} stopped")

    def interrupt(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        super().interrupt()

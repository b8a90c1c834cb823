"""A real HTTP webhook receiver on loopback, as a CRM would run one: it verifies each
signature, deduplicates on the event id (the idempotency key), and checks that every
record's events arrive in order without gaps. It can fail at random (seeded), go
down and come back on the same port, and hold a request open (for a kill mid-POST)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from integrations.webhooks.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from integrations.webhooks.targets import TargetPolicy

# The receivers listen on loopback, which webhooks reach only where an admin allows it.
RECEIVER_NETWORKS = ("127.0.0.1/32",)
RECEIVERS_ALLOWED = TargetPolicy(RECEIVER_NETWORKS)


@dataclass
class Received:
    processed: list[int] = field(default_factory=list)  # event ids, each once
    bodies: dict[int, dict] = field(default_factory=dict)
    duplicates: int = 0  # requests for an event id already processed
    bad_signatures: int = 0
    # Requests cut off before their body arrived (the sender was killed mid-POST).
    truncated: int = 0
    out_of_order: list[str] = field(default_factory=list)
    last_seq: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Receiver:
    def __init__(self, port: int, *, fail_rate: float = 0.0, lose_ack_rate: float = 0.0,
                 seed: int = 1) -> None:
        self.port, self.fail_rate, self.lose_ack_rate = port, fail_rate, lose_ack_rate
        self.secret = ""
        self.got = Received()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.hold = threading.Event()  # set: the next processed request is held open
        self.holding = threading.Event()  # set while a request is held
        self.release = threading.Event()
        self.held_id: int | None = None  # the event whose answer was held

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/fieldpulse"

    def start(self) -> Receiver:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def processed_ids(self) -> set[int]:
        with self._lock:
            return set(self.got.processed)

    def _handle(self, headers: Message, body: bytes) -> int:
        # Header names are case-insensitive (urllib sends X-Fieldpulse-...): Message.get is too.
        if not verify(self.secret, headers.get(TIMESTAMP_HEADER, ""), body,
                      headers.get(SIGNATURE_HEADER, ""), now_s=time.time()):
            with self._lock:
                self.got.bad_signatures += 1
            return 401
        with self._lock:
            if self._rng.random() < self.fail_rate:
                return 500  # failed before doing anything: the sender must retry
            event_id = int(headers[EVENT_ID_HEADER])
            if event_id in self.got.bodies:
                self.got.duplicates += 1
                return 200  # already have it: acknowledge, do nothing
            event = json.loads(body)
            assert event["id"] == event_id
            key = f"{event['record_type']}:{event['record_id']}"
            if event["sequence"] != self.got.last_seq[key] + 1:
                self.got.out_of_order.append(
                    f"{key}: got {event['sequence']} after {self.got.last_seq[key]}")
            self.got.last_seq[key] = max(self.got.last_seq[key], event["sequence"])
            self.got.bodies[event_id] = event
            self.got.processed.append(event_id)
            lose_ack = self._rng.random() < self.lose_ack_rate
            hold = self.hold.is_set()
            if hold:
                self.hold.clear()
                self.held_id = event_id
        if hold:
            self.holding.set()
            self.release.wait(60)  # processed, but the answer does not get back in time
            self.holding.clear()
        return 503 if lose_ack else 200  # processed, but the sender hears of a failure

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the connection closed mid-body: no request
                    with receiver._lock:
                        receiver.got.truncated += 1
                    status = 400
                else:
                    status = receiver._handle(self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        return Handler

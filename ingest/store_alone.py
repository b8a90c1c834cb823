"""Storing one message that failed in its group: retried while the store is down,
dead-lettered as `ingest_error` once it has failed alone `attempts` times. Shared by the
MQTT consumer (`ingest.consumer`) and the JetStream one (`ingest.jetstream`)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import InterfaceError, OperationalError

from ingest.group_items import Outcome
from ingest.pipeline import IngestPipeline
from ingest.telemetry_store import StoreError

log = logging.getLogger("fieldpulse.ingest")

# A store that is down (database, TSDB, network) is waited for, never dead-lettered:
# the message is retried until it is stored.
TRANSIENT_ERRORS = (StoreError, OperationalError, InterfaceError, OSError)


def store_alone(pipeline: IngestPipeline, topic: str, payload: bytes, attempts: int,
                backoff_s: float, stopping: threading.Event) -> Outcome | None:
    """The message's outcome, or None when `stopping` was set while it could not be stored
    (it stays unacknowledged: the broker delivers it again)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return pipeline.handle(topic, payload)
        except TRANSIENT_ERRORS as exc:
            log.warning("event=store_unavailable topic=%s attempt=%d error=%r",
                        topic, attempt, exc)
        except Exception as exc:
            log.warning("event=message_failed topic=%s attempt=%d error=%r",
                        topic, attempt, exc)
            if attempt >= attempts:
                # A bug for this message: keep it as a dead letter and go on (if even
                # that fails, the database is down: keep retrying).
                try:
                    return pipeline.dead_letter_failure(topic, payload, exc)
                except Exception as dl_exc:
                    log.warning("event=dead_letter_failed error=%r", dl_exc)
        if stopping.wait(min(backoff_s * attempt, 5.0)):
            return None

"""The cloud's acknowledgements to gateways: which batches are committed, per gateway.

Published on `fp/v1/gw/{gw}/ack` (contract v1, kind `ack`) only after the transaction
that stored the batches (or their dead letters, or found them stored before) committed:
the gateway deletes a batch from its outbox on this, never on the broker's PUBACK,
which Mosquitto gives for messages it may still lose (a full queue, a kill before its
autosave). A lost ack costs one re-sent batch, which the dedupe answers with another ack.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from firmware_contracts.topics import ack_topic
from ingest.group_items import Outcome

_OUTCOME = {"stored": "stored", "duplicate": "duplicate", "rejected": "dead_lettered"}


def ack_messages(outcomes: Iterable[Outcome]) -> list[tuple[str, bytes]]:
    """(topic, payload) per gateway for the ackable outcomes of a committed group."""
    per_gateway: dict[str, list[dict[str, object]]] = {}
    for outcome in outcomes:
        if not outcome.ackable or not outcome.gateway_id:
            continue
        entry: dict[str, object] = {"seq": outcome.seq}
        if outcome.epoch is not None:
            entry["epoch"] = outcome.epoch
        entry["outcome"] = _OUTCOME[outcome.kind]
        per_gateway.setdefault(outcome.gateway_id, []).append(entry)
    return [(ack_topic(gw), orjson.dumps({"v": 1, "gw": gw, "acks": acks}))
            for gw, acks in per_gateway.items()]

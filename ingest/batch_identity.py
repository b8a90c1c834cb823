"""What makes a batch the same batch: its (gateway, seq) key and a digest of its content.

A batch published again (the broker redelivered it, the gateway re-sent it) carries
the same key and the same digest, and is a duplicate; the same key with another
digest is a conflict (`ingest.pipeline` dead-letters it).
"""

from __future__ import annotations

import hashlib

import orjson

from ingest.checks import Json


def batch_digest(payload: bytes, doc: Json) -> str:
    """What makes two batches under one (gateway, seq) the same: their bytes, less the
    `sent` time a gateway sets anew when it publishes a batch again.

    With the keys in the contract's order (`sent` before `readings`, as the edge agent
    writes them) that is the payload from `"readings"` on; `v`, `gw` and `seq` are the
    same for two copies by definition. Hashing the bytes as received costs a tenth of
    decoding them; a payload in another key order pays for serializing its readings."""
    start = payload.find(b'"readings"')
    if 0 <= payload.find(b'"sent"') < start:
        content: bytes | memoryview = memoryview(payload)[start:]
    else:
        content = orjson.dumps(doc["readings"])
    return hashlib.sha256(content).hexdigest()[:32]

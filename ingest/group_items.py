"""One message on its way through a group of the pipeline, and what became of it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from firmware_contracts.kinds import EPOCH_PATTERN, MAX_JSON_INT
from firmware_contracts.validate import ContractError
from ingest.checks import AcceptedBatch, AcceptedReading, Json, Reject

_EPOCH = re.compile(EPOCH_PATTERN.replace("$", r"\Z"))


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # stored | duplicate | rejected | status | ignored
    stored: int = 0
    rejected: int = 0
    # The telemetry batch's key, when the payload named one: what the gateway is acked
    # with. `epoch` None: the batch carried none (a gateway that predates epochs).
    gateway_id: str = ""
    epoch: str | None = None
    seq: int | None = None

    @property
    def ackable(self) -> bool:
        """A telemetry batch now committed (stored, already stored, or dead-lettered) whose
        key is known: its gateway may delete it."""
        return self.seq is not None and self.kind in ("stored", "duplicate", "rejected")


@dataclass(slots=True)
class GroupItem:
    """One message on its way through a group."""

    topic: str
    gateway_id: str = ""
    kind: str = "ignored"  # telemetry | status | rejected | ignored
    doc: Json = field(default_factory=dict)
    # The fast path's whole-batch acceptance, or the slow path's accepted readings.
    accepted: AcceptedBatch | list[AcceptedReading] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    raw: bool = False  # every reading accepted: the payload can be stored as is
    error: ContractError | None = None
    reason: str = ""
    payload: bytes = b""
    duplicate: bool = False
    digest: str = ""  # of a telemetry batch's content (`batch_digest`)
    # A telemetry payload's key as far as it could be read (even from a refused batch).
    epoch: str | None = None
    seq: int | None = None

    def read_key(self, doc: object) -> None:
        """Take (epoch, seq) from a decoded telemetry document if they are usable."""
        if not isinstance(doc, dict):
            return
        seq, epoch = doc.get("seq"), doc.get("epoch")
        if type(seq) is int and 0 <= seq <= MAX_JSON_INT:
            self.seq = seq
        if isinstance(epoch, str) and _EPOCH.match(epoch):
            self.epoch = epoch

    def outcome(self, kind: str, stored: int = 0, rejected: int = 0) -> Outcome:
        return Outcome(kind, stored, rejected, self.gateway_id, self.epoch, self.seq)

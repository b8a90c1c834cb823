"""Step 2 of a group: which batches were stored already, which rejects were kept already.

A batch is the same batch by its key (gateway, epoch, seq) and its content digest
(`ingest.batch_identity`): the same key and digest is a duplicate, the same key with
another digest a conflict, dead-lettered as `conflicting_duplicate` (whoever claims a
gateway's next seq numbers must not make its real batches vanish unseen). The epoch is
the gateway outbox's: a reinstalled gateway numbers from 0 again under a new one.
"""

from __future__ import annotations

from sqlalchemy import Connection

from firmware_contracts.validate import ContractError
from ingest.group_items import GroupItem


def batch_epoch(item: GroupItem) -> str:
    """The epoch a batch is keyed with: '' for a batch without one."""
    return item.epoch or ""


def mark_duplicates(conn: Connection, mark: str, items: list[GroupItem]) -> None:
    """One query per (gateway, epoch) in the group for the batches it already stored."""
    wanted: dict[tuple[str, str], set[int]] = {}
    for item in items:
        if item.kind == "telemetry":
            wanted.setdefault((item.gateway_id, batch_epoch(item)), set()).add(item.doc["seq"])
    # (gateway, epoch, seq) -> digest of what was stored (None: stored before digests were)
    stored: dict[tuple[str, str, int], str | None] = {}
    for (gateway_id, epoch), seqs in wanted.items():
        marks = ", ".join([mark] * len(seqs))
        rows = conn.exec_driver_sql(
            f"SELECT seq, payload_hash FROM ingested_batch WHERE gateway_id = {mark} "
            f"AND epoch = {mark} AND seq IN ({marks})", (gateway_id, epoch, *seqs))
        stored.update(((gateway_id, epoch, seq), digest) for seq, digest in rows)
    for item in items:
        if item.kind != "telemetry":
            continue
        key = (item.gateway_id, batch_epoch(item), item.doc["seq"])
        if key not in stored:
            stored[key] = item.digest  # later copies in this group compare with it
            continue
        first = stored[key]
        if first is None or first == item.digest:
            item.duplicate = True
        else:
            epoch = f" epoch '{key[1]}'" if key[1] else ""
            item.kind, item.reason = "rejected", "conflicting_duplicate"
            item.error = ContractError(
                "telemetry", "seq", f"seq {key[2]}{epoch} of gateway '{key[0]}' was already "
                "stored with other content; this batch was not stored")


def mark_known_rejects(conn: Connection, mark: str, items: list[GroupItem],
                       kept_payload: dict[int, str]) -> None:
    """A redelivered message that was rejected before already has its dead letter.
    `kept_payload`: id(item) -> the payload text its dead letter holds."""
    for item in items:
        if item.kind != "rejected" or item.error is None:
            continue
        kept = conn.exec_driver_sql(
            f"SELECT 1 FROM dead_letter WHERE topic = {mark} AND payload = {mark} LIMIT 1",
            (item.topic, kept_payload[id(item)])).first()
        item.duplicate = kept is not None

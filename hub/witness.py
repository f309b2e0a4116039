"""Witnessing peers' audit logs: the newest checkpoint of each peer province's log this hub holds.

A peer shows its newest signed checkpoint (``PeerExchange.Witness``). This hub accepts it when the
signature is the peer's hub key (from the national trust list) and, if it already holds an older
checkpoint of that log, an RFC 9162 consistency proof shows the old tree is a prefix of the new
one. A proof that fails, a different root for a size already held, or a log that shrank is an
ALARM: the peer rewrote its past (or shows different logs to different peers). The held
checkpoint stays as it was, the refused one is kept beside it as evidence (both are signed by the
peer), and the alarm is written to this hub's own audit log in the same transaction.

``offer`` decides and stores in one transaction with the province's row locked (PostgreSQL:
SELECT .. FOR UPDATE; SQLite: the write transaction), so replicas witnessing at once agree.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.audit import AuditEntry, append_audit
from hub.audit_checkpoint import Checkpoint, CheckpointInvalid, SignedCheckpoint, verify_checkpoint
from hub.db import Database
from hub.merkle import MerkleProofError, verify_consistency
from hub.models import PeerCheckpoint

log = logging.getLogger(__name__)

WITNESS_ALARM = "witness_alarm"  # audit event kind


class WitnessStatus(StrEnum):
    ACCEPTED = "accepted"
    NEED_PROOF = "need_proof"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class WitnessOutcome:
    status: WitnessStatus
    held_size: int
    reason: str = ""
    alarm: bool = False  # REFUSED because the peer's log is not consistent with what it showed before


@dataclass(frozen=True, slots=True)
class HeldCheckpoint:
    province: str
    size: int
    root: bytes
    signed_at: datetime
    received_at: datetime
    signed: SignedCheckpoint
    alarm_at: datetime | None
    alarm: str | None
    refused: SignedCheckpoint | None


def _held(row: PeerCheckpoint) -> HeldCheckpoint:
    refused = (
        SignedCheckpoint(row.refused_body, row.key_id, row.refused_signature)
        if row.refused_body is not None and row.refused_signature is not None
        else None
    )
    return HeldCheckpoint(
        row.province,
        row.tree_size,
        bytes.fromhex(row.root_hash),
        row.signed_at,
        row.received_at,
        SignedCheckpoint(row.body, row.key_id, row.signature),
        row.alarm_at,
        row.alarm,
        refused,
    )


class PeerCheckpointStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    def held(self, province: str) -> HeldCheckpoint | None:
        with self._database.read() as session:
            row = session.get(PeerCheckpoint, province)
            return _held(row) if row is not None else None

    def all(self) -> list[HeldCheckpoint]:
        with self._database.read() as session:
            return [
                _held(row)
                for row in session.scalars(select(PeerCheckpoint).order_by(PeerCheckpoint.province))
            ]

    def offer(
        self,
        province: str,
        signed: SignedCheckpoint,
        old_size: int,
        proof: Sequence[bytes],
        public_key: Ed25519PublicKey,
        signer: str,
        now: datetime,
    ) -> WitnessOutcome:
        """Take peer ``province``'s checkpoint if it is signed by ``public_key`` and consistent with
        the one held (``proof`` from ``old_size``, which must be the size held)."""
        try:
            checkpoint = verify_checkpoint(signed, public_key, signer)
        except CheckpointInvalid as error:
            # Not evidence against the peer (anyone can send bytes); refused, not an alarm.
            held = self.held(province)
            return WitnessOutcome(WitnessStatus.REFUSED, held.size if held else 0, str(error))
        try:
            with self._database.writer.begin() as connection:
                return self._decide(connection, province, signed, checkpoint, old_size, proof, now)
        except IntegrityError:
            # Another replica stored this province's first checkpoint at the same moment: the row
            # exists now, so deciding again compares against it.
            with self._database.writer.begin() as connection:
                return self._decide(connection, province, signed, checkpoint, old_size, proof, now)

    def _decide(
        self,
        connection: Connection,
        province: str,
        signed: SignedCheckpoint,
        checkpoint: Checkpoint,
        old_size: int,
        proof: Sequence[bytes],
        now: datetime,
    ) -> WitnessOutcome:
        row = connection.execute(
            select(PeerCheckpoint).where(PeerCheckpoint.province == province).with_for_update()
        ).one_or_none()
        values = {
            "tree_size": checkpoint.size,
            "root_hash": checkpoint.root.hex(),
            "signed_at": checkpoint.signed_at,
            "key_id": signed.key_id,
            "body": signed.body,
            "signature": signed.signature,
            "received_at": now,
        }
        if row is None:
            connection.execute(insert(PeerCheckpoint).values(province=province, **values))
            return WitnessOutcome(WitnessStatus.ACCEPTED, checkpoint.size)
        held_size, held_root = int(row.tree_size), bytes.fromhex(row.root_hash)
        if checkpoint.size < held_size:
            return self._alarm(
                connection,
                row.refused_body,
                province,
                signed,
                held_size,
                f"checkpoint of size {checkpoint.size} is older than the size {held_size} held: the log shrank",
                now,
            )
        if checkpoint.size == held_size:
            if checkpoint.root != held_root:
                return self._alarm(
                    connection,
                    row.refused_body,
                    province,
                    signed,
                    held_size,
                    f"two different roots signed for size {held_size}: held {held_root.hex()}, "
                    f"shown {checkpoint.root.hex()}",
                    now,
                )
            return WitnessOutcome(WitnessStatus.ACCEPTED, held_size)
        if old_size != held_size:
            return WitnessOutcome(WitnessStatus.NEED_PROOF, held_size)
        try:
            verify_consistency(held_size, checkpoint.size, held_root, checkpoint.root, proof)
        except MerkleProofError as error:
            return self._alarm(
                connection,
                row.refused_body,
                province,
                signed,
                held_size,
                f"checkpoint of size {checkpoint.size} is not consistent with the held size {held_size}: {error}",
                now,
            )
        connection.execute(update(PeerCheckpoint).where(PeerCheckpoint.province == province).values(**values))
        return WitnessOutcome(WitnessStatus.ACCEPTED, checkpoint.size)

    @staticmethod
    def _alarm(
        connection: Connection,
        refused_before: bytes | None,
        province: str,
        signed: SignedCheckpoint,
        held_size: int,
        reason: str,
        now: datetime,
    ) -> WitnessOutcome:
        text = f"province {province}'s audit log: {reason}"
        if refused_before == signed.body:
            # The same refused checkpoint shown again: already on record.
            return WitnessOutcome(WitnessStatus.REFUSED, held_size, reason, alarm=True)
        log.error("WITNESS ALARM: %s", text)
        connection.execute(
            update(PeerCheckpoint)
            .where(PeerCheckpoint.province == province)
            .values(
                alarm_at=now, alarm=text[:2000], refused_body=signed.body, refused_signature=signed.signature
            )
        )
        append_audit(connection, [AuditEntry(WITNESS_ALARM, text, at=now)])
        return WitnessOutcome(WitnessStatus.REFUSED, held_size, reason, alarm=True)

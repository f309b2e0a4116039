"""The audit log as an RFC 9162 Merkle tree: signed checkpoints, inclusion and consistency proofs.

Leaf n (0-based) is ``audit_leaf`` of the entry with seq n+1 (its content and seq, canonical
JSON; ``hub.audit``); the tree of the first SIZE entries is what a checkpoint of that size signs
(``hub.audit_checkpoint``). Checkpoints are rows of ``audit_checkpoints``, one per size, written
by ``write_checkpoint`` (the hub's periodic task, ``tongjian hub audit checkpoint``).

A hub never signs a tree its previous checkpoint is not a prefix of: ``write_checkpoint`` rebuilds
the tree from the rows and refuses (``AuditTreeInconsistent``) when the root at the previous
checkpoint's size is not the one signed, so a log edited behind the hub's back is not blessed.

Proofs read the leaves of the sizes they need from the rows: O(n) reading and hashing per call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hub.audit import audit_leaf
from hub.audit_checkpoint import CheckpointKey, SignedCheckpoint
from hub.db import Database
from hub.errors import HubError
from hub.merkle import TreeBuilder, consistency_proof, inclusion_proof, leaf_hash, tree_root
from hub.models import AuditCheckpoint, AuditEvent, AuditHead

log = logging.getLogger(__name__)


class AuditTreeError(HubError):
    """A proof or checkpoint the log cannot give as asked (a size it never had, a missing row)."""


class AuditTreeInconsistent(AuditTreeError):
    """The rows no longer make the tree a stored checkpoint signed: the hub will not sign on."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    root: bytes
    signed_at: datetime
    signed: SignedCheckpoint


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Entry ``seq`` is leaf ``seq - 1`` of the tree of ``size`` entries whose root is ``root``."""

    seq: int
    size: int
    leaf: bytes  # the entry's leaf bytes (audit_leaf); its leaf hash is leaf_hash(leaf)
    path: list[bytes]
    root: bytes


def _stored(row: AuditCheckpoint) -> StoredCheckpoint:
    signed = SignedCheckpoint(row.body, row.key_id, row.signature)
    return StoredCheckpoint(row.tree_size, bytes.fromhex(row.root_hash), row.signed_at, signed)


class AuditTree:
    def __init__(self, database: Database) -> None:
        self._database = database

    def size(self) -> int:
        """Entries in the log (the chain head's seq)."""
        with self._database.engine.connect() as connection:
            return int(connection.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar_one())

    def leaves(self, size: int) -> list[bytes]:
        """The leaf bytes of entries 1..size; ``AuditTreeError`` if a seq among them is missing."""
        leaves: list[bytes] = []
        query = select(AuditEvent).where(AuditEvent.seq <= size).order_by(AuditEvent.seq)
        with self._database.engine.connect() as connection:
            for row in connection.execution_options(yield_per=1000).execute(query):
                if row.seq != len(leaves) + 1:
                    raise AuditTreeError(
                        f"audit entry seq {len(leaves) + 1} is missing (run hub audit verify)"
                    )
                leaves.append(
                    audit_leaf(
                        row.seq, row.at, row.kind, row.station_id, row.record_id, row.key_id, row.detail
                    )
                )
        if len(leaves) != size:
            raise AuditTreeError(f"the audit log has {len(leaves)} entries, not {size}")
        return leaves

    def leaf_hashes(self, size: int) -> list[bytes]:
        return [leaf_hash(leaf) for leaf in self.leaves(size)]

    # ------------------------------------------------------------ checkpoints

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Oldest (smallest) first."""
        with self._database.read() as session:
            return [
                _stored(row)
                for row in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size))
            ]

    def latest(self) -> StoredCheckpoint | None:
        query = select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
        with self._database.read() as session:
            row = session.scalars(query).first()
            return _stored(row) if row is not None else None

    def at_size(self, size: int) -> StoredCheckpoint | None:
        with self._database.read() as session:
            row = session.get(AuditCheckpoint, size)
            return _stored(row) if row is not None else None

    def write_checkpoint(self, key: CheckpointKey, now: datetime) -> StoredCheckpoint | None:
        """Sign the tree of every entry so far, if the log grew since the newest checkpoint; None if
        it did not, the log is empty, or another replica signed this size first."""
        size = self.size()
        latest = self.latest()
        if size == 0 or (latest is not None and latest.size >= size):
            return None
        builder = TreeBuilder()
        for leaf in self.leaves(size):
            builder.append(leaf_hash(leaf))
            if latest is not None and builder.size == latest.size and builder.root() != latest.root:
                raise AuditTreeInconsistent(
                    f"the first {latest.size} audit entries no longer make the tree checkpoint "
                    f"{latest.size} signed: not signing a new checkpoint (run hub audit verify)"
                )
        signed = key.sign(size, builder.root(), now)
        checkpoint = signed.checkpoint
        try:
            with self._database.writer.begin() as connection:
                connection.execute(
                    insert(AuditCheckpoint).values(
                        tree_size=size,
                        root_hash=checkpoint.root.hex(),
                        signed_at=checkpoint.signed_at,
                        key_id=signed.key_id,
                        body=signed.body,
                        signature=signed.signature,
                    )
                )
        except IntegrityError:
            log.info("audit checkpoint of size %d was written by another replica", size)
            return None
        log.info("audit checkpoint: size %d root %s", size, checkpoint.root.hex())
        return StoredCheckpoint(size, checkpoint.root, checkpoint.signed_at, signed)

    # ------------------------------------------------------------ proofs

    def inclusion(self, seq: int, size: int) -> InclusionProof:
        """The proof that entry ``seq`` is in the tree of the first ``size`` entries."""
        if not 1 <= seq <= size:
            raise AuditTreeError(f"entry {seq} is not among the first {size} entries")
        leaves = self.leaves(size)
        hashes = [leaf_hash(leaf) for leaf in leaves]
        return InclusionProof(seq, size, leaves[seq - 1], inclusion_proof(seq - 1, hashes), tree_root(hashes))

    def consistency(self, old_size: int, new_size: int) -> tuple[bytes, bytes, list[bytes]]:
        """(root at old_size, root at new_size, RFC 9162 consistency proof between them)."""
        if not 0 <= old_size <= new_size:
            raise AuditTreeError(f"old size {old_size} is not within new size {new_size}")
        hashes = self.leaf_hashes(new_size)
        return tree_root(hashes[:old_size]), tree_root(hashes), consistency_proof(old_size, hashes)


def proof_hex(path: Sequence[bytes]) -> list[str]:
    return [node.hex() for node in path]

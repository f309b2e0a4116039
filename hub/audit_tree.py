"""The audit log as an RFC 9162 Merkle tree: signed checkpoints, inclusion and consistency proofs.

Leaf n (0-based) is ``audit_leaf`` of the entry with seq n+1 (its content and seq, canonical
JSON; ``hub.audit``); the tree of the first SIZE entries is what a checkpoint of that size signs
(``hub.audit_checkpoint``). Checkpoints are rows of ``audit_checkpoints``, one per size, written
by ``write_checkpoint`` (the hub's periodic task, ``tongjian hub audit checkpoint``).

Each checkpoint row keeps the tree's compact range (frontier) at its size. The next checkpoint
starts from it and reads only the entries after it, so a hub never signs a tree its previous
checkpoint is not a prefix of, and writing one costs the new entries only; the frontier must
make the signed root (checked: anything else is ``AuditTreeInconsistent``). Rows of the past
edited behind the hub's back change no signed root; ``AuditLog.verify`` names them. Consistency
proofs from a checkpoint's size read the entries after it; inclusion proofs read the whole tree.
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
from hub.merkle import (
    HASH_SIZE,
    MerkleProofError,
    TreeBuilder,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    leaf_hash,
    tree_root,
)
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
    frontier: list[bytes]

    def builder(self) -> TreeBuilder:
        """A tree builder at this checkpoint, its frontier held to the signed root."""
        try:
            builder = TreeBuilder.restore(self.size, self.frontier)
        except MerkleProofError as error:
            raise AuditTreeInconsistent(
                f"checkpoint {self.size}: its stored frontier is wrong: {error}"
            ) from error
        if builder.root() != self.root:
            raise AuditTreeInconsistent(
                f"checkpoint {self.size}: its stored frontier does not make its signed root"
            )
        return builder


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
    frontier = [row.frontier[at : at + HASH_SIZE] for at in range(0, len(row.frontier), HASH_SIZE)]
    return StoredCheckpoint(row.tree_size, bytes.fromhex(row.root_hash), row.signed_at, signed, frontier)


class AuditTree:
    def __init__(self, database: Database) -> None:
        self._database = database

    def size(self) -> int:
        """Entries in the log (the chain head's seq)."""
        with self._database.engine.connect() as connection:
            return int(connection.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar_one())

    def leaves(self, size: int, after: int = 0) -> list[bytes]:
        """The leaf bytes of entries after+1..size; ``AuditTreeError`` if a seq among them is missing."""
        leaves: list[bytes] = []
        query = (
            select(AuditEvent).where(AuditEvent.seq > after, AuditEvent.seq <= size).order_by(AuditEvent.seq)
        )
        with self._database.engine.connect() as connection:
            for row in connection.execution_options(yield_per=1000).execute(query):
                expected = after + len(leaves) + 1
                if row.seq != expected:
                    raise AuditTreeError(f"audit entry seq {expected} is missing (run hub audit verify)")
                leaves.append(
                    audit_leaf(
                        row.seq, row.at, row.kind, row.station_id, row.record_id, row.key_id, row.detail
                    )
                )
        if after + len(leaves) != size:
            raise AuditTreeError(f"the audit log has {after + len(leaves)} entries, not {size}")
        return leaves

    def leaf_hashes(self, size: int, after: int = 0) -> list[bytes]:
        return [leaf_hash(leaf) for leaf in self.leaves(size, after)]

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
        builder = latest.builder() if latest is not None else TreeBuilder()
        for digest in self.leaf_hashes(size, builder.size):
            builder.append(digest)
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
                        frontier=b"".join(builder.frontier),
                    )
                )
        except IntegrityError:
            log.info("audit checkpoint of size %d was written by another replica", size)
            return None
        log.info("audit checkpoint: size %d root %s", size, checkpoint.root.hex())
        return StoredCheckpoint(size, checkpoint.root, checkpoint.signed_at, signed, builder.frontier)

    # ------------------------------------------------------------ proofs

    def inclusion(self, seq: int, size: int) -> InclusionProof:
        """The proof that entry ``seq`` is in the tree of the first ``size`` entries."""
        if not 1 <= seq <= size:
            raise AuditTreeError(f"entry {seq} is not among the first {size} entries")
        leaves = self.leaves(size)
        hashes = [leaf_hash(leaf) for leaf in leaves]
        return InclusionProof(seq, size, leaves[seq - 1], inclusion_proof(seq - 1, hashes), tree_root(hashes))

    def consistency(self, old_size: int, new_size: int) -> tuple[bytes, bytes, list[bytes]]:
        """(root at old_size, root at new_size, RFC 9162 consistency proof between them), from the
        rows. Both roots are recomputed: a caller compares them with the signed ones."""
        if not 0 <= old_size <= new_size:
            raise AuditTreeError(f"old size {old_size} is not within new size {new_size}")
        hashes = self.leaf_hashes(new_size)
        return tree_root(hashes[:old_size]), tree_root(hashes), consistency_proof(old_size, hashes)

    def consistency_from_checkpoint(self, old: StoredCheckpoint, new_size: int) -> tuple[bytes, list[bytes]]:
        """(root at new_size, consistency proof from checkpoint ``old``), reading only the entries
        after it: what a hub shows a peer that holds ``old``."""
        if not old.size <= new_size:
            raise AuditTreeError(f"checkpoint size {old.size} is not within new size {new_size}")
        builder = old.builder()
        later = self.leaf_hashes(new_size, old.size)
        for digest in later:
            builder.append(digest)
        return builder.root(), consistency_proof_from(old.size, old.frontier, later)

    def proof_for_peer(self, held_size: int, new: StoredCheckpoint) -> list[bytes]:
        """The consistency proof from the size a peer holds to checkpoint ``new``: from the stored
        checkpoint of that size when there is one (the usual case), else from all the rows."""
        old = self.at_size(held_size) if held_size else None
        if old is not None:
            _root, proof = self.consistency_from_checkpoint(old, new.size)
            return proof
        _old_root, _new_root, proof = self.consistency(held_size, new.size)
        return proof


def proof_hex(path: Sequence[bytes]) -> list[str]:
    return [node.hex() for node in path]

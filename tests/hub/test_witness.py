"""Witnessing a peer's audit log (hub.witness) on SQLite and PostgreSQL: the peer's log is a real
hub store, its checkpoints signed by its key; this hub keeps the newest consistent one and raises
an alarm, with evidence, when the peer shows a log that rewrote its past."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine

from hub.audit_checkpoint import CheckpointKey
from hub.audit_tree import StoredCheckpoint
from hub.store import AuditEntry, HubStore
from hub.witness import WITNESS_ALARM, WitnessStatus
from tests.hub.audit_rig import delete_and_rechain
from tongjian.cli import main

T0 = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


@pytest.fixture
def witness(database_url: str) -> Iterator[HubStore]:
    store = HubStore(database_url)
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[HubStore]:
    """Province 51's hub, on a SQLite file of its own."""
    store = HubStore(f"sqlite:///{tmp_path / 'peer.sqlite3'}")
    store.migrate()
    yield store
    store.dispose()


KEY = CheckpointKey("hub-51", Ed25519PrivateKey.generate())


def _grow(peer: HubStore, count: int) -> StoredCheckpoint:
    start = peer.audit_tree.size()
    peer.append_audit(
        [AuditEntry("note", f"event {n}", at=T0 + timedelta(seconds=n)) for n in range(start, start + count)]
    )
    written = peer.audit_tree.write_checkpoint(KEY, T0 + timedelta(minutes=start + count))
    assert written is not None
    return written


def _offer(witness: HubStore, checkpoint: StoredCheckpoint, old_size: int, proof: list[bytes]):  # type: ignore[no-untyped-def]
    public = KEY.private_key.public_key()
    return witness.peer_checkpoints.offer("51", checkpoint.signed, old_size, proof, public, "hub-51", T0)


def _witness(witness: HubStore, peer: HubStore, checkpoint: StoredCheckpoint):  # type: ignore[no-untyped-def]
    """The caller's two round trips: offer, and on NEED_PROOF the proof from the size held."""
    outcome = _offer(witness, checkpoint, 0, [])
    if outcome.status is WitnessStatus.NEED_PROOF:
        proof = peer.audit_tree.proof_for_peer(outcome.held_size, checkpoint)
        outcome = _offer(witness, checkpoint, outcome.held_size, proof)
    return outcome


def test_a_growing_log_is_witnessed_and_a_rewritten_one_raises_an_alarm(
    witness: HubStore, peer: HubStore, tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _grow(peer, 5)
    assert _witness(witness, peer, first).status is WitnessStatus.ACCEPTED
    second = _grow(peer, 7)
    assert _offer(witness, second, 0, []).status is WitnessStatus.NEED_PROOF
    assert _witness(witness, peer, second).status is WitnessStatus.ACCEPTED
    assert _witness(witness, peer, second).status is WitnessStatus.ACCEPTED  # shown again: nothing new
    held = witness.peer_checkpoints.held("51")
    assert held is not None and (held.size, held.root, held.alarm) == (12, second.root, None)
    assert main(["hub", "audit", "witnesses", "--database-url", database_url]) == 0
    assert f"province 51: size 12 root {second.root.hex()}" in capsys.readouterr().out

    # The peer removes entry 3 and recomputes everything after it, then signs the new log.
    engine = create_engine(f"sqlite:///{tmp_path / 'peer.sqlite3'}")
    try:
        delete_and_rechain(engine, 3)
    finally:
        engine.dispose()
    assert peer.audit.verify().ok  # alone, the peer's log looks whole
    peer.append_audit([AuditEntry("note", "after the rewrite")])
    rewritten = peer.audit_tree.write_checkpoint(KEY, T0 + timedelta(hours=1))
    assert rewritten is not None and rewritten.size == 12
    outcome = _witness(witness, peer, rewritten)
    assert (outcome.status, outcome.alarm) == (WitnessStatus.REFUSED, True)
    assert "two different roots signed for size 12" in outcome.reason
    held = witness.peer_checkpoints.held("51")
    assert held is not None and (held.size, held.root) == (12, second.root)  # unchanged
    assert held.alarm is not None and held.refused is not None and held.refused.body == rewritten.signed.body
    alarms = witness.audit_events(kind=WITNESS_ALARM)
    assert len(alarms) == 1 and "province 51" in alarms[0].detail

    # It grows on: no proof from the held size can reach the new root.
    grown = _grow(peer, 3)
    outcome = _witness(witness, peer, grown)
    assert (outcome.status, outcome.alarm) == (WitnessStatus.REFUSED, True)
    assert "not consistent with the held size 12" in outcome.reason
    assert len(witness.audit_events(kind=WITNESS_ALARM)) == 2
    assert witness.audit.verify().ok  # the alarms are in the witness's own, whole, log
    assert main(["hub", "audit", "witnesses", "--database-url", database_url]) == 1
    out = capsys.readouterr().out
    assert "ALARM since" in out and "not consistent with the held size 12" in out


def test_a_shrunk_log_and_a_foreign_signature_are_refused(witness: HubStore, peer: HubStore) -> None:
    small = _grow(peer, 4)
    big = _grow(peer, 4)
    assert _witness(witness, peer, big).status is WitnessStatus.ACCEPTED
    outcome = _witness(witness, peer, small)
    assert (outcome.status, outcome.alarm) == (WitnessStatus.REFUSED, True)
    assert "the log shrank" in outcome.reason
    stranger = CheckpointKey("hub-51", Ed25519PrivateKey.generate()).sign(9, big.root, T0)
    outcome = witness.peer_checkpoints.offer(
        "51", stranger, 8, [], KEY.private_key.public_key(), "hub-51", T0
    )
    assert (outcome.status, outcome.alarm) == (WitnessStatus.REFUSED, False)
    assert "signed by key" in outcome.reason


def test_replicas_taking_the_first_checkpoint_at_once_agree(
    witness: HubStore, peer: HubStore, database_url: str
) -> None:
    first = _grow(peer, 3)
    replicas = [HubStore(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(replicas))
    public = KEY.private_key.public_key()

    def offer(replica: HubStore) -> WitnessStatus:
        barrier.wait()
        return replica.peer_checkpoints.offer("51", first.signed, 0, [], public, "hub-51", T0).status

    try:
        with ThreadPoolExecutor(len(replicas)) as pool:
            statuses = list(pool.map(offer, replicas))
    finally:
        for replica in replicas:
            replica.dispose()
    assert statuses == [WitnessStatus.ACCEPTED] * len(replicas)
    held = witness.peer_checkpoints.held("51")
    assert held is not None and (held.size, held.alarm) == (3, None)

"""The audit log as a Merkle tree, on SQLite and PostgreSQL: signed checkpoints, inclusion and
consistency proofs over real rows, and tamper tests (edit, delete, reorder, rewritten tail) that
``AuditLog.verify`` must each catch and name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, text

from hub.audit import AuditProblem
from hub.audit_checkpoint import CheckpointKey, verify_checkpoint
from hub.audit_tree import AuditTreeError, AuditTreeInconsistent
from hub.merkle import leaf_hash, verify_consistency, verify_inclusion
from hub.store import AuditEntry, HubStore
from tests.hub.audit_rig import rechain

T0 = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    hub_store = HubStore(database_url)
    hub_store.migrate()
    yield hub_store
    hub_store.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    raw = create_engine(database_url)
    yield raw
    raw.dispose()


@pytest.fixture
def key() -> CheckpointKey:
    return CheckpointKey("hub-50", Ed25519PrivateKey.generate())


def _append(store: HubStore, count: int, start: int = 0) -> None:
    store.append_audit(
        [AuditEntry("note", f"event {n}", at=T0 + timedelta(seconds=n)) for n in range(start, start + count)]
    )


def _checkpointed(store: HubStore, key: CheckpointKey, *batches: int) -> list[int]:
    """Append each batch and sign a checkpoint after it; the checkpoint sizes."""
    sizes = []
    done = 0
    for count in batches:
        _append(store, count, done)
        done += count
        written = store.audit_tree.write_checkpoint(key, T0 + timedelta(minutes=done))
        assert written is not None
        sizes.append(written.size)
    return sizes


def test_checkpoints_are_signed_only_when_the_log_grew_and_proofs_verify(
    store: HubStore, key: CheckpointKey
) -> None:
    assert store.audit_tree.write_checkpoint(key, T0) is None  # an empty log: nothing to sign
    _append(store, 5)
    first = store.audit_tree.write_checkpoint(key, T0)
    assert first is not None and first.size == 5
    assert store.audit_tree.write_checkpoint(key, T0) is None  # no growth, no new checkpoint
    _append(store, 8, 5)
    second = store.audit_tree.write_checkpoint(key, T0 + timedelta(minutes=5))
    assert second is not None and second.size == 13
    public = key.private_key.public_key()
    assert verify_checkpoint(second.signed, public, "hub-50").root == second.root
    assert second.signed.body.decode().splitlines()[:2] == ["tongjian/hub-50/audit-log", "13"]
    for seq in range(1, 14):
        proof = store.audit_tree.inclusion(seq, 13)
        verify_inclusion(seq - 1, 13, leaf_hash(proof.leaf), proof.path, second.root)
    old_root, new_root, path = store.audit_tree.consistency(5, 13)
    assert (old_root, new_root) == (first.root, second.root)
    verify_consistency(5, 13, first.root, second.root, path)
    check = store.audit.verify(("hub-50", public))
    assert (check.ok, check.rows_checked, check.checkpoints_checked) == (True, 13, 2)
    with pytest.raises(AuditTreeError, match="not among"):
        store.audit_tree.inclusion(14, 13)


def test_an_edited_row_is_named(store: HubStore, key: CheckpointKey, engine: Engine) -> None:
    _checkpointed(store, key, 4, 4)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET detail = 'event x' WHERE seq = 3"))
    check = store.audit.verify()
    assert (check.ok, check.first_bad_seq, check.kind) == (False, 3, AuditProblem.CONTENT_CHANGED)


def test_a_deleted_row_is_named(store: HubStore, key: CheckpointKey, engine: Engine) -> None:
    _checkpointed(store, key, 6)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    check = store.audit.verify()
    assert (check.ok, check.first_bad_seq, check.kind) == (False, 3, AuditProblem.MISSING_SEQ)
    assert "seq 3 missing" in check.problem


def test_two_swapped_rows_are_named_out_of_order(store: HubStore, key: CheckpointKey, engine: Engine) -> None:
    _checkpointed(store, key, 7)
    with engine.begin() as connection:
        for old, new in ((3, -3), (5, 3), (-3, 5)):
            connection.execute(text("UPDATE audit_events SET seq = :n WHERE seq = :o"), {"n": new, "o": old})
    check = store.audit.verify()
    assert (check.ok, check.first_bad_seq, check.kind) == (False, 3, AuditProblem.OUT_OF_ORDER)
    assert "written as seq 5" in check.problem


def test_swapped_contents_are_named_out_of_order(store: HubStore, engine: Engine) -> None:
    _append(store, 6)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE audit_events SET detail = CASE seq WHEN 2 THEN 'event 4' ELSE 'event 1' END, "
                "at = (SELECT at FROM audit_events AS o WHERE o.seq = CASE audit_events.seq WHEN 2 THEN 5 ELSE 2 END) "
                "WHERE seq IN (2, 5)"
            )
        )
    check = store.audit.verify()
    assert (check.ok, check.first_bad_seq, check.kind) == (False, 2, AuditProblem.OUT_OF_ORDER)
    assert "written as seq 5" in check.problem


def test_a_rewritten_tail_passes_the_chain_but_not_the_checkpoint(
    store: HubStore, key: CheckpointKey, engine: Engine
) -> None:
    _checkpointed(store, key, 4, 4)  # checkpoints at 4 and 8
    _append(store, 2, 8)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET detail = 'nothing happened' WHERE seq = 6"))
    rechain(engine, 6)
    check = store.audit.verify(("hub-50", key.private_key.public_key()))
    assert (check.ok, check.first_bad_seq, check.kind) == (False, 5, AuditProblem.TAIL_REWRITTEN)
    assert "after checkpoint 4" in check.problem
    # The hub's next checkpoint still extends the tree it signed (from checkpoint 8's frontier):
    # the rewritten rows change no signed root, and stay named by verify.
    latest = store.audit_tree.latest()
    assert latest is not None
    written = store.audit_tree.write_checkpoint(key, T0 + timedelta(hours=1))
    assert written is not None and written.size == 10
    new_root, proof = store.audit_tree.consistency_from_checkpoint(latest, 10)
    assert new_root == written.root
    verify_consistency(8, 10, latest.root, written.root, proof)
    assert store.audit.verify().kind is AuditProblem.TAIL_REWRITTEN
    # Without the checkpoints the chain alone holds: it is the checkpoints that catch this.
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_checkpoints"))
    assert store.audit.verify().ok


def test_a_frontier_that_does_not_make_the_signed_root_stops_checkpoints(
    store: HubStore, key: CheckpointKey, engine: Engine
) -> None:
    _checkpointed(store, key, 5)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_checkpoints SET frontier = :f"), {"f": b"\x00" * 64})
    _append(store, 1, 5)
    with pytest.raises(AuditTreeInconsistent, match="does not make its signed root"):
        store.audit_tree.write_checkpoint(key, T0 + timedelta(hours=1))


def test_a_cut_tail_with_a_reset_head_is_caught_by_the_checkpoint(
    store: HubStore, key: CheckpointKey, engine: Engine
) -> None:
    _checkpointed(store, key, 3, 3)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq > 4"))
    rechain(engine, 5)  # just resets the head to seq 4
    check = store.audit.verify()
    assert (check.ok, check.first_bad_seq, check.kind) == (False, 5, AuditProblem.TAIL_CUT)
    assert "checkpoint 6" in check.problem


def test_a_forged_or_edited_checkpoint_is_named(store: HubStore, key: CheckpointKey, engine: Engine) -> None:
    _checkpointed(store, key, 3)
    other = Ed25519PrivateKey.generate().public_key()
    check = store.audit.verify(("hub-50", other))
    assert (check.ok, check.kind) == (False, AuditProblem.CHECKPOINT_INVALID)
    assert "signed by key" in check.problem
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_checkpoints SET root_hash = :r"), {"r": "00" * 32})
    check = store.audit.verify()
    assert (check.ok, check.kind) == (False, AuditProblem.CHECKPOINT_INVALID)
    assert "differ from the signed text" in check.problem


def test_verify_reads_one_snapshot_while_the_hub_appends(store: HubStore, key: CheckpointKey) -> None:
    _checkpointed(store, key, 20)
    stop = threading.Event()

    def append() -> None:
        n = 20
        while not stop.is_set():
            _append(store, 1, n)
            n += 1

    appender = threading.Thread(target=append)
    appender.start()
    try:
        checks = [store.audit.verify() for _ in range(15)]
    finally:
        stop.set()
        appender.join()
    assert all(check.ok for check in checks), [check.problem for check in checks if not check.ok]

"""The outbox: FIFO order, durability across a crash (SIGKILL), the depth limit, the dead-letter table."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.outbox import OutboxFull, OutboxStore, RecordIdConflict


def envelope(index: int) -> pb.SignedRecord:
    return pb.SignedRecord(record=f"record {index}".encode() * 20, key_id="50-0001/abc", signature=bytes(64))


def fill(store: OutboxStore, count: int, start: int = 0) -> None:
    for index in range(start, start + count):
        store.put(envelope(index), f"r{index}")


def test_peek_returns_entries_oldest_first_with_their_bytes(outbox: OutboxStore) -> None:
    fill(outbox, 5)
    entries = outbox.peek(0, 10)
    assert [e.record_id for e in entries] == [f"r{i}" for i in range(5)]
    assert [pb.SignedRecord.FromString(e.envelope_bytes) for e in entries] == [envelope(i) for i in range(5)]
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert [e.record_id for e in outbox.peek(entries[1].seq, 2)] == ["r2", "r3"]
    assert outbox.depth() == 5


def test_entries_survive_reopen_without_clean_shutdown(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = OutboxStore(path, max_depth=100)
    fill(first, 20)
    before = first.peek(0, 100)
    # The first store is never closed: a second one opens the file as a restarted agent would.
    second = OutboxStore(path, max_depth=100)
    assert second.peek(0, 100) == before
    first.close()
    second.close()


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from protos.tongjian.v1 import inspection_pb2 as pb
    from station_agent.outbox import OutboxStore

    store = OutboxStore(sys.argv[1], max_depth=100_000)
    count, kill_after = int(sys.argv[2]), int(sys.argv[3])
    for index in range(count):
        env = pb.SignedRecord(record=f"record {index}".encode() * 20, key_id="50-0001/abc", signature=bytes(64))
        store.put(env, f"r{index}")
        print(index, flush=True)  # the lane would now tell the owner: this record is safe
        if index + 1 == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    """
)


def run_child(path: Path, count: int, kill_after: int) -> tuple[int, list[int]]:
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(count), str(kill_after)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return child.returncode, [int(line) for line in child.stdout.split()]


def test_entry_is_there_after_sigkill_right_after_put(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    returncode, reported = run_child(path, count=50, kill_after=37)
    assert returncode == -signal.SIGKILL
    assert reported == list(range(37))
    # No checkpoint ran: the records live only in the WAL, which the reopen must recover.
    assert (tmp_path / "outbox.sqlite3-wal").stat().st_size > 0
    with OutboxStore(path, max_depth=100) as store:
        entries = store.peek(0, 1000)
        assert [e.record_id for e in entries] == [f"r{i}" for i in range(37)]
        assert [pb.SignedRecord.FromString(e.envelope_bytes) for e in entries] == [
            envelope(i) for i in range(37)
        ]
        # The lane, unsure whether the last put landed, puts it again: still one row each.
        store.put(envelope(36), "r36")
        fill(store, 3, start=37)
        assert [e.record_id for e in store.peek(0, 1000)] == [f"r{i}" for i in range(40)]


def test_sigkill_at_an_arbitrary_moment_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), "100000", "0"], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    reported = [int(child.stdout.readline()) for _ in range(200)]
    child.send_signal(signal.SIGKILL)  # lands somewhere inside a later put
    # Read the rest through child.stdout: readline() may already hold later lines in its buffer,
    # and communicate(timeout=...) reads the pipe past them (3 reported puts went missing in CI).
    rest = child.stdout.read()
    child.wait(timeout=30)
    reported += [int(line) for line in rest.split()]
    with OutboxStore(path, max_depth=100_000) as store:
        ids = [e.record_id for e in store.peek(0, 1_000_000)]
    # Everything reported is there, in order; at most the one put in progress is there unreported.
    assert ids[: len(reported)] == [f"r{i}" for i in reported]
    assert len(ids) - len(reported) in (0, 1)
    assert len(set(ids)) == len(ids)


def test_outbox_runs_in_wal_mode(outbox: OutboxStore) -> None:
    fill(outbox, 1)
    with sqlite3.connect(outbox.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_put_past_max_depth_raises_and_stores_nothing(tmp_path: Path) -> None:
    with OutboxStore(tmp_path / "o.sqlite3", max_depth=3) as store:
        fill(store, 3)
        with pytest.raises(OutboxFull) as caught:
            store.put(envelope(3), "r3")
        assert (caught.value.depth, caught.value.limit) == (3, 3)
        assert store.depth() == 3
        # Re-putting a queued record is not new work, so a full outbox accepts it quietly.
        store.put(envelope(0), "r0")
        store.remove([store.peek(0, 1)[0].seq])
        store.put(envelope(3), "r3")
        assert [e.record_id for e in store.peek(0, 10)] == ["r1", "r2", "r3"]


def test_put_of_the_same_record_id_is_idempotent(outbox: OutboxStore) -> None:
    outbox.put(envelope(1), "r1")
    outbox.put(envelope(1), "r1")
    assert outbox.depth() == 1
    with pytest.raises(RecordIdConflict):
        outbox.put(envelope(2), "r1")
    assert pb.SignedRecord.FromString(outbox.peek(0, 5)[0].envelope_bytes) == envelope(1)


def test_sequence_numbers_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with OutboxStore(path, max_depth=10) as store:
        fill(store, 3)
        last = store.peek(0, 10)[-1].seq
        store.remove(e.seq for e in store.peek(0, 10))
    with OutboxStore(path, max_depth=10) as store:
        fill(store, 1, start=3)
        # An uplink whose cursor stands at the last sequence number it sent still sees the new one.
        assert [e.record_id for e in store.peek(last, 10)] == ["r3"]


def test_rejected_records_move_to_the_dead_letter_table(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    now = [1000.0]
    with OutboxStore(path, max_depth=10, clock=lambda: now[0]) as store:
        fill(store, 3)
        seqs = [e.seq for e in store.peek(0, 10)]
        now[0] = 1005.0
        assert store.move_to_rejected(seqs[1], "unknown key 50-0001/ffff")
        assert not store.move_to_rejected(seqs[1], "again")
        assert [e.record_id for e in store.peek(0, 10)] == ["r0", "r2"]
    with OutboxStore(path, max_depth=10) as store:
        (entry,) = store.rejected()
        assert (entry.seq, entry.record_id, entry.reason) == (seqs[1], "r1", "unknown key 50-0001/ffff")
        assert (entry.enqueued_at, entry.rejected_at) == (1000.0, 1005.0)
        assert pb.SignedRecord.FromString(entry.envelope_bytes) == envelope(1)


def test_remove_deletes_only_the_given_entries(outbox: OutboxStore) -> None:
    fill(outbox, 4)
    seqs = [e.seq for e in outbox.peek(0, 10)]
    outbox.remove([seqs[0], seqs[2], 999_999])
    outbox.remove([])
    assert [e.record_id for e in outbox.peek(0, 10)] == ["r1", "r3"]


def test_oldest_age_counts_from_the_oldest_queued_record(tmp_path: Path) -> None:
    now = [50.0]
    with OutboxStore(tmp_path / "o.sqlite3", max_depth=10, clock=lambda: now[0]) as store:
        assert store.oldest_age_s() == 0.0
        fill(store, 1)
        now[0] = 60.0
        fill(store, 1, start=1)
        now[0] = 72.5
        assert store.oldest_age_s() == 22.5
        store.remove([store.peek(0, 1)[0].seq])
        assert store.oldest_age_s() == 12.5


def test_max_depth_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_depth"):
        OutboxStore(tmp_path / "o.sqlite3", max_depth=0)

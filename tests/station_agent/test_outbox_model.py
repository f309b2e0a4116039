"""The outbox against a plain in-memory model, under random puts, settles and reopenings."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.outbox import OutboxFull, OutboxStore

LIMIT = 6


def envelope(index: int) -> pb.SignedRecord:
    return pb.SignedRecord(record=f"record {index}".encode(), key_id="50-0001/abc", signature=bytes(64))


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.path = Path(self.directory.name) / "outbox.sqlite3"
        self.store = OutboxStore(self.path, max_depth=LIMIT)
        self.queued: dict[str, int] = {}  # record id -> seq, in queue order
        self.parked: dict[str, str] = {}  # record id -> reason

    @rule(index=st.integers(0, 15))
    def put(self, index: int) -> None:
        record_id = f"r{index}"
        full = len(self.queued) >= LIMIT and record_id not in self.queued
        try:
            self.store.put(envelope(index), record_id)
        except OutboxFull as error:
            assert full, "OutboxFull below the limit"
            assert (error.depth, error.limit) == (LIMIT, LIMIT)
            return
        assert not full, "put past the limit was stored"
        if record_id not in self.queued:
            newest = self.store.peek(max(self.queued.values(), default=0), 10)
            assert [e.record_id for e in newest] == [record_id]
            self.queued[record_id] = newest[0].seq

    @precondition(lambda self: bool(self.queued))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        chosen = data.draw(st.lists(st.sampled_from(sorted(self.queued)), unique=True))
        self.store.remove(self.queued[record_id] for record_id in chosen)
        for record_id in chosen:
            del self.queued[record_id]

    @precondition(lambda self: bool(self.queued))
    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        record_id = data.draw(st.sampled_from(sorted(self.queued)))
        assert self.store.move_to_rejected(self.queued.pop(record_id), f"bad {record_id}")
        self.parked[record_id] = f"bad {record_id}"

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = OutboxStore(self.path, max_depth=LIMIT)

    @invariant()
    def matches_the_model(self) -> None:
        entries = self.store.peek(0, 100)
        assert [(e.record_id, e.seq) for e in entries] == list(self.queued.items())
        assert [e.envelope_bytes for e in entries] == [
            envelope(int(record_id[1:])).SerializeToString(deterministic=True) for record_id in self.queued
        ]
        assert self.store.depth() == len(self.queued)
        assert {e.record_id: e.reason for e in self.store.rejected()} == self.parked

    def teardown(self) -> None:
        self.store.close()
        self.directory.cleanup()


OutboxMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
test_outbox_matches_model = OutboxMachine.TestCase

"""The Submit stream's window, Ack matching and watchdog, without a hub, a stream or a clock."""

from __future__ import annotations

import pytest

from protos.tongjian.v1 import ingest_pb2
from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.outbox import OutboxEntry
from station_agent.submit_window import (
    KeyRefusal,
    Overdue,
    SendRequest,
    Settle,
    SubmitWindow,
    Violation,
)

ACCEPTED, DUPLICATE, REJECTED = (
    ingest_pb2.ACK_STATUS_ACCEPTED,
    ingest_pb2.ACK_STATUS_DUPLICATE,
    ingest_pb2.ACK_STATUS_REJECTED,
)


def entry(seq: int, key_id: str = "k1") -> OutboxEntry:
    envelope = pb.SignedRecord(key_id=key_id).SerializeToString()
    return OutboxEntry(seq=seq, record_id=f"r{seq}", envelope_bytes=envelope, enqueued_at=0.0)


def ack(
    record_id: str,
    status: ingest_pb2.AckStatus = ACCEPTED,
    reject_code: ingest_pb2.RejectCode = ingest_pb2.REJECT_CODE_UNSPECIFIED,
    reason: str = "",
) -> ingest_pb2.Ack:
    return ingest_pb2.Ack(record_id=record_id, status=status, reject_code=reject_code, reason=reason)


def test_the_window_bounds_what_is_unsettled_and_resumes_after_the_oldest_sent() -> None:
    window = SubmitWindow(2, ack_timeout_s=10)
    assert window.next_to_send() == SendRequest(after_seq=0, limit=2)
    window.sent(entry(3), now=0)
    assert window.next_to_send() == SendRequest(after_seq=3, limit=1)
    window.sent(entry(5), now=0)
    assert window.next_to_send() is None  # full: a slow hub slows the station down
    assert isinstance(window.receive_ack(ack("r3"), now=1), Settle)
    assert window.next_to_send() is None  # acknowledged is not settled: the outbox still holds it
    window.settled(1)
    assert window.next_to_send() == SendRequest(after_seq=5, limit=1)


def test_acks_settle_in_the_order_sent() -> None:
    window = SubmitWindow(8, ack_timeout_s=10)
    for seq in (1, 2, 3):
        window.sent(entry(seq), now=0)
    outcomes = [
        window.receive_ack(ack(f"r{seq}", status), now=1)
        for seq, status in ((1, ACCEPTED), (2, DUPLICATE), (3, REJECTED))
    ]
    assert [(o.entry.seq, o.ack.status) for o in outcomes if isinstance(o, Settle)] == [
        (1, ACCEPTED),
        (2, DUPLICATE),
        (3, REJECTED),
    ]
    assert window.acknowledged and window.outstanding == 0


def test_an_unnamed_rejection_settles_the_oldest() -> None:
    window = SubmitWindow(8, ack_timeout_s=10)
    window.sent(entry(1), now=0)
    outcome = window.receive_ack(ack("", REJECTED, reason="cannot parse"), now=1)
    assert isinstance(outcome, Settle) and outcome.entry.seq == 1


@pytest.mark.parametrize(
    ("sent", "answer", "reason"),
    [
        ((), ack("r1"), "Ack for r1 with nothing outstanding"),
        ((), ack(""), "Ack for an unnamed record with nothing outstanding"),
        ((1, 2), ack("r2"), "Ack for r2 where r1 was next (seq 1)"),
        ((1,), ack("r1", ingest_pb2.ACK_STATUS_UNSPECIFIED), "Ack for r1 with status 0"),
    ],
)
def test_an_ack_that_does_not_fit_is_a_violation_naming_it(
    sent: tuple[int, ...], answer: ingest_pb2.Ack, reason: str
) -> None:
    window = SubmitWindow(8, ack_timeout_s=10)
    for seq in sent:
        window.sent(entry(seq), now=0)
    assert window.receive_ack(answer, now=1) == Violation(reason)
    assert not window.acknowledged


def test_a_key_refusal_for_the_current_key_pauses_and_for_an_older_key_settles() -> None:
    window = SubmitWindow(8, ack_timeout_s=10, current_key_id="k2")
    window.sent(entry(1, key_id="k1"), now=0)
    window.sent(entry(2, key_id="k2"), now=0)
    revoked = ingest_pb2.REJECT_CODE_KEY_REVOKED
    older = window.receive_ack(ack("r1", REJECTED, reject_code=revoked), now=1)
    assert isinstance(older, Settle)  # pausing cannot help a record signed with a replaced key
    current = window.receive_ack(ack("r2", REJECTED, reject_code=revoked), now=1)
    assert isinstance(current, KeyRefusal) and current.entry.seq == 2
    # A rejection for another reason is settled even with the current key.
    window.sent(entry(3, key_id="k2"), now=1)
    unspecified = ingest_pb2.REJECT_CODE_UNSPECIFIED  # a bad record, not a bad key
    assert isinstance(window.receive_ack(ack("r3", REJECTED, reject_code=unspecified), now=2), Settle)


def test_without_a_key_check_a_key_refusal_settles() -> None:
    window = SubmitWindow(8, ack_timeout_s=10)
    window.sent(entry(1), now=0)
    outcome = window.receive_ack(ack("r1", REJECTED, reject_code=ingest_pb2.REJECT_CODE_KEY_UNKNOWN), now=1)
    assert isinstance(outcome, Settle)


def test_the_watchdog_counts_from_the_oldest_send_or_the_last_ack() -> None:
    window = SubmitWindow(8, ack_timeout_s=10)
    assert window.deadline is None and window.timed_out(1000) is None  # nothing outstanding
    window.sent(entry(1), now=100)
    window.sent(entry(2), now=105)
    assert window.deadline == 110
    assert window.timed_out(110) is None
    assert window.timed_out(111.5) == Overdue(waited_s=11.5, outstanding=2)
    window.receive_ack(ack("r1"), now=108)  # the hub is alive: the clock restarts at its answer
    assert window.deadline == 118
    assert window.timed_out(117) is None
    window.receive_ack(ack("r2"), now=109)
    assert window.deadline is None


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SubmitWindow(0, ack_timeout_s=10)
    window = SubmitWindow(1, ack_timeout_s=10)
    window.sent(entry(2), now=0)
    with pytest.raises(ValueError, match="window of 1 full"):
        window.sent(entry(3), now=0)
    with pytest.raises(ValueError, match="only 0 were acknowledged"):
        window.settled(1)

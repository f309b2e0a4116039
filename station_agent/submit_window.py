"""The Submit stream's bookkeeping with no I/O in it: the send window, Ack matching, the watchdog.

Theory of operation
-------------------
The hub answers one Ack per record, in the order the records arrived (the ``StationIngest.Submit``
contract). So the station keeps the records it has written and not yet seen acknowledged in a
queue, oldest first, and each Ack must name the oldest one (or no record at all: the hub could
not parse the payload and says REJECTED). ``SubmitWindow`` is that queue plus two counts:

* ``next_to_send()`` says which outbox entries may go out now (after the last one sent, at most
  as many as the window has room for) or None while ``window`` records are unsettled, so a slow
  hub slows the station down and memory stays bounded. ``sent(entry, now)`` records a write.
* ``receive_ack(ack, now)`` matches one Ack and returns what it means: ``Settle`` (apply it to the
  outbox), ``KeyRefusal`` (the hub refuses the key this station signs with now: pause, do not
  settle) or ``Violation`` (the hub broke the contract: end the stream). A record leaves the
  window's count only when the caller says it is applied (``settled(count)``), because until the
  outbox commit is done it would be sent again by the next stream.
* ``deadline`` is when the watchdog fires: ``ack_timeout_s`` after the oldest outstanding record
  was sent or the last Ack came, whichever is later; ``timed_out(now)`` is the verdict.

Times are whatever monotonic clock the caller passes in; nothing here sleeps, reads a clock, logs
or touches the outbox, so every rule is tested without a hub (``tests/station_agent/test_submit_window.py``).
The async session (``station_agent.uplink``) drives it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from protos.tongjian.v1 import ingest_pb2
from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.outbox import OutboxEntry

# Refusals about the station's key or identity rather than about one record.
KEY_REFUSALS = frozenset(
    {
        ingest_pb2.REJECT_CODE_KEY_UNKNOWN,
        ingest_pb2.REJECT_CODE_KEY_REVOKED,
        ingest_pb2.REJECT_CODE_KEY_NOT_VALID,
        ingest_pb2.REJECT_CODE_CERTIFICATE_MISMATCH,
    }
)
SETTLING = frozenset(
    {ingest_pb2.ACK_STATUS_ACCEPTED, ingest_pb2.ACK_STATUS_DUPLICATE, ingest_pb2.ACK_STATUS_REJECTED}
)


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Ask the outbox for up to ``limit`` entries with ``seq > after_seq``."""

    after_seq: int
    limit: int


@dataclass(frozen=True, slots=True)
class Settle:
    """``ack`` answers ``entry``: remove it from the outbox (ACCEPTED, DUPLICATE) or park it (REJECTED)."""

    entry: OutboxEntry
    ack: ingest_pb2.Ack


@dataclass(frozen=True, slots=True)
class KeyRefusal:
    """The hub refused ``entry``, signed with the current key, for a reason about the key itself."""

    entry: OutboxEntry
    ack: ingest_pb2.Ack


@dataclass(frozen=True, slots=True)
class Violation:
    """The Ack does not fit the records sent; ``reason`` says how (the hub's fault, not ours)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Overdue:
    """The oldest outstanding record has had no Ack for ``waited_s`` (more than ``ack_timeout_s``)."""

    waited_s: float
    outstanding: int


@dataclass(frozen=True, slots=True)
class _Sent:
    entry: OutboxEntry
    sent_at: float


class SubmitWindow:
    """One stream's records in flight. A new stream gets a new window: it starts at the oldest
    outbox entry, since everything unsettled is sent again (the hub answers DUPLICATE)."""

    def __init__(self, window: int, ack_timeout_s: float, *, current_key_id: str | None = None) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        # None: no key check (tests, benchmarks); a key refusal is then settled like any rejection.
        self.current_key_id = current_key_id
        self._in_flight: deque[_Sent] = deque()  # written, not acknowledged, oldest first
        self._unsettled = 0  # written and not yet applied to the outbox: what the window counts
        self._cursor = 0  # seq of the last entry written
        self._last_ack_at: float | None = None
        self.acknowledged = False  # the hub acknowledged at least one record on this stream

    @property
    def outstanding(self) -> int:
        """Records written and not yet acknowledged."""
        return len(self._in_flight)

    @property
    def unsettled(self) -> int:
        return self._unsettled

    def next_to_send(self) -> SendRequest | None:
        free = self.window - self._unsettled
        return SendRequest(self._cursor, free) if free > 0 else None

    def sent(self, entry: OutboxEntry, now: float) -> None:
        if entry.seq <= self._cursor:
            raise ValueError(
                f"entry seq {entry.seq} sent after seq {self._cursor}: the outbox goes oldest first"
            )
        if self._unsettled >= self.window:
            raise ValueError(f"entry seq {entry.seq} sent with the window of {self.window} full")
        self._in_flight.append(_Sent(entry, now))
        self._unsettled += 1
        self._cursor = entry.seq

    def receive_ack(self, ack: ingest_pb2.Ack, now: float) -> Settle | KeyRefusal | Violation:
        if not self._in_flight:
            return Violation(f"Ack for {ack.record_id or 'an unnamed record'} with nothing outstanding")
        sent = self._in_flight.popleft()
        entry = sent.entry
        # An empty record_id is allowed: the hub could not parse the payload (REJECTED).
        if ack.record_id and ack.record_id != entry.record_id:
            return Violation(f"Ack for {ack.record_id} where {entry.record_id} was next (seq {entry.seq})")
        if ack.status not in SETTLING:
            return Violation(f"Ack for {entry.record_id} with status {ack.status}")
        if ack.status == ingest_pb2.ACK_STATUS_REJECTED and self._refuses_current_key(entry, ack):
            # Not settled and not counted as an answer: the record stays in the outbox.
            return KeyRefusal(entry, ack)
        self._last_ack_at = now
        self.acknowledged = True
        return Settle(entry, ack)

    def _refuses_current_key(self, entry: OutboxEntry, ack: ingest_pb2.Ack) -> bool:
        if self.current_key_id is None or ack.reject_code not in KEY_REFUSALS:
            return False
        # A record signed with an older key (replaced since) cannot be helped by pausing: settle it.
        return pb.SignedRecord.FromString(entry.envelope_bytes).key_id == self.current_key_id

    def settled(self, count: int) -> None:
        """``count`` settled records are applied to the outbox: their room in the window is free."""
        if not 0 <= count <= self._unsettled - len(self._in_flight):
            raise ValueError(
                f"{count} records settled, but only {self._unsettled - len(self._in_flight)} were acknowledged"
            )
        self._unsettled -= count

    @property
    def deadline(self) -> float | None:
        """When the oldest outstanding record is overdue; None with nothing outstanding."""
        if not self._in_flight:
            return None
        since = self._in_flight[0].sent_at
        if self._last_ack_at is not None:
            since = max(since, self._last_ack_at)
        return since + self.ack_timeout_s

    def timed_out(self, now: float) -> Overdue | None:
        deadline = self.deadline
        if deadline is None or now <= deadline:
            return None
        return Overdue(now - deadline + self.ack_timeout_s, len(self._in_flight))

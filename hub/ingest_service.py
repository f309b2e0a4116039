"""``StationIngest.Submit``: verify each record, recompute its verdict, group-commit, Ack in order.

Theory of operation
-------------------
Each stream has a reader task and the response generator. The reader takes envelopes off the
wire and hands each to the ``RecordChecker`` (``hub.record_checker``: envelope check, parse and
the hub's own verdict, in batches off the event loop), queueing a pending answer per record
without waiting for it; each checked record goes to the ``GroupCommitter`` (rejections too: they
are audited). The generator awaits the pending answers strictly in arrival order, so every Ack
is sent after its record's commit and in the order the records came, while the records behind
it are checked and committed.

One ``GroupCommitter`` (``hub.group_commit``) per hub process is the only writer: it gathers work from every stream
into batches of up to ``group_commit_max`` items, waiting at most ``group_commit_wait_ms`` for a
batch to fill, and commits each batch as one transaction in a worker thread. What is a
duplicate is decided by the database inside that transaction, so replicas sharing a database
agree without talking to each other.

Refusals: a record that fails a check gets Ack REJECTED (and is audited). A station that exceeds
``station_rate_per_s`` gets the stream ended with RESOURCE_EXHAUSTED (see ``rate_limit``). A
message over ``max_message_bytes`` never reaches us: gRPC ends the stream with
RESOURCE_EXHAUSTED itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import grpc.aio
from sqlalchemy.exc import SQLAlchemyError

from hub.audit import AuditEntry
from hub.countersign import Countersigner
from hub.envelope_check import EnvelopeLimits, RecordRejected, RejectionKind, open_envelope
from hub.errors import CheckWorkerLost, CommitFailed, HubError, HubShuttingDown
from hub.group_commit import GroupCommitter
from hub.inflight_budget import InflightBudget
from hub.key_directory import KeyDirectory
from hub.metrics import HubMetrics
from hub.rate_limit import StationRateLimiter
from hub.record_checker import (
    CheckedRecord,
    CheckMode,
    CheckRequest,
    CheckResult,
    RecordChecker,
    Refusal,
)
from hub.records import CommitOutcome
from hub.store import HubStore
from hub.verdict import VerdictJudge
from pki.grpc_credentials import peer_common_name
from protos.envelope import station_of_key_id
from protos.tongjian.v1 import ingest_pb2

log = logging.getLogger(__name__)

_SERVICE = ingest_pb2.DESCRIPTOR.services_by_name["StationIngest"]
SERVICE_NAME = _SERVICE.full_name
ID_REUSED_REASON = "record id reused with different content"
# Rejection reasons quote what the sender sent; an Ack must stay far below the message size limit
# (an oversize Ack would end the stream, and the station would resend the same record forever).
MAX_ACK_REASON_CHARS = 512
MAX_ACK_RECORD_ID_CHARS = 64
# What the audit log's columns hold (hub.models.AuditEvent); anything else goes into the detail.
_AUDIT_LIMITS = {"station_id": 64, "record_id": 36, "key_id": 96}
MAX_AUDIT_DETAIL_CHARS = 2000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _audit_field(value: str, column: str) -> str | None:
    """``value`` if the audit column can hold it as given; None otherwise (the detail quotes it)."""
    if not value or len(value) > _AUDIT_LIMITS[column] or not value.isprintable():
        return None
    return value


# ---------------------------------------------------------------- the service


@dataclass(frozen=True, slots=True)
class _Answer:
    record_id: str
    rejection: RecordRejected | None  # None: a verified record, its Ack follows from the outcome
    outcome: CommitOutcome | None


@dataclass(slots=True)
class _Pending:
    arrived: float  # time.perf_counter()
    # Checked (off the loop), then committed: the records of a stream are checked and committed
    # while earlier ones still wait, and the generator answers them strictly in arrival order.
    answer: asyncio.Future[_Answer]
    # Set once this record is with the writer (or refused): the next record of the stream goes to
    # the writer only after it, so that a record sent twice is stored, then duplicate, in that order.
    handed: asyncio.Future[None]
    held_bytes: int = 0  # taken from the hub's in-flight budget, given back once answered


@dataclass(slots=True)
class _End:
    refusal: str | None = None  # rate limit: end the stream with RESOURCE_EXHAUSTED and this message
    drained: bool = False  # the hub is stopping: every Ack is out, hold the stream until grace ends
    unavailable: str | None = None  # the hub cannot go on (database, shutdown): UNAVAILABLE, retry


class StationIngestService:
    def __init__(
        self,
        store: HubStore,
        directory: KeyDirectory,
        committer: GroupCommitter,
        metrics: HubMetrics,
        limits: EnvelopeLimits,
        judge: VerdictJudge,
        rate_limiter: StationRateLimiter | None = None,
        require_certificate: bool = False,
        max_pending_per_stream: int = 1024,
        max_inflight_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        countersigner: Countersigner | None = None,
        checker: RecordChecker | None = None,
    ) -> None:
        self._clock = clock
        # Parse, verify and judge run here, in batches off the loop (None: on the loop, inline).
        self._checker = checker if checker is not None else RecordChecker(limits, judge, CheckMode.INLINE)
        # Records of other provinces' vehicles get an outbox item (None: this hub forwards nothing).
        self._countersigner = countersigner
        self._store = store
        self._directory = directory
        self._committer = committer
        self._metrics = metrics
        self._limits = limits
        self._judge = judge
        self._rate_limiter = rate_limiter
        self._require_certificate = require_certificate
        self._max_pending = max_pending_per_stream
        self.budget = InflightBudget(max_inflight_bytes)
        self._readers: set[asyncio.Task[None]] = set()
        self._handing: set[asyncio.Future[None]] = set()  # records read, not yet with the writer
        self._draining = False

    @property
    def reading_streams(self) -> int:
        """Streams whose records are still being read."""
        return len(self._readers)

    def drain(self) -> None:
        """Stop reading records on every stream; Acks for what was read still go out, then the
        streams end (status OK) and the stations reconnect, to this hub or another replica."""
        self._draining = True
        for reader in self._readers:
            reader.cancel()

    async def hand_over_all(self) -> None:
        """Wait until every record read has reached the writer or been refused: at stop, between
        the streams' end and the writer's close, so that what was read is committed, not dropped."""
        while self._handing:
            await asyncio.wait(set(self._handing))
        await self._directory.refreshed()  # a key reload under way ends before the store closes

    def rpc_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        # Raw bytes in: a message that is not a SignedRecord is answered with REJECTED rather
        # than failing the whole stream in the deserializer.
        submit = grpc.stream_stream_rpc_method_handler(self.submit)
        return grpc.method_handlers_generic_handler(SERVICE_NAME, {"Submit": submit})

    async def submit(
        self, request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> AsyncIterator[bytes]:
        certificate_station = peer_common_name(context)
        if self._require_certificate and certificate_station is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "client certificate without a common name")
        if self._draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub is shutting down; retry")
        pending: asyncio.Queue[_Pending | _End] = asyncio.Queue(self._max_pending)
        answering = asyncio.Event()  # cleared when this generator is gone and nobody reads `pending`
        answering.set()
        reader = asyncio.create_task(self._read(request_iterator, certificate_station, pending, answering))
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)
        item: _Pending | _End | None = None
        try:
            while True:
                item = await pending.get()
                if isinstance(item, _End):
                    if item.unavailable is not None:
                        await context.abort(grpc.StatusCode.UNAVAILABLE, item.unavailable)
                    if item.refusal is not None:
                        self._metrics.rate_limited.inc()
                        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, item.refusal)
                    if item.drained:
                        # Ending the stream now would race the station settling the last Acks;
                        # server.stop(grace) cancels this wait when the grace period is over.
                        await asyncio.Event().wait()
                    break
                try:
                    answer = await item.answer
                except _RateLimited as limited:
                    # Stop reading first, as when the reader itself refuses (a certificate station):
                    # gRPC fails the abort with INTERNAL while a read is still outstanding.
                    reader.cancel()
                    await asyncio.wait({reader})
                    self._metrics.rate_limited.inc()
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(limited))
                except (SQLAlchemyError, CommitFailed):
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub could not store records; retry")
                except HubShuttingDown:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub is shutting down; retry")
                except CheckWorkerLost as lost:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, f"{lost}; retry")
                self.budget.release(item.held_bytes)
                item.held_bytes = 0
                yield self._ack(item, answer).SerializeToString()
            await asyncio.wait({reader})
            ended_by = None if reader.cancelled() else reader.exception()
            if ended_by is not None:
                raise ended_by  # what ended the reader: a broken stream, a bug
        finally:
            answering.clear()
            reader.cancel()
            # Records read but never answered (the station hung up, the stream was aborted): their
            # commits stand or fail on their own, but they no longer take up the budget.
            if isinstance(item, _Pending):
                self.budget.release(item.held_bytes)
            while not pending.empty():
                left = pending.get_nowait()
                if isinstance(left, _Pending):
                    self.budget.release(left.held_bytes)
                    left.answer.add_done_callback(_unanswered)

    def _ack(self, item: _Pending, answer: _Answer) -> ingest_pb2.Ack:
        metrics = self._metrics
        metrics.ingest_latency.observe(time.perf_counter() - item.arrived)
        outcome = answer.outcome
        if answer.rejection is not None:
            return ingest_pb2.Ack(
                record_id=answer.record_id[:MAX_ACK_RECORD_ID_CHARS],
                status=ingest_pb2.ACK_STATUS_REJECTED,
                reason=_clip(answer.rejection.reason, MAX_ACK_REASON_CHARS),
                reject_code=_REJECT_CODES.get(answer.rejection.kind, ingest_pb2.REJECT_CODE_UNSPECIFIED),
            )
        if outcome is CommitOutcome.STORED:
            metrics.accepted.inc()
            return ingest_pb2.Ack(record_id=answer.record_id, status=ingest_pb2.ACK_STATUS_ACCEPTED)
        if outcome is CommitOutcome.DUPLICATE:
            metrics.duplicate.inc()
            return ingest_pb2.Ack(record_id=answer.record_id, status=ingest_pb2.ACK_STATUS_DUPLICATE)
        metrics.rejected.labels(RejectionKind.ID_REUSED.value).inc()
        return ingest_pb2.Ack(
            record_id=answer.record_id, status=ingest_pb2.ACK_STATUS_REJECTED, reason=ID_REUSED_REASON
        )

    async def _read(
        self,
        request_iterator: AsyncIterator[bytes],
        certificate_station: str | None,
        pending: asyncio.Queue[_Pending | _End],
        answering: asyncio.Event,
    ) -> None:
        end = _End()
        handed: asyncio.Future[None] | None = None  # the previous record's
        try:
            async for raw in request_iterator:
                arrived = time.perf_counter()
                self._metrics.received.inc()
                # Room first: a hub that is behind stops reading, and flow control slows the station.
                held = await self.budget.acquire(len(raw))
                try:
                    item = await self._take(raw, arrived, certificate_station, handed)
                    handed = item.handed
                    item.held_bytes = held
                    await pending.put(item)
                    held = 0  # the generator gives it back now
                except _RateLimited as limited:
                    end = _End(str(limited))
                    return
                except SQLAlchemyError as error:
                    log.error("reading the station directory failed: %s", error)
                    end = _End(unavailable="the hub cannot reach its database; retry")
                    return
                except HubShuttingDown:
                    end = _End(unavailable="the hub is shutting down; retry")
                    return
                except CommitFailed as error:
                    end = _End(unavailable=str(error))
                    return
                finally:
                    self.budget.release(held)  # nothing, unless the record never reached the queue
        finally:
            if self._draining and end.refusal is None and end.unavailable is None:
                end = _End(drained=True)
            # put_nowait could fail on a full queue; the generator is draining it, so wait. If the
            # generator is gone (the station hung up), nobody would ever make room: just end.
            if answering.is_set():
                await pending.put(end)

    async def _take(
        self,
        raw: bytes,
        arrived: float,
        certificate_station: str | None,
        after: asyncio.Future[None] | None,
    ) -> _Pending:
        """Start checking ``raw``; raises ``_RateLimited`` (certificate station) or a directory error."""
        received_at = self._clock()
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Only an authenticated station is charged: its certificate's, before any work (garbage
        # counts too); without a certificate, the station of a verified record (in ``_answer``), so
        # that no one can spend another station's allowance by writing its name into a key id.
        if certificate_station is not None:
            self._charge(certificate_station)
        try:
            key_id = open_envelope(raw).key_id
        except RecordRejected as rejection:
            handed.set_result(None)
            refused = self._refuse(rejection, raw, "", received_at, certificate_station)
            return _Pending(arrived, asyncio.ensure_future(refused), handed)
        try:
            keys = await self._directory.keys()
        except BaseException:
            handed.set_result(None)  # nothing follows this record: the reader ends
            raise
        self._handing.add(handed)
        handed.add_done_callback(self._handing.discard)
        checked = self._checker.check(CheckRequest(raw, received_at, certificate_station), key_id, keys)
        answer = self._answer(checked, after, handed, raw, key_id, received_at, certificate_station)
        return _Pending(arrived, asyncio.ensure_future(answer), handed)

    async def _answer(
        self,
        checked: asyncio.Future[CheckResult],
        after: asyncio.Future[None] | None,
        handed: asyncio.Future[None],
        raw: bytes,
        key_id: str,
        received_at: datetime,
        certificate_station: str | None,
    ) -> _Answer:
        try:
            result = await checked
            if after is not None:
                await asyncio.shield(after)  # set in a finally: it never fails
            if isinstance(result, CheckedRecord):
                committed = self._hand_over(result, raw, received_at, certificate_station)
        finally:
            if not handed.done():
                handed.set_result(None)
        if isinstance(result, Refusal):
            return await self._refuse(result.error(), raw, key_id, received_at, certificate_station)
        return _Answer(result.row.record_id, None, await committed)

    def _hand_over(
        self, result: CheckedRecord, raw: bytes, received_at: datetime, certificate_station: str | None
    ) -> asyncio.Future[CommitOutcome | None]:
        """Give a checked record to the writer; raises ``_RateLimited`` for an uncertified station."""
        row = result.row
        if certificate_station is None:
            self._charge(row.station_id)
        forward = None
        if self._countersigner is not None:
            forward = self._countersigner.forward_row(
                raw,
                row.station_id,
                row.record_id,
                row.vin,
                result.registration_province,
                received_at,
                result.hub_verdict,
            )
        return self._committer.store_record(result.prepared, forward)

    async def _refuse(
        self,
        rejection: RecordRejected,
        raw: bytes,
        key_id: str,
        received_at: datetime,
        certificate_station: str | None,
    ) -> _Answer:
        if rejection.kind in _RESEND_KINDS and await self._already_stored(raw, key_id, rejection.record_id):
            # A resend of what the hub stored while the key was still good (its Ack was lost):
            # the record is safe here, so say DUPLICATE rather than park it at the station.
            return _Answer(rejection.record_id, None, CommitOutcome.DUPLICATE)
        self._metrics.rejected.labels(rejection.kind.value).inc()
        log.info("rejected record %s: %s", rejection.record_id or "(unnamed)", rejection)
        # The sender chose key id and record id: one that no column can hold (a NUL, 200
        # characters) must not fail the group commit it shares with other stations' records.
        audit = AuditEntry(
            "record_rejected",
            _clip(f"{rejection.kind.value}: {rejection.reason}", MAX_AUDIT_DETAIL_CHARS),
            station_id=_audit_field(certificate_station or station_of_key_id(key_id), "station_id"),
            record_id=_audit_field(rejection.record_id, "record_id"),
            key_id=_audit_field(key_id, "key_id"),
            at=received_at,
        )
        await self._committer.append_audit(audit)
        return _Answer(rejection.record_id, rejection, None)

    def _charge(self, station: str) -> None:
        if self._rate_limiter is not None and not self._rate_limiter.allow(station):
            raise _RateLimited(
                f"rate limit: station {station!r} exceeds {self._rate_limiter.rate_per_s:g} records/s; "
                "back off and resend"
            )

    async def _already_stored(self, raw: bytes, key_id: str, record_id: str) -> bool:
        if not record_id or not key_id:
            return False
        envelope = open_envelope(raw)
        stored = await asyncio.to_thread(self._store.get_record, record_id, station_of_key_id(key_id))
        return (
            stored is not None
            and stored.key_id == key_id
            and stored.payload == envelope.record
            and stored.signature == envelope.signature
        )


# Refusals about the station's key or identity: the station pauses on these instead of parking records.
_REJECT_CODES = {
    RejectionKind.UNKNOWN_KEY: ingest_pb2.REJECT_CODE_KEY_UNKNOWN,
    RejectionKind.KEY_REVOKED: ingest_pb2.REJECT_CODE_KEY_REVOKED,
    RejectionKind.KEY_NOT_VALID: ingest_pb2.REJECT_CODE_KEY_NOT_VALID,
    RejectionKind.CERTIFICATE_MISMATCH: ingest_pb2.REJECT_CODE_CERTIFICATE_MISMATCH,
}

# Refusals that a key's later revocation or expiry can cause for a record stored before it.
_RESEND_KINDS = frozenset({RejectionKind.KEY_REVOKED, RejectionKind.KEY_NOT_VALID})


def _unanswered(answer: asyncio.Future[_Answer]) -> None:
    """Take the failure of a record whose stream ended before its Ack (its commit stands or fails
    on its own, the station resends it), so that asyncio does not report it as never retrieved."""
    if not answer.cancelled():
        answer.exception()


class _RateLimited(HubError):
    """A station over its rate: the reader ends the stream RESOURCE_EXHAUSTED (never leaves here)."""

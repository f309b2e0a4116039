"""``StationIngest.Submit``: verify each record, recompute its verdict, group-commit, Ack in order.

Theory of operation
-------------------
Each stream has a reader task and the response generator. The reader takes envelopes off the
wire, checks them (``envelope_check``), judges accepted ones again with the hub's own rules and
hands each to the ``GroupCommitter`` (rejections too: they are audited), queueing a pending Ack
per record. The generator awaits the pending Acks strictly in arrival order, so every Ack is
sent after its record's commit and in the order the records came.

One ``GroupCommitter`` per hub process is the only writer: it gathers work from every stream
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
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import grpc.aio
from sqlalchemy.exc import SQLAlchemyError

from hub.envelope_check import (
    EnvelopeLimits,
    KnownKey,
    RecordRejected,
    RejectionKind,
    VerifiedRecord,
    open_envelope,
    verify_envelope,
)
from hub.inflight_budget import InflightBudget
from hub.metrics import HubMetrics
from hub.rate_limit import StationRateLimiter
from hub.store import AuditEntry, CommitOutcome, HubStore, NewRecord
from inspection import InspectionRecord, Verdict
from pki.grpc_credentials import peer_common_name
from protos.envelope import station_of_key_id
from protos.tongjian.v1 import ingest_pb2

log = logging.getLogger(__name__)

Judge = Callable[[InspectionRecord], Verdict]

_SERVICE = ingest_pb2.DESCRIPTOR.services_by_name["StationIngest"]
SERVICE_NAME = _SERVICE.full_name
ID_REUSED_REASON = "record id reused with different content"
# Rejection reasons quote what the sender sent; an Ack must stay far below the message size limit
# (an oversize Ack would end the stream, and the station would resend the same record forever).
MAX_ACK_REASON_CHARS = 512
MAX_ACK_RECORD_ID_CHARS = 64
# What the audit log's columns hold (hub.models.AuditRow); anything else goes into the detail.
_AUDIT_LIMITS = {"station_id": 64, "record_id": 36, "key_id": 96}
MAX_AUDIT_DETAIL_CHARS = 2000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _audit_field(value: str, column: str) -> str | None:
    """``value`` if the audit column can hold it as given; None otherwise (the detail quotes it)."""
    if not value or len(value) > _AUDIT_LIMITS[column] or not value.isprintable():
        return None
    return value


class HubShuttingDown(Exception):
    """Work handed to the committer after it was told to stop."""


# ---------------------------------------------------------------- station directory cache


class KeyDirectory:
    """The station keys, cached: reloaded when this process changed them, or after ``ttl_s``
    (the bound on how long another replica's revocation takes to reach this one)."""

    def __init__(self, store: HubStore, ttl_s: float = 2.0) -> None:
        self.store = store
        self._store = store
        self._ttl_s = ttl_s
        self._keys: dict[str, KnownKey] = {}
        self._loaded_at = float("-inf")
        self._version = -1
        self._lock = asyncio.Lock()

    async def keys(self) -> dict[str, KnownKey]:
        if self._fresh():
            return self._keys
        async with self._lock:
            if not self._fresh():
                version = self._store.directory_version
                self._keys = await asyncio.to_thread(self._store.known_keys)
                self._version = version
                self._loaded_at = time.monotonic()
        return self._keys

    def _fresh(self) -> bool:
        return (
            self._version == self._store.directory_version
            and time.monotonic() - self._loaded_at < self._ttl_s
        )


# ---------------------------------------------------------------- group commit


@dataclass(slots=True)
class _Work:
    record: NewRecord | None
    audit: AuditEntry | None
    future: asyncio.Future[CommitOutcome | None]


_STOP = object()

HealthReport = Callable[[bool], Awaitable[None]]  # True: the writer commits again; False: it cannot


class CommitFailed(Exception):
    """A batch could not be stored, for whatever reason; its records' streams end UNAVAILABLE."""


class GroupCommitter:
    """The hub's one writer, supervised.

    A batch that fails for any reason (a database error, or a bug: any ``Exception``) is retried
    item by item, so one bad item costs only itself; what still fails has its future failed with
    ``CommitFailed`` (the station gets UNAVAILABLE and resends), is logged and counted
    (``tongjian_hub_commit_failures_total``). After ``max_consecutive_failures`` batches in a row
    stored nothing, the writer reports itself unhealthy (gRPC health NOT_SERVING, so a load
    balancer sends stations elsewhere) and healthy again after the next batch that stores. If the
    writer task itself ends other than by ``close`` (a bug in the loop), everything waiting fails,
    new work is refused and health stays NOT_SERVING.
    """

    def __init__(
        self,
        store: HubStore,
        metrics: HubMetrics,
        max_batch: int = 256,
        wait_ms: float = 2.0,
        max_consecutive_failures: int = 3,
        report_health: HealthReport | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"group_commit_max must be at least 1, not {max_batch}")
        if max_consecutive_failures < 1:
            raise ValueError(
                f"writer_max_consecutive_failures must be at least 1, not {max_consecutive_failures}"
            )
        self._store = store
        self._metrics = metrics
        self._max_batch = max_batch
        self._wait_s = wait_ms / 1000.0
        self._max_failures = max_consecutive_failures
        self._report_health = report_health
        self._failures_in_a_row = 0
        self._healthy = True
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._batch_full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._dead: BaseException | None = None
        self._in_flight: list[_Work] = []  # the batch being committed, failed too if the loop dies

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervised(), name="hub group commit")

    async def close(self) -> None:
        """Commit everything already handed in, then stop."""
        if self._task is None or self._closing:
            return
        self._closing = True
        self._queue.put_nowait(_STOP)
        self._batch_full.set()
        await self._task

    def store_record(self, record: NewRecord) -> asyncio.Future[CommitOutcome | None]:
        return self._put(record, None)

    def append_audit(self, entry: AuditEntry) -> asyncio.Future[CommitOutcome | None]:
        return self._put(None, entry)

    def _put(
        self, record: NewRecord | None, audit: AuditEntry | None
    ) -> asyncio.Future[CommitOutcome | None]:
        if self._dead is not None:
            raise CommitFailed(f"the hub's writer has stopped ({self._dead}); retry")
        if self._closing:
            raise HubShuttingDown("the hub is shutting down")
        future: asyncio.Future[CommitOutcome | None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Work(record, audit, future))
        if self._queue.qsize() >= self._max_batch:
            self._batch_full.set()
        return future

    async def _supervised(self) -> None:
        try:
            await self._run()
        except BaseException as error:
            self._dead = error if isinstance(error, Exception) else CommitFailed("writer cancelled")
            log.critical("the hub's writer stopped: %r; records are refused until restart", error)
            waiting = list(self._in_flight)
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            for item in waiting:
                if isinstance(item, _Work) and not item.future.done():
                    item.future.set_exception(CommitFailed(f"the hub's writer stopped: {error!r}"))
            await self._set_health(False)
            if not isinstance(error, Exception):
                raise

    async def _set_health(self, healthy: bool) -> None:
        if healthy is self._healthy:
            return
        self._healthy = healthy
        if self._report_health is not None:
            await self._report_health(healthy)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is _STOP:
                break
            if self._queue.qsize() < self._max_batch - 1 and self._wait_s > 0:
                self._batch_full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._batch_full.wait(), self._wait_s)
            batch: list[_Work] = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._in_flight = batch
            committed = await self._commit(batch)
            self._in_flight = []
            if committed:
                self._failures_in_a_row = 0
                await self._set_health(True)
            else:
                self._failures_in_a_row += 1
                if self._failures_in_a_row >= self._max_failures:
                    log.error(
                        "%d batches in a row stored nothing: reporting NOT_SERVING", self._failures_in_a_row
                    )
                    await self._set_health(False)

    async def _commit(self, batch: list[_Work]) -> bool:
        """Commit ``batch``; True if anything of it was stored."""
        records = [work.record for work in batch if work.record is not None]
        audits = [work.audit for work in batch if work.audit is not None]
        started = time.perf_counter()
        try:
            outcomes = await asyncio.to_thread(self._store.commit_batch, records, audits)
        except Exception as error:  # noqa: BLE001 - any failure fails the batch, never the writer
            if len(batch) > 1:
                # Nothing of the batch is stored. One bad item must not cost the others their
                # commit: try each on its own, so only what really cannot be stored fails.
                log.warning(
                    "group commit of %d items failed (%r); committing them one by one", len(batch), error
                )
                stored_any = False
                for work in batch:
                    stored_any = await self._commit([work]) or stored_any
                return stored_any
            # Not stored; the stream ends with UNAVAILABLE and the station sends again.
            log.error("commit failed: %r", error)
            self._metrics.commit_failures.inc()
            failure = CommitFailed(f"could not store: {error!r}")
            failure.__cause__ = error
            for work in batch:
                if not work.future.done():
                    work.future.set_exception(failure)
            return False
        self._metrics.commit_latency.observe(time.perf_counter() - started)
        self._metrics.batch_size.observe(len(batch))
        results = iter(outcomes)
        for work in batch:
            outcome = next(results) if work.record is not None else None
            if not work.future.done():  # the stream may have gone; the commit stands regardless
                work.future.set_result(outcome)
        return True


# ---------------------------------------------------------------- verdict


class VerdictJudge:
    """The hub's own verdict, by ``inspection.verdicts.judge`` unless a judge is configured.

    The rules module is imported on first use; if it cannot be imported, records are stored
    without a hub verdict and that is logged once. A judge that raises on one record is a bug
    in the rules, not in the record: that record is stored without a hub verdict and logged.
    """

    def __init__(self, judge: Judge | None) -> None:
        self._judge = judge
        self._resolved = judge is not None

    def __call__(self, record: InspectionRecord) -> Verdict | None:
        if not self._resolved:
            self._resolved = True
            try:
                from inspection.verdicts import judge
            except ImportError as error:
                log.warning("no hub verdicts: inspection.verdicts.judge is not available (%s)", error)
            else:
                self._judge = judge
        if self._judge is None:
            return None
        try:
            return self._judge(record)
        except Exception:
            log.exception("judging record %s failed; stored without a hub verdict", record.record_id)
            return None


def verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "overall": verdict.overall.value,
        "items": [
            {
                "code": item.code,
                "clause": item.clause,
                "measured": item.measured,
                "limit": item.limit,
                "unit": item.unit,
                "outcome": item.outcome.value,
                "note": item.note,
            }
            for item in verdict.items
        ],
    }


def new_record(verified: VerifiedRecord, received_at: datetime, hub_verdict: Verdict | None) -> NewRecord:
    record = verified.record
    station_overall = record.station_verdict.overall.value if record.station_verdict is not None else None
    hub_overall = hub_verdict.overall.value if hub_verdict is not None else None
    return NewRecord(
        station_id=record.station_id,
        record_id=verified.record_id,
        key_id=verified.key.key_id,
        payload=verified.payload,
        payload_sha256=verified.payload_sha256,
        signature=verified.signature,
        received_at=received_at,
        vin=record.vehicle.vin,
        plate=record.vehicle.plate,
        finished_at=record.finished_at,
        station_overall=station_overall,
        hub_overall=hub_overall,
        hub_verdict=verdict_to_json(hub_verdict) if hub_verdict is not None else None,
        verdict_mismatch=(
            station_overall is not None and hub_overall is not None and station_overall != hub_overall
        ),
    )


# ---------------------------------------------------------------- the service


@dataclass(slots=True)
class _Pending:
    arrived: float  # time.perf_counter()
    future: asyncio.Future[CommitOutcome | None]
    record_id: str
    rejection: RecordRejected | None  # None: a verified record, its Ack follows from the outcome
    held_bytes: int = 0  # taken from the hub's in-flight budget, given back once answered


@dataclass(slots=True)
class _End:
    refusal: str | None = None  # rate limit: end the stream with RESOURCE_EXHAUSTED and this message
    drained: bool = False  # the hub is stopping: every Ack is out, hold the stream until grace ends
    unavailable: str | None = None  # the hub cannot go on (database, shutdown): UNAVAILABLE, retry


class StationIngestService:
    def __init__(
        self,
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
    ) -> None:
        self._clock = clock
        self._store = directory.store
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
        self._draining = False

    def drain(self) -> None:
        """Stop reading records on every stream; Acks for what was read still go out, then the
        streams end (status OK) and the stations reconnect, to this hub or another replica."""
        self._draining = True
        for reader in self._readers:
            reader.cancel()

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
                    outcome = await item.future
                except (SQLAlchemyError, CommitFailed):
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub could not store records; retry")
                except HubShuttingDown:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub is shutting down; retry")
                self.budget.release(item.held_bytes)
                item.held_bytes = 0
                yield self._ack(item, outcome).SerializeToString()
            await asyncio.wait({reader})
            ended_by = None if reader.cancelled() else reader.exception()
            if ended_by is not None:
                raise ended_by  # what ended the reader: a broken stream, a bug
        finally:
            answering.clear()
            reader.cancel()
            # Records read but never answered (the station hung up, the stream was aborted): their
            # commits stand or fail on their own, but they no longer take up the budget.
            if item is not None and isinstance(item, _Pending):
                self.budget.release(item.held_bytes)
            while not pending.empty():
                left = pending.get_nowait()
                if isinstance(left, _Pending):
                    self.budget.release(left.held_bytes)

    def _ack(self, item: _Pending, outcome: CommitOutcome | None) -> ingest_pb2.Ack:
        metrics = self._metrics
        metrics.ingest_latency.observe(time.perf_counter() - item.arrived)
        if item.rejection is not None:
            return ingest_pb2.Ack(
                record_id=item.record_id[:MAX_ACK_RECORD_ID_CHARS],
                status=ingest_pb2.ACK_STATUS_REJECTED,
                reason=_clip(item.rejection.reason, MAX_ACK_REASON_CHARS),
                reject_code=_REJECT_CODES.get(item.rejection.kind, ingest_pb2.REJECT_CODE_UNSPECIFIED),
            )
        if outcome is CommitOutcome.STORED:
            metrics.accepted.inc()
            return ingest_pb2.Ack(record_id=item.record_id, status=ingest_pb2.ACK_STATUS_ACCEPTED)
        if outcome is CommitOutcome.DUPLICATE:
            metrics.duplicate.inc()
            return ingest_pb2.Ack(record_id=item.record_id, status=ingest_pb2.ACK_STATUS_DUPLICATE)
        metrics.rejected.labels(RejectionKind.ID_REUSED.value).inc()
        return ingest_pb2.Ack(
            record_id=item.record_id, status=ingest_pb2.ACK_STATUS_REJECTED, reason=ID_REUSED_REASON
        )

    async def _read(
        self,
        request_iterator: AsyncIterator[bytes],
        certificate_station: str | None,
        pending: asyncio.Queue[_Pending | _End],
        answering: asyncio.Event,
    ) -> None:
        end = _End()
        try:
            async for raw in request_iterator:
                arrived = time.perf_counter()
                self._metrics.received.inc()
                # Room first: a hub that is behind stops reading, and flow control slows the station.
                held = await self.budget.acquire(len(raw))
                try:
                    item = await self._take(raw, arrived, certificate_station)
                    item.held_bytes = held
                    await pending.put(item)
                    held = 0  # the generator gives it back now
                    continue
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

    async def _take(self, raw: bytes, arrived: float, certificate_station: str | None) -> _Pending:
        received_at = self._clock()
        key_id = ""
        try:
            # Only an authenticated station is charged: its certificate's, before any work (garbage
            # counts too); without a certificate, the station of a verified record, so that no one
            # can spend another station's allowance by writing its name into a key id.
            if certificate_station is not None:
                self._charge(certificate_station)
            envelope = open_envelope(raw)
            key_id = envelope.key_id
            keys = await self._directory.keys()
            verified = verify_envelope(envelope, keys, self._limits, received_at, certificate_station)
            if certificate_station is None:
                self._charge(verified.record.station_id)
        except RecordRejected as rejection:
            if rejection.kind in _RESEND_KINDS and await self._already_stored(
                raw, key_id, rejection.record_id
            ):
                # A resend of what the hub stored while the key was still good (its Ack was lost):
                # the record is safe here, so say DUPLICATE rather than park it at the station.
                done: asyncio.Future[CommitOutcome | None] = asyncio.get_running_loop().create_future()
                done.set_result(CommitOutcome.DUPLICATE)
                return _Pending(arrived, done, rejection.record_id, None)
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
            return _Pending(arrived, self._committer.append_audit(audit), rejection.record_id, rejection)
        hub_verdict = self._judge(verified.record)
        future = self._committer.store_record(new_record(verified, received_at, hub_verdict))
        return _Pending(arrived, future, verified.record_id, None)

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


class _RateLimited(Exception):
    pass

"""The gRPC uplink: streams the outbox to the province hub and settles each record on its Ack.

Theory of operation
-------------------
One ``StationIngest.Submit`` stream at a time (a *session*). Within a session four tasks run:

* the sender reads the outbox oldest first and writes envelopes while fewer than ``window``
  records are unsettled, so a slow hub slows the station down and memory stays bounded;
* the receiver matches each Ack to the oldest record still unacknowledged (the hub answers in
  arrival order, one Ack per record) and hands the pair to the settler;
* the settler applies Acks to the outbox in batches, one transaction per batch: ACCEPTED and
  DUPLICATE remove the entry, REJECTED moves it to the dead-letter table with the hub's reason;
* the watchdog ends the session when the oldest record has waited ``ack_timeout_s`` with no Ack
  at all (a hub that stopped answering but kept the connection).

A refused signing key pauses the uplink. When the hub answers REJECTED with a key reason
(``reject_code``: key unknown, revoked, outside its validity, certificate of another station)
for a record signed by this station's current key, every later record would be refused the same
way, so parking them one by one would only fill the dead-letter table. The session ends, the
record stays in the outbox, and the uplink asks the hub (``hub_check.EnrollmentProbe``) about the
key: refused, it sets ``signing_key_refused`` (an alert metric) and asks again with backoff until
the key is enrolled again, then resumes sending; enrolled already, the refusal was about that one
record (signed outside the key's window), which is then parked like any other rejection.

Whatever ends a session (hub gone, stream reset, watchdog, the hub breaking the contract), every
record not yet settled stays in the outbox and the next session sends it again from the oldest
entry; the hub answers DUPLICATE for what it had already committed. Sessions are reopened with
exponential backoff and full jitter (tenacity), so a fleet of stations does not reconnect to a
restarted hub in lock step. The backoff starts afresh after a session in which the hub
acknowledged anything, since the hub was evidently alive.

Exceptions::

    UplinkError
    ├── HubProtocolError   the hub broke the Submit contract (an Ack for another record, ...)
    ├── AckTimeout         records waited ack_timeout_s with no Ack
    ├── StreamEnded        the hub closed the stream
    └── ConnectTimeout     no connection within connect_timeout_s (says refused, TLS or timed out)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    wait_random_exponential,
)

from protos.tongjian.v1 import ingest_pb2
from station_agent.errors import StationAgentError
from station_agent.hub_check import Enrollment, EnrollmentProbe, HubUnreachable, diagnose_connection
from station_agent.outbox import OutboxEntry, OutboxStore
from station_agent.submit_window import KeyRefusal, Settle, SubmitWindow, Violation

log = logging.getLogger(__name__)

# The method path comes from the contract's descriptor rather than a string typed here.
_SUBMIT = ingest_pb2.DESCRIPTOR.services_by_name["StationIngest"].methods_by_name["Submit"]
SUBMIT_METHOD = f"/{_SUBMIT.containing_service.full_name}/{_SUBMIT.name}"


class UplinkError(StationAgentError):
    """Something ended a session; the uplink reconnects after these."""


class HubProtocolError(UplinkError):
    """The hub's Acks do not fit the records sent (the hub's fault, not ours)."""


class AckTimeout(UplinkError):
    def __init__(self, waited_s: float, outstanding: int) -> None:
        super().__init__(f"no Ack for {waited_s:.1f} s with {outstanding} records outstanding")
        self.waited_s = waited_s
        self.outstanding = outstanding


class StreamEnded(UplinkError):
    def __init__(self, outstanding: int) -> None:
        super().__init__(f"the hub closed the stream with {outstanding} records unacknowledged")
        self.outstanding = outstanding


class ConnectTimeout(UplinkError):
    def __init__(self, target: str, timeout_s: float, why: HubUnreachable | None = None) -> None:
        super().__init__(f"no connection to {target} within {timeout_s} s" + (f": {why}" if why else ""))
        self.target = target
        self.why = why


class _KeyRefusedAck(StationAgentError):
    """The hub refused a record signed with the current key for a key reason; ends the session."""

    def __init__(self, entry: OutboxEntry, ack: ingest_pb2.Ack) -> None:
        super().__init__(f"record {entry.record_id}: {ack.reason}")
        self.entry = entry
        self.ack = ack


# What ends a session and is retried. SQLite's OperationalError covers a locked or full disk,
# which may clear; other exceptions are bugs and stop the uplink loudly.
_RETRIED: tuple[type[BaseException], ...] = (
    UplinkError,
    grpc.aio.AioRpcError,
    asyncio.InvalidStateError,  # call.write() once the RPC has already ended
    sqlite3.OperationalError,
)


class Uplink:
    """Delivers the outbox to one hub, forever, until ``stop()``.

    TLS: pass ``channel_credentials`` (``grpc.ssl_channel_credentials(...)``); ``insecure=True`` only
    permits a plaintext channel when no credentials are given (the default, for tests and the demo).

    ``notify()``, ``start()``, ``stop()`` and ``drain()`` belong to the event loop's thread; from
    another thread use ``loop.call_soon_threadsafe(uplink.notify)``.
    """

    def __init__(
        self,
        outbox: OutboxStore,
        target: str,
        *,
        window: int = 64,
        channel_credentials: grpc.ChannelCredentials | None = None,
        insecure: bool = True,
        keepalive_time_s: float = 30.0,
        keepalive_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        ack_timeout_s: float = 60.0,
        backoff_min_s: float = 0.2,
        backoff_max_s: float = 30.0,
        poll_interval_s: float = 1.0,
        enrollment: EnrollmentProbe | None = None,
        summary_every: int = 1000,
        summary_interval_s: float = 60.0,
    ) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        if channel_credentials is None and not insecure:
            raise ValueError("channel_credentials are required unless insecure=True")
        if not 0 < backoff_min_s <= backoff_max_s:
            raise ValueError(f"need 0 < backoff_min_s <= backoff_max_s, got {backoff_min_s}, {backoff_max_s}")
        self._outbox = outbox
        self._target = target
        self._window = window
        self._credentials = channel_credentials
        self._connect_timeout_s = connect_timeout_s
        self._ack_timeout_s = ack_timeout_s
        self._backoff_min_s = backoff_min_s
        self._backoff_max_s = backoff_max_s
        self._poll_interval_s = poll_interval_s
        # Without a probe (tests, benchmarks) a key refusal is parked like any other rejection.
        self._enrollment = enrollment
        self._summary_every = summary_every
        self._summary_interval_s = summary_interval_s
        self._summary_at = time.monotonic()
        self._summary_base = (0, 0, 0)  # accepted, duplicate, rejected at the last summary
        self._channel_options: list[tuple[str, Any]] = [
            ("grpc.keepalive_time_ms", round(keepalive_time_s * 1000)),
            ("grpc.keepalive_timeout_ms", round(keepalive_timeout_s * 1000)),
            # The stream stays open while the station is idle: keep pinging through the silence,
            # or a dead hub behind a NAT is only noticed when the next record waits in vain.
            ("grpc.http2.max_pings_without_data", 0),
            # A private subchannel per channel: a fresh session must not inherit the backoff state
            # of a subchannel shared with an earlier, failed one.
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.initial_reconnect_backoff_ms", round(backoff_min_s * 1000)),
            ("grpc.min_reconnect_backoff_ms", round(backoff_min_s * 1000)),
            ("grpc.max_reconnect_backoff_ms", round(backoff_max_s * 1000)),
        ]
        self._wakeup = asyncio.Event()
        self._settled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sessions = 0
        # Counters, cumulative over the uplink's life (read them, do not write them).
        self.sent = 0
        self.accepted = 0
        self.duplicate = 0
        self.rejected = 0
        self.reconnects = 0  # streams opened after the first one
        self.connect_failures = 0
        self.connected = False
        self.last_error: str | None = None
        # The hub's answer while it refuses this station's signing key (the uplink is paused), else None.
        self.signing_key_refused: Enrollment | None = None

    @property
    def target(self) -> str:
        return self._target

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("uplink already started")
        self._task = asyncio.create_task(self._run(), name=f"uplink {self._target}")
        self._task.add_done_callback(self._report_death)

    async def stop(self) -> None:
        """Stop sending; records not yet settled stay in the outbox and go out on the next start.

        Re-raises the error that had stopped the uplink on its own, if one did.
        """
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            pending: int | str = await asyncio.to_thread(self._outbox.depth)
        except sqlite3.Error:  # the outbox was closed first: say so rather than fail the shutdown
            pending = "unknown"
        log.info(
            "uplink to %s stopped: %d accepted, %d duplicate, %d rejected in all; %s pending stay in the outbox",
            self._target,
            self.accepted,
            self.duplicate,
            self.rejected,
            pending,
        )

    def notify(self) -> None:
        """Tell the uplink the outbox has something new (it also polls every ``poll_interval_s``)."""
        self._wakeup.set()

    async def drain(self, timeout: float) -> bool:
        """Wait until the outbox is empty; False if it still holds records after ``timeout`` seconds.

        Raises the uplink's own error at once if the uplink stopped on one, rather than waiting out
        ``timeout`` for records that nobody is sending any more.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            task = self._task
            if task is not None and task.done() and not task.cancelled():
                task.result()
            self._settled.clear()
            if await asyncio.to_thread(self._outbox.depth) == 0:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                async with asyncio.timeout(min(remaining, self._poll_interval_s)):
                    await self._settled.wait()

    def _report_death(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("uplink to %s stopped", self._target, exc_info=task.exception())

    # ------------------------------------------------------------------ sessions

    async def _run(self) -> None:
        while True:
            retrying = AsyncRetrying(
                # Full jitter between backoff_min_s and an exponentially growing ceiling.
                wait=wait_random_exponential(
                    multiplier=self._backoff_min_s, min=self._backoff_min_s, max=self._backoff_max_s
                ),
                retry=retry_if_exception_type(_RETRIED),
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                await retrying(self._session)
            except _KeyRefusedAck as refusal:
                await self._on_key_refused(refusal)

    def _before_sleep(self, state: RetryCallState) -> None:
        sleep = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "uplink to %s: attempt %d failed (%s); retrying in %.2f s",
            self._target,
            state.attempt_number,
            self.last_error,
            sleep,
        )

    async def _on_key_refused(self, refusal: _KeyRefusedAck) -> None:
        """Pause until the hub takes the key again; park the record if the key was never the problem."""
        assert self._enrollment is not None
        retrying = AsyncRetrying(
            wait=wait_random_exponential(
                multiplier=self._backoff_min_s, min=self._backoff_min_s, max=self._backoff_max_s
            ),
            retry=retry_if_exception_type(HubUnreachable) | retry_if_result(lambda answer: answer.refused),
            before_sleep=self._note_enrollment,
        )
        await retrying(self._enrollment.check)
        if self.signing_key_refused is None:
            reason = refusal.ack.reason or "rejected without a reason"
            log.warning(
                "hub rejected record %s: %s (the key itself is enrolled)", refusal.entry.record_id, reason
            )
            await asyncio.to_thread(self._outbox.move_to_rejected, refusal.entry.seq, reason)
            self.rejected += 1
            self._settled.set()
            return
        log.warning(
            "uplink to %s resumed: the hub takes signing key %s again", self._target, self._enrollment.key_id
        )
        self.signing_key_refused = None

    def _note_enrollment(self, state: RetryCallState) -> None:
        # Only ever called by _on_key_refused's retrying, which exists only with a probe.
        assert self._enrollment is not None
        outcome = state.outcome
        assert outcome is not None
        if outcome.failed:
            self.last_error = str(outcome.exception())
            log.warning("uplink paused: cannot ask the hub about the signing key: %s", self.last_error)
            return
        answer: Enrollment = outcome.result()
        if self.signing_key_refused is None:
            log.error(
                "uplink to %s PAUSED: the hub refuses signing key %s (%s: %s); records stay in the outbox",
                self._target,
                self._enrollment.key_id,
                answer.state.value,
                answer.detail,
            )
        self.signing_key_refused = answer

    def _count_sent(self) -> None:
        self.sent += 1

    def _count_settled(self, batch: SettledBatch) -> None:
        self.accepted += batch.accepted
        self.duplicate += batch.duplicate
        self.rejected += batch.rejected
        self._settled.set()

    async def _summarise_if_due(self) -> None:
        if self._summary_due():
            self._summarise(await asyncio.to_thread(self._outbox.depth))

    def _summarise(self, pending: int) -> None:
        """Log what was delivered since the last summary (every ``summary_every`` records or
        ``summary_interval_s`` seconds of activity, whichever comes first; see ``_summary_due``)."""
        accepted, duplicate, rejected = self._summary_base
        log.info(
            "uplink to %s: delivered %d, duplicate %d, rejected %d since the last summary; %d pending",
            self._target,
            self.accepted - accepted,
            self.duplicate - duplicate,
            self.rejected - rejected,
            pending,
        )
        self._summary_base = (self.accepted, self.duplicate, self.rejected)
        self._summary_at = time.monotonic()

    def _summary_due(self) -> bool:
        accepted, duplicate, rejected = self._summary_base
        settled = self.accepted - accepted + self.duplicate - duplicate + self.rejected - rejected
        return settled >= self._summary_every or (
            settled > 0 and time.monotonic() - self._summary_at >= self._summary_interval_s
        )

    def _open_channel(self) -> grpc.aio.Channel:
        if self._credentials is not None:
            return grpc.aio.secure_channel(self._target, self._credentials, options=self._channel_options)
        return grpc.aio.insecure_channel(self._target, options=self._channel_options)

    async def _session(self) -> None:
        """One stream; returns if the hub acknowledged something before it broke, else raises."""
        channel = self._open_channel()
        session: _Session | None = None
        try:
            try:
                async with asyncio.timeout(self._connect_timeout_s):  # not wait_for (3.11 cancel race)
                    await channel.channel_ready()
            except TimeoutError as error:
                self.connect_failures += 1
                why = await diagnose_connection(self._target, self._credentials, self._connect_timeout_s)
                raise ConnectTimeout(self._target, self._connect_timeout_s, why) from error
            if self._sessions:
                self.reconnects += 1
                log.info("uplink reconnected to %s (stream %d)", self._target, self._sessions + 1)
            else:
                log.info("uplink connected to %s", self._target)
            self._sessions += 1
            # No request serializer: the outbox holds the envelope already serialized, and sending
            # those bytes unchanged is what keeps the hub's copy identical to what was signed.
            submit: grpc.aio.StreamStreamMultiCallable[bytes, ingest_pb2.Ack] = channel.stream_stream(
                SUBMIT_METHOD, request_serializer=None, response_deserializer=ingest_pb2.Ack.FromString
            )
            window = SubmitWindow(
                self._window,
                self._ack_timeout_s,
                current_key_id=None if self._enrollment is None else self._enrollment.key_id,
            )
            session = _Session(
                submit(None),
                self._outbox,
                window,
                wakeup=self._wakeup,
                poll_interval_s=self._poll_interval_s,
                on_sent=self._count_sent,
                on_settled=self._count_settled,
                after_settled=self._summarise_if_due,
            )
            self.connected = True
            await session.run()
        except _RETRIED as error:
            self.last_error = f"{type(error).__name__}: {error}"
            if session is not None and session.acknowledged:
                log.info("uplink to %s: stream ended after progress (%s); reconnecting", self._target, error)
                return
            raise
        finally:
            self.connected = False
            await channel.close(None)


@dataclass(frozen=True, slots=True)
class SettledBatch:
    """What one outbox transaction applied: the counts the uplink adds to its totals."""

    accepted: int
    duplicate: int
    rejected: int


class _Session:
    """One Submit stream: four tasks in one ``asyncio.TaskGroup`` around a ``SubmitWindow``.

    The window decides (what to send, what an Ack means, when the hub is overdue); the tasks only
    do the I/O. The session knows nothing of ``Uplink`` but what it is given here.
    """

    def __init__(
        self,
        call: grpc.aio.StreamStreamCall[bytes, ingest_pb2.Ack],
        outbox: OutboxStore,
        window: SubmitWindow,
        *,
        wakeup: asyncio.Event,
        poll_interval_s: float,
        on_sent: Callable[[], None],
        on_settled: Callable[[SettledBatch], None],
        after_settled: Callable[[], Awaitable[None]],
    ) -> None:
        self._call = call
        self._outbox = outbox
        self._window = window
        self._wakeup = wakeup
        self._poll_interval_s = poll_interval_s
        self._on_sent = on_sent
        self._on_settled = on_settled
        self._after_settled = after_settled
        self._acked: asyncio.Queue[Settle] = asyncio.Queue()
        self._window_free = asyncio.Event()

    @property
    def acknowledged(self) -> bool:
        return self._window.acknowledged

    async def run(self) -> None:
        """Until one task fails; raises why the stream ended (the first of the reasons below)."""
        ended_by: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._send(), name="uplink send")
                tasks.create_task(self._receive(), name="uplink receive")
                tasks.create_task(self._settle_loop(), name="uplink settle")
                tasks.create_task(self._watch(), name="uplink watchdog")
                # Wait here, not in the group's exit, for the first failure: on Python 3.11 a child
                # failing while the parent waits in ``TaskGroup.__aexit__`` leaves the parent task's
                # cancellation count raised (``cancelling() == 1`` after the group), after which the
                # uplink's later timeouts misfire and ``stop()`` hangs. Cancelled here, in the body,
                # the group uncancels us on exit.
                await asyncio.get_running_loop().create_future()
        # When several tasks failed together, what the hub said (the receiver: a refused key, a
        # broken contract, the stream closed) says why the stream ended; a failed write or read
        # only that it did.
        except* (_KeyRefusedAck, HubProtocolError, StreamEnded) as what_the_hub_said:
            ended_by = what_the_hub_said.exceptions[0]
        except* AckTimeout as overdue:
            ended_by = ended_by or overdue.exceptions[0]
        # Not swallowed: the first error is raised below, after the Acks received are settled.
        except* Exception as failed:  # noqa: BLE001
            ended_by = ended_by or failed.exceptions[0]
        finally:
            self._call.cancel()
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            # ``stop()`` cancelled the session while a task failed: the cancellation wins, as it
            # must, or the uplink would go on retrying after it was told to stop.
            raise asyncio.CancelledError
        # The Acks already received are real: the hub committed those records. Settle them now
        # rather than have them sent again.
        leftover = []
        while not self._acked.empty():
            leftover.append(self._acked.get_nowait())
        if leftover:
            await self._settle(leftover)
        # Every task loops until it fails, so the group only ends by an error.
        raise ended_by if ended_by is not None else StreamEnded(self._window.outstanding)

    async def _send(self) -> None:
        while True:
            while (request := self._window.next_to_send()) is None:
                self._window_free.clear()
                await self._window_free.wait()
            # Cleared before looking, so a notify() that lands during the look is not lost.
            self._wakeup.clear()
            entries = await asyncio.to_thread(self._outbox.peek, request.after_seq, request.limit)
            if not entries:
                with contextlib.suppress(TimeoutError):
                    # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                    async with asyncio.timeout(self._poll_interval_s):
                        await self._wakeup.wait()
                continue
            for entry in entries:
                self._window.sent(entry, time.monotonic())
                await self._call.write(entry.envelope_bytes)
                self._on_sent()

    async def _receive(self) -> None:
        while True:
            ack = await self._call.read()
            if not isinstance(ack, ingest_pb2.Ack):  # grpc.aio.EOF: the hub closed the stream
                raise StreamEnded(self._window.outstanding)
            match self._window.receive_ack(ack, time.monotonic()):
                case Settle() as settle:
                    self._acked.put_nowait(settle)
                case KeyRefusal(entry=entry, ack=refusal):
                    # Not settled: the record stays in the outbox while the uplink pauses.
                    raise _KeyRefusedAck(entry, refusal)
                case Violation(reason=reason):
                    raise HubProtocolError(reason)

    async def _settle_loop(self) -> None:
        while True:
            batch = [await self._acked.get()]
            while not self._acked.empty():
                batch.append(self._acked.get_nowait())
            await self._settle(batch)

    async def _settle(self, batch: list[Settle]) -> None:
        delivered = [s.entry.seq for s in batch if s.ack.status != ingest_pb2.ACK_STATUS_REJECTED]
        rejected = [
            (s.entry, s.ack.reason or "rejected without a reason")
            for s in batch
            if s.ack.status == ingest_pb2.ACK_STATUS_REJECTED
        ]
        duplicates = sum(1 for s in batch if s.ack.status == ingest_pb2.ACK_STATUS_DUPLICATE)
        counts = SettledBatch(len(delivered) - duplicates, duplicates, len(rejected))
        # The outbox update runs in a thread that a cancellation cannot stop; if the session is torn
        # down meanwhile, wait for it and still count the batch, or counters and outbox disagree.
        applying = asyncio.ensure_future(asyncio.to_thread(self._apply, delivered, rejected))
        try:
            await asyncio.shield(applying)
        except asyncio.CancelledError:
            await applying
            self._settled(len(batch), counts)
            raise
        self._settled(len(batch), counts)
        await self._after_settled()

    def _settled(self, count: int, counts: SettledBatch) -> None:
        self._window.settled(count)
        self._window_free.set()
        self._on_settled(counts)

    def _apply(self, delivered: list[int], rejected: list[tuple[OutboxEntry, str]]) -> None:
        self._outbox.remove(delivered)
        for entry, reason in rejected:
            log.warning("hub rejected record %s: %s", entry.record_id, reason)
            self._outbox.move_to_rejected(entry.seq, reason)

    async def _watch(self) -> None:
        timeout = self._window.ack_timeout_s
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            overdue = self._window.timed_out(time.monotonic())
            if overdue is not None:
                raise AckTimeout(overdue.waited_s, overdue.outstanding)

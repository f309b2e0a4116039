"""The forwarder: drains the hub-to-hub outbox, one link per registration province.

Each link opens a ``PeerExchange.Forward`` stream to the province's endpoint from the national
trust list, sends this hub's freshly signed station directory first (again when it changes or is
half-way to expiry), then windows of leased outbox items, and settles each item by its Ack
(``hub.forward_outbox``). A link that fails — the peer down, a partition, a reset — releases what
it had not settled and tries again with exponential backoff and jitter (tenacity's wait
strategy); a peer that is down only delays. A province that no trust list names has its items
parked with that reason.

The forwarder looks for work when the group committer has written forwarding items (``wake``) and
every ``poll_s`` (items written by another replica, leases that ran out, items an operator
unparked). A link with nothing left to send closes its stream after ``idle_close_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import grpc.aio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from hub.cached_reading import CachedReading
from hub.countersign import HubIdentity
from hub.errors import HubError
from hub.forward_outbox import REVIEW, OutboxItem
from hub.metrics import HubMetrics
from hub.published_directory import sign_directory
from hub.store import HubStore
from hub.trust_list import ProvinceHubEntry, TrustList
from protos.tongjian.v1 import federation_pb2

log = logging.getLogger(__name__)

_FORWARD = "/tongjian.v1.PeerExchange/Forward"
_FETCH_TRUST_LIST = "/tongjian.v1.PeerExchange/FetchTrustList"
_EOF: object = grpc.aio.EOF  # type: ignore[attr-defined]  # what read() returns at the end; not in the stubs
_DELIVERED = {
    federation_pb2.FORWARD_STATUS_ACCEPTED: "accepted",
    federation_pb2.FORWARD_STATUS_DUPLICATE: "duplicate",
}
_PARKED = frozenset(
    {
        federation_pb2.FORWARD_STATUS_UNKNOWN_VEHICLE,
        federation_pb2.FORWARD_STATUS_WRONG_PROVINCE,
        federation_pb2.FORWARD_STATUS_REJECTED,
    }
)

ChannelFactory = Callable[[ProvinceHubEntry], grpc.aio.Channel]


@dataclass(frozen=True, slots=True)
class ForwarderSettings:
    window: int = 64  # items sent before waiting for their Acks
    lease: timedelta = timedelta(seconds=60)  # an item a dead sender leased goes again after this
    poll_s: float = 2.0
    idle_close_s: float = 20.0
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0
    ack_timeout_s: float = 30.0  # a peer that does not answer a window in this long is given up on
    directory_ttl: timedelta = timedelta(minutes=15)


class PeerProtocolError(HubError):
    """The peer answered out of protocol (an Ack for another record, a missing Ack)."""


class _RetryLater(HubError):
    """The peer asked for the items again later (it had no valid directory of ours yet)."""


# What ends a link and makes it start again after a backoff.
# (InvalidStateError: a write to a call the transport has already ended.)
_LINK_ERRORS = (
    grpc.aio.AioRpcError,
    asyncio.InvalidStateError,
    PeerProtocolError,
    _RetryLater,
    OSError,
    TimeoutError,
)


class Forwarder:
    def __init__(
        self,
        store: HubStore,
        identity: HubIdentity,
        trust: Callable[[], TrustList | None],
        channel_factory: ChannelFactory,
        metrics: HubMetrics | None = None,
        settings: ForwarderSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        offer_trust_list: Callable[[federation_pb2.SignedDocument], bool] | None = None,
    ) -> None:
        self._store = store
        self._identity = identity
        self._trust = trust
        self._channel_factory = channel_factory
        self._metrics = metrics
        self._settings = settings or ForwarderSettings()
        self._clock = clock or (lambda: datetime.now(UTC))
        # Installs a newer national trust list a peer holds (verified with the national key);
        # None: this hub takes trust lists only from its operator.
        self._offer_trust_list = offer_trust_list
        # Lease owner: unique per process, readable in the outbox when an operator looks.
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._wake = asyncio.Event()  # the main loop's
        self._link_wakes: set[asyncio.Event] = set()  # each open session's
        self._directory_sequence = CachedReading(self._store.directory.sequence, ttl_s=1.0, initial=0)
        self._links: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub forwarder")

    def wake(self) -> None:
        """New items are in the outbox (called from the group committer, on the event loop)."""
        self._wake.set()
        for link_wake in self._link_wakes:
            link_wake.set()

    async def close(self) -> None:
        """Stop every link; items sent but not settled go again later (the peer dedupes)."""
        self._closing = True
        self._wake.set()
        tasks = [task for task in (self._task, *self._links.values()) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def links(self) -> list[str]:
        return sorted(self._links)

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                provinces = await asyncio.to_thread(self._store.outbox.provinces_with_work, self._clock())
            except Exception as error:  # noqa: BLE001 - a database hiccup must not end forwarding
                log.warning("forwarder: reading the outbox failed: %r", error)
                provinces = []
            for province in provinces:
                if province not in self._links:
                    task = asyncio.create_task(self._link(province), name=f"forward to {province}")
                    self._links[province] = task
                    task.add_done_callback(functools.partial(self._link_ended, province))
            with contextlib.suppress(TimeoutError):
                # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                async with asyncio.timeout(self._settings.poll_s):
                    await self._wake.wait()

    def _link_ended(self, province: str, task: asyncio.Task[None]) -> None:
        self._links.pop(province, None)
        if not task.cancelled() and task.exception() is not None:
            # A bug, not a link failure (those are retried inside): say so; _run starts it again.
            log.error("forwarder: link to province %s ended by %r", province, task.exception())

    async def _link(self, province: str) -> None:
        settings = self._settings
        retrying = AsyncRetrying(
            # Full jitter under an exponentially growing ceiling: peers restarting together are
            # not all called back in lock step.
            wait=wait_random_exponential(
                multiplier=settings.backoff_initial_s,
                min=settings.backoff_initial_s,
                max=settings.backoff_max_s,
            ),
            retry=retry_if_exception_type(_LINK_ERRORS),
            before_sleep=lambda state: self._link_failed(province, state),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if self._closing:
                    return
                trust = self._trust()
                entry = trust.provinces.get(province) if trust is not None else None
                if entry is None or entry.province == self._identity.province:
                    reason = (
                        "no national trust list installed"
                        if trust is None
                        else f"province {province!r} is not in the national trust list (version {trust.version})"
                    )
                    parked = await asyncio.to_thread(
                        self._store.outbox.park_province, province, reason, self._clock()
                    )
                    log.warning("forwarder: parked %d items for province %s: %s", parked, province, reason)
                    return
                await self._session(entry)
                return  # nothing left to send; _run starts a new link when work appears

    def _link_failed(self, province: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        detail = error.details() if isinstance(error, grpc.aio.AioRpcError) else repr(error)
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "forwarder: link to province %s failed (%s); attempt %d, next in %.1f s",
            province,
            detail,
            state.attempt_number,
            delay,
        )
        if self._metrics is not None:
            self._metrics.forward_link_failures.labels(province).inc()

    async def _session(self, entry: ProvinceHubEntry) -> None:
        """One stream to ``entry``'s hub, until the outbox for it is empty and stays so.

        Pipelined: up to ``window`` items are in flight while their Acks come back; each round
        marks what was answered delivered and leases the next items in one transaction."""
        settings = self._settings
        outbox = self._store.outbox
        loop = asyncio.get_running_loop()
        link = _Link(entry.province, loop.time())
        wake = asyncio.Event()
        self._link_wakes.add(wake)
        async with self._channel_factory(entry) as channel:
            # Called without a request iterator: the stream is written item by item (call.write).
            method: Any = channel.stream_stream(
                _FORWARD,
                request_serializer=federation_pb2.ForwardItem.SerializeToString,
                response_deserializer=federation_pb2.ForwardAck.FromString,
            )
            await self._adopt_newer_trust_list(channel, entry.province)
            call = method()
            link.progress = wake
            reader = asyncio.create_task(self._read_acks(call, link))
            try:
                directory_sent_at: datetime | None = None
                directory_sequence = -1
                idle_since = loop.time()
                while not self._closing:
                    if link.retry_later is not None:
                        raise link.retry_later
                    if reader.done():
                        reader.result()  # what broke the stream
                        raise PeerProtocolError(f"province {entry.province} ended the stream")
                    if link.in_flight and loop.time() - link.last_ack > settings.ack_timeout_s:
                        raise TimeoutError(
                            f"province {entry.province} answered nothing for {settings.ack_timeout_s:g} s"
                        )
                    now = self._clock()
                    sequence = self._directory_sequence()
                    if (
                        directory_sent_at is None
                        or sequence != directory_sequence
                        or now - directory_sent_at > settings.directory_ttl / 2
                    ):
                        document = await asyncio.to_thread(
                            sign_directory,
                            self._store.directory,
                            self._identity.province,
                            self._identity.private_key,
                            self._identity.signer,
                            now,
                            settings.directory_ttl,
                        )
                        await call.write(federation_pb2.ForwardItem(directory=document))
                        directory_sent_at, directory_sequence = now, sequence
                    wake.clear()
                    settle, link.answered = link.answered, []
                    room = settings.window - len(link.in_flight)
                    items = (
                        await asyncio.to_thread(
                            outbox.lease, entry.province, self._owner, room, settings.lease, now, settle
                        )
                        if room > 0 or settle
                        else []
                    )
                    self._count_delivered(entry.province, settle)
                    # All in flight before the first write: a write that fails leaves every leased
                    # item where the session's end gives it back.
                    link.in_flight.extend(items)
                    for item in items:
                        document = federation_pb2.SignedDocument(
                            body=item.body, key_id=item.key_id, signature=item.signature
                        )
                        if item.kind == REVIEW:
                            await call.write(federation_pb2.ForwardItem(review_outcome=document))
                        else:
                            await call.write(federation_pb2.ForwardItem(record=document))
                    if items:
                        idle_since = loop.time()
                        continue
                    if not link.in_flight and loop.time() - idle_since >= settings.idle_close_s:
                        break
                    with contextlib.suppress(TimeoutError):
                        # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                        async with asyncio.timeout(settings.poll_s):
                            await wake.wait()
                await call.done_writing()
                await reader  # the peer ends the stream once it has answered everything
            except BaseException:
                call.cancel()
                raise
            finally:
                self._link_wakes.discard(wake)
                reader.cancel()
                settle, unanswered = link.answered, [item.id for item in link.in_flight]
                link.answered, link.in_flight = [], deque()
                await asyncio.shield(asyncio.to_thread(outbox.finish, settle, unanswered, self._clock()))
                self._count_delivered(entry.province, settle)

    async def _adopt_newer_trust_list(self, channel: grpc.aio.Channel, province: str) -> None:
        """Ask the peer for its trust list if newer than ours: one signed list reaches every hub
        that talks to any hub that has it. A peer offering an invalid one is logged, not trusted."""
        if self._offer_trust_list is None:
            return
        trust = self._trust()
        fetch: Any = channel.unary_unary(
            _FETCH_TRUST_LIST,
            request_serializer=federation_pb2.TrustListRequest.SerializeToString,
            response_deserializer=federation_pb2.TrustListReply.FromString,
        )
        reply = await fetch(
            federation_pb2.TrustListRequest(have_version=trust.version if trust is not None else 0),
            timeout=self._settings.ack_timeout_s,
        )
        if not reply.HasField("trust_list"):
            return
        try:
            if await asyncio.to_thread(self._offer_trust_list, reply.trust_list):
                log.info("forwarder: installed a newer national trust list from province %s", province)
        except HubError as error:
            log.warning("forwarder: province %s offered a trust list this hub refuses: %s", province, error)

    async def _read_acks(self, call: Any, link: _Link) -> None:
        """Match each Ack to the oldest item in flight and settle it (parked ones at once)."""
        loop = asyncio.get_running_loop()
        while True:
            ack = await call.read()
            if ack is _EOF:
                if link.in_flight:
                    raise PeerProtocolError(
                        f"province {link.province} ended the stream with {len(link.in_flight)} records unanswered"
                    )
                return
            if not link.in_flight:
                raise PeerProtocolError(f"province {link.province} answered a record nobody sent")
            item = link.in_flight[0]
            if ack.record_id and (ack.station_id, ack.record_id) != (item.station_id, item.record_id):
                raise PeerProtocolError(
                    f"province {link.province} answered record {ack.record_id!r} for {item.record_id!r}"
                )
            if ack.status == federation_pb2.FORWARD_STATUS_RETRY_LATER:
                # Left in flight: given back when the session ends, sent again after a backoff.
                link.retry_later = _RetryLater(f"province {link.province}: {ack.reason or 'retry later'}")
                link.progress.set()
                return
            link.in_flight.popleft()
            link.last_ack = loop.time()
            if ack.status in _DELIVERED:
                link.answered.append((item.id, _DELIVERED[ack.status]))
            elif ack.status in _PARKED:
                await asyncio.to_thread(self._store.outbox.park, item.id, _reason(ack), self._clock())
                if self._metrics is not None:
                    self._metrics.forward_parked.labels(item.to_province).inc()
            else:
                raise PeerProtocolError(f"province {link.province} answered with unknown status {ack.status}")
            link.progress.set()

    def _count_delivered(self, province: str, settled: list[tuple[int, str]]) -> None:
        if self._metrics is not None and settled:
            self._metrics.forwarded.labels(province).inc(len(settled))


@dataclass
class _Link:
    """What one session to a province holds between its writer and its Ack reader."""

    province: str
    last_ack: float  # loop time of the last Ack (or the session's start)
    in_flight: deque[OutboxItem] = field(default_factory=deque)  # sent, oldest first
    answered: list[tuple[int, str]] = field(default_factory=list)  # delivered, not yet marked so
    retry_later: _RetryLater | None = None
    progress: asyncio.Event = field(default_factory=asyncio.Event)


def _reason(ack: federation_pb2.ForwardAck) -> str:
    status = federation_pb2.ForwardStatus.Name(ack.status).removeprefix("FORWARD_STATUS_").lower()
    return f"{status}: {ack.reason}" if ack.reason else status

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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import grpc.aio
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from hub.countersign import HubIdentity
from hub.errors import HubError
from hub.forward_outbox import OutboxItem
from hub.metrics import HubMetrics
from hub.published_directory import sign_directory
from hub.store import HubStore
from hub.trust_list import ProvinceHubEntry, TrustList
from protos.tongjian.v1 import federation_pb2

log = logging.getLogger(__name__)

_FORWARD = "/tongjian.v1.PeerExchange/Forward"
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
_LINK_ERRORS = (grpc.aio.AioRpcError, PeerProtocolError, _RetryLater, OSError, TimeoutError)


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
    ) -> None:
        self._store = store
        self._identity = identity
        self._trust = trust
        self._channel_factory = channel_factory
        self._metrics = metrics
        self._settings = settings or ForwarderSettings()
        self._clock = clock or (lambda: datetime.now(UTC))
        # Lease owner: unique per process, readable in the outbox when an operator looks.
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:64]
        self._wake = asyncio.Event()
        self._links: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hub forwarder")

    def wake(self) -> None:
        """New items are in the outbox (called from the group committer, on the event loop)."""
        self._wake.set()

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
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_s)

    def _link_ended(self, province: str, _task: asyncio.Task[None]) -> None:
        self._links.pop(province, None)

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
        """One stream to ``entry``'s hub: send until the outbox for it is empty and stays so."""
        settings = self._settings
        outbox = self._store.outbox
        async with self._channel_factory(entry) as channel:
            # Called without a request iterator: the stream is written item by item (call.write).
            method: Any = channel.stream_stream(
                _FORWARD,
                request_serializer=federation_pb2.ForwardItem.SerializeToString,
                response_deserializer=federation_pb2.ForwardAck.FromString,
            )
            call = method()
            directory_sent_at: datetime | None = None
            directory_sequence = -1
            idle_since = asyncio.get_running_loop().time()
            try:
                while not self._closing:
                    now = self._clock()
                    sequence = await asyncio.to_thread(self._store.directory.sequence)
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
                    items = await asyncio.to_thread(
                        outbox.lease, entry.province, self._owner, settings.window, settings.lease, now
                    )
                    if not items:
                        loop_time = asyncio.get_running_loop().time()
                        if loop_time - idle_since >= settings.idle_close_s:
                            break
                        self._wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), settings.poll_s)
                        continue
                    await self._send_window(call, items)
                    idle_since = asyncio.get_running_loop().time()
                await call.done_writing()
            except BaseException:
                call.cancel()
                raise

    async def _send_window(self, call: Any, items: list[OutboxItem]) -> None:
        outbox = self._store.outbox
        unsettled = {item.id for item in items}
        try:
            for item in items:
                document = federation_pb2.SignedDocument(
                    body=item.body, key_id=item.key_id, signature=item.signature
                )
                await call.write(federation_pb2.ForwardItem(record=document))
            delivered: list[tuple[int, str]] = []
            retry_later: list[int] = []
            for item in items:
                ack = await asyncio.wait_for(call.read(), self._settings.ack_timeout_s)
                if ack is _EOF:
                    raise PeerProtocolError(f"province {item.to_province} ended the stream before answering")
                if (ack.station_id, ack.record_id) != (item.station_id, item.record_id) and ack.record_id:
                    raise PeerProtocolError(
                        f"province {item.to_province} answered record {ack.record_id!r} for {item.record_id!r}"
                    )
                if ack.status in _DELIVERED:
                    delivered.append((item.id, _DELIVERED[ack.status]))
                elif ack.status in _PARKED:
                    await asyncio.to_thread(outbox.park, item.id, _reason(ack), self._clock())
                    unsettled.discard(item.id)
                    if self._metrics is not None:
                        self._metrics.forward_parked.labels(item.to_province).inc()
                else:
                    retry_later.append(item.id)
            await asyncio.to_thread(outbox.delivered, delivered, self._clock())
            unsettled.difference_update(item_id for item_id, _ in delivered)
            if self._metrics is not None and delivered:
                self._metrics.forwarded.labels(items[0].to_province).inc(len(delivered))
            if retry_later:
                raise _RetryLater(f"{len(retry_later)} records: the peer asked to resend later")
        finally:
            if unsettled:
                await asyncio.shield(asyncio.to_thread(outbox.release, sorted(unsettled)))


def _reason(ack: federation_pb2.ForwardAck) -> str:
    status = federation_pb2.ForwardStatus.Name(ack.status).removeprefix("FORWARD_STATUS_").lower()
    return f"{status}: {ack.reason}" if ack.reason else status

"""``ArchiveTransfer``: the registry clerks' service at a province hub (and the web console's):
ask another province for a vehicle's archive, follow it, check the car's identity, accept or
refuse. The hub-to-hub half is ``hub.archive_exchange`` (this hub as source) and
``hub.transfer_driver`` (this hub as destination); ``start_archive_transfer`` wires all three
into a hub.

Errors: INVALID_ARGUMENT (a bad VIN, province, transfer id, observation or reason), NOT_FOUND (no
such transfer; the source does not know the vehicle), FAILED_PRECONDITION (the transfer's state
does not allow it; the vehicle is already being transferred), UNAVAILABLE (the source hub cannot
be reached now: the request stays REQUESTED and is offered again in the background).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp

from hub.archive_exchange import SERVICE_NAME as EXCHANGE_SERVICE
from hub.archive_exchange import ArchiveExchangeService
from hub.countersign import HubIdentity
from hub.forwarder import ChannelFactory
from hub.store import HubStore
from hub.transfer_book import TransferBook, TransferView
from hub.transfer_desk import DeskRefusal, DeskRefused, IdentityPhoto, TransferDesk
from hub.transfer_driver import TransferDriver, TransferSettings
from hub.transfer_states import TransferState
from hub.trust_list import TrustList
from pki.grpc_credentials import peer_common_name
from protos.tongjian.v1 import archive_pb2

SERVICE_NAME = archive_pb2.DESCRIPTOR.services_by_name["ArchiveTransfer"].full_name
FOLLOW_POLL_S = 0.2
# Follow ends when the transfer waits for the clerk or is over.
_FOLLOW_ENDS = frozenset(
    {
        TransferState.RECEIVED,
        TransferState.IDENTITY_CHECKED,
        TransferState.ACCEPTED,
        TransferState.REFUSED,
        TransferState.EXPIRED,
    }
)


def status_message(view: TransferView) -> archive_pb2.TransferStatus:
    """A transfer as the clerks' service shows it."""
    identity = view.identity or {}
    return archive_pb2.TransferStatus(
        transfer_id=view.transfer_id,
        vin=view.vin,
        from_province=view.from_province,
        to_province=view.to_province,
        role=view.end.value,
        state=view.state.value,
        reason=view.reason or "",
        total_bytes=view.total_bytes,
        confirmed_bytes=view.confirmed_bytes,
        total_files=len(view.files),
        confirmed_files=min(view.confirmed.file_index, len(view.files)),
        old_plate=view.old_plate or "",
        new_plate=view.new_plate or "",
        mismatches=[
            archive_pb2.IdentityMismatch(
                field=str(m["field"]),
                observed=str(m["observed"]),
                archived=str(m["archived"]),
                detail=str(m["detail"]),
            )
            for m in identity.get("mismatches", [])
        ],
        problems=list(view.problems),
        requested_at=_stamp(view.requested_at),
        updated_at=_stamp(view.updated_at),
        expires_at=_stamp(view.expires_at),
        requested_by=view.requested_by,
        source_told=view.source_told_at is not None,
    )


def _stamp(moment: Any) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


class ArchiveTransferService:
    """The gRPC edge of ``hub.transfer_desk.TransferDesk``: the clerk is the certificate's person."""

    def __init__(self, desk: TransferDesk) -> None:
        self._desk = desk

    def rpc_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        unary = grpc.unary_unary_rpc_method_handler
        status = archive_pb2.TransferStatus.SerializeToString
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Request": unary(self.request, archive_pb2.TransferRequest.FromString, status),
                "Status": unary(self.status, archive_pb2.TransferQuery.FromString, status),
                "Follow": grpc.unary_stream_rpc_method_handler(
                    self.follow, archive_pb2.TransferQuery.FromString, status
                ),
                "CheckIdentity": unary(
                    self.check_identity, archive_pb2.IdentityObservation.FromString, status
                ),
                "Accept": unary(self.accept, archive_pb2.TransferQuery.FromString, status),
                "Refuse": unary(self.refuse, archive_pb2.RefuseRequest.FromString, status),
            },
        )

    async def request(
        self, request: archive_pb2.TransferRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        clerk = peer_common_name(context) or "clerk (no certificate)"
        try:
            view = await self._desk.request(request.vin, request.from_province, clerk)
        except DeskRefused as refused:
            await _abort(context, _CODES[refused.kind], str(refused))
        return status_message(view)

    async def status(
        self, request: archive_pb2.TransferQuery, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        try:
            return status_message(await self._desk.view(request.transfer_id))
        except DeskRefused as refused:
            await _abort(context, _CODES[refused.kind], str(refused))

    async def follow(
        self, request: archive_pb2.TransferQuery, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[archive_pb2.TransferStatus]:
        try:
            view = await self._desk.view(request.transfer_id)
        except DeskRefused as refused:
            await _abort(context, _CODES[refused.kind], str(refused))
        last: tuple[object, ...] | None = None
        while True:
            key = (view.state, view.confirmed_bytes, view.total_bytes, view.reason)
            if key != last:
                last = key
                yield status_message(view)
            if view.state in _FOLLOW_ENDS:
                return
            await asyncio.sleep(FOLLOW_POLL_S)
            view = await asyncio.to_thread(self._desk.book.get, view.transfer_id)

    async def check_identity(
        self, request: archive_pb2.IdentityObservation, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        clerk = peer_common_name(context) or "clerk (no certificate)"
        photos = [IdentityPhoto(photo.name, photo.content) for photo in request.photos]
        try:
            view = await self._desk.check_identity(
                request.transfer_id, clerk, request.vin, request.engine_number, request.colour, photos
            )
        except DeskRefused as refused:
            await _abort(context, _CODES[refused.kind], str(refused))
        return status_message(view)

    async def accept(
        self, request: archive_pb2.TransferQuery, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        clerk = peer_common_name(context) or "clerk (no certificate)"
        try:
            return status_message(await self._desk.accept(request.transfer_id, clerk))
        except DeskRefused as refused:
            await _abort(context, _CODES[refused.kind], str(refused))

    async def refuse(
        self, request: archive_pb2.RefuseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        try:
            return status_message(await self._desk.refuse(request.transfer_id, request.reason))
        except DeskRefused as refused:
            await _abort(context, _CODES[refused.kind], str(refused))


_CODES = {
    DeskRefusal.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    DeskRefusal.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    DeskRefusal.PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
}


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any], code: grpc.StatusCode, message: str
) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


def start_archive_transfer(
    server: grpc.aio.Server,
    stack: contextlib.AsyncExitStack,
    store: HubStore,
    identity: HubIdentity,
    national_key: Any,
    trust: Callable[[], TrustList | None],
    channels: ChannelFactory,
    settings: TransferSettings,
    require_certificate: bool,
) -> tuple[TransferDesk, list[str]]:
    """Serve ``ArchiveExchange`` and ``ArchiveTransfer`` on ``server`` and start the driver
    (stopped by ``stack``); the clerks' desk (its driver inside) and the service names, for reflection."""
    book = TransferBook(store.database, store.vehicles, identity.province, settings.clock, settings.ttl)
    driver = TransferDriver(book, trust, channels, national_key, settings)
    exchange = ArchiveExchangeService(
        store,
        book,
        identity,
        trust,
        settings.outgoing,
        require_certificate,
        settings.clock,
        settings.chunk_bytes,
        settings.message_bytes,
    )
    desk = TransferDesk(book, driver, identity.province)
    clerks = ArchiveTransferService(desk)
    server.add_generic_rpc_handlers((exchange.rpc_handler(), clerks.rpc_handler()))
    driver.start()
    stack.push_async_callback(driver.close)
    return desk, [EXCHANGE_SERVICE, SERVICE_NAME]

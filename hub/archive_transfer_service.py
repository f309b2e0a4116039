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
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any, NoReturn

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp

from hub.archive_exchange import SERVICE_NAME as EXCHANGE_SERVICE
from hub.archive_exchange import ArchiveExchangeService, parse_transfer_id
from hub.archive_stream import ArchiveStreamError, parse_bag_path
from hub.countersign import HubIdentity
from hub.forwarder import ChannelFactory
from hub.identity_check import BadObservation, compare_identity, observation
from hub.store import HubStore
from hub.transfer_book import End, TransferBook, TransferError, TransferView, UnknownTransfer
from hub.transfer_driver import SourceRefused, SourceUnreachable, TransferDriver, TransferSettings
from hub.transfer_states import TransferRole, TransferState, TransferStateError
from hub.trust_list import TrustList
from inspection.identifiers import InvalidIdentifier, validate_vin
from pki.grpc_credentials import peer_common_name
from protos.tongjian.v1 import archive_pb2

SERVICE_NAME = archive_pb2.DESCRIPTOR.services_by_name["ArchiveTransfer"].full_name
MAX_PHOTOS = 16
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_REASON_CHARS = 1000
FOLLOW_POLL_S = 0.2
_PROVINCE = re.compile(r"^[1-9][0-9]$")
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
    def __init__(self, book: TransferBook, driver: TransferDriver, own_province: str) -> None:
        self._book = book
        self._driver = driver
        self._province = own_province

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

    # ------------------------------------------------------------ helpers

    async def _view(self, transfer_id: str, context: grpc.aio.ServicerContext[Any, Any]) -> TransferView:
        try:
            return await asyncio.to_thread(self._book.get, parse_transfer_id(transfer_id))
        except ValueError as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except UnknownTransfer as error:
            await _abort(context, grpc.StatusCode.NOT_FOUND, str(error))

    async def _destination(
        self, transfer_id: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> TransferView:
        view = await self._view(transfer_id, context)
        if view.end is not End.DESTINATION:
            await _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"transfer {transfer_id}: this hub is its source; the clerks of province {view.to_province} decide",
            )
        return view

    # ------------------------------------------------------------ Request, Status, Follow

    async def request(
        self, request: archive_pb2.TransferRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        try:
            vin = validate_vin(request.vin)
        except InvalidIdentifier as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        source = request.from_province
        if not _PROVINCE.match(source):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"from_province {source!r}: a GB/T 2260 code, e.g. 50",
            )
        if source == self._province:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"from_province {source} is this hub's own province: a transfer comes from another one",
            )
        clerk = peer_common_name(context) or "clerk (no certificate)"
        try:
            view = await asyncio.to_thread(self._book.open_request, vin, source, clerk)
        except TransferError as error:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        try:
            view = await self._driver.offer(view)
        except SourceRefused as refused:
            code = (
                grpc.StatusCode.NOT_FOUND
                if refused.code is grpc.StatusCode.NOT_FOUND
                else grpc.StatusCode.FAILED_PRECONDITION
            )
            await _abort(context, code, f"transfer {view.transfer_id} refused: {refused}")
        except SourceUnreachable:
            pass  # stays REQUESTED; the driver offers it again
        return status_message(view)

    async def status(
        self, request: archive_pb2.TransferQuery, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        return status_message(await self._view(request.transfer_id, context))

    async def follow(
        self, request: archive_pb2.TransferQuery, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[archive_pb2.TransferStatus]:
        view = await self._view(request.transfer_id, context)
        last: tuple[object, ...] | None = None
        while True:
            key = (view.state, view.confirmed_bytes, view.total_bytes, view.reason)
            if key != last:
                last = key
                yield status_message(view)
            if view.state in _FOLLOW_ENDS:
                return
            await asyncio.sleep(FOLLOW_POLL_S)
            view = await asyncio.to_thread(self._book.get, view.transfer_id)

    # ------------------------------------------------------------ the clerk decides

    async def check_identity(
        self, request: archive_pb2.IdentityObservation, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        view = await self._destination(request.transfer_id, context)
        try:
            seen = observation(request.vin, request.engine_number, request.colour)
        except BadObservation as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if not request.photos:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "photos: at least one photo of the car")
        if len(request.photos) > MAX_PHOTOS:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"photos: {len(request.photos)}, at most {MAX_PHOTOS}",
            )
        for index, photo in enumerate(request.photos):
            problem = None
            if len(photo.content) > MAX_PHOTO_BYTES:
                problem = f"{len(photo.content)} bytes, at most {MAX_PHOTO_BYTES}"
            elif not photo.content:
                problem = "empty"
            elif "/" in photo.name:
                problem = "a name, not a path"
            else:
                try:
                    parse_bag_path(photo.name)
                except ArchiveStreamError as error:
                    problem = str(error)
            if problem is not None:
                await _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"photo {index + 1} ({photo.name!r}): {problem}",
                )
        if view.state is not TransferState.RECEIVED or view.archive_vehicle is None:
            await _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"transfer {view.transfer_id} is {view.state.value}: the identity is checked once the archive is received",
            )
        result = compare_identity(seen, view.archive_vehicle)
        clerk = peer_common_name(context) or "clerk (no certificate)"
        photos = await asyncio.to_thread(self._save_photos, view.transfer_id, list(request.photos))
        try:
            view = await asyncio.to_thread(
                self._book.record_identity, view.transfer_id, clerk, seen, result, photos
            )
        except (TransferError, TransferStateError) as error:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return status_message(view)

    def _save_photos(self, transfer_id: str, photos: list[archive_pb2.IdentityPhoto]) -> list[dict[str, Any]]:
        directory = self._driver.settings.incoming / transfer_id / "identity"
        directory.mkdir(parents=True, exist_ok=True)
        start = len(list(directory.iterdir()))
        saved: list[dict[str, Any]] = []
        for number, photo in enumerate(photos, start=start + 1):
            digest = hashlib.sha256(photo.content).hexdigest()
            path = directory / f"{number:03d}-{photo.name}"
            path.write_bytes(photo.content)
            saved.append(
                {"name": photo.name, "file": str(path), "sha256": digest, "bytes": len(photo.content)}
            )
        return saved

    async def accept(
        self, request: archive_pb2.TransferQuery, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        view = await self._destination(request.transfer_id, context)
        clerk = peer_common_name(context) or "clerk (no certificate)"
        try:
            view = await asyncio.to_thread(self._book.accept, view.transfer_id, clerk)
        except (TransferError, TransferStateError) as error:
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, f"transfer {view.transfer_id}: {error}"
            )
        self._driver.wake()  # tell the source
        return status_message(view)

    async def refuse(
        self, request: archive_pb2.RefuseRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferStatus:
        view = await self._destination(request.transfer_id, context)
        reason = request.reason.strip()
        if not reason or len(reason) > MAX_REASON_CHARS:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"reason: 1..{MAX_REASON_CHARS} characters, say why",
            )
        try:
            view = await asyncio.to_thread(
                self._book.refuse, view.transfer_id, TransferRole.REGISTRY_CLERK, reason
            )
        except (TransferError, TransferStateError) as error:
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, f"transfer {view.transfer_id}: {error}"
            )
        self._driver.wake()
        return status_message(view)


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
) -> tuple[TransferDriver, list[str]]:
    """Serve ``ArchiveExchange`` and ``ArchiveTransfer`` on ``server`` and start the driver
    (stopped by ``stack``); the service names, for reflection."""
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
    clerks = ArchiveTransferService(book, driver, identity.province)
    server.add_generic_rpc_handlers((exchange.rpc_handler(), clerks.rpc_handler()))
    driver.start()
    stack.push_async_callback(driver.close)
    return driver, [EXCHANGE_SERVICE, SERVICE_NAME]

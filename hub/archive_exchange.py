"""``ArchiveExchange``: what a province hub serves to the other province hubs for archive
transfers, as the *source* (the vehicle is registered here).

``Offer`` opens this hub's row of the transfer, exports the vehicle's whole file as a bag signed
with the hub key and labelled with the transfer id and destination (``hub.archive_bag``), then
marks the vehicle ``transferring`` (compare-and-set, ``hub.transfer_book``): a vehicle already
transferring is refused, FAILED_PRECONDITION naming its status. An offer asked again (the
destination lost the reply) is answered from the row. ``Fetch`` streams the bag from the
caller's confirmed position, file by file in pieces of ``CHUNK_BYTES`` read as they are sent,
several small files to a message (``MESSAGE_BYTES``), so a bag of any size costs one message of
memory per stream. ``Conclude`` takes the destination's end.

With TLS the caller's ``peer-hub`` certificate must be the one the trust list names for the
transfer's destination province: a transfer is only ever given to the province it is for.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import grpc
import grpc.aio

from hub.archive_bag import export_bag
from hub.archive_stream import (
    CHUNK_BYTES,
    MESSAGE_BYTES,
    ArchiveStreamError,
    Position,
    bag_files,
    encode_bag_chunk,
    messages,
    read_chunks,
)
from hub.countersign import HubIdentity
from hub.errors import HubError, UnknownProvince, UnknownVehicle
from hub.store import HubStore
from hub.transfer_book import (
    Conclusion,
    End,
    TransferBook,
    TransferError,
    TransferView,
    UnknownTransfer,
    VehicleNotTransferable,
)
from hub.transfer_states import TransferState, TransferStateError
from hub.trust_list import TrustList
from hub.vehicle_register import VehicleStatus
from inspection.identifiers import InvalidIdentifier, validate_vin
from pki.grpc_credentials import peer_common_name
from protos.tongjian.v1 import archive_pb2

log = logging.getLogger(__name__)

SERVICE_NAME = archive_pb2.DESCRIPTOR.services_by_name["ArchiveExchange"].full_name
_CONCLUSIONS = {
    archive_pb2.TRANSFER_CONCLUSION_ACCEPTED: Conclusion.ACCEPTED,
    archive_pb2.TRANSFER_CONCLUSION_REFUSED: Conclusion.REFUSED,
    archive_pb2.TRANSFER_CONCLUSION_EXPIRED: Conclusion.EXPIRED,
}


def parse_transfer_id(text: str) -> str:
    """A transfer id is a UUID in its canonical text; ``ValueError`` naming it otherwise."""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise ValueError(f"transfer id {text!r} is not a UUID") from None
    if str(parsed) != text:
        raise ValueError(f"transfer id {text!r} is not in canonical form ({parsed})")
    return text


class ArchiveExchangeService:
    def __init__(
        self,
        store: HubStore,
        book: TransferBook,
        identity: HubIdentity,
        trust: Callable[[], TrustList | None],
        outgoing_dir: Path,
        require_certificate: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        chunk_bytes: int = CHUNK_BYTES,
        message_bytes: int = MESSAGE_BYTES,
    ) -> None:
        self._store = store
        self._book = book
        self._identity = identity
        self._trust = trust
        self._outgoing = outgoing_dir
        self._require_certificate = require_certificate
        self._clock = clock
        self._chunk_bytes = chunk_bytes
        self._message_bytes = message_bytes
        self._preparing: dict[str, asyncio.Lock] = {}

    def rpc_handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Offer": grpc.unary_unary_rpc_method_handler(
                    self.offer,
                    request_deserializer=archive_pb2.TransferOffer.FromString,
                    response_serializer=archive_pb2.TransferOfferReply.SerializeToString,
                ),
                "Fetch": grpc.unary_stream_rpc_method_handler(
                    self.fetch,
                    request_deserializer=archive_pb2.FetchRequest.FromString,
                    response_serializer=_serialized,  # BagChunk, encoded by encode_bag_chunk
                ),
                "Conclude": grpc.unary_unary_rpc_method_handler(
                    self.conclude,
                    request_deserializer=archive_pb2.ConcludeRequest.FromString,
                    response_serializer=archive_pb2.ConcludeReply.SerializeToString,
                ),
            },
        )

    # ------------------------------------------------------------ who is asking

    async def _check_destination(self, context: grpc.aio.ServicerContext[Any, Any], to_province: str) -> None:
        """The caller must be ``to_province``'s hub (its certificate, with TLS), and a peer."""
        if to_province == self._identity.province:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"province {to_province} is this hub's own"
            )
        trust = await asyncio.to_thread(self._trust)
        if trust is None:
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, "this hub holds no national trust list"
            )
        try:
            entry = trust.entry(to_province)
        except UnknownProvince as error:
            await _abort(context, grpc.StatusCode.PERMISSION_DENIED, f"wrong destination: {error}")
        peer = peer_common_name(context)
        if self._require_certificate and peer != entry.peer_name:
            await _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"wrong destination: the caller's certificate {peer!r} is not province {to_province}'s "
                f"hub ({entry.peer_name})",
            )

    # ------------------------------------------------------------ Offer

    async def offer(
        self, request: archive_pb2.TransferOffer, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.TransferOfferReply:
        try:
            transfer_id = parse_transfer_id(request.transfer_id)
            vin = validate_vin(request.vin)
        except (ValueError, InvalidIdentifier) as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if request.from_province != self._identity.province:
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"from_province {request.from_province!r}: this is province {self._identity.province}'s hub",
            )
        await self._check_destination(context, request.to_province)
        try:
            view, _ = await asyncio.to_thread(
                self._book.open_outgoing, transfer_id, vin, request.to_province, request.requested_by or "?"
            )
        except UnknownVehicle as error:
            await _abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        except TransferError as error:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        lock = self._preparing.setdefault(transfer_id, asyncio.Lock())
        async with lock:
            view = await asyncio.to_thread(self._book.get, transfer_id)
            if view.state is TransferState.REQUESTED:
                view = await self._prepare(view, context)
        self._preparing.pop(transfer_id, None)
        if view.state is not TransferState.SENDING:
            await _abort(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                f"transfer {transfer_id} is {view.state.value}" + (f": {view.reason}" if view.reason else ""),
            )
        return archive_pb2.TransferOfferReply(
            files=[archive_pb2.BagFile(path=file.path, size=file.size) for file in view.files],
            total_bytes=view.total_bytes,
            plate=view.old_plate or "",
        )

    async def _prepare(self, view: TransferView, context: grpc.aio.ServicerContext[Any, Any]) -> TransferView:
        """Export the bag, then mark the vehicle transferring; refuse (and say why) if it cannot go."""
        registered = await asyncio.to_thread(self._store.vehicles.get, view.vin)
        if registered is None or registered.status is not VehicleStatus.ACTIVE:
            status = "gone" if registered is None else registered.status.value
            reason = f"vehicle {view.vin} is {status}, not active: it cannot be transferred now"
            await asyncio.to_thread(self._book.refuse_outgoing, view.transfer_id, reason)
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, f"transfer {view.transfer_id}: {reason}"
            )
        bag = self._outgoing / view.transfer_id / "bag"
        try:
            if not bag.is_dir():
                bag.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(
                    export_bag,
                    self._store,
                    view.vin,
                    bag,
                    self._identity,
                    self._clock(),
                    (view.transfer_id, view.to_province),
                )
            files = await asyncio.to_thread(bag_files, bag)
        except (HubError, OSError) as error:
            log.exception("transfer %s: the archive could not be exported", view.transfer_id)
            await _abort(context, grpc.StatusCode.UNAVAILABLE, f"the archive could not be exported: {error}")
        try:
            return await asyncio.to_thread(
                self._book.start_sending, view.transfer_id, str(bag), files, sum(f.size for f in files)
            )
        except VehicleNotTransferable as error:
            shutil.rmtree(bag.parent, ignore_errors=True)
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))

    # ------------------------------------------------------------ Fetch

    async def fetch(
        self, request: archive_pb2.FetchRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[bytes]:
        """The bag from the caller's position, as serialised ``tongjian.v1.BagChunk`` messages."""
        view = await self._sending(request.transfer_id, context)
        assert view.bag_path is not None
        log.info(
            "transfer %s: sending the bag from file %d offset %d",
            view.transfer_id,
            request.file_index,
            request.offset,
        )
        try:
            chunks = read_chunks(
                Path(view.bag_path),
                view.files,
                Position(request.file_index, request.offset),
                self._chunk_bytes,
            )
            # Read as sent: gRPC's flow control paces the reads, one message in memory at a time.
            for group in messages(chunks, self._message_bytes):
                yield encode_bag_chunk(group)
        except (ArchiveStreamError, OSError) as error:
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, f"transfer {view.transfer_id}: {error}"
            )

    async def _sending(self, transfer_id: str, context: grpc.aio.ServicerContext[Any, Any]) -> TransferView:
        try:
            view = await asyncio.to_thread(self._book.get, parse_transfer_id(transfer_id))
        except ValueError as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except UnknownTransfer as error:
            await _abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        if view.end is not End.SOURCE:
            await _abort(
                context, grpc.StatusCode.NOT_FOUND, f"transfer {transfer_id}: this hub is not its source"
            )
        await self._check_destination(context, view.to_province)
        if view.state is not TransferState.SENDING or view.bag_path is None:
            await _abort(
                context, grpc.StatusCode.FAILED_PRECONDITION, f"transfer {transfer_id} is {view.state.value}"
            )
        return view

    # ------------------------------------------------------------ Conclude

    async def conclude(
        self, request: archive_pb2.ConcludeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> archive_pb2.ConcludeReply:
        conclusion = _CONCLUSIONS.get(request.conclusion)
        if conclusion is None:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"conclusion {request.conclusion} is not known"
            )
        try:
            view = await asyncio.to_thread(self._book.get, parse_transfer_id(request.transfer_id))
        except ValueError as error:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except UnknownTransfer as error:
            await _abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        await self._check_destination(context, view.to_province)
        try:
            view = await asyncio.to_thread(
                self._book.conclude_outgoing, view.transfer_id, conclusion, request.reason, request.new_plate
            )
        except (TransferError, TransferStateError) as error:
            await _abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(error))
        if view.final and view.bag_path is not None:
            # The archive now lives at the destination (or stays here, in the register): the
            # exported copy is no longer needed.
            shutil.rmtree(Path(view.bag_path).parent, ignore_errors=True)
        return archive_pb2.ConcludeReply(state=view.state.value)


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any], code: grpc.StatusCode, message: str
) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


def _serialized(message: bytes) -> bytes:
    return message

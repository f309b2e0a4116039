"""The client side of ``ArchiveTransfer`` (the registry clerks' service): what the ``tongjian
archive`` commands and the web console call, as plain async methods on a channel.

Every method returns the transfer's ``TransferStatus`` (``protos/tongjian/v1/archive.proto``);
a call the hub refuses raises ``TransferCallError`` with the gRPC code and the hub's message
(which names what was wrong).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc
import grpc.aio

from hub.errors import HubError
from protos.tongjian.v1 import archive_pb2, archive_pb2_grpc

TransferStatus = archive_pb2.TransferStatus


class TransferCallError(HubError):
    """The hub refused or could not answer a call; ``code`` says which kind of failure."""

    def __init__(self, method: str, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{method}: {message} ({code.name})")
        self.method = method
        self.code = code
        self.message = message


class ArchiveTransferClient:
    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 330.0) -> None:
        self._stub = archive_pb2_grpc.ArchiveTransferStub(channel)
        self._timeout_s = timeout_s

    async def _call(self, method: str, call: object) -> TransferStatus:
        try:
            result: TransferStatus = await call  # type: ignore[misc]
        except grpc.aio.AioRpcError as error:
            raise TransferCallError(method, error.code(), error.details() or "") from error
        return result

    async def request(self, vin: str, from_province: str) -> TransferStatus:
        """Ask ``from_province`` for the archive of ``vin``; the bag starts coming at once."""
        request = archive_pb2.TransferRequest(vin=vin, from_province=from_province)
        return await self._call("Request", self._stub.Request(request, timeout=self._timeout_s))

    async def status(self, transfer_id: str) -> TransferStatus:
        query = archive_pb2.TransferQuery(transfer_id=transfer_id)
        return await self._call("Status", self._stub.Status(query, timeout=self._timeout_s))

    async def follow(self, transfer_id: str) -> AsyncIterator[TransferStatus]:
        """Each change of the transfer (progress included) until it waits for the clerk or ends."""
        call = self._stub.Follow(archive_pb2.TransferQuery(transfer_id=transfer_id))
        try:
            async for status in call:
                yield status
        except grpc.aio.AioRpcError as error:
            raise TransferCallError("Follow", error.code(), error.details() or "") from error

    async def check_identity(
        self,
        transfer_id: str,
        vin: str,
        engine_number: str,
        colour: str,
        photos: Sequence[tuple[str, bytes]],
    ) -> TransferStatus:
        """Record what the clerk saw; ``mismatches`` in the reply names each difference."""
        observation = archive_pb2.IdentityObservation(
            transfer_id=transfer_id,
            vin=vin,
            engine_number=engine_number,
            colour=colour,
            photos=[archive_pb2.IdentityPhoto(name=name, content=content) for name, content in photos],
        )
        return await self._call(
            "CheckIdentity", self._stub.CheckIdentity(observation, timeout=self._timeout_s)
        )

    async def accept(self, transfer_id: str) -> TransferStatus:
        query = archive_pb2.TransferQuery(transfer_id=transfer_id)
        return await self._call("Accept", self._stub.Accept(query, timeout=self._timeout_s))

    async def refuse(self, transfer_id: str, reason: str) -> TransferStatus:
        request = archive_pb2.RefuseRequest(transfer_id=transfer_id, reason=reason)
        return await self._call("Refuse", self._stub.Refuse(request, timeout=self._timeout_s))

"""The registry clerks' desk for archive transfers, without a transport: what the gRPC
``ArchiveTransfer`` service (``hub.archive_transfer_service``) and the staff console
(``hub.console.transfer_pages``) both call, so a request, an identity check, an acceptance or a
refusal is checked by one piece of code whichever way the clerk came.

Refusals are ``DeskRefused`` with a ``DeskRefusal`` kind that each edge maps to its own status:
INVALID (a bad VIN, province, transfer id, observation, photo or reason), NOT_FOUND (no such
transfer; the source does not know the vehicle), PRECONDITION (the transfer's state does not allow
it, this hub is its source, the vehicle is already being transferred). A source hub that cannot be
reached now is not a refusal: the request stays REQUESTED and the driver offers it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import grpc

from hub.archive_exchange import parse_transfer_id
from hub.archive_stream import ArchiveStreamError, parse_bag_path
from hub.errors import HubError
from hub.identity_check import BadObservation, compare_identity, observation
from hub.transfer_book import End, TransferBook, TransferError, TransferView, UnknownTransfer
from hub.transfer_driver import SourceRefused, SourceUnreachable, TransferDriver
from hub.transfer_states import TransferRole, TransferState, TransferStateError
from inspection.identifiers import InvalidIdentifier, validate_vin

MAX_PHOTOS = 16
MAX_PHOTO_BYTES = 2 * 1024 * 1024
MAX_REASON_CHARS = 1000
_PROVINCE = re.compile(r"^[1-9][0-9]$")


class DeskRefusal(StrEnum):
    INVALID = "invalid"
    NOT_FOUND = "not_found"
    PRECONDITION = "precondition"


class DeskRefused(HubError):
    """A clerk's request the desk refuses; ``kind`` says which sort, the message why."""

    def __init__(self, kind: DeskRefusal, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class IdentityPhoto:
    name: str  # a file name (no path), as the bag will hold it
    content: bytes


class TransferDesk:
    def __init__(self, book: TransferBook, driver: TransferDriver, own_province: str) -> None:
        self.book = book
        self.driver = driver
        self.province = own_province

    async def view(self, transfer_id: str) -> TransferView:
        try:
            return await asyncio.to_thread(self.book.get, parse_transfer_id(transfer_id))
        except ValueError as error:
            raise DeskRefused(DeskRefusal.INVALID, str(error)) from error
        except UnknownTransfer as error:
            raise DeskRefused(DeskRefusal.NOT_FOUND, str(error)) from error

    async def destination(self, transfer_id: str) -> TransferView:
        view = await self.view(transfer_id)
        if view.end is not End.DESTINATION:
            raise DeskRefused(
                DeskRefusal.PRECONDITION,
                f"transfer {transfer_id}: this hub is its source; the clerks of province {view.to_province} decide",
            )
        return view

    async def transfers(self) -> list[TransferView]:
        return await asyncio.to_thread(self.book.transfers)

    async def request(self, vin_text: str, source: str, clerk: str) -> TransferView:
        """Ask province ``source`` for the archive of ``vin_text``; the transfer as it stands after
        the offer (SENDING), or REQUESTED when the source cannot be reached now."""
        try:
            vin = validate_vin(vin_text)
        except InvalidIdentifier as error:
            raise DeskRefused(DeskRefusal.INVALID, str(error)) from error
        if not _PROVINCE.match(source):
            raise DeskRefused(DeskRefusal.INVALID, f"from_province {source!r}: a GB/T 2260 code, e.g. 50")
        if source == self.province:
            raise DeskRefused(
                DeskRefusal.INVALID,
                f"from_province {source} is this hub's own province: a transfer comes from another one",
            )
        try:
            view = await asyncio.to_thread(self.book.open_request, vin, source, clerk)
        except TransferError as error:
            raise DeskRefused(DeskRefusal.PRECONDITION, str(error)) from error
        try:
            return await self.driver.offer(view)
        except SourceRefused as refused:
            kind = (
                DeskRefusal.NOT_FOUND
                if refused.code is grpc.StatusCode.NOT_FOUND
                else DeskRefusal.PRECONDITION
            )
            raise DeskRefused(kind, f"transfer {view.transfer_id} refused: {refused}") from refused
        except SourceUnreachable:
            return view  # stays REQUESTED; the driver offers it again

    async def check_identity(
        self,
        transfer_id: str,
        clerk: str,
        vin: str,
        engine_number: str,
        colour: str,
        photos: Sequence[IdentityPhoto],
    ) -> TransferView:
        """Record what the clerk saw of the car (and photos of it) against the received archive."""
        view = await self.destination(transfer_id)
        try:
            seen = observation(vin, engine_number, colour)
        except BadObservation as error:
            raise DeskRefused(DeskRefusal.INVALID, str(error)) from error
        if not photos:
            raise DeskRefused(DeskRefusal.INVALID, "photos: at least one photo of the car")
        if len(photos) > MAX_PHOTOS:
            raise DeskRefused(DeskRefusal.INVALID, f"photos: {len(photos)}, at most {MAX_PHOTOS}")
        for index, photo in enumerate(photos):
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
                raise DeskRefused(DeskRefusal.INVALID, f"photo {index + 1} ({photo.name!r}): {problem}")
        if view.state is not TransferState.RECEIVED or view.archive_vehicle is None:
            raise DeskRefused(
                DeskRefusal.PRECONDITION,
                f"transfer {view.transfer_id} is {view.state.value}: the identity is checked once the archive is received",
            )
        result = compare_identity(seen, view.archive_vehicle)
        saved = await asyncio.to_thread(self._save_photos, view.transfer_id, list(photos))
        try:
            return await asyncio.to_thread(
                self.book.record_identity, view.transfer_id, clerk, seen, result, saved
            )
        except (TransferError, TransferStateError) as error:
            raise DeskRefused(DeskRefusal.PRECONDITION, str(error)) from error

    def _save_photos(self, transfer_id: str, photos: list[IdentityPhoto]) -> list[dict[str, Any]]:
        directory = self.driver.settings.incoming / transfer_id / "identity"
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

    async def accept(self, transfer_id: str, clerk: str) -> TransferView:
        view = await self.destination(transfer_id)
        try:
            view = await asyncio.to_thread(self.book.accept, view.transfer_id, clerk)
        except (TransferError, TransferStateError) as error:
            raise DeskRefused(DeskRefusal.PRECONDITION, f"transfer {view.transfer_id}: {error}") from error
        self.driver.wake()  # tell the source
        return view

    async def refuse(self, transfer_id: str, reason_text: str) -> TransferView:
        view = await self.destination(transfer_id)
        reason = reason_text.strip()
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise DeskRefused(DeskRefusal.INVALID, f"reason: 1..{MAX_REASON_CHARS} characters, say why")
        try:
            view = await asyncio.to_thread(
                self.book.refuse, view.transfer_id, TransferRole.REGISTRY_CLERK, reason
            )
        except (TransferError, TransferStateError) as error:
            raise DeskRefused(DeskRefusal.PRECONDITION, f"transfer {view.transfer_id}: {error}") from error
        self.driver.wake()
        return view

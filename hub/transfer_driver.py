"""The destination's side of archive transfers, driven in the background: ask the source for the
bag (``ArchiveExchange.Offer``), fetch it into a staging directory resuming from the last
confirmed position (``Fetch``), verify it whole and import it in one transaction, and tell the
source how each transfer ended (``Conclude``); on both ends, expire transfers past their deadline.

Everything it does starts from the rows in ``archive_transfers`` (``hub.transfer_book``), so a
hub that restarts picks every transfer up where its row says: a bag half fetched resumes from
the confirmed position (``hub.archive_stream.StagingBag``), an end not yet told is told again.

Verification before import (nothing is imported from a bag that does not verify): the bag's
hashes, the source hub's signature over its tag manifest (key from the national trust list in
the bag, checked with this hub's national key), every station signature and countersignature
inside (``hub.archive_bag.check_bag``); then that bag-info.txt names this transfer, this
destination and the vehicle asked for. A bad item refuses the transfer, naming each item.

Layout of ``archive_dir/incoming/<transfer id>/``: ``staging/`` (the bag as it arrives),
``bag/`` (renamed from staging once whole; imported), ``refused/`` (a bag that did not verify,
kept as evidence), ``identity/`` (the clerk's photos).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import bagit
import grpc
import grpc.aio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.archive_bag import INFO_DESTINATION, INFO_TRANSFER_ID, INFO_VIN, VEHICLE_FILE, ItemProblem, check_bag
from hub.archive_stream import (
    CHUNK_BYTES,
    CONFIRM_BYTES,
    MESSAGE_BYTES,
    ArchiveStreamError,
    Checkpoint,
    StagingBag,
    decode_bag_chunk,
    parse_file_list,
)
from hub.errors import HubError, UnknownProvince
from hub.forwarder import ChannelFactory
from hub.staging_writer import StagingWriter
from hub.transfer_book import DEFAULT_TTL, End, TransferBook, TransferError, TransferView, lease_owner
from hub.transfer_states import TransferRole, TransferState, TransferStateError
from hub.trust_list import TrustList
from protos.tongjian.v1 import archive_pb2, archive_pb2_grpc

log = logging.getLogger(__name__)
T = TypeVar("T")

_CONCLUSION = {
    TransferState.ACCEPTED: archive_pb2.TRANSFER_CONCLUSION_ACCEPTED,
    TransferState.REFUSED: archive_pb2.TRANSFER_CONCLUSION_REFUSED,
    TransferState.EXPIRED: archive_pb2.TRANSFER_CONCLUSION_EXPIRED,
}
# Answers from the source that end the transfer (it said no); anything else is retried later.
_REFUSING_CODES = frozenset(
    {
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
    }
)
MAX_PROBLEMS_IN_REASON = 3
_FETCH_METHOD = f"/{archive_pb2.DESCRIPTOR.services_by_name['ArchiveExchange'].full_name}/Fetch"
WRITE_AHEAD_BYTES = 8 * 1024 * 1024  # received but not yet written (the writer is behind the disk)


@dataclass(frozen=True, slots=True)
class TransferSettings:
    """Where a hub keeps archives in transit, and how it paces transfers."""

    archive_dir: Path
    ttl: timedelta = DEFAULT_TTL  # a transfer not accepted by then expires
    poll_s: float = 5.0  # rounds of the driver when nothing wakes it
    retry_s: float = 1.0  # after a failed fetch or offer
    chunk_bytes: int = CHUNK_BYTES  # a piece of a file, as this hub sends it (the source's choice)
    message_bytes: int = MESSAGE_BYTES  # pieces to a message, as this hub sends them
    confirm_bytes: int = CONFIRM_BYTES
    offer_timeout_s: float = 300.0  # the source exports the bag before it answers
    fetch_idle_timeout_s: float = 60.0  # a fetch that receives nothing this long is cut and resumed
    # Replicas sharing one database fetch a bag one at a time: a lease per transfer, renewed with
    # every confirmation; a replica that died loses it after this long.
    fetch_lease_s: float = 60.0
    # Which replica this hub is. A stable id (``hub serve --replica-id``, e.g. the service
    # instance's name; unique among the live replicas) lets a restarted process take its own
    # lease back at once; the default, host and pid, is new with every process, so a restarted
    # one waits for the old lease to lapse.
    replica: str = field(default_factory=lambda: f"{socket.gethostname()[:32]}/{os.getpid()}")
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def incoming(self) -> Path:
        return self.archive_dir / "incoming"

    @property
    def outgoing(self) -> Path:
        return self.archive_dir / "outgoing"


class SourceRefused(HubError):
    """The source hub said no to an offer (the vehicle cannot go, or the request is wrong)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class SourceUnreachable(HubError):
    """The source hub could not be asked now; the driver asks again later."""


class TransferDriver:
    def __init__(
        self,
        book: TransferBook,
        trust: Callable[[], TrustList | None],
        channels: ChannelFactory,
        national_key: Ed25519PublicKey,
        settings: TransferSettings,
    ) -> None:
        self._book = book
        self._trust = trust
        self._channels = channels
        self._national_key = national_key
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._receiving: dict[str, asyncio.Task[None]] = {}
        # One offer at a time per transfer: the clerk's request offers at once and the round
        # offers every REQUESTED transfer, and two offers racing for one transfer left one of
        # them recording an offer on a transfer the other had already refused.
        self._offering: dict[str, asyncio.Future[TransferView]] = {}
        self._closing = False
        # The lease owner: the replica, and this run of it (``TransferBook.claim_fetch``).
        self._lease_owner = lease_owner(settings.replica, uuid.uuid4().hex[:12])

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="archive-transfer-driver")

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        self._closing = True
        tasks = [
            task
            for task in (self._task, *self._receiving.values(), *self._offering.values())
            if task is not None
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self.run_round()
            except Exception:  # a round that fails is tried again; the hub keeps serving
                log.exception("archive transfer round failed")
            with contextlib.suppress(TimeoutError):
                # not wait_for: in 3.11 it swallows a cancel that comes as the wait ends (a hung stop)
                async with asyncio.timeout(self.settings.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def run_round(self) -> None:
        book = self._book
        await _to_thread_to_the_end(book.expire_due)
        for view in await asyncio.to_thread(book.transfers, End.DESTINATION, [TransferState.REQUESTED]):
            with contextlib.suppress(SourceRefused, SourceUnreachable):
                await self.offer(view)
        for view in await asyncio.to_thread(book.transfers, End.DESTINATION, [TransferState.SENDING]):
            task = self._receiving.get(view.transfer_id)
            if task is None or task.done():
                claimed = await _to_thread_to_the_end(
                    book.claim_fetch, view.transfer_id, self._lease_owner, self._lease
                )
                if not claimed:
                    continue  # another replica fetches it
                self._receiving[view.transfer_id] = asyncio.create_task(
                    self._receive_guarded(view.transfer_id), name=f"archive-receive-{view.transfer_id}"
                )
        for view in await asyncio.to_thread(book.unreported):
            await self._tell_source(view)

    # ------------------------------------------------------------ the source hub

    async def _stub(self, province: str) -> tuple[grpc.aio.Channel, archive_pb2_grpc.ArchiveExchangeStub]:
        trust = await asyncio.to_thread(self._trust)
        if trust is None:
            raise SourceUnreachable("this hub holds no national trust list: no peer can be reached")
        try:
            entry = trust.entry(province)
        except UnknownProvince as error:
            raise SourceRefused(grpc.StatusCode.NOT_FOUND, str(error)) from error
        channel = self._channels(entry)  # in the event loop's thread, where grpc.aio wants it
        return channel, archive_pb2_grpc.ArchiveExchangeStub(channel)

    async def offer(self, view: TransferView) -> TransferView:
        """Ask the source for the bag; SENDING on its offer, REFUSED if it says no (``SourceRefused``
        raised after), REQUESTED still if it cannot be reached (``SourceUnreachable``). An offer
        of the same transfer already under way is awaited rather than made again."""
        running = self._offering.get(view.transfer_id)
        if running is None:
            running = asyncio.ensure_future(self._offer_once(view.transfer_id))
            self._offering[view.transfer_id] = running

            def forget(done: asyncio.Future[TransferView], transfer_id: str = view.transfer_id) -> None:
                if self._offering.get(transfer_id) is done:
                    del self._offering[transfer_id]
                if not done.cancelled():
                    done.exception()  # its awaiters see it; unawaited, it is not an error to log

            running.add_done_callback(forget)
        return await asyncio.shield(running)

    async def _offer_once(self, transfer_id: str) -> TransferView:
        # Read again: the view a round listed may have moved on since (offered, refused).
        view = await asyncio.to_thread(self._book.get, transfer_id)
        if view.state is not TransferState.REQUESTED:
            return view
        try:
            channel, stub = await self._stub(view.from_province)
        except SourceRefused as refused:
            await _to_thread_to_the_end(
                self._book.refuse, view.transfer_id, TransferRole.SOURCE_HUB, str(refused)
            )
            raise
        async with channel:
            try:
                reply = await stub.Offer(
                    archive_pb2.TransferOffer(
                        transfer_id=view.transfer_id,
                        vin=view.vin,
                        from_province=view.from_province,
                        to_province=view.to_province,
                        requested_by=view.requested_by,
                    ),
                    timeout=self.settings.offer_timeout_s,
                )
            except grpc.aio.AioRpcError as error:
                message = f"province {view.from_province}'s hub: {error.details() or error.code().name}"
                if error.code() in _REFUSING_CODES:
                    await _to_thread_to_the_end(
                        self._book.refuse, view.transfer_id, TransferRole.SOURCE_HUB, message
                    )
                    raise SourceRefused(error.code(), message) from error
                raise SourceUnreachable(message) from error
        try:
            files = parse_file_list([(file.path, file.size) for file in reply.files])
        except ArchiveStreamError as error:
            # The source has marked the car transferring and offered a bag: it is SENDING, and
            # refusing it from there tells the source to give the car back.
            reason = f"the source's offer is not acceptable: {error}"
            await _to_thread_to_the_end(self._book.record_offer, view.transfer_id, [], 0, reply.plate)
            await _to_thread_to_the_end(
                self._book.refuse, view.transfer_id, TransferRole.DESTINATION_HUB, reason
            )
            self.wake()
            raise SourceRefused(grpc.StatusCode.FAILED_PRECONDITION, reason) from error
        try:
            sent = await _to_thread_to_the_end(
                self._book.record_offer, view.transfer_id, files, sum(f.size for f in files), reply.plate
            )
        except TransferStateError as error:  # it ended here meanwhile (expired): the source is told
            log.warning("transfer %s: the source's offer came too late: %s", view.transfer_id, error)
            sent = await asyncio.to_thread(self._book.get, view.transfer_id)
        self.wake()
        return sent

    async def _tell_source(self, view: TransferView) -> None:
        try:
            channel, stub = await self._stub(view.from_province)
        except (SourceRefused, SourceUnreachable) as error:
            log.warning("transfer %s: cannot tell the source yet: %s", view.transfer_id, error)
            return
        async with channel:
            try:
                await stub.Conclude(
                    archive_pb2.ConcludeRequest(
                        transfer_id=view.transfer_id,
                        conclusion=_CONCLUSION[view.state],
                        reason=view.reason or "",
                        new_plate=view.new_plate or "",
                    ),
                    timeout=30,
                )
            except grpc.aio.AioRpcError as error:
                if error.code() not in _REFUSING_CODES:
                    log.info(
                        "transfer %s: the source is not reachable now: %s", view.transfer_id, error.details()
                    )
                    return
                # The source never opened it (refused before the offer arrived) or ended it already.
                log.warning("transfer %s: the source answered %s", view.transfer_id, error.details())
        await _to_thread_to_the_end(self._book.mark_source_told, view.transfer_id)

    # ------------------------------------------------------------ receiving the bag

    async def _receive_guarded(self, transfer_id: str) -> None:
        try:
            await self.receive(transfer_id)
        except (grpc.aio.AioRpcError, SourceUnreachable, TimeoutError, OSError) as error:
            log.info("transfer %s: fetch interrupted (%s); resuming later", transfer_id, error)
            await asyncio.sleep(self.settings.retry_s)
            self.wake()
        except (TransferError, TransferStateError) as error:  # it ended meanwhile (expired, refused)
            log.warning("transfer %s: the received archive is not imported: %s", transfer_id, error)

    def _paths(self, transfer_id: str) -> tuple[Path, Path, Path]:
        root = self.settings.incoming / transfer_id
        return root / "staging", root / "bag", root / "refused"

    async def receive(self, transfer_id: str) -> TransferView:
        view = await asyncio.to_thread(self._book.get, transfer_id)
        if view.state is not TransferState.SENDING:
            return view
        staging_dir, bag_dir, _ = self._paths(transfer_id)
        if not bag_dir.is_dir():
            staging = await _to_thread_to_the_end(StagingBag, staging_dir, list(view.files), view.confirmed)
            try:
                if not staging.complete:
                    refused = await self._fetch(view, staging)
                    if refused is not None:
                        return refused
                await _to_thread_to_the_end(self._confirm, view, staging)
            finally:
                staging.close()
            os.replace(staging_dir, bag_dir)
        return await self._verify_and_import(view, bag_dir)

    async def _fetch(self, view: TransferView, staging: StagingBag) -> TransferView | None:
        """Write the bag's pieces from the staging position on.

        Three things overlap: the event loop receives messages; one writer thread writes their
        pieces in order (``StagingWriter``: at most ``WRITE_AHEAD_BYTES`` queued, so memory stays
        bounded); a confirmation (sync to disk, then the position committed) runs in a third
        thread, one at a time, from a checkpoint the writer takes in its order after the pieces
        before it. A confirmation is due every ``confirm_bytes``, or as soon as the one before
        has finished when the disk is slower than that."""
        channel, _ = await self._stub(view.from_province)
        writer = StagingWriter(staging, WRITE_AHEAD_BYTES)
        confirming: asyncio.Task[None] | None = None
        submitted = 0
        try:
            async with channel:
                position = staging.position
                fetch = channel.unary_stream(
                    _FETCH_METHOD,
                    request_serializer=archive_pb2.FetchRequest.SerializeToString,
                    response_deserializer=_raw_bytes,  # decoded below: a bad message refuses the transfer
                )
                call = fetch(
                    archive_pb2.FetchRequest(
                        transfer_id=view.transfer_id, file_index=position.file_index, offset=position.offset
                    )
                )
                idle = _IdleWatch(call, self.settings.fetch_idle_timeout_s)
                started, first = time.monotonic(), position
                try:
                    async for message in call:
                        idle.touch()
                        for file_index, offset, data in decode_bag_chunk(message):
                            # A copy of each piece, so the message is freed at once: held until its
                            # last piece was written (views into it), the messages in the write-ahead
                            # made the allocator hand out fresh pages, 25-28 thousand page faults
                            # per 100 MB against 17-23 thousand with a copy.
                            writer.put(file_index, offset, bytes(data))
                            submitted += len(data)
                        await writer.room()
                        # One confirmation at a time, and receiving never waits for one: while
                        # the disk is still syncing the last, the next one is only taken later.
                        if submitted >= self.settings.confirm_bytes and (
                            confirming is None or confirming.done()
                        ):
                            if confirming is not None:
                                await confirming  # done: raises what failed in it
                            submitted = 0
                            confirming = asyncio.create_task(
                                self._confirm_checkpoint(view.transfer_id, writer.checkpoint())
                            )
                    await writer.drain()
                except ArchiveStreamError as error:
                    call.cancel()
                    return await self._refuse(view, f"the source sent a bad chunk: {error}", [])
                except (asyncio.CancelledError, grpc.aio.AioRpcError):
                    if idle.fired:
                        raise TimeoutError(
                            f"nothing from the source for {self.settings.fetch_idle_timeout_s} s"
                        ) from None
                    raise
                finally:
                    idle.stop()
        finally:
            await writer.close()  # after a failure: the queued writes finish, then it stops
            if confirming is not None:
                with contextlib.suppress(ArchiveStreamError):  # a failed checkpoint: already raised
                    await confirming
        log.info(
            "transfer %s: fetched %d bytes in %.3f s",
            view.transfer_id,
            staging.bytes_before(staging.position) - staging.bytes_before(first),
            time.monotonic() - started,
        )
        if not staging.complete:
            raise SourceUnreachable(f"the bag stream ended early at {staging.position}")
        return None

    async def _confirm_checkpoint(self, transfer_id: str, checkpoint: asyncio.Future[Checkpoint]) -> None:
        await _to_thread_to_the_end(self._make_confirmed, transfer_id, await checkpoint)

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.settings.fetch_lease_s)

    def _make_confirmed(self, transfer_id: str, checkpoint: Checkpoint) -> None:
        checkpoint.make_durable()
        self._book.confirm(
            transfer_id, checkpoint.position, checkpoint.bytes_before, self._lease_owner, self._lease
        )

    def _confirm(self, view: TransferView, staging: StagingBag) -> None:
        self._make_confirmed(view.transfer_id, staging.checkpoint())

    async def _verify_and_import(self, view: TransferView, bag_dir: Path) -> TransferView:
        problems = await asyncio.to_thread(
            verify_transfer_bag, bag_dir, view, self._national_key, self.settings.clock()
        )
        if problems:
            return await self._refuse(view, "", problems)
        try:
            vehicle = json.loads((bag_dir / VEHICLE_FILE).read_bytes())
        except (OSError, ValueError) as error:  # verified above: only a disk fault gets here
            return await self._refuse(view, f"{VEHICLE_FILE}: {error}", [])
        imported = await _to_thread_to_the_end(
            self._book.import_bag, view.transfer_id, str(bag_dir), vehicle, len(view.files)
        )
        log.info("transfer %s: archive of %s received and verified", view.transfer_id, view.vin)
        return imported

    async def _refuse(self, view: TransferView, reason: str, problems: list[str]) -> TransferView:
        if problems:
            shown = "; ".join(problems[:MAX_PROBLEMS_IN_REASON])
            more = len(problems) - MAX_PROBLEMS_IN_REASON
            reason = f"the archive does not verify: {shown}" + (f" (and {more} more)" if more > 0 else "")
        staging_dir, bag_dir, refused_dir = self._paths(view.transfer_id)
        for directory in (bag_dir, staging_dir):
            if directory.is_dir():
                shutil.rmtree(refused_dir, ignore_errors=True)
                os.replace(directory, refused_dir)  # kept as evidence; never imported
        refused = await _to_thread_to_the_end(
            self._book.refuse, view.transfer_id, TransferRole.DESTINATION_HUB, reason, problems
        )
        self.wake()
        return refused


def _raw_bytes(message: bytes) -> bytes:
    return message


async def _to_thread_to_the_end(func: Callable[..., T], /, *args: Any) -> T:
    """``asyncio.to_thread`` for writes: a cancellation (the hub stopping) waits for the thread to
    finish before it goes on, so no commit of this hub lands after it stopped."""
    future = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise


class _IdleWatch:
    """Cancels a call that has received nothing for ``timeout_s`` (one timer, not one per message)."""

    def __init__(self, call: Any, timeout_s: float) -> None:
        self._call = call
        self._timeout_s = timeout_s
        self._last = time.monotonic()
        self.fired = False
        self._task = asyncio.create_task(self._watch())

    def touch(self) -> None:
        self._last = time.monotonic()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._timeout_s / 4)
            if time.monotonic() - self._last > self._timeout_s:
                self.fired = True
                self._call.cancel()
                return

    def stop(self) -> None:
        self._task.cancel()


def verify_transfer_bag(
    bag_dir: Path, view: TransferView, national_key: Ed25519PublicKey, now: datetime
) -> list[str]:
    """Every problem with a received bag, one line each naming its item; [] if it may be imported."""
    problems: list[ItemProblem] = check_bag(bag_dir, national_key=national_key, now=now)
    lines = [str(problem) for problem in problems]
    try:
        info = bagit.Bag(str(bag_dir)).info
    except (bagit.BagError, UnicodeDecodeError):
        return lines or ["bag: not a BagIt bag"]
    expected: dict[str, Any] = {
        INFO_TRANSFER_ID: view.transfer_id,
        INFO_DESTINATION: view.to_province,
        INFO_VIN: view.vin,
    }
    for label, wanted in expected.items():
        found = info.get(label)
        if found != wanted:
            what = "wrong destination" if label == INFO_DESTINATION else "not this transfer's bag"
            lines.append(f"bag-info.txt: {what}: {label} is {found!r}, expected {wanted!r}")
    return lines

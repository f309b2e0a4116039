"""The inspectors' PDA service (``tongjian.v1.LaneService``) over the station's lanes.

Inspectors sign in with the credential the station issued (``InspectorDirectory``) and get a
session token that every other call carries. Status codes, as documented in ``lane.proto``:

    UNAUTHENTICATED      wrong inspector id or credential; unknown or expired session token
    NOT_FOUND            no such lane, or no such record in any lane
    FAILED_PRECONDITION  the record's state does not allow the call (message names event and state),
                         or a check-in while another vehicle is on the lane's benches
    INVALID_ARGUMENT     malformed check items or vehicle (the field is named), a header missing,
                         not a JPEG
    RESOURCE_EXHAUSTED   photo larger than the limit (the limit is in the message)
    UNAVAILABLE          the completed record could not be handed to the agent; retry Complete;
                         or a check-in while a bench the vehicle needs is down (named)

A refused call leaves nothing behind: check items are accepted all together or not at all
(``Lane.submit_checks``), and a photo is read completely and checked before the store writes it
atomically (``PhotoStore.put``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from inspection import Fuel, Outcome, PhotoRef, VehicleClass, VisualCheck
from protos.record_mapping import MalformedRecord, vehicle_from_proto
from protos.server_port import SERVER_OPTIONS, listen
from protos.tongjian.v1 import inspection_pb2, lane_pb2, lane_pb2_grpc
from station_agent.inspector_directory import InspectorDirectory, InspectorDirectoryError
from station_agent.lane import (
    BenchUnavailable,
    IllegalTransition,
    InvalidCheck,
    Lane,
    LaneError,
    LaneState,
    SubmitFailed,
    UnknownRecord,
    VisitView,
)
from station_agent.photo_store import JPEG_CONTENT_TYPE, NotAJpeg, PhotoStore, PhotoTooLarge

_LANE_STATE = {state: getattr(lane_pb2, f"LANE_STATE_{state.name}") for state in LaneState}
_FUEL = {fuel: getattr(inspection_pb2, f"FUEL_{fuel.name}") for fuel in Fuel}
_CLASS = {cls: getattr(inspection_pb2, f"VEHICLE_CLASS_{cls.name}") for cls in VehicleClass}
_OUTCOME = {outcome: getattr(inspection_pb2, f"OUTCOME_{outcome.name}") for outcome in Outcome}


@dataclass(slots=True)
class Session:
    inspector_id: str
    expires_monotonic: float
    expires_at: datetime
    credential_stamp: str  # the credential signed in with; revoked or re-issued ends the session
    checked_monotonic: float  # when the directory last confirmed it


class PdaService(lane_pb2_grpc.LaneServiceServicer):
    def __init__(
        self,
        lanes: Lane | Sequence[Lane],
        directory: InspectorDirectory,
        photos: PhotoStore,
        *,
        session_ttl_s: float = 12 * 3600.0,
        session_recheck_s: float = 10.0,
    ) -> None:
        lane_list = [lanes] if isinstance(lanes, Lane) else list(lanes)
        self._lanes = {lane.number: lane for lane in lane_list}
        if len(self._lanes) != len(lane_list):
            raise ValueError("two lanes with the same number")
        self._directory = directory
        self._photos = photos
        self._ttl = session_ttl_s
        self._recheck_s = session_recheck_s
        self._sessions: dict[str, Session] = {}

    # --- sessions -------------------------------------------------------------------------------

    async def SignIn(
        self, request: lane_pb2.SignInRequest, context: grpc.aio.ServicerContext
    ) -> lane_pb2.SignInResponse:
        try:
            # scrypt is deliberately slow: keep it off the event loop.
            ok = await asyncio.to_thread(self._directory.verify, request.inspector_id, request.credential)
            credential = (
                await asyncio.to_thread(self._directory.credential_stamp, request.inspector_id)
                if ok
                else None
            )
        except InspectorDirectoryError as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"inspector directory: {error}")
        if credential is None:
            # One message for unknown inspector and wrong credential: do not say which ids exist.
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong inspector id or credential")
        token = secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + timedelta(seconds=self._ttl)
        now = time.monotonic()
        self._sessions[token] = Session(request.inspector_id, now + self._ttl, expires_at, credential, now)
        self._drop_expired()
        stamp = Timestamp()
        stamp.FromDatetime(expires_at)
        return lane_pb2.SignInResponse(session_token=token, expires_at=stamp)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self._sessions.items() if s.expires_monotonic <= now]:
            del self._sessions[token]

    async def _session(self, token: str, context: grpc.aio.ServicerContext) -> Session:
        # A plain dict lookup: timing can at best hint at a prefix of a 256-bit random token.
        session = self._sessions.get(token) if token else None
        now = time.monotonic()
        if session is None or session.expires_monotonic <= now:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown or expired session: sign in again")
        if now - session.checked_monotonic >= self._recheck_s:
            # Revoking (or re-issuing) a credential must end its sessions too, not only new sign-ins.
            try:
                stamp = await asyncio.to_thread(self._directory.credential_stamp, session.inspector_id)
            except InspectorDirectoryError as error:
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"inspector directory: {error}")
            if stamp != session.credential_stamp:
                self._sessions.pop(token, None)
                await context.abort(
                    grpc.StatusCode.UNAUTHENTICATED, "credential revoked or re-issued: sign in again"
                )
            session.checked_monotonic = now
        return session

    # --- lanes and records ----------------------------------------------------------------------

    def _lane_of(self, record_id: str) -> Lane:
        for lane in self._lanes.values():
            try:
                lane.visit(record_id)
            except UnknownRecord:
                continue
            return lane
        raise UnknownRecord(record_id)

    async def _lane(self, number: int, context: grpc.aio.ServicerContext) -> Lane:
        lane = self._lanes.get(number)
        if lane is None:
            known = ", ".join(str(n) for n in sorted(self._lanes))
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no lane {number} here (lanes: {known})")
        return lane

    async def CheckIn(
        self, request: lane_pb2.CheckInRequest, context: grpc.aio.ServicerContext
    ) -> lane_pb2.CheckInResponse:
        await self._session(request.session_token, context)
        lane = await self._lane(request.lane, context)
        if not request.HasField("vehicle"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "vehicle: missing")
        try:
            vehicle = vehicle_from_proto(request.vehicle)
        except MalformedRecord as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            record_id = await lane.check_in(vehicle)
        except LaneError as error:
            await _abort_for(error, context)
        started = Timestamp()
        started.FromDatetime(lane.visit(record_id).started_at)
        return lane_pb2.CheckInResponse(record_id=str(record_id), started_at=started)

    async def ListVehicles(
        self, request: lane_pb2.ListVehiclesRequest, context: grpc.aio.ServicerContext
    ) -> lane_pb2.ListVehiclesResponse:
        await self._session(request.session_token, context)
        lane = await self._lane(request.lane, context)
        return lane_pb2.ListVehiclesResponse(
            station_id=lane.station_id,
            lane=lane.number,
            vehicles=[_vehicle_message(v) for v in lane.visits()],
        )

    async def SubmitChecks(
        self, request: lane_pb2.SubmitChecksRequest, context: grpc.aio.ServicerContext
    ) -> lane_pb2.SubmitChecksResponse:
        session = await self._session(request.session_token, context)
        checks = [
            VisualCheck(
                item_code=item.item_code,
                passed=item.passed,
                note=item.note,
                inspector_id=session.inspector_id,
            )
            for item in request.items
        ]
        try:
            held = self._lane_of(request.record_id).submit_checks(request.record_id, checks)
        except LaneError as error:
            await _abort_for(error, context)
        return lane_pb2.SubmitChecksResponse(accepted=len(checks), checked_items=held)

    async def UploadPhoto(
        self, request_iterator: AsyncIterator[lane_pb2.PhotoChunk], context: grpc.aio.ServicerContext
    ) -> lane_pb2.UploadPhotoResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the first chunk must carry the photo header"
            )
        header = first.header
        await self._session(header.session_token, context)
        if header.content_type != JPEG_CONTENT_TYPE:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"content type {header.content_type!r}: only {JPEG_CONTENT_TYPE} is accepted",
            )
        try:
            # Refuse before reading megabytes for a record that cannot take them.
            lane = self._lane_of(header.record_id)
            lane.check_can_add_photo(header.record_id, header.item_code)
        except LaneError as error:
            await _abort_for(error, context)
        # Collected in memory, bounded by the limit; nothing touches the disk before it is complete.
        data = bytearray()
        async for chunk in request_iterator:
            if chunk.WhichOneof("part") != "data":
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "only the first chunk may carry a header"
                )
            data += chunk.data
            if len(data) > self._photos.max_bytes:
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"photo larger than the limit of {self._photos.max_bytes} bytes",
                )
        try:
            stored = await asyncio.to_thread(self._photos.put, bytes(data))
        except PhotoTooLarge as error:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        except NotAJpeg as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            # The visit may have been completed while the bytes were being written. Then the stored
            # file is unreferenced, but complete and content-addressed (possibly shared): keep it.
            lane.add_photo(
                header.record_id,
                PhotoRef(
                    sha256=stored.sha256,
                    content_type=JPEG_CONTENT_TYPE,
                    size_bytes=stored.size_bytes,
                    item_code=header.item_code,
                ),
            )
        except LaneError as error:
            await _abort_for(error, context)
        return lane_pb2.UploadPhotoResponse(sha256=stored.sha256, size_bytes=stored.size_bytes)

    async def Complete(
        self, request: lane_pb2.CompleteRequest, context: grpc.aio.ServicerContext
    ) -> lane_pb2.CompleteResponse:
        await self._session(request.session_token, context)
        try:
            record = await self._lane_of(request.record_id).complete(request.record_id)
        except LaneError as error:
            await _abort_for(error, context)
        assert record.station_verdict is not None  # Lane.complete always judges
        finished = Timestamp()
        finished.FromDatetime(record.finished_at)
        return lane_pb2.CompleteResponse(
            record_id=str(record.record_id),
            overall=_OUTCOME[record.station_verdict.overall],
            finished_at=finished,
        )

    async def GetLaneStatus(
        self, request: lane_pb2.GetLaneStatusRequest, context: grpc.aio.ServicerContext
    ) -> lane_pb2.GetLaneStatusResponse:
        await self._session(request.session_token, context)
        lane = await self._lane(request.lane, context)
        benches = []
        for status in lane.bench_statuses():
            since = Timestamp()
            since.FromDatetime(status.since)
            benches.append(
                lane_pb2.BenchState(
                    name=status.bench.value,
                    kind=status.kind,
                    up=status.up,
                    since=since,
                    last_error=status.last_error,
                )
            )
        return lane_pb2.GetLaneStatusResponse(station_id=lane.station_id, lane=lane.number, benches=benches)


async def _abort_for(error: LaneError, context: grpc.aio.ServicerContext) -> NoReturn:
    if isinstance(error, UnknownRecord):
        code = grpc.StatusCode.NOT_FOUND
    elif isinstance(error, IllegalTransition):
        code = grpc.StatusCode.FAILED_PRECONDITION
    elif isinstance(error, InvalidCheck):
        code = grpc.StatusCode.INVALID_ARGUMENT
    elif isinstance(error, SubmitFailed | BenchUnavailable):
        code = grpc.StatusCode.UNAVAILABLE
    else:
        code = grpc.StatusCode.FAILED_PRECONDITION
    await context.abort(code, str(error))


def _vehicle_message(view: VisitView) -> lane_pb2.LaneVehicle:
    started = Timestamp()
    started.FromDatetime(view.started_at)
    return lane_pb2.LaneVehicle(
        record_id=str(view.record_id),
        vin=view.vehicle.vin,
        plate=view.vehicle.plate,
        vehicle_class=_CLASS[view.vehicle.vehicle_class],
        fuel=_FUEL[view.vehicle.fuel],
        state=_LANE_STATE[view.state],
        error=view.error or "",
        checked_items=view.checked_items,
        photo_count=view.photo_count,
        started_at=started,
    )


async def start_pda_server(service: PdaService, address: str = "127.0.0.1:0") -> tuple[grpc.aio.Server, int]:
    """A started grpc.aio server with the service; returns it and the bound port."""
    server = grpc.aio.server(options=SERVER_OPTIONS)
    lane_pb2_grpc.add_LaneServiceServicer_to_server(service, server)
    port = listen(server, address)
    await server.start()
    return server, port

"""The inspectors' PDA service (``tongjian.v1.LaneService``) over the station's lanes.

Inspectors sign in with the credential the station issued (``InspectorDirectory``) and get a
session token that every other call carries. The credential names the station and the lanes its
inspector may act on; the session keeps that scope. Sign-ins are throttled per inspector id and per
peer address (``web_serving.sign_in_throttle`` with ``PDA_SIGN_IN_POLICY``), and repeated failures
lock an inspector id out until an administrator lifts it. The service is served over TLS
(``start_pda_server``); plaintext only when asked for, with a loud warning. Status codes, as
documented in ``lane.proto``:

    UNAUTHENTICATED      wrong inspector id or credential; unknown or expired session token
    PERMISSION_DENIED    a lane or record outside the credential's lanes, a credential for another
                         station, or a sign-in for an inspector id that is locked out
    NOT_FOUND            no such lane, or no such record in any lane
    FAILED_PRECONDITION  the record's state does not allow the call (message names event and state),
                         or a check-in while another vehicle is on the lane's benches
    INVALID_ARGUMENT     malformed check items or vehicle (the field is named), a header missing,
                         not a JPEG, a correction without a reason, an abort without a reason, or
                         anything beyond ``inspection.record_limits`` (the limit is named)
    RESOURCE_EXHAUSTED   photo larger than the limit (the limit is in the message); sign-in attempts
                         too fast (the message says when to retry)
    UNAVAILABLE          the completed record could not be handed to the agent; retry Complete;
                         or a check-in while a bench the vehicle needs is down (named)

A refused call leaves nothing behind: check items are accepted all together or not at all
(``Lane.submit_checks``), and a photo is read completely and checked before the store writes it
atomically (``PhotoStore.put``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NoReturn

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import CollectorRegistry, Counter

from inspection import PhotoRef, VisualCheck
from inspection.record_limits import PHOTO_CONTENT_TYPES
from protos.record_mapping import (
    MalformedRecord,
    fuel_to_proto,
    outcome_to_proto,
    purpose_from_proto,
    vehicle_class_to_proto,
    vehicle_from_proto,
    verdict_to_proto,
)
from protos.server_port import SERVER_OPTIONS, listen
from protos.tongjian.v1 import inspection_pb2, lane_pb2, lane_pb2_grpc
from station_agent.errors import StationAgentError
from station_agent.inspector_directory import InspectorDirectory, InspectorDirectoryError
from station_agent.lane import (
    BenchUnavailable,
    IllegalTransition,
    InvalidRequest,
    Lane,
    LaneError,
    LaneState,
    StateChange,
    SubmitFailed,
    UnknownRecord,
    VisitView,
)
from station_agent.photo_store import JPEG_CONTENT_TYPE, NotAJpeg, PhotoStore, PhotoTooLarge, StoredPhoto
from web_serving.sign_in_throttle import SignInDelayed, SignInThrottle, ThrottlePolicy

log = logging.getLogger(__name__)

# Ten failures in a row lock an inspector id out: a station's credentials open its lanes, so a
# long-running guess must end in an administrator's hands, not only in slower and slower refusals.
PDA_SIGN_IN_POLICY = ThrottlePolicy(lockout_after=10)

_LANE_STATE = {state: getattr(lane_pb2, f"LANE_STATE_{state.name}") for state in LaneState}


class InsecureNotAllowed(StationAgentError, ValueError):
    """The PDA service was to listen without TLS credentials, and plaintext was not asked for."""


class RefusalKind(StrEnum):
    """Why the PDA service refused a caller, whatever the transport (gRPC here, HTTP in ``pda_web``)."""

    LOCKED_OUT = "locked_out"  # PERMISSION_DENIED
    THROTTLED = "throttled"  # RESOURCE_EXHAUSTED
    WRONG_CREDENTIAL = "wrong_credential"  # UNAUTHENTICATED
    OTHER_STATION = "other_station"  # PERMISSION_DENIED
    NO_SESSION = "no_session"  # UNAUTHENTICATED: unknown, expired, revoked or re-issued
    OUT_OF_SCOPE = "out_of_scope"  # PERMISSION_DENIED: a lane the credential does not name
    NO_SUCH_LANE = "no_such_lane"  # NOT_FOUND
    DIRECTORY = "directory"  # UNAVAILABLE: the inspector directory cannot be read


class PdaRefused(StationAgentError):
    """A sign-in, session or scope the PDA service refuses; ``kind`` says which, the message why."""

    def __init__(self, kind: RefusalKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_REFUSAL_CODES = {
    RefusalKind.LOCKED_OUT: grpc.StatusCode.PERMISSION_DENIED,
    RefusalKind.THROTTLED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    RefusalKind.WRONG_CREDENTIAL: grpc.StatusCode.UNAUTHENTICATED,
    RefusalKind.OTHER_STATION: grpc.StatusCode.PERMISSION_DENIED,
    RefusalKind.NO_SESSION: grpc.StatusCode.UNAUTHENTICATED,
    RefusalKind.OUT_OF_SCOPE: grpc.StatusCode.PERMISSION_DENIED,
    RefusalKind.NO_SUCH_LANE: grpc.StatusCode.NOT_FOUND,
    RefusalKind.DIRECTORY: grpc.StatusCode.UNAVAILABLE,
}


@dataclass(slots=True)
class Session:
    inspector_id: str
    lanes: frozenset[int]  # the lanes the credential names
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
        throttle: SignInThrottle | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        lane_list = [lanes] if isinstance(lanes, Lane) else list(lanes)
        self._lanes = {lane.number: lane for lane in lane_list}
        if len(self._lanes) != len(lane_list):
            raise ValueError("two lanes with the same number")
        stations = {lane.station_id for lane in lane_list}
        if len(stations) != 1:
            raise ValueError(f"one PDA service serves one station's lanes, not {sorted(stations)}")
        (self.station_id,) = stations
        self._directory = directory
        self._photos = photos
        self._ttl = session_ttl_s
        self._recheck_s = session_recheck_s
        self._sessions: dict[str, Session] = {}
        self.throttle = throttle or SignInThrottle(PDA_SIGN_IN_POLICY)
        # One photo stored and referenced at a time: the count check and the reference it guards
        # must not be split by another upload's write, or two uploads could pass the last free slot.
        self._photo_slot = asyncio.Lock()
        registry = registry if registry is not None else CollectorRegistry()
        self.sign_in_refusals = Counter(
            "tongjian_pda_sign_in_refusals",
            "PDA sign-ins refused, by reason (wrong_credential, throttled, locked_out, other_station)",
            ["reason"],
            registry=registry,
        )
        self.sign_in_lockouts = Counter(
            "tongjian_pda_sign_in_lockouts",
            "Inspector ids locked out after repeated failed sign-ins",
            registry=registry,
        )

    # --- sessions -------------------------------------------------------------------------------

    # --- sessions (transport-free: the gRPC methods below and the PDA page share them) -----------

    @property
    def lanes(self) -> dict[int, Lane]:
        return dict(self._lanes)

    @property
    def photos(self) -> PhotoStore:
        return self._photos

    async def sign_in(self, inspector_id: str, credential_text: str, peer: str) -> tuple[str, Session]:
        """A new session token for a valid credential of this station; ``PdaRefused`` otherwise.
        ``peer`` is the caller's address without its port (the throttle's second key)."""
        try:
            lockout = await asyncio.to_thread(self._directory.lockout, inspector_id)
        except InspectorDirectoryError as error:
            raise PdaRefused(RefusalKind.DIRECTORY, f"inspector directory: {error}") from error
        if lockout is not None:
            self.sign_in_refusals.labels("locked_out").inc()
            raise PdaRefused(
                RefusalKind.LOCKED_OUT,
                f"inspector {inspector_id!r} is locked out after {lockout.failures} failed sign-ins;"
                f" an administrator can lift it: tongjian pda unlock --inspector {inspector_id}"
                " --directory FILE",
            )
        try:
            self.throttle.admit(inspector_id, peer)
        except SignInDelayed as error:
            self.sign_in_refusals.labels("throttled").inc()
            raise PdaRefused(RefusalKind.THROTTLED, str(error)) from error
        try:
            # scrypt is deliberately slow: keep it off the event loop.
            credential = await asyncio.to_thread(self._directory.authenticate, inspector_id, credential_text)
        except InspectorDirectoryError as error:
            raise PdaRefused(RefusalKind.DIRECTORY, f"inspector directory: {error}") from error
        if credential is None:
            self.sign_in_refusals.labels("wrong_credential").inc()
            if self.throttle.locked_out(inspector_id):
                failures = self.throttle.failures(inspector_id)
                try:
                    await asyncio.to_thread(self._directory.lock, inspector_id, failures)
                except InspectorDirectoryError as error:
                    log.error("cannot record the lockout of inspector %r: %s", inspector_id, error)
                else:
                    self.throttle.forget(inspector_id)
                    self.sign_in_lockouts.inc()
                    log.warning(
                        "PDA sign-in: inspector id %r locked out after %d failed sign-ins (last from %s)",
                        inspector_id,
                        failures,
                        peer,
                    )
            # One message for unknown inspector and wrong credential: do not say which ids exist.
            raise PdaRefused(RefusalKind.WRONG_CREDENTIAL, "wrong inspector id or credential")
        self.throttle.succeeded(inspector_id, peer)
        if credential.station_id != self.station_id:
            self.sign_in_refusals.labels("other_station").inc()
            raise PdaRefused(
                RefusalKind.OTHER_STATION,
                f"the credential is for station {credential.station_id or '(none)'}, this is station"
                f" {self.station_id}: issue one with --station {self.station_id} --lanes ...",
            )
        # hex, not urlsafe base64: a token starting with '-' would read as an option in `--token TOKEN`
        token = secrets.token_hex(32)
        expires_at = datetime.now(UTC) + timedelta(seconds=self._ttl)
        now = time.monotonic()
        session = Session(inspector_id, credential.lanes, now + self._ttl, expires_at, credential.stamp, now)
        self._sessions[token] = session
        self._drop_expired()
        return token, session

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self._sessions.items() if s.expires_monotonic <= now]:
            del self._sessions[token]

    async def session(self, token: str) -> Session:
        """The live session of ``token``; ``PdaRefused`` (NO_SESSION) if unknown, expired, or its
        credential was revoked or re-issued since."""
        # A plain dict lookup: timing can at best hint at a prefix of a 256-bit random token.
        session = self._sessions.get(token) if token else None
        now = time.monotonic()
        if session is None or session.expires_monotonic <= now:
            raise PdaRefused(RefusalKind.NO_SESSION, "unknown or expired session: sign in again")
        if now - session.checked_monotonic >= self._recheck_s:
            # Revoking (or re-issuing) a credential must end its sessions too, not only new sign-ins.
            try:
                stamp = await asyncio.to_thread(self._directory.credential_stamp, session.inspector_id)
            except InspectorDirectoryError as error:
                raise PdaRefused(RefusalKind.DIRECTORY, f"inspector directory: {error}") from error
            if stamp != session.credential_stamp:
                self._sessions.pop(token, None)
                raise PdaRefused(RefusalKind.NO_SESSION, "credential revoked or re-issued: sign in again")
            session.checked_monotonic = now
        return session

    def sign_out(self, token: str) -> None:
        self._sessions.pop(token, None)

    # --- lanes and records ----------------------------------------------------------------------

    def _lane_of(self, record_id: str) -> Lane:
        for lane in self._lanes.values():
            try:
                lane.visit(record_id)
            except UnknownRecord:
                continue
            return lane
        raise UnknownRecord(record_id)

    def lane(self, number: int, session: Session) -> Lane:
        """Lane ``number``, if the session may act on it (``PdaRefused`` otherwise)."""
        lane = self._lanes.get(number)
        if lane is None:
            known = ", ".join(str(n) for n in sorted(self._lanes))
            raise PdaRefused(RefusalKind.NO_SUCH_LANE, f"no lane {number} here (lanes: {known})")
        _check_scope(session, number)
        return lane

    def record_lane(self, record_id: str, session: Session) -> Lane:
        """The lane holding ``record_id`` (``UnknownRecord`` if none), if the session may act on it."""
        lane = self._lane_of(record_id)
        _check_scope(session, lane.number, f"record {record_id} is in lane {lane.number}: ")
        return lane

    async def add_photo(self, session: Session, record_id: str, item_code: str, data: bytes) -> StoredPhoto:
        """Store a complete photo and reference it from the visit: the lane's checks run before and
        again after the bytes are written (``LaneError``, ``PhotoError`` or ``PdaRefused``)."""
        lane = self.record_lane(record_id, session)
        async with self._photo_slot:
            # Again, now that the photo is here: the visit may have filled up or ended meanwhile,
            # and a photo the record cannot take is not written at all.
            lane.check_can_add_photo(record_id, item_code)
            stored = await asyncio.to_thread(self._photos.put, data)
            # The visit may have been completed while the bytes were being written. Then the
            # stored file is unreferenced, but complete and content-addressed (possibly shared).
            lane.add_photo(
                record_id,
                PhotoRef(
                    sha256=stored.sha256,
                    content_type=JPEG_CONTENT_TYPE,
                    size_bytes=stored.size_bytes,
                    item_code=item_code,
                ),
            )
        return stored

    # --- the gRPC methods -----------------------------------------------------------------------

    async def SignIn(
        self, request: lane_pb2.SignInRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> lane_pb2.SignInResponse:
        try:
            token, session = await self.sign_in(
                request.inspector_id, request.credential, _peer_host(context.peer())
            )
        except PdaRefused as refusal:
            await _abort_refused(refusal, context)
        stamp = Timestamp()
        stamp.FromDatetime(session.expires_at)
        return lane_pb2.SignInResponse(session_token=token, expires_at=stamp)

    async def _session(self, token: str, context: grpc.aio.ServicerContext[Any, Any]) -> Session:
        try:
            return await self.session(token)
        except PdaRefused as refusal:
            await _abort_refused(refusal, context)

    async def _lane(self, number: int, session: Session, context: grpc.aio.ServicerContext[Any, Any]) -> Lane:
        try:
            return self.lane(number, session)
        except PdaRefused as refusal:
            await _abort_refused(refusal, context)

    async def _record_lane(
        self, record_id: str, session: Session, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Lane:
        """The lane holding ``record_id``, if the session may act on it."""
        try:
            return self.record_lane(record_id, session)
        except LaneError as error:
            await _abort_for(error, context)
        except PdaRefused as refusal:
            await _abort_refused(refusal, context)

    async def CheckIn(
        self, request: lane_pb2.CheckInRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> lane_pb2.CheckInResponse:
        session = await self._session(request.session_token, context)
        lane = await self._lane(request.lane, session, context)
        if not request.HasField("vehicle"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "vehicle: missing")
        try:
            vehicle = vehicle_from_proto(request.vehicle)
            purpose = purpose_from_proto(request.purpose)
        except MalformedRecord as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            record_id = await lane.check_in(vehicle, purpose=purpose, laden=request.laden)
        except LaneError as error:
            await _abort_for(error, context)
        started = Timestamp()
        started.FromDatetime(lane.visit(record_id).started_at)
        return lane_pb2.CheckInResponse(record_id=str(record_id), started_at=started)

    async def ListVehicles(
        self, request: lane_pb2.ListVehiclesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> lane_pb2.ListVehiclesResponse:
        session = await self._session(request.session_token, context)
        lane = await self._lane(request.lane, session, context)
        return lane_pb2.ListVehiclesResponse(
            station_id=lane.station_id,
            lane=lane.number,
            vehicles=[_vehicle_message(v) for v in lane.visits()],
        )

    async def SubmitChecks(
        self, request: lane_pb2.SubmitChecksRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> lane_pb2.SubmitChecksResponse:
        session = await self._session(request.session_token, context)
        lane = await self._record_lane(request.record_id, session, context)
        checks = [
            VisualCheck(
                item_code=item.item_code,
                passed=item.passed,
                note=item.note,
                inspector_id=session.inspector_id,
                correction_reason=item.reason,
            )
            for item in request.items
        ]
        try:
            held = lane.submit_checks(request.record_id, checks)
        except LaneError as error:
            await _abort_for(error, context)
        return lane_pb2.SubmitChecksResponse(accepted=len(checks), checked_items=held)

    async def UploadPhoto(
        self,
        request_iterator: AsyncIterator[lane_pb2.PhotoChunk],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> lane_pb2.UploadPhotoResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the first chunk must carry the photo header"
            )
        header = first.header
        session = await self._session(header.session_token, context)
        if header.content_type not in PHOTO_CONTENT_TYPES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"content type {header.content_type!r}: only {JPEG_CONTENT_TYPE} is accepted",
            )
        lane = await self._record_lane(header.record_id, session, context)
        try:
            # Refuse before reading megabytes for a record that cannot take them.
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
            stored = await self.add_photo(session, header.record_id, header.item_code, bytes(data))
        except LaneError as error:
            await _abort_for(error, context)
        except PhotoTooLarge as error:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        except NotAJpeg as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except PdaRefused as refusal:
            await _abort_refused(refusal, context)
        return lane_pb2.UploadPhotoResponse(sha256=stored.sha256, size_bytes=stored.size_bytes)

    async def Complete(
        self, request: lane_pb2.CompleteRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> lane_pb2.CompleteResponse:
        session = await self._session(request.session_token, context)
        lane = await self._record_lane(request.record_id, session, context)
        try:
            record = await lane.complete(request.record_id)
        except LaneError as error:
            await _abort_for(error, context)
        assert record.station_verdict is not None  # Lane.complete always judges
        finished = Timestamp()
        finished.FromDatetime(record.finished_at)
        verdict = verdict_to_proto(record.station_verdict)
        return lane_pb2.CompleteResponse(
            record_id=str(record.record_id),
            overall=outcome_to_proto(record.station_verdict.overall),
            finished_at=finished,
            failing=[item for item in verdict.items if item.outcome != inspection_pb2.OUTCOME_PASS],
        )

    async def Abort(
        self, request: lane_pb2.AbortRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> lane_pb2.AbortResponse:
        session = await self._session(request.session_token, context)
        lane = await self._record_lane(request.record_id, session, context)
        try:
            view = await lane.abort(request.record_id, request.reason, by=session.inspector_id)
        except LaneError as error:
            await _abort_for(error, context)
        return lane_pb2.AbortResponse(
            record_id=str(view.record_id), state=_LANE_STATE[view.state], error=view.error or ""
        )

    async def WatchVisit(
        self, request: lane_pb2.WatchVisitRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[lane_pb2.VisitProgress]:
        session = await self._session(request.session_token, context)
        lane = await self._record_lane(request.record_id, session, context)
        async for change in lane.state_changes(request.record_id):
            yield _progress_message(change)

    async def GetLaneStatus(
        self, request: lane_pb2.GetLaneStatusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> lane_pb2.GetLaneStatusResponse:
        session = await self._session(request.session_token, context)
        lane = await self._lane(request.lane, session, context)
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


def _check_scope(session: Session, lane: int, what: str = "") -> None:
    if lane not in session.lanes:
        allowed = ", ".join(str(n) for n in sorted(session.lanes)) or "none"
        raise PdaRefused(
            RefusalKind.OUT_OF_SCOPE,
            f"{what}inspector {session.inspector_id}'s credential covers lanes {allowed}, not lane {lane}",
        )


async def _abort_refused(refusal: PdaRefused, context: grpc.aio.ServicerContext[Any, Any]) -> NoReturn:
    await context.abort(_REFUSAL_CODES[refusal.kind], str(refusal))


def _peer_host(peer: str) -> str:
    """``ipv4:10.0.0.5:53412`` -> ``ipv4:10.0.0.5``; ``ipv6:[::1]:53412`` -> ``ipv6:[::1]``: the
    address without the port, which changes with every connection."""
    host, sep, port = peer.rpartition(":")
    return host if sep and port.isdigit() and ":" in host else peer


def _progress_message(change: StateChange) -> lane_pb2.VisitProgress:
    at = Timestamp()
    at.FromDatetime(change.at)
    return lane_pb2.VisitProgress(
        record_id=str(change.record_id), state=_LANE_STATE[change.state], at=at, error=change.error or ""
    )


async def _abort_for(error: LaneError, context: grpc.aio.ServicerContext[Any, Any]) -> NoReturn:
    if isinstance(error, UnknownRecord):
        code = grpc.StatusCode.NOT_FOUND
    elif isinstance(error, IllegalTransition):
        code = grpc.StatusCode.FAILED_PRECONDITION
    elif isinstance(error, InvalidRequest):
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
        vehicle_class=vehicle_class_to_proto(view.vehicle.vehicle_class),
        fuel=fuel_to_proto(view.vehicle.fuel),
        state=_LANE_STATE[view.state],
        error=view.error or "",
        checked_items=view.checked_items,
        photo_count=view.photo_count,
        started_at=started,
    )


async def start_pda_server(
    service: PdaService,
    address: str = "127.0.0.1:0",
    *,
    credentials: grpc.ServerCredentials | None = None,
    insecure: bool = False,
) -> tuple[grpc.aio.Server, int]:
    """A started grpc.aio server with the service, over TLS with ``credentials``
    (``pki.grpc_credentials.server_tls_credentials``); returns it and the bound port.

    Without credentials it refuses (``InsecureNotAllowed``) unless ``insecure`` asks for plaintext,
    and then it says so loudly: credentials and session tokens cross the network in the clear.
    """
    if credentials is None and not insecure:
        raise InsecureNotAllowed(
            f"the PDA service on {address} needs TLS credentials (lane file [pda] cert and key);"
            " plaintext only with insecure = true"
        )
    if credentials is not None and insecure:
        raise ValueError("TLS credentials and insecure=True both given: choose one")
    server = grpc.aio.server(options=SERVER_OPTIONS)
    lane_pb2_grpc.add_LaneServiceServicer_to_server(service, server)
    port = listen(server, address, credentials)
    if insecure:
        log.warning(
            "!!! INSECURE: the PDA lane service of station %s listens on %s (port %d) in PLAINTEXT:"
            " inspectors' credentials and session tokens cross the network readable by anyone"
            " (insecure = true). Never do this outside a test bench. !!!",
            service.station_id,
            address,
            port,
        )
    await server.start()
    return server, port

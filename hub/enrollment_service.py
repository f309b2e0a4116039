"""``StationEnrollment.CheckEnrollment``: tells a station whether the hub will take its signatures.

A station asks before it opens a lane (and again while its uplink is paused on a refused key), so
that it never signs records the hub would refuse for ever. The answer judges the key *now*, the
way ``envelope_check`` judges a record's key (known, not revoked, inside its validity window), and
holds the caller to its identity: with mTLS the client certificate's common name must be the
``station_id`` the agent runs as; without mTLS (a test bench) the hub can only take the request's
word for it and says so (``authenticated = false``).

Read-only: it reads the station directory through ``HubStore.known_keys`` and writes nothing, so
it needs neither the group committer nor the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import grpc
import grpc.aio
from sqlalchemy.exc import SQLAlchemyError

from hub.envelope_check import KnownKey
from hub.store import HubStore
from pki.grpc_credentials import peer_common_name
from protos.envelope import station_of_key_id
from protos.tongjian.v1 import ingest_pb2, ingest_pb2_grpc

SERVICE_NAME = ingest_pb2.DESCRIPTOR.services_by_name["StationEnrollment"].full_name

Status = ingest_pb2.EnrollmentStatus


def judge_enrollment(
    station_id: str,
    key_id: str,
    keys: Mapping[str, KnownKey],
    now: datetime,
    certificate_station: str | None,
) -> ingest_pb2.EnrollmentReply:
    """Pure: the reply for ``key_id`` of ``station_id`` given the directory's keys at ``now``."""
    caller = certificate_station if certificate_station is not None else station_id
    authenticated = certificate_station is not None

    def reply(status: Status, detail: str) -> ingest_pb2.EnrollmentReply:
        return ingest_pb2.EnrollmentReply(
            status=status, station_id=caller, authenticated=authenticated, detail=detail
        )

    if certificate_station is not None and certificate_station != station_id:
        return reply(
            ingest_pb2.ENROLLMENT_STATUS_STATION_MISMATCH,
            f"the client certificate is for station {certificate_station!r}, the agent runs as {station_id!r}",
        )
    if station_of_key_id(key_id) != station_id:
        return reply(
            ingest_pb2.ENROLLMENT_STATUS_STATION_MISMATCH,
            f"key {key_id!r} names station {station_of_key_id(key_id)!r}, the agent runs as {station_id!r}",
        )
    key = keys.get(key_id)
    if key is None:
        fingerprint = key_id.rpartition("/")[2]
        elsewhere = sorted(k.station_id for k in keys.values() if k.key_id.rpartition("/")[2] == fingerprint)
        if elsewhere:
            return reply(
                ingest_pb2.ENROLLMENT_STATUS_STATION_MISMATCH,
                f"this signing key is enrolled for station {elsewhere[0]!r}, not {station_id!r}",
            )
        return reply(
            ingest_pb2.ENROLLMENT_STATUS_UNKNOWN_KEY,
            f"signing key {key_id!r} is not enrolled at this hub (tongjian hub stations add {station_id} --key ...)",
        )
    if key.revoked_at is not None and key.revoked_at <= now:
        return reply(
            ingest_pb2.ENROLLMENT_STATUS_REVOKED,
            f"signing key {key_id!r} was revoked {key.revoked_at.isoformat()}",
        )
    if key.valid_until is not None and now > key.valid_until:
        return reply(
            ingest_pb2.ENROLLMENT_STATUS_EXPIRED,
            f"signing key {key_id!r} expired {key.valid_until.isoformat()}",
        )
    if key.valid_from is not None and now < key.valid_from:
        return reply(
            ingest_pb2.ENROLLMENT_STATUS_NOT_YET_VALID,
            f"signing key {key_id!r} is valid only from {key.valid_from.isoformat()}",
        )
    return reply(ingest_pb2.ENROLLMENT_STATUS_ENROLLED, f"signing key {key_id!r} is enrolled and valid")


class StationEnrollmentService(ingest_pb2_grpc.StationEnrollmentServicer):
    def __init__(
        self,
        store: HubStore,
        *,
        require_certificate: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._require_certificate = require_certificate
        self._clock = clock

    async def CheckEnrollment(  # the generated servicer's method name
        self,
        request: ingest_pb2.EnrollmentRequest,
        context: grpc.aio.ServicerContext[ingest_pb2.EnrollmentRequest, ingest_pb2.EnrollmentReply],
    ) -> ingest_pb2.EnrollmentReply:
        certificate_station = peer_common_name(context)
        if self._require_certificate and certificate_station is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "client certificate without a common name")
        if not request.station_id or not request.key_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "station_id and key_id are required")
        try:
            # Always the database, not a cache: an operator who just enrolled or revoked a key
            # expects the very next check to see it.
            keys = await asyncio.to_thread(self._store.known_keys)
        except SQLAlchemyError:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub cannot reach its database; retry")
        return judge_enrollment(request.station_id, request.key_id, keys, self._clock(), certificate_station)


def register_enrollment_service(
    server: grpc.aio.Server, store: HubStore, *, require_certificate: bool
) -> None:
    ingest_pb2_grpc.add_StationEnrollmentServicer_to_server(
        StationEnrollmentService(store, require_certificate=require_certificate), server
    )

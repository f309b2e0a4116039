"""Checking a record another province's hub forwarded here, on arrival and again on every reading.

The checks, in order (the first that fails decides the answer):

1. the body parses and names a province the national trust list knows;
2. the countersignature verifies with that province's hub key from the trust list, and the
   connection's ``peer-hub`` certificate (when there is one) speaks for that province;
3. the record is for this province (else WRONG_PROVINCE);
4. a valid signed station directory of the sending province is at hand (else RETRY_LATER: the
   sender sends it on the same stream and resends the record);
5. the station's envelope verifies against that directory as of the inspecting hub's trusted
   receive time (``hub.envelope_check.verify_envelope``: key known, not revoked or expired at
   that time, signature, record well-formed and within range), and that receive time is not in
   this hub's future;
6. the vehicle is in this province's register (else UNKNOWN_VEHICLE).

A record that passes is judged again by this hub's own rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError

from hub.envelope_check import EnvelopeLimits, RecordRejected, verify_envelope
from hub.errors import HubError
from hub.foreign_records import ForeignRecordRow
from hub.published_directory import NoPeerDirectory, PeerDirectoryExpired, PeerStationDirectory
from hub.trust_list import TrustList, UnknownProvince
from hub.verdict import VerdictJudge
from protos.errors import ProtosError
from protos.signed_document import verify_document
from protos.tongjian.v1 import federation_pb2
from protos.tongjian.v1 import inspection_pb2 as pb


class Refusal(StrEnum):
    UNKNOWN_VEHICLE = "unknown_vehicle"
    WRONG_PROVINCE = "wrong_province"
    REJECTED = "rejected"
    RETRY_LATER = "retry_later"


class ForwardRefused(HubError):
    """A forwarded record this hub does not store (now, or at all); ``refusal`` says which."""

    def __init__(self, refusal: Refusal, reason: str, station_id: str = "", record_id: str = "") -> None:
        super().__init__(reason)
        self.refusal = refusal
        self.reason = reason
        self.station_id = station_id
        self.record_id = record_id


DirectoryLookup = Callable[[str, Ed25519PublicKey], PeerStationDirectory]


@dataclass(frozen=True, slots=True)
class ArrivalContext:
    """What checking a forwarded record needs from the receiving hub."""

    own_province: str
    trust: TrustList
    directory: DirectoryLookup  # raises NoPeerDirectory / PeerDirectoryExpired
    knows_vehicle: Callable[[str], bool]
    limits: EnvelopeLimits
    judge: VerdictJudge


def _ids_of(body: federation_pb2.ForwardBody) -> tuple[str, str]:
    """Best-effort station and record id for an Ack, before anything is verified."""
    try:
        envelope = pb.SignedRecord.FromString(body.station_envelope)
        record = pb.InspectionRecord.FromString(envelope.record)
    except DecodeError:
        return "", ""
    return record.station_id, record.record_id


def check_forwarded(
    document: federation_pb2.SignedDocument, peer_name: str | None, context: ArrivalContext, now: datetime
) -> ForeignRecordRow:
    """The row to store for a forwarded record, or ``ForwardRefused`` saying why not."""
    try:
        body = federation_pb2.ForwardBody.FromString(document.body)
    except DecodeError as error:
        raise ForwardRefused(Refusal.REJECTED, f"forwarded body does not parse: {error}") from error
    station_id, record_id = _ids_of(body)

    def refuse(refusal: Refusal, reason: str) -> ForwardRefused:
        return ForwardRefused(refusal, reason, station_id, record_id)

    try:
        entry = context.trust.entry(body.from_province)
    except UnknownProvince as error:
        raise refuse(Refusal.REJECTED, f"forwarded from province {body.from_province!r}: {error}") from error
    try:
        verify_document(document, entry.hub_public_key, f"countersignature of province {entry.province}")
    except ProtosError as error:
        raise refuse(Refusal.REJECTED, str(error)) from error
    if peer_name is not None and context.trust.province_of_peer(peer_name) != entry.province:
        raise refuse(
            Refusal.REJECTED,
            f"peer certificate {peer_name!r} does not speak for province {entry.province} in trust list "
            f"version {context.trust.version}",
        )
    if body.to_province != context.own_province:
        raise refuse(
            Refusal.WRONG_PROVINCE,
            f"record is for province {body.to_province!r}, this hub serves {context.own_province}",
        )
    try:
        directory = context.directory(entry.province, entry.hub_public_key)
    except (NoPeerDirectory, PeerDirectoryExpired) as error:
        raise refuse(
            Refusal.RETRY_LATER, f"no valid station directory of province {entry.province}: {error}"
        ) from error
    received_at = body.received_at.ToDatetime(tzinfo=UTC)
    if received_at > now + context.limits.clock_skew:
        raise refuse(
            Refusal.REJECTED,
            f"receive time {received_at.isoformat()} is in the future (now {now.isoformat()})",
        )
    try:
        envelope = pb.SignedRecord.FromString(body.station_envelope)
    except DecodeError as error:
        raise refuse(Refusal.REJECTED, f"station envelope does not parse: {error}") from error
    try:
        verified = verify_envelope(envelope, directory.keys, context.limits, received_at)
    except RecordRejected as rejection:
        raise refuse(
            Refusal.REJECTED,
            f"station signature check against province {entry.province}'s directory "
            f"(sequence {directory.sequence}): {rejection.kind.value}: {rejection.reason}",
        ) from rejection
    record = verified.record
    if not context.knows_vehicle(record.vehicle.vin):
        raise refuse(
            Refusal.UNKNOWN_VEHICLE,
            f"VIN {record.vehicle.vin} (plate {record.vehicle.plate}) is not in province "
            f"{context.own_province}'s vehicle register",
        )
    verdict = context.judge(record)
    station_overall = record.station_verdict.overall.value if record.station_verdict is not None else None
    hub_overall = verdict.overall.value if verdict is not None else None
    return ForeignRecordRow(
        from_province=entry.province,
        station_id=record.station_id,
        record_id=verified.record_id,
        key_id=verified.key.key_id,
        station_envelope=bytes(body.station_envelope),
        forward_body=bytes(document.body),
        hub_key_id=document.key_id,
        hub_signature=bytes(document.signature),
        body_sha256=hashlib.sha256(document.body).hexdigest(),
        vin=record.vehicle.vin,
        plate=record.vehicle.plate,
        finished_at=record.finished_at,
        received_at=received_at,
        arrived_at=now,
        directory_sequence=directory.sequence,
        station_overall=station_overall,
        inspecting_hub_overall=body.hub_overall or None,
        hub_overall=hub_overall,
        verdict_mismatch=station_overall is not None
        and hub_overall is not None
        and station_overall != hub_overall,
    )


def recheck_forwarded(
    row: ForeignRecordRow,
    trust: TrustList | None,
    directory: PeerStationDirectory | None,
    limits: EnvelopeLimits,
) -> str | None:
    """Check a stored forwarded record again; None if it verifies, else what is wrong.

    Uses the directory held now, even if expired: a revocation it lists counts from its
    ``revoked_at``, so a record received before the revocation still verifies."""
    if trust is None:
        return "no national trust list installed"
    document = federation_pb2.SignedDocument(
        body=row.forward_body, key_id=row.hub_key_id, signature=row.hub_signature
    )
    try:
        entry = trust.entry(row.from_province)
        verify_document(document, entry.hub_public_key, f"countersignature of province {row.from_province}")
    except (UnknownProvince, ProtosError) as error:
        return str(error)
    body = federation_pb2.ForwardBody.FromString(row.forward_body)
    if bytes(body.station_envelope) != row.station_envelope:
        return "stored station envelope differs from the countersigned one"
    if directory is None:
        return f"no station directory of province {row.from_province} held"
    try:
        verified = verify_envelope(
            pb.SignedRecord.FromString(row.station_envelope), directory.keys, limits, row.received_at
        )
    except RecordRejected as rejection:
        return f"{rejection.kind.value}: {rejection.reason}"
    if verified.record.vehicle.vin != row.vin or verified.record_id != row.record_id:
        return "stored columns differ from the signed record"
    return None

"""Everything the hub checks about a ``SignedRecord`` before it may be stored, and nothing else.

Pure: the caller hands in the station directory's keys, the receive time and (with mTLS) the
client certificate's common name; no database, no gRPC. Checks run cheapest and most telling
first, so a record tampered with is reported as a bad signature rather than as whatever the
tampering broke inside the payload:

    envelope parses -> record size -> key known -> Ed25519 signature over the exact bytes ->
    payload parses (``MalformedRecord`` names the field) -> counts and physical ranges
    (``inspection.record_limits``, shared with the station) -> record station == key's station ->
    record station == certificate CN -> times not in the future -> key valid (see below) -> key
    not revoked when received -> photo count

Trusted time
------------
The station writes ``started_at`` and ``finished_at``; only the hub's receive time is the hub's
own. A record is accepted only if all of these hold (``received`` = the hub's clock when the
record arrived, ``skew`` = ``EnvelopeLimits.clock_skew``, ``grace`` = ``key_expiry_grace``):

1. ``started_at <= received + skew`` and ``finished_at <= received + skew``: a station clock may
   run a little ahead, a record from the future is refused (``TIME_IN_FUTURE``, naming both times);
2. ``valid_from <= finished_at <= valid_until``: the key covered the time the record claims to
   have been signed (a key is never good for records from before it existed);
3. ``received <= valid_until + grace``: the key was still valid when the record arrived, or
   expired at most ``grace`` before. This is the allowance for a record signed while its key was
   valid that waited in an outbox (a station offline over a weekend) and arrives after expiry.
   Without rule 3 a station holding an expired key - or a key enrolled already expired - could
   back-date records into the key's window for ever; with it, back-dating gains at most
   ``grace`` after expiry;
4. ``revoked_at`` is unset or later than ``received``: revocation has no grace (a revoked key is
   presumed stolen); records stored before the revocation stay stored and verifiable.

Enrolling a key that is already expired, or whose public key another station holds, is allowed
(an operator may be re-registering history) but warned about (``HubStore.enrol_station_key``).

Every failure raises ``RecordRejected`` with a ``RejectionKind`` (a small, fixed set, used as a
metrics label) and a reason naming what was wrong, which goes back to the station in the Ack.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf.message import DecodeError

from hub.errors import HubError
from inspection import InspectionRecord
from inspection.record_limits import RecordOutOfLimits, check_record
from protos.envelope import signature_valid
from protos.record_mapping import MalformedRecord, record_from_bytes
from protos.tongjian.v1 import inspection_pb2 as pb


class RejectionKind(StrEnum):
    NOT_AN_ENVELOPE = "not_an_envelope"
    TOO_LARGE = "too_large"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"
    OUT_OF_RANGE = "out_of_range"  # a count or value beyond inspection.record_limits
    STATION_MISMATCH = "station_mismatch"
    CERTIFICATE_MISMATCH = "certificate_mismatch"
    KEY_NOT_VALID = "key_not_valid"
    TIME_IN_FUTURE = "time_in_future"  # started_at / finished_at past the hub's clock + skew
    KEY_REVOKED = "key_revoked"
    TOO_MANY_PHOTOS = "too_many_photos"
    ID_REUSED = "id_reused"  # decided at commit time by the store, not here


class RecordRejected(HubError):
    """The station sent something the hub will not store; ``reason`` goes back in the Ack."""

    def __init__(self, kind: RejectionKind, reason: str, record_id: str = "", key_id: str = "") -> None:
        super().__init__(f"{kind.value}: {reason}")
        self.kind = kind
        self.reason = reason
        self.record_id = record_id
        self.key_id = key_id


@dataclass(frozen=True, slots=True)
class KnownKey:
    """A station key as the station directory holds it."""

    key_id: str
    station_id: str
    public_key: Ed25519PublicKey
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EnvelopeLimits:
    max_record_bytes: int = 1024 * 1024
    max_photos_per_record: int = 32
    clock_skew: timedelta = timedelta(minutes=5)  # how far a station's clock may run ahead
    key_expiry_grace: timedelta = timedelta(days=7)  # see "Trusted time" above, rule 3


@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    """A record that passed every check: the exact signed bytes and what they mean."""

    payload: bytes
    payload_sha256: str
    signature: bytes
    key: KnownKey
    record: InspectionRecord

    @property
    def record_id(self) -> str:
        return str(self.record.record_id)


def open_envelope(raw: bytes) -> pb.SignedRecord:
    try:
        return pb.SignedRecord.FromString(raw)
    except DecodeError as error:
        raise RecordRejected(
            RejectionKind.NOT_AN_ENVELOPE, f"not a SignedRecord protobuf ({error})"
        ) from error


def verify_envelope(
    envelope: pb.SignedRecord,
    keys: Mapping[str, KnownKey],
    limits: EnvelopeLimits,
    received_at: datetime,
    certificate_station: str | None = None,
) -> VerifiedRecord:
    """Raises ``RecordRejected`` for the first check that fails."""
    payload = envelope.record
    key_id = envelope.key_id

    def reject(kind: RejectionKind, reason: str, record_id: str | None = None) -> RecordRejected:
        return RecordRejected(
            kind, reason, _peek_record_id(payload) if record_id is None else record_id, key_id
        )

    if len(payload) > limits.max_record_bytes:
        raise reject(
            RejectionKind.TOO_LARGE,
            f"record is {len(payload)} bytes, the hub accepts at most {limits.max_record_bytes}",
        )
    key = keys.get(key_id)
    if key is None:
        raise reject(RejectionKind.UNKNOWN_KEY, f"unknown key id {key_id!r}: not registered at this hub")
    if not signature_valid(envelope, key.public_key):
        raise reject(RejectionKind.BAD_SIGNATURE, f"signature does not verify with key {key_id!r}")
    try:
        record = record_from_bytes(payload)
    except MalformedRecord as error:
        raise reject(RejectionKind.MALFORMED, f"malformed record: {error.path}: {error.reason}") from error
    record_id = str(record.record_id)
    try:
        check_record(record)  # the table the station checked before signing
    except RecordOutOfLimits as error:
        raise reject(RejectionKind.OUT_OF_RANGE, f"out of range: {error}", record_id) from error
    if record.station_id != key.station_id:
        raise reject(
            RejectionKind.STATION_MISMATCH,
            f"record claims station {record.station_id!r} but key {key_id!r} belongs to {key.station_id!r}",
            record_id,
        )
    if certificate_station is not None and record.station_id != certificate_station:
        raise reject(
            RejectionKind.CERTIFICATE_MISMATCH,
            f"record claims station {record.station_id!r} but the client certificate is for "
            f"{certificate_station!r}",
            record_id,
        )
    latest = received_at + limits.clock_skew
    for name, claimed in (("started_at", record.started_at), ("finished_at", record.finished_at)):
        if claimed > latest:
            raise reject(
                RejectionKind.TIME_IN_FUTURE,
                f"record {name} {claimed.isoformat()} is in the future: the hub received it at "
                f"{received_at.isoformat()} (clock skew allowed {_duration(limits.clock_skew)})",
                record_id,
            )
    signed_at = record.finished_at
    if key.valid_from is not None and signed_at < key.valid_from:
        raise reject(
            RejectionKind.KEY_NOT_VALID,
            f"key {key_id!r} is valid from {key.valid_from.isoformat()}, "
            f"record finished {signed_at.isoformat()}",
            record_id,
        )
    if key.valid_until is not None and signed_at > key.valid_until:
        raise reject(
            RejectionKind.KEY_NOT_VALID,
            f"key {key_id!r} expired {key.valid_until.isoformat()}, record finished {signed_at.isoformat()}",
            record_id,
        )
    if key.valid_until is not None and received_at > key.valid_until + limits.key_expiry_grace:
        raise reject(
            RejectionKind.KEY_NOT_VALID,
            f"key {key_id!r} expired {key.valid_until.isoformat()}, the hub received the record at "
            f"{received_at.isoformat()}, past the grace of {_duration(limits.key_expiry_grace)} "
            "for records that waited in an outbox",
            record_id,
        )
    if key.revoked_at is not None and key.revoked_at <= received_at:
        raise reject(
            RejectionKind.KEY_REVOKED, f"key {key_id!r} was revoked {key.revoked_at.isoformat()}", record_id
        )
    if len(record.photos) > limits.max_photos_per_record:
        raise reject(
            RejectionKind.TOO_MANY_PHOTOS,
            f"record has {len(record.photos)} photos, the hub accepts at most {limits.max_photos_per_record}",
            record_id,
        )
    return VerifiedRecord(
        payload=payload,
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        signature=envelope.signature,
        key=key,
        record=record,
    )


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _peek_record_id(payload: bytes) -> str:
    """The record id a rejected payload names, if it names one, so the station can match the Ack."""
    message = pb.InspectionRecord()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        return ""
    return message.record_id

"""A vehicle's whole file as a BagIt bag (RFC 8493), signed by the source hub, and its offline check.

What the bag holds (paths relative to the bag)::

    bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt   (RFC 8493)
    tongjian-hub-signature.txt            the source hub's signature over tagmanifest-sha256.txt
    data/vehicle.json                     the register row: vehicle facts, owner reference, engine
                                          number and colour (null if not recorded), status
    data/station-directory.signeddocument this hub's signed station directory (every key it enrolled)
    data/trust-list.signeddocument        the national trust list the hub held (if any)
    data/peer-directories/<P>.signeddocument  province P's directory, for records P forwarded here
    data/records.jsonl                    one line per record: its file, ids, receive time, audit refs
    data/records/local/<n>.signedrecord   a record inspected here: the station's SignedRecord, rebuilt
                                          byte for byte from the stored payload, key id and signature
    data/records/forwarded/<n>.signeddocument  a record forwarded from another province: the
                                          inspecting hub's countersigned ForwardBody, as stored
    data/labels.jsonl                     the e-labels recorded for the vehicle (signed tokens; the
                                          check verifies each against its issuer's key: the source
                                          hub's, or another province's from the trust list)

Chain of trust, checked by ``check_bag`` without any database: the national key (or the source
hub's public key, given directly) -> the trust list -> the source hub's key -> its signature over
the tag manifest -> the hashes of bag-info.txt and the payload manifest -> every payload file's
hash -> inside them, the station directory (signed by the hub key) -> every station signature,
judged at the hub's trusted receive time; forwarded records: the inspecting province's key from
the trust list -> its countersignature -> its station directory -> the station signature.

The signature file is a tag file the tag manifest cannot list (it signs the tag manifest); BagIt
tools ignore unlisted tag files, ``check_bag`` names any other one as extra. The signed bytes are
``SIGNATURE_CONTEXT`` followed by the tag manifest's bytes, so that a signature over a bag can
never be taken for one of the hub's other signatures (directories, countersignatures).

Why the bag is written here and not with ``bagit.make_bag``: make_bag moves an existing directory
into ``data/`` after ``os.chdir`` into it (process-wide: not for a hub serving other requests) and
reads every file again to hash it. The export hashes each file as it writes it, one record at a
time from a streaming query, so memory stays bounded however many records a vehicle has. The
check uses ``bagit.Bag`` (its manifests and its completeness comparison) and hashes files itself
so it can name every bad item instead of stopping at bagit's first failed stage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import bagit
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cwt import COSEMessage
from google.protobuf.message import DecodeError
from sqlalchemy import select

from elabel.claims import claims_from_cwt
from elabel.errors import LabelFault, LabelInvalid
from elabel.label_text import cose_of_text
from elabel.trust_cache import HubKey, TrustCache
from elabel.verifier import signed_claims
from hub.countersign import HubIdentity
from hub.envelope_check import EnvelopeLimits, KnownKey, RecordRejected, verify_envelope
from hub.errors import (
    DirectoryInvalid,
    HubError,
    NoPeerDirectory,
    TrustListInvalid,
    UnknownProvince,
    UnknownVehicle,
)
from hub.label_book import LabelRegistry
from hub.models import AuditEvent, ForeignRecord, Record
from hub.published_directory import read_directory, sign_directory
from hub.store import HubStore
from hub.trust_list import TrustList, hub_signer, read_trust_list
from hub.vehicle_register import vehicle_columns
from protos.envelope import key_id_of, raw_public_key
from protos.errors import ProtosError
from protos.signed_document import parse_document, verify_document
from protos.tongjian.v1 import federation_pb2
from protos.tongjian.v1 import inspection_pb2 as pb

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
SIGNATURE_FILE = "tongjian-hub-signature.txt"
SIGNATURE_CONTEXT = b"tongjian archive bag tag manifest v1\n"
VEHICLE_FILE = "data/vehicle.json"
DIRECTORY_FILE = "data/station-directory.signeddocument"
TRUST_LIST_FILE = "data/trust-list.signeddocument"
RECORDS_INDEX = "data/records.jsonl"
LABELS_FILE = "data/labels.jsonl"
MAX_SIGNATURE_FILE_BYTES = 4096
_CHUNK = 64 * 1024
_YIELD_PER = 200  # rows fetched at a time from the streaming record queries

# bag-info.txt labels of our own (RFC 8493 2.2.2 allows any; these name what the check needs).
INFO_VIN = "Tongjian-VIN"
INFO_PROVINCE = "Tongjian-Source-Province"
INFO_EXPORTED_AT = "Tongjian-Exported-At"
# Written when the bag is exported for an archive transfer: whom it is for, under which transfer.
INFO_DESTINATION = "Tongjian-Destination-Province"
INFO_TRANSFER_ID = "Tongjian-Transfer-Id"


class ArchiveBagError(HubError):
    """A bag that cannot be written, or cannot be read as a bag at all."""


class MalformedSignatureFile(ArchiveBagError):
    """``tongjian-hub-signature.txt`` does not parse; the message says which line and why."""


class ProblemKind(StrEnum):
    ALTERED = "altered"  # its hash is not the one the manifest lists
    MISSING = "missing"  # listed, not there
    EXTRA = "extra"  # there, not listed
    MALFORMED = "malformed"  # does not parse as what it should be
    BAD_HUB_SIGNATURE = "bad_hub_signature"
    BAD_DIRECTORY = "bad_directory"
    BAD_STATION_SIGNATURE = "bad_station_signature"
    BAD_COUNTERSIGNATURE = "bad_countersignature"
    BAD_LABEL = "bad_label"  # an e-label not signed by its issuer's key, or of another vehicle
    UNCHECKED = "unchecked"  # no key at hand to check it with


@dataclass(frozen=True, slots=True)
class ItemProblem:
    item: str  # a path inside the bag ("" for the bag as a whole)
    kind: ProblemKind
    detail: str

    def __str__(self) -> str:
        return f"{self.item or 'bag'}: {self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ExportSummary:
    bag_dir: Path
    local_records: int
    forwarded_records: int
    labels: int
    payload_files: int
    payload_bytes: int


# ---------------------------------------------------------------- the signature tag file


@dataclass(frozen=True, slots=True)
class BagSignature:
    signed_file: str
    key_id: str
    signature: bytes


_SIGNATURE_LABELS = ("Signed-File", "Hub-Key-Id", "Signature")


def format_signature_file(signature: BagSignature) -> bytes:
    values = (signature.signed_file, signature.key_id, base64.b64encode(signature.signature).decode("ascii"))
    return "".join(
        f"{label}: {value}\n" for label, value in zip(_SIGNATURE_LABELS, values, strict=True)
    ).encode()


def parse_signature_file(raw: bytes) -> BagSignature:
    """The three lines ``format_signature_file`` writes, in that order; ``MalformedSignatureFile``
    naming the line for anything else (no folding, no other labels: nothing here is free text)."""
    if len(raw) > MAX_SIGNATURE_FILE_BYTES:
        raise MalformedSignatureFile(
            f"{SIGNATURE_FILE}: {len(raw)} bytes, more than {MAX_SIGNATURE_FILE_BYTES}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedSignatureFile(f"{SIGNATURE_FILE}: not UTF-8 ({error})") from error
    if not text.endswith("\n"):
        raise MalformedSignatureFile(f"{SIGNATURE_FILE}: does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != len(_SIGNATURE_LABELS):
        raise MalformedSignatureFile(
            f"{SIGNATURE_FILE}: {len(lines)} lines, expected {len(_SIGNATURE_LABELS)}"
        )
    values: list[str] = []
    for number, (line, label) in enumerate(zip(lines, _SIGNATURE_LABELS, strict=True), start=1):
        prefix = f"{label}: "
        value = line[len(prefix) :]
        if not line.startswith(prefix) or not value or value != value.strip() or "\r" in value:
            raise MalformedSignatureFile(
                f"{SIGNATURE_FILE}, line {number}: expected '{label}: VALUE', got {line!r}"
            )
        values.append(value)
    signed_file, key_id, encoded = values
    if signed_file != TAG_MANIFEST:
        raise MalformedSignatureFile(f"{SIGNATURE_FILE}, line 1: signs {signed_file!r}, not {TAG_MANIFEST}")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except ValueError as error:  # binascii.Error, or b64decode's own refusal of a non-ASCII character
        raise MalformedSignatureFile(f"{SIGNATURE_FILE}, line 3: not base64 ({error})") from error
    if len(signature) != 64:
        raise MalformedSignatureFile(
            f"{SIGNATURE_FILE}, line 3: {len(signature)} bytes, an Ed25519 signature is 64"
        )
    return BagSignature(signed_file, key_id, signature)


# ---------------------------------------------------------------- export


class _BagWriter:
    """Writes payload files, hashing each as it goes, and appends its manifest line at once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = 0
        self.bytes = 0
        (root / "data").mkdir(parents=True)
        self._manifest = (root / MANIFEST).open("w", encoding="utf-8", newline="\n")

    def write(self, relative: str, content: bytes) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self._add(relative, hashlib.sha256(content).hexdigest(), len(content))

    def open_lines(self, relative: str) -> _LineFile:
        return _LineFile(self, relative)

    def _add(self, relative: str, digest: str, size: int) -> None:
        self._manifest.write(f"{digest}  {relative}\n")
        self.files += 1
        self.bytes += size

    def close(self) -> None:
        self._manifest.close()


class _LineFile:
    """A payload file written one line at a time (the records index), hashed on the way."""

    def __init__(self, writer: _BagWriter, relative: str) -> None:
        self._writer = writer
        self._relative = relative
        self._hash = hashlib.sha256()
        self._size = 0
        path = writer.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("wb")

    def add(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode()
        self._file.write(line)
        self._hash.update(line)
        self._size += len(line)

    def close(self) -> None:
        self._file.close()
        self._writer._add(self._relative, self._hash.hexdigest(), self._size)


def _json(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2, default=str) + "\n").encode()


def export_bag(
    store: HubStore,
    vin: str,
    bag_dir: Path,
    identity: HubIdentity,
    now: datetime,
    transfer: tuple[str, str] | None = None,
) -> ExportSummary:
    """Write ``vin``'s whole file as a signed bag at ``bag_dir`` (which must not exist yet).

    ``transfer``: (transfer id, destination province) of the archive transfer the bag is for,
    written into bag-info.txt under the hub's signature.

    Written into a sibling ``.partial`` directory and renamed at the end, so a bag at ``bag_dir``
    is always whole."""
    vin = vin.strip().upper()
    registered = store.vehicles.get(vin)
    if registered is None:
        raise UnknownVehicle(vin)
    if bag_dir.exists():
        raise ArchiveBagError(f"{bag_dir}: already exists; an archive is written to a new directory")
    partial = bag_dir.with_name(bag_dir.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        summary = _write(store, registered, partial, identity, now, transfer)
        os.rename(partial, bag_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportSummary(bag_dir, *summary)


def _write(
    store: HubStore,
    registered: Any,
    root: Path,
    identity: HubIdentity,
    now: datetime,
    transfer: tuple[str, str] | None,
) -> tuple[int, int, int, int, int]:
    vin = registered.vehicle.vin
    writer = _BagWriter(root)
    try:
        writer.write(
            VEHICLE_FILE,
            _json(
                {
                    **vehicle_columns(
                        registered.vehicle, registered.owner_ref, registered.engine_number, registered.colour
                    ),
                    "status": registered.status.value,
                    "updated_at": registered.updated_at.isoformat(),
                    "registration_province": identity.province,
                }
            ),
        )
        directory = sign_directory(
            store.directory, identity.province, identity.private_key, identity.signer, now
        )
        writer.write(DIRECTORY_FILE, directory.SerializeToString(deterministic=True))
        trust = store.trust_lists.current_document()
        if trust is not None:
            writer.write(TRUST_LIST_FILE, trust.SerializeToString(deterministic=True))
        local, forwarded = _write_records(store, vin, writer)
        labels = _write_labels(store, vin, writer)
    finally:
        writer.close()
    _write_tag_files(root, vin, identity, now, writer.bytes, writer.files, transfer)
    return local, forwarded, labels, writer.files, writer.bytes


def _write_records(store: HubStore, vin: str, writer: _BagWriter) -> tuple[int, int]:
    database = store.database
    index = writer.open_lines(RECORDS_INDEX)
    provinces: set[str] = set()
    local = forwarded = 0
    try:
        with database.read() as session, database.engine.connect() as audit:

            def audit_refs(station_id: str, record_id: str) -> list[dict[str, Any]]:
                query = (
                    select(AuditEvent.seq, AuditEvent.kind, AuditEvent.at, AuditEvent.hash)
                    .where(AuditEvent.record_id == record_id, AuditEvent.station_id == station_id)
                    .order_by(AuditEvent.seq)
                )
                return [
                    {"seq": seq, "kind": kind, "at": at.isoformat(), "hash": digest}
                    for seq, kind, at, digest in audit.execute(query)
                ]

            # Only the columns the bag needs (not the stored verdict, the largest), a batch at a time.
            rows = session.execute(
                select(
                    Record.station_id,
                    Record.record_id,
                    Record.key_id,
                    Record.payload,
                    Record.signature,
                    Record.received_at,
                    Record.hub_overall,
                )
                .where(Record.vin == vin)
                .order_by(Record.finished_at, Record.seq),
                execution_options={"yield_per": _YIELD_PER},
            )
            for station_id, record_id, key_id, payload, signature, received_at, hub_overall in rows:
                local += 1
                name = f"data/records/local/{local:06d}.signedrecord"
                # The station's envelope exactly as it arrived: SignedRecord is these three fields.
                envelope = pb.SignedRecord(record=bytes(payload), key_id=key_id, signature=bytes(signature))
                writer.write(name, envelope.SerializeToString(deterministic=True))
                index.add(
                    {
                        "file": name,
                        "kind": "local",
                        "station_id": station_id,
                        "record_id": record_id,
                        "key_id": key_id,
                        "received_at": received_at.isoformat(),
                        "hub_overall": hub_overall,
                        "audit": audit_refs(station_id, record_id),
                    }
                )
            foreign = session.execute(
                select(
                    ForeignRecord.from_province,
                    ForeignRecord.station_id,
                    ForeignRecord.record_id,
                    ForeignRecord.key_id,
                    ForeignRecord.forward_body,
                    ForeignRecord.hub_key_id,
                    ForeignRecord.hub_signature,
                    ForeignRecord.received_at,
                    ForeignRecord.arrived_at,
                    ForeignRecord.hub_overall,
                )
                .where(ForeignRecord.vin == vin)
                .order_by(ForeignRecord.finished_at, ForeignRecord.seq),
                execution_options={"yield_per": _YIELD_PER},
            )
            for row in foreign:
                forwarded += 1
                name = f"data/records/forwarded/{forwarded:06d}.signeddocument"
                document = federation_pb2.SignedDocument(
                    body=bytes(row.forward_body), key_id=row.hub_key_id, signature=bytes(row.hub_signature)
                )
                writer.write(name, document.SerializeToString(deterministic=True))
                provinces.add(row.from_province)
                index.add(
                    {
                        "file": name,
                        "kind": "forwarded",
                        "from_province": row.from_province,
                        "station_id": row.station_id,
                        "record_id": row.record_id,
                        "key_id": row.key_id,
                        "received_at": row.received_at.isoformat(),
                        "arrived_at": row.arrived_at.isoformat(),
                        "hub_overall": row.hub_overall,
                        "audit": audit_refs(row.station_id, row.record_id),
                    }
                )
    finally:
        index.close()
    for province in sorted(provinces):
        try:
            peer = store.peer_directories.document(province)
        except NoPeerDirectory:
            continue  # the check names the records it cannot verify
        writer.write(
            f"data/peer-directories/{province}.signeddocument", peer.SerializeToString(deterministic=True)
        )
    return local, forwarded


def _write_labels(store: HubStore, vin: str, writer: _BagWriter) -> int:
    labels = writer.open_lines(LABELS_FILE)
    count = 0
    try:
        for label in LabelRegistry(store.database).by_vin(vin):
            count += 1
            labels.add(
                {
                    "token": label.token,
                    "record_seq": label.record_seq,
                    "revoked_at": label.revoked_at.isoformat() if label.revoked_at else None,
                    "revoked_reason": label.revoked_reason,
                }
            )
    finally:
        labels.close()
    return count


def _write_tag_files(
    root: Path,
    vin: str,
    identity: HubIdentity,
    now: datetime,
    size: int,
    files: int,
    transfer: tuple[str, str] | None = None,
) -> None:
    (root / "bagit.txt").write_bytes(BAGIT_TXT)
    info = {
        "Bag-Software-Agent": "tongjian hub.archive_bag",
        "Bagging-Date": now.astimezone(UTC).date().isoformat(),
        "External-Identifier": vin,
        "Payload-Oxum": f"{size}.{files}",
        "Source-Organization": f"vehicle register of province {identity.province}",
        INFO_EXPORTED_AT: now.astimezone(UTC).isoformat(),
        INFO_PROVINCE: identity.province,
        INFO_VIN: vin,
    }
    if transfer is not None:
        info[INFO_TRANSFER_ID], info[INFO_DESTINATION] = transfer
    (root / "bag-info.txt").write_bytes("".join(f"{k}: {v}\n" for k, v in sorted(info.items())).encode())
    lines = []
    for name in ("bagit.txt", "bag-info.txt", MANIFEST):
        lines.append(f"{hashlib.sha256((root / name).read_bytes()).hexdigest()}  {name}\n")
    tag_manifest = "".join(lines).encode()
    (root / TAG_MANIFEST).write_bytes(tag_manifest)
    signature = identity.private_key.sign(SIGNATURE_CONTEXT + tag_manifest)
    (root / SIGNATURE_FILE).write_bytes(
        format_signature_file(BagSignature(TAG_MANIFEST, identity.key_id, signature))
    )


# ---------------------------------------------------------------- check


@dataclass(slots=True)
class _Check:
    root: Path
    problems: list[ItemProblem] = field(default_factory=list)
    bad_items: set[str] = field(default_factory=set)

    def add(self, item: str, kind: ProblemKind, detail: str) -> None:
        self.problems.append(ItemProblem(item, kind, detail))
        self.bad_items.add(item)

    def read(self, item: str) -> bytes | None:
        """The item's bytes if it is there and its hash matched; None (already named) otherwise."""
        if item in self.bad_items:
            return None
        path = self.root / item
        if not path.is_file():
            self.add(item, ProblemKind.MISSING, "referred to by the bag but not in it")
            return None
        return path.read_bytes()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_bag(
    bag_dir: Path,
    *,
    national_key: Ed25519PublicKey | None = None,
    hub_public_key: Ed25519PublicKey | None = None,
    now: datetime | None = None,
    limits: EnvelopeLimits | None = None,
) -> list[ItemProblem]:
    """Every problem with the bag at ``bag_dir``, each naming its item; [] if it all verifies.

    The source hub's key comes from ``hub_public_key``, or from the bag's trust list checked with
    ``national_key``. Forwarded records need the trust list (their countersigners' keys), so
    without ``national_key`` they are named ``unchecked``."""
    now = now or datetime.now(UTC)
    limits = limits or EnvelopeLimits()
    check = _Check(bag_dir)
    try:
        bag = bagit.Bag(str(bag_dir))
    except bagit.BagError as error:
        check.add("", ProblemKind.MALFORMED, f"not a BagIt bag: {error}")
        return check.problems
    except UnicodeDecodeError as error:  # bagit reads tag files as text and lets this through
        check.add("", ProblemKind.MALFORMED, f"a tag file is not UTF-8: {error}")
        return check.problems
    _check_bag_files(bag, check)
    province = str(bag.info.get(INFO_PROVINCE, ""))
    vin = str(bag.info.get(INFO_VIN, ""))
    if not province or not vin:
        check.add("bag-info.txt", ProblemKind.MALFORMED, f"no {INFO_PROVINCE} or no {INFO_VIN}")
        return check.problems
    trust = _trust_list(check, national_key, now)
    if hub_public_key is None and trust is not None:
        try:
            hub_public_key = trust.entry(province).hub_public_key
        except UnknownProvince as error:
            check.add(TRUST_LIST_FILE, ProblemKind.BAD_HUB_SIGNATURE, str(error))
    if hub_public_key is None:
        check.add(
            SIGNATURE_FILE, ProblemKind.UNCHECKED, "no key for the source hub (give the national or hub key)"
        )
        return check.problems
    _check_hub_signature(check, hub_public_key, province)
    keys = _station_keys(check, hub_public_key, province, now)
    _check_records(check, vin, province, keys, trust, limits, now)
    _check_vehicle(check, vin)
    _check_labels(check, vin, province, hub_public_key, trust)
    return check.problems


def _check_bag_files(bag: bagit.Bag, check: _Check) -> None:
    only_in_manifest, only_on_disk = bag.compare_manifests_with_fs()
    for item in sorted(only_in_manifest):
        check.add(item, ProblemKind.MISSING, "listed in the manifest, not in the bag")
    for item in sorted(only_on_disk):
        check.add(item, ProblemKind.EXTRA, "in the bag, not listed in the manifest")
    for item, hashes in sorted(bag.entries.items()):
        path = check.root / item
        expected = hashes.get("sha256")
        if item in check.bad_items:
            continue
        if not path.is_file():
            check.add(item, ProblemKind.MISSING, "listed in the tag manifest, not in the bag")
        elif expected is None:
            check.add(item, ProblemKind.UNCHECKED, "no sha256 listed for it")
        elif _sha256_of(path) != expected.lower():
            check.add(item, ProblemKind.ALTERED, f"sha256 is not the listed {expected[:16]}...")
    # Tag files bagit does not complain about: anything beside data/ that no tag manifest lists.
    listed = {item for item in bag.entries if not item.startswith("data" + os.sep)}
    for path in sorted(check.root.rglob("*")):
        relative = path.relative_to(check.root).as_posix()
        if path.is_dir() or relative.startswith("data/") or relative in listed:
            continue
        if relative not in (TAG_MANIFEST, SIGNATURE_FILE):
            check.add(relative, ProblemKind.EXTRA, "a tag file no tag manifest lists")
    for required in ("bag-info.txt", MANIFEST):
        if required not in listed and required not in check.bad_items:
            check.add(
                required, ProblemKind.MISSING, f"not listed in {TAG_MANIFEST}: not covered by the signature"
            )
    try:
        # Structure, bagit.txt, Payload-Oxum and completeness: the hashes were compared above.
        bag.validate(processes=1, completeness_only=True)
    # BagValidationError, or the base for e.g. a bad Payload-Oxum; ValueError from bagit 1.8's
    # own unpacking of a Payload-Oxum without a "." (one flipped byte of bag-info.txt).
    except (bagit.BagError, ValueError) as error:
        if not check.problems:  # anything bagit finds that the checks above did not name
            check.add("", ProblemKind.MALFORMED, f"bagit: {error}")


def _trust_list(check: _Check, national_key: Ed25519PublicKey | None, now: datetime) -> TrustList | None:
    if national_key is None:
        return None
    raw = check.read(TRUST_LIST_FILE)
    if raw is None:
        return None
    try:
        # The archive is judged as of its export: an expired list still names who held which key.
        return read_trust_list(parse_document(raw, TRUST_LIST_FILE), national_key, now, allow_expired=True)
    except (ProtosError, TrustListInvalid) as error:
        check.add(TRUST_LIST_FILE, ProblemKind.BAD_HUB_SIGNATURE, str(error))
        return None


def _check_vehicle(check: _Check, vin: str) -> None:
    raw = check.read(VEHICLE_FILE)
    if raw is None:
        return
    try:
        found = json.loads(raw).get("vin")
    except (ValueError, AttributeError) as error:
        check.add(VEHICLE_FILE, ProblemKind.MALFORMED, f"not a JSON object ({error})")
        return
    if found != vin:
        check.add(VEHICLE_FILE, ProblemKind.ALTERED, f"register data of VIN {found!r}, the bag is of {vin}")


def _check_labels(
    check: _Check, vin: str, province: str, hub_key: Ed25519PublicKey, trust: TrustList | None
) -> None:
    """Each e-label verifies against its issuer's key and its subject is this vehicle.

    The source hub's labels table also holds exemption labels other provinces issued for its cars
    (hub.exemption_exchange records them at the registration hub), so a label is checked the way a
    roadside verifier checks it: the key its header names, looked up among the source hub's key and
    every hub key of the bag's trust list, and the issuer claim must be that key's province. A
    label of another province when there is no trust list at hand is unchecked, not bad."""
    raw = check.read(LABELS_FILE)
    if raw is None:
        return
    peers = sorted(trust.provinces.items()) if trust is not None else []
    cache = TrustCache(
        (
            HubKey(province, raw_public_key(hub_key)),
            *(HubKey(entry.province, raw_public_key(entry.hub_public_key)) for _, entry in peers),
        )
    )
    for number, line in enumerate(raw.splitlines(), start=1):
        item = f"{LABELS_FILE}:{number}"
        try:
            token = json.loads(line)["token"]
            if not isinstance(token, str):
                raise TypeError(f"token is a {type(token).__name__}, not text")
            claims, _ = signed_claims(token, cache)
        except LabelInvalid as error:
            if error.fault is not LabelFault.UNKNOWN_ISSUER:
                check.add(item, ProblemKind.BAD_LABEL, str(error))
                continue
            issuer = _claimed_issuer(token)
            if trust is None and issuer != province:
                check.add(
                    item,
                    ProblemKind.UNCHECKED,
                    f"issued by province {issuer}: its key is in the national trust list (give the national key)",
                )
            else:
                check.add(
                    item,
                    ProblemKind.BAD_LABEL,
                    f"claims issuer province {issuer}, signed with key {error.detail}"
                    f" (neither the source hub {province}'s key nor a key the trust list names)",
                )
            continue
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            check.add(item, ProblemKind.BAD_LABEL, f"{type(error).__name__}: {error}")
            continue
        if claims.vin != vin:
            check.add(item, ProblemKind.BAD_LABEL, f"a label of VIN {claims.vin}, the bag is of {vin}")


def _claimed_issuer(token: str) -> str:
    """The issuer province a label claims, read without verifying it (only to name it)."""
    try:
        payload = COSEMessage.loads(cose_of_text(token)).payload
        return claims_from_cwt(cbor2.loads(payload)).issuer_province
    except (ValueError, TypeError, KeyError, IndexError, EOFError, cbor2.CBORError):
        return "(unreadable)"


def _check_hub_signature(check: _Check, hub_key: Ed25519PublicKey, province: str) -> None:
    raw = check.read(SIGNATURE_FILE)
    manifest = check.read(TAG_MANIFEST)
    if raw is None or manifest is None:
        return
    try:
        signature = parse_signature_file(raw)
    except MalformedSignatureFile as error:
        check.add(SIGNATURE_FILE, ProblemKind.MALFORMED, str(error))
        return
    expected_key_id = key_id_of(hub_signer(province), hub_key)
    if signature.key_id != expected_key_id:
        check.add(
            SIGNATURE_FILE,
            ProblemKind.BAD_HUB_SIGNATURE,
            f"key id {signature.key_id!r} is not province {province}'s hub key {expected_key_id}",
        )
        return
    try:
        hub_key.verify(signature.signature, SIGNATURE_CONTEXT + manifest)
    except InvalidSignature:
        check.add(SIGNATURE_FILE, ProblemKind.BAD_HUB_SIGNATURE, f"does not verify over {TAG_MANIFEST}")


def _station_keys(
    check: _Check, hub_key: Ed25519PublicKey, province: str, now: datetime
) -> dict[str, KnownKey] | None:
    raw = check.read(DIRECTORY_FILE)
    if raw is None:
        return None
    try:
        directory = read_directory(parse_document(raw, DIRECTORY_FILE), hub_key, province, now)
    except (ProtosError, DirectoryInvalid) as error:
        check.add(DIRECTORY_FILE, ProblemKind.BAD_DIRECTORY, str(error))
        return None
    return dict(directory.keys)


def _index_entries(check: _Check) -> Iterator[tuple[int, dict[str, Any]]]:
    if RECORDS_INDEX in check.bad_items:
        return
    path = check.root / RECORDS_INDEX
    if not path.is_file():
        check.add(RECORDS_INDEX, ProblemKind.MISSING, "the records index is not in the bag")
        return
    with path.open("rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
                    raise ValueError("not an object with a file")
                entry["received_at"] = datetime.fromisoformat(entry["received_at"])
            except (ValueError, KeyError, TypeError) as error:
                check.add(f"{RECORDS_INDEX}:{number}", ProblemKind.MALFORMED, str(error))
                continue
            yield number, entry


def _check_records(
    check: _Check,
    vin: str,
    province: str,
    keys: dict[str, KnownKey] | None,
    trust: TrustList | None,
    limits: EnvelopeLimits,
    now: datetime,
) -> None:
    peer_keys: dict[str, dict[str, KnownKey] | None] = {}
    for _, entry in _index_entries(check):
        item: str = entry["file"]
        parts = item.split("/")
        if parts[:2] != ["data", "records"] or any(part in ("", ".", "..") for part in parts):
            # A bag is checked before it is trusted: never let its index point outside it.
            check.add(item, ProblemKind.MALFORMED, "the records index names a file outside data/records/")
            continue
        raw = check.read(item)
        if raw is None:
            continue
        ids = f"station {entry.get('station_id')}, record {entry.get('record_id')}"
        if entry.get("kind") == "local":
            if keys is None:
                check.add(item, ProblemKind.UNCHECKED, f"{ids}: no verified station directory in the bag")
                continue
            envelope_bytes = raw
            received_at = entry["received_at"]
        elif entry.get("kind") == "forwarded":
            checked = _countersigned(check, item, raw, province, trust, peer_keys, now)
            if checked is None:
                continue
            envelope_bytes, received_at, forwarded_keys = checked
            if forwarded_keys is None:
                check.add(
                    item, ProblemKind.UNCHECKED, f"{ids}: no verified directory of the inspecting province"
                )
                continue
        else:
            check.add(
                item, ProblemKind.MALFORMED, f"kind {entry.get('kind')!r} is neither local nor forwarded"
            )
            continue
        station_keys = keys if entry["kind"] == "local" else forwarded_keys
        assert station_keys is not None
        try:
            verified = verify_envelope(
                pb.SignedRecord.FromString(envelope_bytes), station_keys, limits, received_at
            )
        except DecodeError as error:
            check.add(item, ProblemKind.MALFORMED, f"{ids}: not a SignedRecord ({error})")
            continue
        except RecordRejected as rejection:
            check.add(
                item, ProblemKind.BAD_STATION_SIGNATURE, f"{ids}: {rejection.kind.value}: {rejection.reason}"
            )
            continue
        if verified.record.vehicle.vin != vin or verified.record_id != entry.get("record_id"):
            check.add(
                item,
                ProblemKind.ALTERED,
                f"{ids}: the signed record is of VIN {verified.record.vehicle.vin}, record "
                f"{verified.record_id}, not what the bag says",
            )


def _countersigned(
    check: _Check,
    item: str,
    raw: bytes,
    province: str,
    trust: TrustList | None,
    peer_keys: dict[str, dict[str, KnownKey] | None],
    now: datetime,
) -> tuple[bytes, datetime, dict[str, KnownKey] | None] | None:
    """The station envelope, trusted receive time and station keys of a forwarded record whose
    countersignature verifies; None when it does not (named) or cannot be checked (named)."""
    try:
        document = parse_document(raw, item)
        body = federation_pb2.ForwardBody.FromString(document.body)
    except (ProtosError, DecodeError) as error:
        check.add(item, ProblemKind.MALFORMED, str(error))
        return None
    if trust is None:
        check.add(
            item, ProblemKind.UNCHECKED, "countersignature needs the national trust list (national key)"
        )
        return None
    try:
        entry = trust.entry(body.from_province)
        verify_document(document, entry.hub_public_key, f"countersignature of province {body.from_province}")
    except (UnknownProvince, ProtosError) as error:
        check.add(item, ProblemKind.BAD_COUNTERSIGNATURE, str(error))
        return None
    if body.to_province != province:
        check.add(
            item,
            ProblemKind.BAD_COUNTERSIGNATURE,
            f"forwarded to province {body.to_province}, not {province}",
        )
        return None
    if body.from_province not in peer_keys:
        name = f"data/peer-directories/{body.from_province}.signeddocument"
        keys: dict[str, KnownKey] | None = None
        if (check.root / name).is_file() and name not in check.bad_items:
            try:
                keys = dict(
                    read_directory(
                        parse_document((check.root / name).read_bytes(), name),
                        entry.hub_public_key,
                        body.from_province,
                        now,
                    ).keys
                )
            except (ProtosError, DirectoryInvalid) as error:
                check.add(name, ProblemKind.BAD_DIRECTORY, str(error))
        peer_keys[body.from_province] = keys
    return (
        bytes(body.station_envelope),
        body.received_at.ToDatetime(tzinfo=UTC),
        peer_keys[body.from_province],
    )

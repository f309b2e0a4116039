"""The national trust list: which province hubs exist, where they listen, and which keys they hold.

One list, signed by the national authority's key (``docs/design/federation.md``), names each
province's hub: its GB/T 2260 code, its name, the endpoint of its peer service, the common name of
its ``peer-hub`` certificate, the CA that issues that certificate, and the Ed25519 key that signs
its station directory and its countersignatures. Every hub keeps the newest valid list it has
seen and verifies everything locally against it.

``read_trust_list`` is the gate: it checks the national signature over the exact body bytes first,
then parses and checks every entry, and raises a ``TrustListInvalid`` subclass naming what is wrong
(``InvalidProvinceEntry`` carries the entry's index, province and an ``EntryProblem``).
``build_trust_list`` applies the same entry checks, so the national tool cannot sign a list that
hubs would refuse.

``TrustListStore`` keeps every installed version in ``trust_lists``; the highest version is in
force. Versions only go up: installing one not newer than the installed one is refused
(``TrustListRollback``), so a replayed old list - say, one still naming a since-removed province
or a compromised hub key - cannot displace a newer one. ``offer`` is for lists fetched from
peers: a not-newer one is simply not taken. A running hub notices a newly installed list by its
version (``installed_version``): ``hub.peer_trust_anchors`` for the peer CAs its TLS server and
role gate trust.

A province hub's key id is ``hub-<province>/<fingerprint>`` (``hub_signer``); the national key's
is ``national/<fingerprint>`` (``NATIONAL_SIGNER``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hub.audit import AuditEntry, append_audit
from hub.db import Database
from hub.errors import (
    EntryProblem,
    InvalidProvinceEntry,
    MalformedTrustList,
    TrustListExpired,
    TrustListInvalid,
    TrustListRollback,
    TrustListSignatureInvalid,
    UnknownProvince,
)
from hub.models import TrustListRow
from inspection import PROVINCES
from pki.pem_files import PkiError, is_ca, parse_certificates, read_pem
from protos.envelope import key_id_of, raw_public_key
from protos.signed_document import DocumentSignatureInvalid, verify_document
from protos.tongjian.v1 import federation_pb2

__all__ = [
    "NATIONAL_SIGNER",
    "EntryProblem",
    "InvalidProvinceEntry",
    "MalformedTrustList",
    "ProvinceHubEntry",
    "TrustList",
    "TrustListExpired",
    "TrustListInvalid",
    "TrustListRollback",
    "TrustListSignatureInvalid",
    "TrustListStore",
    "UnknownProvince",
    "build_trust_list",
    "hub_signer",
    "read_trust_list",
]

NATIONAL_SIGNER = "national"
PROVINCE_CODES = frozenset(PROVINCES.values())  # GB/T 2260 province-level codes
MAX_NAME_CHARS = 64
WHAT = "national trust list"

# HOST:PORT, HOST a DNS name or IPv4 address, or [IPv6]:PORT.
_ENDPOINT = re.compile(
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]{2,45})\]|(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?))"
    r":(?P<port>[0-9]{1,5})",
    re.ASCII,
)
_PEER_NAME = re.compile(r"[^\s/\\]{1,64}")


def hub_signer(province: str) -> str:
    """The signer name in a province hub's key ids, e.g. ``hub-50``."""
    return f"hub-{province}"


@dataclass(frozen=True, slots=True)
class ProvinceHubEntry:
    """One province's hub as the trust list names it."""

    province: str  # GB/T 2260 code, e.g. "50"
    name: str  # e.g. "Chongqing"
    endpoint: str  # HOST:PORT of its peer service
    peer_name: str  # common name of its peer-hub certificate
    peer_ca_pem: bytes  # the CA that issues its peer-hub certificates
    hub_public_key: Ed25519PublicKey  # signs its station directory and its countersignatures
    hub_key_id: str  # hub-<province>/<fingerprint>

    @classmethod
    def create(
        cls,
        province: str,
        name: str,
        endpoint: str,
        peer_name: str,
        peer_ca_pem: bytes,
        hub_public_key: Ed25519PublicKey,
    ) -> ProvinceHubEntry:
        """An entry whose key id is derived from its province and key."""
        hub_key_id = key_id_of(hub_signer(province), hub_public_key)
        return cls(province, name, endpoint, peer_name, peer_ca_pem, hub_public_key, hub_key_id)


@dataclass(frozen=True, slots=True)
class TrustList:
    """A verified national trust list, and the signed document it was read from."""

    version: int
    issued_at: datetime
    not_after: datetime
    provinces: Mapping[str, ProvinceHubEntry]
    document: federation_pb2.SignedDocument

    def entry(self, province: str) -> ProvinceHubEntry:
        try:
            return self.provinces[province]
        except KeyError:
            raise UnknownProvince(province, self.version) from None

    def province_of_peer(self, peer_name: str) -> str | None:
        """The province whose hub's peer-hub certificate has common name ``peer_name``."""
        for entry in self.provinces.values():
            if entry.peer_name == peer_name:
                return entry.province
        return None

    def expired(self, now: datetime) -> bool:
        return now > self.not_after


# ---------------------------------------------------------------- building and reading


def build_trust_list(
    version: int, provinces: Sequence[ProvinceHubEntry], issued_at: datetime, not_after: datetime
) -> bytes:
    """The serialized ``TrustList`` body, for the national authority to sign.

    Checks what ``read_trust_list`` checks, so a list that hubs would refuse is never signed."""
    _check_header(version, issued_at, not_after)
    _check_entries(provinces)
    message = federation_pb2.TrustList(version=version)
    message.issued_at.FromDatetime(issued_at.astimezone(UTC))
    message.not_after.FromDatetime(not_after.astimezone(UTC))
    for entry in sorted(provinces, key=lambda e: e.province):
        message.provinces.append(
            federation_pb2.ProvinceHub(
                province=entry.province,
                name=entry.name,
                endpoint=entry.endpoint,
                peer_name=entry.peer_name,
                peer_ca_pem=entry.peer_ca_pem,
                hub_public_key=raw_public_key(entry.hub_public_key),
            )
        )
    return message.SerializeToString(deterministic=True)


def read_trust_list(
    document: federation_pb2.SignedDocument,
    national_key: Ed25519PublicKey,
    now: datetime,
    *,
    allow_expired: bool = False,
) -> TrustList:
    """A verified, current ``TrustList``; a ``TrustListInvalid`` subclass naming what is wrong.

    ``allow_expired`` is for tools that show or edit a list (the national authority re-issuing
    an expired one); a hub deciding whom to trust never passes it."""
    try:
        body = verify_document(document, national_key, WHAT, signer=NATIONAL_SIGNER)
    except DocumentSignatureInvalid as error:
        raise TrustListSignatureInvalid(str(error)) from error
    try:
        message = federation_pb2.TrustList.FromString(body)
    except DecodeError as error:
        raise MalformedTrustList(f"{WHAT}: the signed body is not a TrustList ({error})") from error
    for field in ("issued_at", "not_after"):
        if not message.HasField(field):
            raise MalformedTrustList(f"{WHAT} version {message.version}: no {field}")
    issued_at = _datetime(message.issued_at, "issued_at")
    not_after = _datetime(message.not_after, "not_after")
    _check_header(message.version, issued_at, not_after)
    if now > not_after and not allow_expired:
        raise TrustListExpired(message.version, not_after, now)
    entries = [_entry_from_proto(index, hub) for index, hub in enumerate(message.provinces)]
    _check_entries(entries)
    return TrustList(
        version=message.version,
        issued_at=issued_at,
        not_after=not_after,
        provinces=MappingProxyType({entry.province: entry for entry in entries}),
        document=document,
    )


def _datetime(timestamp: timestamp_pb2.Timestamp, field: str) -> datetime:
    try:
        return timestamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise MalformedTrustList(f"{WHAT}: {field} is not a time ({error})") from error


def _check_header(version: int, issued_at: datetime, not_after: datetime) -> None:
    if version < 1:
        raise MalformedTrustList(f"{WHAT}: version {version}, versions start at 1")
    for field, value in (("issued_at", issued_at), ("not_after", not_after)):
        if value.tzinfo is None:
            raise MalformedTrustList(
                f"{WHAT} version {version}: {field} {value.isoformat()} has no time zone"
            )
    if not_after <= issued_at:
        raise MalformedTrustList(
            f"{WHAT} version {version}: not_after {not_after.isoformat()} is not after "
            f"issued_at {issued_at.isoformat()}"
        )


def _entry_from_proto(index: int, hub: federation_pb2.ProvinceHub) -> ProvinceHubEntry:
    raw = hub.hub_public_key
    if len(raw) != 32:
        raise InvalidProvinceEntry(
            index,
            hub.province,
            EntryProblem.BAD_HUB_KEY,
            f"hub_public_key is {len(raw)} bytes, a raw Ed25519 public key is 32",
        )
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as error:
        raise InvalidProvinceEntry(
            index, hub.province, EntryProblem.BAD_HUB_KEY, f"hub_public_key is not an Ed25519 key ({error})"
        ) from error
    return ProvinceHubEntry.create(
        hub.province, hub.name, hub.endpoint, hub.peer_name, hub.peer_ca_pem, public_key
    )


def _check_entries(entries: Sequence[ProvinceHubEntry]) -> None:
    provinces: set[str] = set()
    peer_names: dict[str, str] = {}
    for index, entry in enumerate(entries):
        _check_entry(index, entry)
        if entry.province in provinces:
            raise InvalidProvinceEntry(
                index, entry.province, EntryProblem.DUPLICATE_PROVINCE, "the province is listed twice"
            )
        if entry.peer_name in peer_names:
            raise InvalidProvinceEntry(
                index,
                entry.province,
                EntryProblem.DUPLICATE_PEER_NAME,
                f"peer name {entry.peer_name!r} is already province {peer_names[entry.peer_name]}'s: "
                "a certificate must speak for one province",
            )
        provinces.add(entry.province)
        peer_names[entry.peer_name] = entry.province


def _check_entry(index: int, entry: ProvinceHubEntry) -> None:
    def problem(kind: EntryProblem, reason: str) -> InvalidProvinceEntry:
        return InvalidProvinceEntry(index, entry.province, kind, reason)

    if entry.province not in PROVINCE_CODES:
        raise problem(
            EntryProblem.BAD_PROVINCE_CODE,
            "not a GB/T 2260 province-level code (e.g. 50 Chongqing, 51 Sichuan)",
        )
    if not entry.name.strip() or len(entry.name) > MAX_NAME_CHARS or not entry.name.isprintable():
        raise problem(
            EntryProblem.MISSING_NAME, f"name {entry.name!r} must be 1..{MAX_NAME_CHARS} printable characters"
        )
    endpoint = _ENDPOINT.fullmatch(entry.endpoint)
    if endpoint is None or not 1 <= int(endpoint["port"]) <= 65535:
        raise problem(
            EntryProblem.BAD_ENDPOINT, f"endpoint {entry.endpoint!r} is not HOST:PORT (port 1..65535)"
        )
    if _PEER_NAME.fullmatch(entry.peer_name) is None:
        raise problem(
            EntryProblem.MISSING_PEER_NAME,
            f"peer name {entry.peer_name!r} must be 1..64 characters, no spaces or slashes",
        )
    expected_key_id = key_id_of(hub_signer(entry.province), entry.hub_public_key)
    if entry.hub_key_id != expected_key_id:
        raise problem(
            EntryProblem.BAD_HUB_KEY,
            f"hub key id {entry.hub_key_id!r} does not name the hub key ({expected_key_id})",
        )
    try:
        certificates = parse_certificates(read_pem(entry.peer_ca_pem, "peer_ca_pem"))
    except PkiError as error:
        raise problem(EntryProblem.BAD_CA_PEM, str(error)) from error
    if not any(is_ca(certificate) for certificate in certificates):
        raise problem(
            EntryProblem.BAD_CA_PEM, "peer_ca_pem holds no CA certificate (basicConstraints CA:TRUE)"
        )


# ---------------------------------------------------------------- storage


class TrustListStore:
    """Every trust list this hub installed; the highest version is the one in force."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def installed_version(self) -> int:
        """The highest installed version; 0 when none is."""
        with self._database.read() as session:
            return int(session.scalar(select(func.max(TrustListRow.version))) or 0)

    def install(
        self, document: federation_pb2.SignedDocument, national_key: Ed25519PublicKey, now: datetime
    ) -> TrustList:
        """Verify and install; ``TrustListRollback`` unless it is newer than the installed one."""
        trust_list = read_trust_list(document, national_key, now)
        try:
            self._insert(trust_list, now)
        except IntegrityError as error:
            # Another replica installed this very version between our read and our insert.
            raise TrustListRollback(trust_list.version, trust_list.version) from error
        return trust_list

    def _insert(self, trust_list: TrustList, now: datetime) -> None:
        document = trust_list.document
        with self._database.write() as session:
            installed = int(session.scalar(select(func.max(TrustListRow.version))) or 0)
            if trust_list.version <= installed:
                raise TrustListRollback(trust_list.version, installed)
            session.add(
                TrustListRow(
                    version=trust_list.version,
                    body=document.body,
                    key_id=document.key_id,
                    signature=document.signature,
                    not_after=trust_list.not_after,
                    installed_at=now,
                )
            )
            session.flush()
            provinces = " ".join(sorted(trust_list.provinces)) or "-"
            append_audit(
                session.connection(),
                [
                    AuditEntry(
                        "trust_list_installed",
                        f"version {trust_list.version}, not after {trust_list.not_after.isoformat()}, "
                        f"provinces {provinces}",
                        key_id=document.key_id,
                        at=now,
                    )
                ],
            )

    def offer(
        self, document: federation_pb2.SignedDocument, national_key: Ed25519PublicKey, now: datetime
    ) -> bool:
        """Install a list fetched from a peer if it is newer; False if it is not. An invalid list
        raises its ``TrustListInvalid`` whatever its version: a peer sending one is worth a log line."""
        trust_list = read_trust_list(document, national_key, now)
        if trust_list.version <= self.installed_version():
            return False
        try:
            self.install(document, national_key, now)
        except TrustListRollback:  # another replica installed it (or a newer one) just now
            return False
        return True

    def current_document(self) -> federation_pb2.SignedDocument | None:
        """The newest installed list as signed, unchecked (to hand to a peer that asks)."""
        with self._database.read() as session:
            row = session.scalars(select(TrustListRow).order_by(TrustListRow.version.desc()).limit(1)).first()
            if row is None:
                return None
            return federation_pb2.SignedDocument(body=row.body, key_id=row.key_id, signature=row.signature)

    def current(self, national_key: Ed25519PublicKey, now: datetime) -> TrustList | None:
        """The list in force, re-verified; None if none was installed.

        Raises ``TrustListExpired`` when the newest list is past its not_after: the hub does not
        fall back to an older version (it may name a since-removed province or a replaced key),
        it waits to be given or to fetch a newer one. Raises ``TrustListSignatureInvalid`` if the
        stored row no longer verifies."""
        document = self.current_document()
        if document is None:
            return None
        return read_trust_list(document, national_key, now)

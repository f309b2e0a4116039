"""Seal finished inspection records with the station's Ed25519 key.

The signer is the last step on the station that knows the record as a domain object: after
``seal`` the record travels only as the canonical bytes of ``protos.record_mapping.record_to_bytes``
inside a ``SignedRecord``, which the outbox stores and the uplink sends unchanged, so the bytes the
hub verifies and stores are exactly the bytes signed here.
"""

from __future__ import annotations

import logging
import stat
import warnings
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.utils import CryptographyDeprecationWarning

from inspection import InspectionRecord
from protos.envelope import InvalidKey, key_id_of, seal
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import inspection_pb2 as pb
from station_agent.errors import StationAgentError

log = logging.getLogger(__name__)

# Key types by what an operator would call them, for "this is an RSA key" rather than a class name.
_KEY_KINDS: tuple[tuple[type, str], ...] = (
    (rsa.RSAPrivateKey, "an RSA"),
    (ec.EllipticCurvePrivateKey, "an EC (a TLS key?)"),
)
# By class name: cryptography 51 deprecates DSA, and naming its class printed a warning on the
# stderr of every agent command (whose errors are one line).
_KEY_KINDS_BY_NAME = {"DSAPrivateKey": "a DSA"}


class SigningKeyError(StationAgentError, InvalidKey):
    """A file that is not the station's record-signing key, and what it is instead."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"signing key {path}: {reason}")
        self.path = path
        self.reason = reason


def read_signing_key(path: Path) -> Ed25519PrivateKey:
    """The unencrypted Ed25519 PKCS#8 PEM private key ``tongjian keys new`` wrote, or
    ``SigningKeyError`` saying what the file is instead (a certificate, a public key, an RSA key...)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningKeyError(path, f"cannot read: {error.strerror or error}") from error
    if b"-----BEGIN CERTIFICATE-----" in data:
        raise SigningKeyError(
            path, "is a certificate, not a private key (give the .key.pem of `tongjian keys new`)"
        )
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise SigningKeyError(path, "is a public key; the agent signs with the private key (.key.pem)")
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data:
        raise SigningKeyError(
            path, "is encrypted; the agent needs the unencrypted key `tongjian keys new` writes"
        )
    try:
        with warnings.catch_warnings():
            # A DSA key is refused below in one line; the library's deprecation notice is noise then.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(path, "is not a PEM private key") from error
    if not isinstance(key, Ed25519PrivateKey):
        name = type(key).__name__
        kind = next(
            (kind for cls, kind in _KEY_KINDS if isinstance(key, cls)),
            _KEY_KINDS_BY_NAME.get(name, f"a {name}"),
        )
        raise SigningKeyError(
            path, f"is {kind} private key; record-signing keys are Ed25519 (tongjian keys new)"
        )
    return key


def warn_if_readable_by_others(path: Path, what: str) -> bool:
    """Log a warning if group or others may read the private key at ``path``; True if they may."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return False
    if mode & 0o077:
        log.warning("%s %s is readable by other users (mode %04o): chmod 600 %s", what, path, mode, path)
        return True
    return False


class ForeignRecord(StationAgentError, ValueError):
    """A record claims another station: this station's key must never vouch for it."""

    def __init__(self, record_station_id: str, signer_station_id: str) -> None:
        super().__init__(
            f"record belongs to station {record_station_id!r}, this signer signs for {signer_station_id!r}"
        )
        self.record_station_id = record_station_id
        self.signer_station_id = signer_station_id


class RecordSigner:
    """Turns an ``InspectionRecord`` of one station into a ``SignedRecord`` envelope."""

    def __init__(self, station_id: str, private_key: Ed25519PrivateKey) -> None:
        if not station_id:
            raise ValueError("station_id must not be empty")
        self._station_id = station_id
        self._private_key = private_key
        self._key_id = key_id_of(station_id, private_key.public_key())

    @classmethod
    def from_pem_file(cls, station_id: str, path: str | Path) -> RecordSigner:
        """Load the PKCS#8 PEM private key ``tongjian keys new`` wrote.

        Raises ``SigningKeyError`` naming the file and what is wrong with it; warns if other users
        may read it.
        """
        key = read_signing_key(Path(path))
        warn_if_readable_by_others(Path(path), "signing key")
        return cls(station_id, key)

    @property
    def station_id(self) -> str:
        return self._station_id

    @property
    def key_id(self) -> str:
        return self._key_id

    def seal(self, record: InspectionRecord) -> pb.SignedRecord:
        if record.station_id != self._station_id:
            raise ForeignRecord(record.station_id, self._station_id)
        return seal(record_to_bytes(record), self._key_id, self._private_key)

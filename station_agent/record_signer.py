"""Seal finished inspection records with the station's Ed25519 key.

The signer is the last step on the station that knows the record as a domain object: after
``seal`` the record travels only as the canonical bytes of ``protos.record_mapping.record_to_bytes``
inside a ``SignedRecord``, which the outbox stores and the uplink sends unchanged, so the bytes the
hub verifies and stores are exactly the bytes signed here.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from inspection import InspectionRecord
from protos.envelope import key_id_of, load_private_key, seal
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import inspection_pb2 as pb


class ForeignRecord(ValueError):
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

        Raises ``OSError`` if the file cannot be read and ``protos.envelope.InvalidKey`` if it is not
        an unencrypted Ed25519 private key.
        """
        return cls(station_id, load_private_key(Path(path).read_bytes()))

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

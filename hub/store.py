"""``HubStore``: the hub's storage as one object, composed of one part per concern.

==========================  ========================================================================
``hub.db``                  engine and dialect, transactions, Alembic migrations and the schema check
``hub.directory``           stations and their keys: register, enrol, revoke, list
``hub.records``             the record row, the batch commit that decides duplicates, reads and checks
``hub.audit``               the hash-chained audit log: append in the caller's transaction, read, verify
``hub.audit_tree``          the audit log as an RFC 9162 Merkle tree: signed checkpoints, proofs
``hub.witness``             the newest audit checkpoint of each peer province this hub witnessed
``hub.vehicle_register``    the province's vehicle register: import, look up, status changes
``hub.forward_outbox``      countersigned records waiting for their registration province's hub
``hub.foreign_records``     records of this province's vehicles that other provinces forwarded here
``hub.trust_list``          the national trust list in force (``store.trust_lists``)
``hub.published_directory`` peers' signed station directories (``store.peer_directories``)
==========================  ========================================================================

Callers that need one concern may use its part (``store.directory``, ``store.records``,
``store.audit``, ``store.audit_tree``, ``store.vehicles``); the methods here only delegate, and keep the CLI and the services short.
Errors are in ``hub.errors`` (root ``HubError``; the store's own under ``HubStoreError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.audit import AuditCheck, AuditEntry, AuditLog, AuditRow, audit_hash
from hub.audit_tree import AuditTree
from hub.db import Database
from hub.directory import KeyEnrolment, KeyInfo, StationDirectory, StationInfo
from hub.envelope_check import KnownKey
from hub.errors import (
    HubStoreError,
    InvalidDatabaseUrl,
    InvalidStationKey,
    SchemaNotCurrent,
    UnknownKeyId,
    UnknownStation,
)
from hub.foreign_records import ForeignRecordStore
from hub.forward_outbox import ForwardOutbox, ForwardRow
from hub.published_directory import PeerDirectoryCache
from hub.record_integrity import StoredCheck
from hub.records import CommitOutcome, PreparedRow, RecordRow, RecordStore
from hub.trust_list import TrustListStore
from hub.vehicle_register import VehicleRegister
from hub.witness import PeerCheckpointStore

__all__ = [
    "AuditCheck",
    "AuditEntry",
    "AuditRow",
    "CommitOutcome",
    "HubStore",
    "HubStoreError",
    "InvalidDatabaseUrl",
    "InvalidStationKey",
    "KeyEnrolment",
    "KeyInfo",
    "RecordRow",
    "SchemaNotCurrent",
    "StationInfo",
    "UnknownKeyId",
    "UnknownStation",
    "audit_hash",
]


class HubStore:
    def __init__(self, url: str) -> None:
        self.database = Database(url)
        self.directory = StationDirectory(self.database)
        self.audit = AuditLog(self.database)
        self.audit_tree = AuditTree(self.database)
        self.peer_checkpoints = PeerCheckpointStore(self.database)
        self.records = RecordStore(self.database, self.directory, self.audit)
        self.outbox = ForwardOutbox(self.database)
        self.foreign_records = ForeignRecordStore(self.database)
        self.vehicles = VehicleRegister(self.database)
        self.trust_lists = TrustListStore(self.database)
        self.peer_directories = PeerDirectoryCache(self.database)

    # ------------------------------------------------------------ database

    @property
    def dialect(self) -> str:
        return self.database.dialect

    def dispose(self) -> None:
        self.database.dispose()

    def schema_revision(self) -> str | None:
        return self.database.schema_revision()

    @staticmethod
    def head_revision() -> str:
        return Database.head_revision()

    def check_schema(self) -> None:
        self.database.check_schema()

    def migrate(self) -> None:
        self.database.migrate()

    # ------------------------------------------------------------ station directory

    @property
    def directory_version(self) -> int:
        return self.directory.version

    def register_station(self, station_id: str, province: str | None = None) -> None:
        self.directory.register_station(station_id, province)

    def add_station_key(
        self,
        station_id: str,
        pem_or_raw: bytes,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> str:
        """Enrol a station's public key; returns its key id (warnings are logged)."""
        return self.directory.enrol_station_key(station_id, pem_or_raw, valid_from, valid_until).key_id

    def enrol_station_key(
        self,
        station_id: str,
        pem_or_raw: bytes,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> KeyEnrolment:
        return self.directory.enrol_station_key(station_id, pem_or_raw, valid_from, valid_until)

    def revoke_key(self, key_id: str, at: datetime | None = None) -> None:
        self.directory.revoke_key(key_id, at)

    def known_keys(self) -> dict[str, KnownKey]:
        return self.directory.known_keys()

    def stations(self) -> list[StationInfo]:
        return self.directory.stations()

    def keys(self, station_id: str | None = None) -> list[KeyInfo]:
        return self.directory.keys(station_id)

    def station_province(self, station_id: str) -> str | None:
        return self.directory.station_province(station_id)

    # ------------------------------------------------------------ records

    def commit_batch(
        self,
        records: Sequence[RecordRow | PreparedRow],
        audits: Sequence[AuditEntry] = (),
        forwards: Sequence[ForwardRow] = (),
    ) -> list[CommitOutcome]:
        return self.records.commit_batch(records, audits, forwards)

    def count_records(self, station_id: str | None = None) -> int:
        return self.records.count(station_id)

    def get_record(self, record_id: str, station_id: str | None = None) -> RecordRow | None:
        return self.records.get(record_id, station_id)

    def list_records(self, limit: int = 50, station_id: str | None = None) -> list[RecordRow]:
        return self.records.newest(limit, station_id)

    def committed_digests(self, records: Sequence[RecordRow]) -> dict[tuple[str, str], str]:
        return self.records.committed_digests(records)

    def check_records(self, records: Sequence[RecordRow]) -> list[StoredCheck]:
        return self.records.check(records)

    # ------------------------------------------------------------ audit log

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        self.audit.append(entries)

    def audit_events(
        self,
        limit: int = 100,
        kind: str | None = None,
        station_id: str | None = None,
        record_id: str | None = None,
    ) -> list[AuditRow]:
        return self.audit.events(limit, kind, station_id, record_id)

    def verify_audit_chain(self) -> AuditCheck:
        return self.audit.verify()

    def audit_head_hash(self) -> tuple[int, str]:
        return self.audit.head_hash()

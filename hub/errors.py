"""Every error the hub raises on purpose, under one root.

::

    HubError
    ├── HubStoreError          the store was asked for something it cannot do
    │   ├── InvalidDatabaseUrl a URL that does not parse or names an unusable database or driver
    │   ├── SchemaNotCurrent   the database is not at this hub's schema revision
    │   ├── UnknownStation     a key for a station nobody registered
    │   ├── UnknownKeyId       revoking a key id the directory does not hold
    │   └── InvalidStationKey  key material that is not an Ed25519 public key
    ├── CommitFailed           a batch could not be stored (the stream ends UNAVAILABLE; resend)
    └── HubShuttingDown        work handed to the writer after it was told to stop (UNAVAILABLE)

Edges: the ingest service maps ``CommitFailed`` and ``HubShuttingDown`` to gRPC UNAVAILABLE;
the CLI (``tongjian hub``, ``tongjian report``) prints any ``HubError`` as one line.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of the hub's errors; the message says what went wrong and where."""


class HubStoreError(HubError):
    """The store was asked for something it cannot do; the message says what."""


class InvalidDatabaseUrl(HubStoreError):
    """A database URL that cannot be parsed, or names a database or driver the hub cannot use."""


class SchemaNotCurrent(HubStoreError):
    """The database is not at this hub's schema revision (not migrated, or migrated by a newer hub)."""


class UnknownStation(HubStoreError):
    def __init__(self, station_id: str) -> None:
        super().__init__(f"station {station_id!r} is not registered (register it first)")
        self.station_id = station_id


class UnknownKeyId(HubStoreError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"no station key with id {key_id!r}")
        self.key_id = key_id


class InvalidStationKey(HubStoreError):
    """Key material that is not an Ed25519 public key."""


class CommitFailed(HubError):
    """A batch could not be stored, for whatever reason; its records' streams end UNAVAILABLE."""


class HubShuttingDown(HubError):
    """Work handed to the committer after it was told to stop."""

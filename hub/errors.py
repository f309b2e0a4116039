"""Every error the hub raises on purpose, under one root.

::

    HubError
    ├── HubConfigError             a setting out of range or malformed; names the setting
    ├── HubStoreError              the store was asked for something it cannot do
    │   ├── InvalidDatabaseUrl     a URL that does not parse or names an unusable database or driver
    │   ├── SchemaNotCurrent       the database is not at this hub's schema revision
    │   ├── UnknownStation         a key for a station nobody registered
    │   ├── UnknownKeyId           revoking a key id the directory does not hold
    │   ├── InvalidStationKey      key material that is not an Ed25519 public key
    │   ├── UnknownVehicle         a VIN the province's vehicle register does not hold
    │   └── VehicleStatusConflict  a register status change from a status the vehicle is not in
    ├── RecordRejected             a record the hub will not store (hub.envelope_check; Ack REJECTED)
    ├── MalformedStoredVerdict     a stored hub verdict that neither JSON form reads (hub.verdict)
    ├── IllegalReviewTransition    an event a review item's state or the sender's role does not allow
    │                              (hub.review_states)
    ├── ReviewError                a review request that cannot be done (hub.review_queue)
    │   ├── ReviewItemNotFound     no such item in the reviewer's province
    │   ├── NotClaimant            deciding or releasing an item someone else (or nobody) holds
    │   ├── ClaimExpired           the claim's lease ran out before the decision
    │   └── InvalidDecisionReason  an empty or over-long reason
    ├── CommitFailed               a batch could not be stored (the stream ends UNAVAILABLE; resend)
    └── HubShuttingDown            work handed to the writer after it was told to stop (UNAVAILABLE)

``RecordRejected``, ``MalformedStoredVerdict`` and the review errors live beside the code that raises them; the rest
live here. Database driver errors (``sqlalchemy.exc.SQLAlchemyError``) are not wrapped.

Edges: the ingest service answers ``RecordRejected`` with Ack REJECTED and maps ``CommitFailed``,
``HubShuttingDown`` and database errors to gRPC UNAVAILABLE; the CLI (``tongjian hub``,
``tongjian report``) prints any ``HubError`` as one line, exit status 2.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of the hub's errors; the message says what went wrong and where."""


class HubConfigError(HubError):
    """A hub setting out of range or malformed; the message names the setting."""


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


class UnknownVehicle(HubStoreError):
    def __init__(self, vin: str) -> None:
        super().__init__(f"vehicle {vin!r} is not in this province's register")
        self.vin = vin


class VehicleStatusConflict(HubStoreError):
    """Compare-and-set on a vehicle's register status found another status than the caller expected."""

    def __init__(self, vin: str, expected: str, actual: str, new: str) -> None:
        super().__init__(f"vehicle {vin}: status is {actual}, not {expected}: not changed to {new}")
        self.vin = vin
        self.expected = expected
        self.actual = actual
        self.new = new


class CommitFailed(HubError):
    """A batch could not be stored, for whatever reason; its records' streams end UNAVAILABLE."""


class HubShuttingDown(HubError):
    """Work handed to the committer after it was told to stop."""

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
    │   ├── VehicleStatusConflict  a register status change from a status the vehicle is not in
    │   └── UnknownLabel           a label serial this hub never issued (hub.label_book)
    ├── ExemptionExchangeError     a peer's exemption message this hub will not act on (hub.exemption_exchange)
    ├── RecordRejected             a record the hub will not store (hub.envelope_check; Ack REJECTED)
    ├── MalformedStoredVerdict     a stored hub verdict that neither JSON form reads (hub.verdict)
    ├── IllegalReviewTransition    an event a review item's state or the sender's role does not allow
    │                              (hub.review_states)
    ├── ReviewError                a review request that cannot be done (hub.review_queue)
    │   ├── ReviewItemNotFound     no such item in the reviewer's province
    │   ├── NotClaimant            deciding or releasing an item someone else (or nobody) holds
    │   ├── ClaimExpired           the claim's lease ran out before the decision
    │   └── InvalidDecisionReason  an empty or over-long reason
    ├── MerkleProofError           an RFC 9162 proof that does not verify (hub.merkle)
    ├── CheckpointInvalid          an audit checkpoint that does not parse or verify (hub.audit_checkpoint)
    ├── AuditTreeError             a proof or checkpoint the audit log cannot give (hub.audit_tree)
    │   └── AuditTreeInconsistent  the rows no longer make a signed checkpoint's tree: no new signature
    ├── CommitFailed               a batch could not be stored (the stream ends UNAVAILABLE; resend)
    ├── CheckWorkerLost            a check worker process ended holding a batch (UNAVAILABLE; resend)
    ├── HubShuttingDown            work handed to the writer after it was told to stop (UNAVAILABLE)
    │
    │   federation: the national trust list (hub.trust_list)
    ├── TrustListInvalid           a trust list the hub will not use; the message says why
    │   ├── TrustListSignatureInvalid  not signed by the national key (or its key id names another)
    │   ├── TrustListExpired           past its not_after: not_after, now
    │   ├── MalformedTrustList         the body is not a TrustList, or its version or times are wrong
    │   └── InvalidProvinceEntry       one province entry is wrong: index, province, problem
    │                                  (EntryProblem: code, name, endpoint, peer name, key, CA PEM,
    │                                  duplicate province or peer name)
    ├── TrustListRollback          installing a version not newer than the one installed
    ├── UnknownProvince            a province the trust list does not name
    │
    │   federation: station directories (hub.published_directory)
    ├── DirectoryInvalid           a signed station directory the hub will not use
    │   ├── DirectorySignatureInvalid  not signed by the province hub's key
    │   ├── DirectoryWrongProvince     signed for another province than the one asked for
    │   ├── MalformedDirectory         the body is not a StationDirectory, or a field is wrong
    │   └── DirectoryKeyMismatch       a key whose key id names another key or another station
    ├── NoPeerDirectory            no directory cached for a province
    ├── PeerDirectoryExpired       the cached directory is past its valid_until (carries it)
    │
    │   federation: forwarding (hub.forwarded_record, hub.forwarder)
    ├── ForwardRefused             a forwarded record not stored: refusal (unknown vehicle, wrong
    │                              province, rejected, retry later) and reason; answered in its Ack
    ├── PeerProtocolError          a peer answered out of protocol (an Ack for another record)
    │
    │   archive transfer (hub.transfer_states, hub.archive_bag)
    ├── TransferStateError         an event the transfer state machine will not take: state, event
    │   ├── IllegalTransition      no such event in that state (the message lists the allowed ones)
    │   ├── RoleNotAllowed         that role may not cause that event in that state
    │   └── ReasonRequired         a refusal or expiry without a reason
    ├── ArchiveBagError            a bag that cannot be written, or read at all (item problems are
    │   │                          not errors: ``check_bag`` returns them as ``ItemProblem``)
    │   └── MalformedSignatureFile the bag's hub signature tag file does not parse: line and why
    │
    ├── TransferError              a transfer operation this hub will not do (hub.transfer_book)
    │   ├── UnknownTransfer        no transfer of that id here
    │   ├── WrongEnd               this hub is the other end of the transfer
    │   ├── TransferAlreadyOpen    a second transfer of a vehicle that has one under way
    │   ├── VehicleNotTransferable not active at the source, or already registered at the destination
    │   └── LeaseLost              another hub replica has taken over fetching the bag
    ├── ArchiveStreamError         a bag's file list or bytes as offered are not acceptable (hub.archive_stream)
    │   ├── BadBagChunk            a Fetch message that is not a well-formed BagChunk
    │   ├── BadBagPath             a path in the bag's file list that is not a bag path
    │   └── ChunkOutOfPlace        a chunk that is not where the destination expects the next bytes
    ├── BadObservation             an identity observation that cannot be recorded (hub.identity_check)
    ├── NoPlatePrefix              no plate prefix for a province (hub.new_plate)
    ├── SourceRefused              the source hub said no to an offer (hub.transfer_driver)
    ├── SourceUnreachable          the source hub could not be asked now; asked again later
    ├── TransferCallError          a clerk's ArchiveTransfer call the hub refused or did not answer
    │                              (hub.archive_transfer_client; its gRPC code and message)
    ├── DeskRefused                a clerk's transfer request refused: invalid, not found or not now
    │                              (DeskRefusal; hub.transfer_desk, for gRPC and the console alike)
    │
    │   the staff console (hub.console)
    ├── StaffDirectoryError        a person id, name or role that cannot be used (staff_directory)
    ├── NotSignedIn                no live console session: the page redirects to sign-in (web)
    ├── Forbidden                  the role does not hold the page's permission: 403, audited (web)
    └── CsrfRefused                a form without its session's CSRF token: 403, nothing done (csrf)

``RecordRejected``, ``MalformedStoredVerdict``, ``ForwardRefused``, ``PeerProtocolError``,
``ExemptionExchangeError``, the audit tree's errors and the review errors (``hub.review_states``,
``hub.review_queue``) live beside the code that raises them; the rest live here
(``hub.trust_list`` and ``hub.published_directory`` re-export theirs). Database driver errors
(``sqlalchemy.exc.SQLAlchemyError``) are not wrapped.

Edges: the ingest service answers ``RecordRejected`` with Ack REJECTED and maps ``CommitFailed``,
``HubShuttingDown`` and database errors to gRPC UNAVAILABLE; the console answers ``web_serving``'s
``SignInDelayed`` with a 429 page, and the hub turns its ``HttpServerError`` (the console's address
cannot be bound) into ``HubConfigError``; the CLI (``tongjian hub``,
``tongjian report``) prints any ``HubError`` as one line, exit status 2.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


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


class CheckWorkerLost(HubError):
    """A check worker process (``hub.check_pool``) ended while it held a batch: those records were
    not checked, and their streams end UNAVAILABLE."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        super().__init__(f"a record check worker ended (exit code {exitcode}) while checking a batch")


class HubShuttingDown(HubError):
    """Work handed to the committer after it was told to stop."""


class UnknownLabel(HubStoreError):
    """A label serial this hub never issued."""


# ---------------------------------------------------------------- federation: the national trust list


class TrustListInvalid(HubError):
    """A national trust list the hub will not use; subclasses say why."""


class TrustListSignatureInvalid(TrustListInvalid):
    """Not signed by the national key the hub trusts (or its key id names another key)."""


class TrustListExpired(TrustListInvalid):
    def __init__(self, version: int, not_after: datetime, now: datetime) -> None:
        super().__init__(
            f"trust list version {version} expired at {not_after.isoformat()} (now {now.isoformat()})"
        )
        self.version = version
        self.not_after = not_after
        self.now = now


class MalformedTrustList(TrustListInvalid):
    """The body is not a TrustList, or its version or times are missing or out of order."""


class EntryProblem(StrEnum):
    """What is wrong with one province entry of a trust list."""

    BAD_PROVINCE_CODE = "bad_province_code"  # not a GB/T 2260 province-level code
    MISSING_NAME = "missing_name"
    BAD_ENDPOINT = "bad_endpoint"  # not HOST:PORT
    MISSING_PEER_NAME = "missing_peer_name"
    BAD_HUB_KEY = "bad_hub_key"  # not 32 raw bytes of Ed25519, or a key id naming another key
    BAD_CA_PEM = "bad_ca_pem"  # no CA certificate in peer_ca_pem
    DUPLICATE_PROVINCE = "duplicate_province"
    DUPLICATE_PEER_NAME = "duplicate_peer_name"


class InvalidProvinceEntry(TrustListInvalid):
    def __init__(self, index: int, province: str, problem: EntryProblem, reason: str) -> None:
        super().__init__(f"trust list entry {index} (province {province!r}): {problem.value}: {reason}")
        self.index = index
        self.province = province
        self.problem = problem
        self.reason = reason


class TrustListRollback(HubError):
    def __init__(self, offered: int, installed: int) -> None:
        super().__init__(
            f"trust list version {offered} is not newer than the installed version {installed}: refused"
        )
        self.offered = offered
        self.installed = installed


class UnknownProvince(HubError):
    def __init__(self, province: str, version: int) -> None:
        super().__init__(f"province {province!r} is not in trust list version {version}")
        self.province = province
        self.version = version


# ---------------------------------------------------------------- federation: station directories


class DirectoryInvalid(HubError):
    """A signed station directory the hub will not use; subclasses say why."""


class DirectorySignatureInvalid(DirectoryInvalid):
    """Not signed by the province hub's key (or its key id names another key)."""


class DirectoryWrongProvince(DirectoryInvalid):
    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"station directory for province {found!r} offered as province {expected!r}")
        self.expected = expected
        self.found = found


class MalformedDirectory(DirectoryInvalid):
    """The body is not a StationDirectory, or one of its fields is missing or wrong."""


class DirectoryKeyMismatch(DirectoryInvalid):
    def __init__(self, province: str, key_id: str, reason: str) -> None:
        super().__init__(f"station directory of province {province!r}, key {key_id!r}: {reason}")
        self.province = province
        self.key_id = key_id
        self.reason = reason


class NoPeerDirectory(HubError):
    def __init__(self, province: str) -> None:
        super().__init__(f"no station directory of province {province!r} received yet")
        self.province = province


class PeerDirectoryExpired(HubError):
    def __init__(self, province: str, sequence: int, valid_until: datetime, now: datetime) -> None:
        super().__init__(
            f"station directory of province {province!r} (sequence {sequence}) expired at "
            f"{valid_until.isoformat()} (now {now.isoformat()}): wait for a fresh one"
        )
        self.province = province
        self.sequence = sequence
        self.valid_until = valid_until
        self.now = now

"""Archive transfers in the database: each one's row at this hub, moved only by
``hub.transfer_states.next_state``, with the vehicle's register status and an audit entry in the
same transaction.

Each hub keeps its own row of a transfer (the same ``transfer_id`` at both ends):

- **destination** (the clerk asked here): ``open_request`` (REQUESTED), ``record_offer`` (the
  source started sending: SENDING), ``confirm`` (progress, no state change), ``import_bag``
  (RECEIVED), ``record_identity`` (IDENTITY_CHECKED when everything matches), ``accept``
  (ACCEPTED: the vehicle enters this register under a new plate), ``refuse``; then
  ``mark_source_told`` once the source knows how it ended.
- **source** (the vehicle is registered here): ``open_outgoing`` (REQUESTED), ``start_sending``
  (SENDING: the vehicle goes ``active`` -> ``transferring``, compare-and-set, so a second transfer
  of a vehicle already transferring is refused), ``conclude_outgoing`` (the destination's end,
  replayed event by event: ACCEPTED releases the vehicle, ``transferred_out``, and retires its
  plate; REFUSED or EXPIRED gives it back, ``active``).
- both: ``expire_due`` ends every open transfer past its deadline, with the reason.

At the source the vehicle's status always follows ``SOURCE_VEHICLE_STATUS`` of the row's state:
every transition that changes it moves the vehicle from the status of the state before to the
one of the state after, compare-and-set, in the transition's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.archive_stream import BagFile, Position
from hub.audit import AuditEntry, append_audit
from hub.db import Database
from hub.errors import HubError, UnknownVehicle, VehicleStatusConflict
from hub.identity_check import IdentityResult, Observation
from hub.models import ArchiveTransfer
from hub.models import Vehicle as VehicleRow
from hub.new_plate import candidate_plates
from hub.transfer_states import (
    FINAL_STATES,
    SOURCE_VEHICLE_STATUS,
    TransferEvent,
    TransferRole,
    TransferState,
    Transition,
    next_state,
)
from hub.vehicle_register import VehicleRegister, VehicleStatus
from inspection import Fuel
from inspection.register_identity import parse_colour, parse_engine_number

DEFAULT_TTL = timedelta(days=30)
# The source waits this much longer than the destination before it expires a transfer itself:
# normally the destination's expiry (or end) reaches it first.
SOURCE_GRACE = timedelta(days=1)
_OPEN_STATES = tuple(state.value for state in TransferState if state not in FINAL_STATES)


class End(StrEnum):
    """Which end of a transfer this hub is."""

    SOURCE = "source"
    DESTINATION = "destination"


class Conclusion(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"


class TransferError(HubError):
    """A transfer operation this hub will not do; the message says which transfer and why."""


class UnknownTransfer(TransferError):
    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"no archive transfer {transfer_id!r} at this hub")
        self.transfer_id = transfer_id


class WrongEnd(TransferError):
    def __init__(self, transfer_id: str, end: End, wanted: End) -> None:
        super().__init__(f"transfer {transfer_id}: this hub is its {end.value}, not its {wanted.value}")


class TransferAlreadyOpen(TransferError):
    """A second transfer of a vehicle that has one under way."""

    def __init__(self, vin: str, other: str, state: str) -> None:
        super().__init__(f"vehicle {vin} is already being transferred (transfer {other}, {state})")
        self.vin = vin
        self.other = other


LEASE_OWNER_MAX = 64  # archive_transfers.lease_owner
_RUN_SEPARATOR = "#"


def lease_owner(replica: str, run: str) -> str:
    """The lease owner of one run (process) of ``replica``; ``HubError`` if it would not fit."""
    owner = f"{replica}{_RUN_SEPARATOR}{run}"
    if len(owner) > LEASE_OWNER_MAX or not replica:
        raise HubError(f"replica id {replica!r}: 1..{LEASE_OWNER_MAX - len(run) - 1} characters")
    return owner


def replica_of(owner: str) -> str:
    """The replica of a lease owner (a lease written before runs were recorded is its own replica)."""
    return owner.rpartition(_RUN_SEPARATOR)[0] or owner


class LeaseLost(TransferError):
    """Another hub replica has taken over fetching the bag."""


class VehicleNotTransferable(TransferError):
    """The source register does not hold the vehicle as ``active``, or the destination already does."""


@dataclass(frozen=True, slots=True)
class TransferView:
    transfer_id: str
    end: End
    vin: str
    from_province: str
    to_province: str
    state: TransferState
    reason: str | None
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    expires_at: datetime
    old_plate: str | None
    new_plate: str | None
    files: tuple[BagFile, ...]
    total_bytes: int
    confirmed: Position
    confirmed_bytes: int
    problems: tuple[str, ...]
    identity: dict[str, Any] | None
    archive_vehicle: dict[str, Any] | None
    bag_path: str | None
    source_told_at: datetime | None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _view(row: ArchiveTransfer) -> TransferView:
    return TransferView(
        row.transfer_id,
        End(row.role),
        row.vin,
        row.from_province,
        row.to_province,
        TransferState(row.state),
        row.reason,
        row.requested_by,
        row.requested_at,
        row.updated_at,
        row.expires_at,
        row.old_plate,
        row.new_plate,
        tuple(BagFile(str(path), int(size)) for path, size in (row.files or [])),
        row.total_bytes,
        Position(row.confirmed_file, row.confirmed_offset),
        row.confirmed_bytes,
        tuple(row.problems or ()),
        row.identity,
        row.archive_vehicle,
        row.bag_path,
        row.source_told_at,
    )


class TransferBook:
    def __init__(
        self,
        database: Database,
        vehicles: VehicleRegister,
        province: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self._database = database
        self._vehicles = vehicles
        self.province = province
        self._clock = clock
        self.ttl = ttl

    # ------------------------------------------------------------ reads

    def get(self, transfer_id: str) -> TransferView:
        with self._database.read() as session:
            row = session.get(ArchiveTransfer, transfer_id)
            if row is None:
                raise UnknownTransfer(transfer_id)
            return _view(row)

    def find(self, transfer_id: str) -> TransferView | None:
        try:
            return self.get(transfer_id)
        except UnknownTransfer:
            return None

    def transfers(
        self, end: End | None = None, states: Sequence[TransferState] | None = None
    ) -> list[TransferView]:
        query = select(ArchiveTransfer).order_by(ArchiveTransfer.requested_at)
        if end is not None:
            query = query.where(ArchiveTransfer.role == end.value)
        if states is not None:
            query = query.where(ArchiveTransfer.state.in_([state.value for state in states]))
        with self._database.read() as session:
            return [_view(row) for row in session.scalars(query)]

    def unreported(self) -> list[TransferView]:
        """Destination transfers that ended and whose source has not confirmed it knows."""
        query = select(ArchiveTransfer).where(
            ArchiveTransfer.role == End.DESTINATION.value,
            ArchiveTransfer.state.not_in(_OPEN_STATES),
            ArchiveTransfer.source_told_at.is_(None),
        )
        with self._database.read() as session:
            return [_view(row) for row in session.scalars(query)]

    # ------------------------------------------------------------ the one way a state changes

    def _locked(self, session: Session, transfer_id: str, end: End) -> ArchiveTransfer:
        row = session.scalars(
            select(ArchiveTransfer).where(ArchiveTransfer.transfer_id == transfer_id).with_for_update()
        ).one_or_none()
        if row is None:
            raise UnknownTransfer(transfer_id)
        if row.role != end.value:
            raise WrongEnd(transfer_id, End(row.role), end)
        return row

    def _apply(
        self,
        session: Session,
        row: ArchiveTransfer,
        event: TransferEvent,
        role: TransferRole,
        reason: str | None = None,
        detail: str = "",
    ) -> Transition:
        transition = next_state(TransferState(row.state), event, role, reason)
        if row.role == End.SOURCE.value:
            before, after = SOURCE_VEHICLE_STATUS[transition.before], transition.source_vehicle_status
            if before is not after:
                self._vehicles.set_status_in(session.connection(), row.vin, after, before)
        row.state = transition.after.value
        if transition.reason is not None:
            row.reason = transition.reason
        row.updated_at = self._clock()
        _audit(
            session,
            f"transfer_{event.value}",
            f"transfer {row.transfer_id} ({row.role}) of {row.vin} {row.from_province}->{row.to_province}: "
            f"{transition.before.value} -> {transition.after.value} by {role.value}"
            + (f"; reason: {transition.reason}" if transition.reason else "")
            + (f"; {detail}" if detail else ""),
        )
        return transition

    def _open_transfer_of(self, session: Session, vin: str) -> ArchiveTransfer | None:
        return session.scalars(
            select(ArchiveTransfer).where(ArchiveTransfer.vin == vin, ArchiveTransfer.state.in_(_OPEN_STATES))
        ).first()

    # ------------------------------------------------------------ destination

    def open_request(self, vin: str, from_province: str, requested_by: str) -> TransferView:
        """A new transfer of ``vin`` from ``from_province`` to here, REQUESTED."""
        now = self._clock()
        with self._database.write() as session:
            other = self._open_transfer_of(session, vin)
            if other is not None:
                raise TransferAlreadyOpen(vin, other.transfer_id, other.state)
            here = session.get(VehicleRow, vin)
            if here is not None and here.status != VehicleStatus.TRANSFERRED_OUT.value:
                raise VehicleNotTransferable(
                    f"vehicle {vin} is already in this province's register ({here.status}, plate {here.plate})"
                )
            row = ArchiveTransfer(
                transfer_id=str(uuid.uuid4()),
                role=End.DESTINATION.value,
                vin=vin,
                from_province=from_province,
                to_province=self.province,
                state=TransferState.REQUESTED.value,
                requested_by=requested_by,
                requested_at=now,
                updated_at=now,
                expires_at=now + self.ttl,
                total_bytes=0,
                confirmed_file=0,
                confirmed_offset=0,
                confirmed_bytes=0,
            )
            session.add(row)
            session.flush()
            _audit(
                session,
                "transfer_requested",
                f"transfer {row.transfer_id} of {vin} from province {from_province} requested by "
                f"{requested_by}; expires {row.expires_at.isoformat()}",
            )
            return _view(row)

    def record_offer(
        self, transfer_id: str, files: Sequence[BagFile], total_bytes: int, plate: str
    ) -> TransferView:
        """The source marked the vehicle transferring and offers the bag: SENDING."""
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            if row.state == TransferState.SENDING.value and row.files is not None:
                return _view(row)  # an offer answered again
            row.files = [[file.path, file.size] for file in files]
            row.total_bytes = total_bytes
            row.old_plate = plate
            self._apply(
                session,
                row,
                TransferEvent.START_SENDING,
                TransferRole.SOURCE_HUB,
                detail=f"{len(files)} files, {total_bytes} bytes",
            )
            return _view(row)

    def claim_fetch(self, transfer_id: str, owner: str, lease: timedelta) -> bool:
        """Whether ``owner`` (one run of a hub replica, ``lease_owner``) may fetch the bag now: the
        lease is free, lapsed, its own, or an earlier run's of the same replica (that process was
        restarted: it fetches nothing any more, and its successor resumes from the confirmed
        position at once); taken (or renewed) until ``lease`` from now. Replicas sharing the
        database then never write one staging directory at once; an earlier run still alive (two
        processes given one replica id) loses the lease at its next confirmation (``LeaseLost``)."""
        now = self._clock()
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            if row.state != TransferState.SENDING.value:
                return False
            held = (
                row.lease_owner is not None
                and replica_of(row.lease_owner) != replica_of(owner)
                and row.lease_until is not None
                and row.lease_until > now
            )
            if held:
                return False
            row.lease_owner, row.lease_until = owner, now + lease
            return True

    def release_fetch(self, transfer_id: str, owner: str) -> None:
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            if row.lease_owner == owner:
                row.lease_owner, row.lease_until = None, None

    def confirm(
        self,
        transfer_id: str,
        position: Position,
        confirmed_bytes: int,
        owner: str | None = None,
        lease: timedelta | None = None,
    ) -> None:
        """The destination holds the bag durably up to ``position``; with ``owner``, only while
        its fetch lease holds (``LeaseLost`` otherwise), renewed by ``lease``."""
        now = self._clock()
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            if owner is not None:
                if row.lease_owner != owner:
                    raise LeaseLost(
                        f"transfer {transfer_id}: replica {row.lease_owner} fetches it now, not {owner}"
                    )
                if lease is not None:
                    row.lease_until = now + lease
            row.confirmed_file, row.confirmed_offset = position.file_index, position.offset
            row.confirmed_bytes = confirmed_bytes
            row.updated_at = now

    def import_bag(
        self, transfer_id: str, bag_path: str, vehicle: dict[str, Any], items: int
    ) -> TransferView:
        """The whole bag is here and verified: RECEIVED, with its register data, in one transaction."""
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            if row.state == TransferState.RECEIVED.value and row.bag_path == bag_path:
                return _view(row)
            row.bag_path = bag_path
            row.archive_vehicle = vehicle
            row.problems = []
            row.confirmed_bytes = row.total_bytes
            row.confirmed_file, row.confirmed_offset = len(row.files or []), 0
            self._apply(
                session,
                row,
                TransferEvent.ARCHIVE_VERIFIED,
                TransferRole.DESTINATION_HUB,
                detail=f"{items} items verified, imported at {bag_path}",
            )
            return _view(row)

    def record_identity(
        self,
        transfer_id: str,
        clerk: str,
        seen: Observation,
        result: IdentityResult,
        photos: Sequence[dict[str, Any]],
    ) -> TransferView:
        """What the clerk saw, kept with the mismatches; IDENTITY_CHECKED only if nothing mismatched."""
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            if row.state != TransferState.RECEIVED.value:
                # Only next_state decides; this names the state the clerk meets.
                next_state(
                    TransferState(row.state), TransferEvent.IDENTITY_MATCHED, TransferRole.REGISTRY_CLERK
                )
            row.identity = {
                "clerk": clerk,
                "at": self._clock().isoformat(),
                "observed": {"vin": seen.vin, "engine_number": seen.engine_number, "colour": seen.colour},
                "mismatches": [
                    {"field": m.field, "observed": m.observed, "archived": m.archived, "detail": m.detail}
                    for m in result.mismatches
                ],
                "unverified": list(result.unverified),
                "photos": list(photos),
            }
            summary = "; ".join(str(m) for m in result.mismatches) or "everything matches"
            if result.unverified:
                summary += f"; not in the archive: {', '.join(result.unverified)}"
            if result.matches:
                self._apply(
                    session, row, TransferEvent.IDENTITY_MATCHED, TransferRole.REGISTRY_CLERK, detail=summary
                )
            else:
                row.updated_at = self._clock()
                _audit(
                    session,
                    "transfer_identity_mismatch",
                    f"transfer {transfer_id} of {row.vin}: clerk {clerk}: {summary}",
                )
            return _view(row)

    def accept(self, transfer_id: str, clerk: str) -> TransferView:
        """ACCEPTED; the vehicle enters this province's register, active, under a new plate."""
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            next_state(TransferState(row.state), TransferEvent.ACCEPT, TransferRole.REGISTRY_CLERK)
            vehicle = row.archive_vehicle or {}
            plate = self._free_plate(session, row.transfer_id, Fuel(vehicle.get("fuel", "petrol")))
            self._register(session, row, vehicle, plate)
            row.new_plate = plate
            self._apply(
                session,
                row,
                TransferEvent.ACCEPT,
                TransferRole.REGISTRY_CLERK,
                detail=f"accepted by {clerk}; registered as {plate}, plate {row.old_plate} retired",
            )
            return _view(row)

    def _free_plate(self, session: Session, seed: str, fuel: Fuel) -> str:
        for plate in candidate_plates(self.province, seed, fuel):
            taken = session.scalars(select(VehicleRow.vin).where(VehicleRow.plate == plate).limit(1)).first()
            if taken is None:
                return plate
        raise TransferError(
            f"transfer {seed}: no free plate among the candidates of province {self.province}"
        )

    def _register(self, session: Session, row: ArchiveTransfer, vehicle: dict[str, Any], plate: str) -> None:
        now = self._clock()
        try:
            columns = {
                "plate": plate,
                "owner_ref": str(vehicle["owner_ref"]),
                "vehicle_class": str(vehicle["vehicle_class"]),
                "use": str(vehicle["use"]),
                "fuel": str(vehicle["fuel"]),
                "seats": int(vehicle["seats"]),
                "registration_date": date.fromisoformat(str(vehicle["registration_date"])),
                "facts": dict(vehicle.get("facts") or {}),
                # The source register's identity fields, read as the register reads them.
                "engine_number": _optional(vehicle.get("engine_number"), parse_engine_number),
                "colour": _optional(vehicle.get("colour"), lambda text: parse_colour(text).value),
                "status": VehicleStatus.ACTIVE.value,
                "updated_at": now,
            }
        except (KeyError, ValueError, TypeError) as error:  # ValueError: also InvalidRegisterField
            raise TransferError(
                f"transfer {row.transfer_id}: the archive's register data does not make a register row: {error!r}"
            ) from error
        existing = session.get(VehicleRow, row.vin)
        if existing is None:
            session.add(VehicleRow(vin=row.vin, **columns))
        elif existing.status == VehicleStatus.TRANSFERRED_OUT.value:
            for name, value in columns.items():  # it comes back to a province it once left
                setattr(existing, name, value)
        else:
            raise VehicleNotTransferable(
                f"vehicle {row.vin} is already in this province's register ({existing.status}, plate {existing.plate})"
            )
        session.flush()

    def refuse(
        self, transfer_id: str, role: TransferRole, reason: str, problems: Sequence[str] = ()
    ) -> TransferView:
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            if problems:
                row.problems = list(problems)
            self._apply(session, row, TransferEvent.REFUSE, role, reason)
            return _view(row)

    def mark_source_told(self, transfer_id: str) -> None:
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.DESTINATION)
            row.source_told_at = self._clock()

    # ------------------------------------------------------------ source

    def open_outgoing(
        self, transfer_id: str, vin: str, to_province: str, requested_by: str
    ) -> tuple[TransferView, bool]:
        """This hub's row of a transfer another province asked for (REQUESTED), and whether it is
        new; an offer asked again finds the row it made before."""
        now = self._clock()
        with self._database.write() as session:
            existing = session.get(ArchiveTransfer, transfer_id)
            if existing is not None:
                if (
                    existing.role != End.SOURCE.value
                    or existing.vin != vin
                    or existing.to_province != to_province
                ):
                    raise TransferError(f"transfer id {transfer_id} is taken by another transfer here")
                return _view(existing), False
            registered = session.get(VehicleRow, vin)
            if registered is None:
                raise UnknownVehicle(vin)
            row = ArchiveTransfer(
                transfer_id=transfer_id,
                role=End.SOURCE.value,
                vin=vin,
                from_province=self.province,
                to_province=to_province,
                state=TransferState.REQUESTED.value,
                requested_by=requested_by,
                requested_at=now,
                updated_at=now,
                expires_at=now + self.ttl + SOURCE_GRACE,
                old_plate=registered.plate,
                total_bytes=0,
                confirmed_file=0,
                confirmed_offset=0,
                confirmed_bytes=0,
            )
            session.add(row)
            session.flush()
            _audit(
                session,
                "transfer_requested",
                f"transfer {transfer_id} of {vin} (plate {registered.plate}) to province {to_province} "
                f"requested by {requested_by}",
            )
            return _view(row), True

    def start_sending(
        self, transfer_id: str, bag_path: str, files: Sequence[BagFile], total_bytes: int
    ) -> TransferView:
        """SENDING: the vehicle goes ``transferring`` (compare-and-set) with it, or the transfer is
        refused naming the vehicle's status (``VehicleNotTransferable`` raised after the refusal)."""
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.SOURCE)
            row.bag_path = bag_path
            row.files = [[file.path, file.size] for file in files]
            row.total_bytes = total_bytes
            try:
                # The compare-and-set runs first in _apply: a conflict leaves the row untouched.
                self._apply(session, row, TransferEvent.START_SENDING, TransferRole.SOURCE_HUB)
            except VehicleStatusConflict as conflict:
                reason = f"vehicle {row.vin} is {conflict.actual}, not active: it cannot be transferred now"
                self._apply(session, row, TransferEvent.REFUSE, TransferRole.SOURCE_HUB, reason)
                refused = _view(row)
            else:
                return _view(row)
        raise VehicleNotTransferable(f"transfer {refused.transfer_id}: {refused.reason}")

    def refuse_outgoing(self, transfer_id: str, reason: str) -> TransferView:
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.SOURCE)
            self._apply(session, row, TransferEvent.REFUSE, TransferRole.SOURCE_HUB, reason)
            return _view(row)

    def conclude_outgoing(
        self, transfer_id: str, conclusion: Conclusion, reason: str, new_plate: str
    ) -> TransferView:
        """The destination's end of the transfer, replayed here event by event (idempotent)."""
        with self._database.write() as session:
            row = self._locked(session, transfer_id, End.SOURCE)
            if row.state == conclusion.value:
                return _view(row)  # told again
            events: list[tuple[TransferEvent, TransferRole, str | None]]
            if conclusion is Conclusion.ACCEPTED:
                events = [
                    (TransferEvent.ARCHIVE_VERIFIED, TransferRole.DESTINATION_HUB, None),
                    (TransferEvent.IDENTITY_MATCHED, TransferRole.REGISTRY_CLERK, None),
                    (TransferEvent.ACCEPT, TransferRole.REGISTRY_CLERK, None),
                ]
            elif conclusion is Conclusion.REFUSED:
                events = [(TransferEvent.REFUSE, TransferRole.DESTINATION_HUB, reason)]
            else:
                events = [(TransferEvent.EXPIRE, TransferRole.DESTINATION_HUB, reason)]
            for event, role, why in events:
                self._apply(session, row, event, role, why)
            if conclusion is Conclusion.ACCEPTED:
                row.new_plate = new_plate
                _audit(
                    session,
                    "transfer_plate_retired",
                    f"transfer {transfer_id}: vehicle {row.vin} registered in province {row.to_province} "
                    f"as {new_plate}; plate {row.old_plate} retired here",
                )
            return _view(row)

    # ------------------------------------------------------------ both ends

    def expire_due(self) -> list[TransferView]:
        """End every open transfer past its deadline, EXPIRED with the reason."""
        now = self._clock()
        query = select(ArchiveTransfer.transfer_id, ArchiveTransfer.role).where(
            ArchiveTransfer.state.in_(_OPEN_STATES), ArchiveTransfer.expires_at <= now
        )
        with self._database.read() as session:
            due = list(session.execute(query))
        expired: list[TransferView] = []
        for transfer_id, end in due:
            with self._database.write() as session:
                row = self._locked(session, transfer_id, End(end))
                if row.state not in _OPEN_STATES:
                    continue
                role = TransferRole.SOURCE_HUB if end == End.SOURCE.value else TransferRole.DESTINATION_HUB
                reason = (
                    f"not completed by {row.expires_at.isoformat()} (in state {row.state}): "
                    f"the transfer expired"
                )
                self._apply(session, row, TransferEvent.EXPIRE, role, reason)
                expired.append(_view(row))
        return expired


def _audit(session: Session, kind: str, detail: str) -> None:
    append_audit(session.connection(), [AuditEntry(kind, detail)])


def _optional(value: object, parse: Callable[[str], str]) -> str | None:
    """A register identity field of the archive's vehicle.json: null (not recorded) or its text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return parse(value)

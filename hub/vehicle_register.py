"""The province's vehicle register: the vehicles registered here, imported from the register CSV.

One row per VIN in the ``vehicles`` table (``hub.models.Vehicle``): the columns a query needs
(plate, class, use, fuel, seats, registration date, status), ``facts``, every other field of
``inspection.Vehicle`` as the text ``inspection.vehicle_fields`` formats (flags as booleans), and
the register's own identity fields, engine number and body colour (``inspection.register_identity``,
NULL when the register CSV did not record them).

Import streams: rows are taken in batches (``BATCH_ROWS`` per transaction), so a file of
millions of vehicles needs neither the memory nor one endless transaction, and a bad row is
counted and named in the report instead of undoing the rows before it. A vehicle registered in
another province is skipped and counted. A VIN that appears twice in a file: the later row wins.

Import never changes a vehicle's ``status``: that is the archive transfer's (``set_status``,
compare-and-set, so two replicas or two operators cannot both move a vehicle).

Replicas: the upsert is one ``INSERT .. ON CONFLICT (vin) DO UPDATE`` per batch, so two hubs
importing the same file into one PostgreSQL at once end with the same rows as one hub would, and
neither fails on the other's inserts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Table, func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.db import Database
from hub.errors import HubStoreError, UnknownVehicle, VehicleStatusConflict
from hub.models import Vehicle as VehicleRow
from inspection import Vehicle
from inspection.register_identity import BodyColour, parse_colour
from inspection.vehicle_fields import VEHICLE_FIELDS, vehicle_from_values
from inspection.vehicle_register_csv import RegisterRow, RegisterRowError

BATCH_ROWS = 1000
BAD_LINES_KEPT = 100  # the report names this many bad rows; the count covers them all

# The vehicle fields that have a column of their own; every other field goes into ``facts``.
_COLUMN_FIELDS = ("vin", "plate", "vehicle_class", "use", "fuel", "seats", "registration_date")
_FACT_FIELDS = tuple(spec for spec in VEHICLE_FIELDS if spec.attribute not in _COLUMN_FIELDS)
_COMPARED = (
    "plate",
    "owner_ref",
    "vehicle_class",
    "use",
    "fuel",
    "seats",
    "registration_date",
    "facts",
    "engine_number",
    "colour",
)
_UPDATED = (*_COMPARED, "updated_at")  # never status: import does not move a vehicle between provinces


class VehicleStatus(StrEnum):
    ACTIVE = "active"
    TRANSFERRING = "transferring"  # an archive transfer to another province is under way
    TRANSFERRED_OUT = "transferred_out"  # registered elsewhere now; kept for the history


@dataclass(frozen=True, slots=True)
class RegisteredVehicle:
    vehicle: Vehicle
    owner_ref: str
    status: VehicleStatus
    updated_at: datetime
    engine_number: str | None = None  # None: the register does not record it
    colour: BodyColour | None = None


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str


@dataclass(slots=True)
class ImportReport:
    """What an import did, row by row counted; ``bad_rows`` names the first ``BAD_LINES_KEPT``."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    other_province: int = 0
    bad: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.other_province + self.bad

    def count_bad(self, line: int, reason: str) -> None:
        self.bad += 1
        if len(self.bad_rows) < BAD_LINES_KEPT:
            self.bad_rows.append(BadRow(line, reason))


def vehicle_columns(
    vehicle: Vehicle, owner_ref: str, engine_number: str | None = None, colour: BodyColour | None = None
) -> dict[str, Any]:
    """The register row's columns for ``vehicle`` (status and updated_at aside)."""
    facts: dict[str, Any] = {}
    for spec in _FACT_FIELDS:  # in declaration order, so equal facts serialise to equal JSON
        value = getattr(vehicle, spec.attribute)
        if spec.is_flag:
            facts[spec.attribute] = bool(value)
        elif value is not None:
            facts[spec.attribute] = spec.format(value)
    return {
        "vin": vehicle.vin,
        "plate": vehicle.plate,
        "owner_ref": owner_ref,
        "vehicle_class": vehicle.vehicle_class.value,
        "use": vehicle.use.value,
        "fuel": vehicle.fuel.value,
        "seats": vehicle.seats,
        "registration_date": vehicle.registration_date,
        "facts": facts,
        "engine_number": engine_number,
        "colour": None if colour is None else colour.value,
    }


def _registered(row: VehicleRow) -> RegisteredVehicle:
    values: dict[str, object] = {
        "vin": row.vin,
        "plate": row.plate,
        "seats": row.seats,
        "registration_date": row.registration_date,
    }
    try:
        for spec in VEHICLE_FIELDS:
            if spec.attribute in ("vehicle_class", "use", "fuel"):
                values[spec.attribute] = spec.parse(getattr(row, spec.attribute))
        for spec in _FACT_FIELDS:
            if spec.attribute in row.facts:
                fact = row.facts[spec.attribute]
                values[spec.attribute] = bool(fact) if spec.is_flag else spec.parse(str(fact))
        vehicle = vehicle_from_values(values)
        status = VehicleStatus(row.status)
        colour = None if row.colour is None else parse_colour(row.colour)
    except ValueError as error:  # FieldValueError, InvalidRegisterField, or a status no hub writes
        raise HubStoreError(f"vehicle {row.vin}: the register row does not read back: {error}") from error
    return RegisteredVehicle(vehicle, row.owner_ref, status, row.updated_at, row.engine_number, colour)


def _upsert(dialect: str, table: Table) -> Any:
    """INSERT .. ON CONFLICT (vin) DO UPDATE every column but status, returning what it wrote."""
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=[table.c.vin], set_={name: pg.excluded[name] for name in _UPDATED}
        ).returning(
            # xmax is 0 on a row version this statement inserted, not on one it updated.
            table.c.vin,
            literal_column("(xmax = 0)").label("inserted"),
        )
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=[table.c.vin], set_={name: lite.excluded[name] for name in _UPDATED}
        ).returning(table.c.vin)
    raise HubStoreError(f"unsupported database dialect {dialect!r} (use sqlite or postgresql)")


class VehicleRegister:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._table: Table = VehicleRow.metadata.tables[VehicleRow.__tablename__]

    # ------------------------------------------------------------ import

    def import_rows(
        self,
        rows: Iterable[RegisterRow | RegisterRowError],
        province: str,
        progress: Callable[[ImportReport], None] | None = None,
    ) -> ImportReport:
        """Insert new vehicles of ``province``, update changed ones; count and name the rest.

        ``progress`` is called with the report so far after every batch."""
        report = ImportReport()
        for batch in _batches(rows, report, province):
            if batch:
                self._import_batch(batch, report)
            if progress is not None:
                progress(report)
        return report

    def _import_batch(self, batch: Sequence[RegisterRow], report: ImportReport) -> None:
        table = self._table
        now = datetime.now(UTC)
        wanted = {
            row.vehicle.vin: vehicle_columns(row.vehicle, row.owner_ref, row.engine_number, row.colour)
            for row in batch
        }
        with self._database.writer.begin() as connection:
            existing = {
                stored.vin: stored
                for stored in connection.execute(
                    select(*(table.c[name] for name in ("vin", *_COMPARED))).where(table.c.vin.in_(wanted))
                )
            }
            changed: list[dict[str, Any]] = []
            for vin, columns in wanted.items():
                stored = existing.get(vin)
                if stored is not None and all(columns[name] == stored._mapping[name] for name in _COMPARED):
                    report.unchanged += 1
                else:
                    changed.append({**columns, "status": VehicleStatus.ACTIVE.value, "updated_at": now})
            if not changed:
                return
            # Rows locked in VIN order: two replicas upserting overlapping batches cannot deadlock.
            changed.sort(key=lambda columns: str(columns["vin"]))
            result = connection.execute(_upsert(connection.dialect.name, table), changed)
            for written in result:
                inserted = (
                    bool(written.inserted) if "inserted" in written._mapping else written.vin not in existing
                )
                if inserted:
                    report.inserted += 1
                else:
                    report.updated += 1

    # ------------------------------------------------------------ reads

    def get(self, vin: str) -> RegisteredVehicle | None:
        with self._database.read() as session:
            row = session.get(VehicleRow, vin.strip().upper())
            return None if row is None else _registered(row)

    def find_by_plate(self, plate: str) -> list[RegisteredVehicle]:
        """Every vehicle with this plate (a plate passes to another vehicle after a transfer)."""
        normalised = plate.replace(" ", "").replace("·", "").upper()
        query = (
            select(VehicleRow).where(VehicleRow.plate == normalised).order_by(VehicleRow.updated_at.desc())
        )
        with self._database.read() as session:
            return [_registered(row) for row in session.scalars(query)]

    def knows(self, vin: str) -> bool:
        """Whether ``vin`` is in the register, whatever its status (one primary-key probe)."""
        with self._database.engine.connect() as connection:
            found = connection.execute(select(self._table.c.vin).where(self._table.c.vin == vin)).first()
            return found is not None

    def known(self, vins: Iterable[str]) -> set[str]:
        """Which of ``vins`` the register holds: one query for a batch of forwarded records."""
        wanted = set(vins)
        if not wanted:
            return set()
        with self._database.engine.connect() as connection:
            return set(
                connection.execute(select(self._table.c.vin).where(self._table.c.vin.in_(wanted))).scalars()
            )

    def count(self, status: VehicleStatus | None = None) -> int:
        query = select(func.count()).select_from(self._table)
        if status is not None:
            query = query.where(self._table.c.status == status.value)
        with self._database.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    # ------------------------------------------------------------ status

    def set_status(self, vin: str, new: VehicleStatus, expected: VehicleStatus) -> None:
        """Move ``vin`` from ``expected`` to ``new``; ``VehicleStatusConflict`` if it is not at ``expected``."""
        with self._database.writer.begin() as connection:
            self.set_status_in(connection, vin, new, expected)

    def set_status_in(
        self, connection: Connection, vin: str, new: VehicleStatus, expected: VehicleStatus
    ) -> None:
        """``set_status`` inside the caller's transaction (an archive transfer moves the vehicle and
        its own state together); the transaction is the caller's to roll back on a conflict."""
        table = self._table
        changed = connection.execute(
            update(table)
            .where(table.c.vin == vin, table.c.status == expected.value)
            .values(status=new.value, updated_at=datetime.now(UTC))
        ).rowcount
        if changed == 1:
            return
        actual = connection.execute(select(table.c.status).where(table.c.vin == vin)).scalar_one_or_none()
        if actual is None:
            raise UnknownVehicle(vin)
        raise VehicleStatusConflict(vin, expected.value, actual, new.value)


def _batches(
    rows: Iterable[RegisterRow | RegisterRowError], report: ImportReport, province: str
) -> Iterator[list[RegisterRow]]:
    """Rows of ``province`` in batches of at most ``BATCH_ROWS`` rows read (good or not, so that
    progress is reported as the file is read); other rows are counted into ``report`` on the way.

    A VIN seen again within a batch closes the batch first, so that the later row wins and one
    statement never touches a row twice (PostgreSQL refuses that)."""
    batch: list[RegisterRow] = []
    vins: set[str] = set()
    read = 0
    for row in rows:
        if read >= BATCH_ROWS or (isinstance(row, RegisterRow) and row.vehicle.vin in vins):
            yield batch
            batch, vins, read = [], set(), 0
        read += 1
        if isinstance(row, RegisterRowError):
            report.count_bad(row.line, str(row))
        elif row.vehicle.registration_province != province:
            report.other_province += 1
        else:
            batch.append(row)
            vins.add(row.vehicle.vin)
    if read:
        yield batch

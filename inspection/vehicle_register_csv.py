"""The vehicle register as CSV: one header row naming the columns, then one registered vehicle a row.

    vin,plate,owner_ref,registration_province,vehicle_class,fuel,registration_date,seats,use,...
    LSVAU2180N2183294,渝A12345,OWN-3f2a9c0e51d4b7a6,50,M1,petrol,2019-03-04,5,non_operating,...

The columns are ``vin``, ``plate``, ``owner_ref``, then every other field of ``Vehicle``, named
by its attribute, then ``engine_number`` and ``colour`` (``inspection.register_identity``: the
register's, not the inspected vehicle's); their text is what ``inspection.vehicle_fields`` parses and formats, so a new
vehicle field is a new column with no change here. Two choices the option syntax does not make:
a flag is ``true`` or ``false``, and an empty cell is ``None`` for the fields whose default is
``None`` (and is refused elsewhere: every other column is written, never left to a default, so
that a row says the whole vehicle).

The header may name the columns in any order; a missing, unknown or repeated column refuses the
whole file, except ``engine_number`` and ``colour``: registers were written without them before
the register held them, so a header without them reads every row with neither (an empty cell is
"not recorded" too) (``RegisterHeaderError``, raised). A bad row does not stop the reader: it yields a
``RegisterRowError`` naming the line and column, and goes on with the next row.

Pure: the reader and writer take a text stream and do no other I/O (open files with
``newline=""``, as the ``csv`` module asks).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from inspection.errors import InspectionError
from inspection.identifiers import PROVINCES, InvalidIdentifier, validate_plate, validate_vin
from inspection.register_identity import BodyColour, InvalidRegisterField, parse_colour, parse_engine_number
from inspection.vehicle import Vehicle
from inspection.vehicle_fields import (
    VEHICLE_FIELDS,
    FieldValueError,
    TextKind,
    VehicleField,
    vehicle_from_values,
)

OWNER_REF = "owner_ref"
OWNER_REF_MAX = 64  # the register's column (hub.models.Vehicle.owner_ref)
_FIELDS_BY_COLUMN: dict[str, VehicleField] = {spec.attribute: spec for spec in VEHICLE_FIELDS}
ENGINE_NUMBER = "engine_number"
COLOUR = "colour"
_LEADING = ("vin", "plate", OWNER_REF)
OPTIONAL_COLUMNS = (ENGINE_NUMBER, COLOUR)  # the register's own identity fields, later additions
COLUMNS: tuple[str, ...] = (
    *_LEADING,
    *(spec.attribute for spec in VEHICLE_FIELDS if spec.attribute not in _LEADING),
    *OPTIONAL_COLUMNS,
)
_FLAG_TEXTS = {"true": True, "false": False}
_PROVINCE_CODES = frozenset(PROVINCES.values())


class RegisterCsvError(InspectionError, ValueError):
    """A register CSV that cannot be read as written: ``line`` (1 = the header), ``column``, ``reason``."""

    def __init__(self, line: int, column: str | None, reason: str) -> None:
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {reason}")
        self.line = line
        self.column = column
        self.reason = reason


class RegisterHeaderError(RegisterCsvError):
    """The header row is not a register's: a column missing, unknown or repeated; nothing is read."""


class RegisterRowError(RegisterCsvError):
    """One row is not a registered vehicle; the reader yields it and goes on with the next row."""


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """One registered vehicle as read, and the line its row ends on."""

    line: int
    vehicle: Vehicle
    owner_ref: str
    engine_number: str | None = None  # None: not recorded
    colour: BodyColour | None = None


def format_row(
    vehicle: Vehicle, owner_ref: str, engine_number: str | None = None, colour: BodyColour | None = None
) -> list[str]:
    """The cells of ``vehicle`` in ``COLUMNS`` order."""
    cells: list[str] = []
    for column in COLUMNS:
        if column == OWNER_REF:
            cells.append(owner_ref)
            continue
        if column == ENGINE_NUMBER:
            cells.append(engine_number or "")
            continue
        if column == COLOUR:
            cells.append("" if colour is None else colour.value)
            continue
        spec = _FIELDS_BY_COLUMN[column]
        value = getattr(vehicle, spec.attribute)
        if spec.is_flag:
            cells.append("true" if value else "false")
        else:
            cells.append("" if value is None else spec.format(value))
    return cells


def write_register(stream: TextIO, vehicles: Iterable[RegisterRow | tuple[Vehicle, str]]) -> int:
    """Write the header and one row per ``RegisterRow`` (its line aside) or ``(vehicle, owner_ref)``
    (no engine number or colour recorded); returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for entry in vehicles:
        if isinstance(entry, RegisterRow):
            writer.writerow(format_row(entry.vehicle, entry.owner_ref, entry.engine_number, entry.colour))
        else:
            writer.writerow(format_row(*entry))
        count += 1
    return count


def read_register(stream: TextIO) -> Iterator[RegisterRow | RegisterRowError]:
    """Each data row of ``stream``: a ``RegisterRow``, or a ``RegisterRowError`` saying what is wrong.

    Raises ``RegisterHeaderError`` if the header is not a register's (or the file is empty)."""
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise RegisterHeaderError(reader.line_num or 1, None, f"not CSV: {error}") from None
    if header is None:
        raise RegisterHeaderError(1, None, "empty file: expected a header row naming the columns")
    positions = _header_positions(header, reader.line_num)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield RegisterRowError(reader.line_num, None, f"not CSV: {error}")
            continue
        if not cells:  # csv reads a blank line as an empty row
            continue
        try:
            yield _row(cells, positions, reader.line_num)
        except RegisterRowError as error:
            yield error


def _header_positions(header: list[str], line: int) -> dict[str, int]:
    names = [name.strip() for name in header]
    if names and names[0].startswith("\ufeff"):  # a byte order mark some spreadsheets write
        names[0] = names[0][1:]
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        if name not in COLUMNS:
            raise RegisterHeaderError(line, name, f"unknown column (a register has {', '.join(COLUMNS)})")
        if name in positions:
            raise RegisterHeaderError(line, name, "column named twice")
        positions[name] = index
    missing = [name for name in COLUMNS if name not in positions and name not in OPTIONAL_COLUMNS]
    if missing:
        raise RegisterHeaderError(
            line, missing[0], f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    return positions


def _row(cells: list[str], positions: dict[str, int], line: int) -> RegisterRow:
    if len(cells) != len(positions):
        more = "more" if len(cells) > len(positions) else "fewer"
        raise RegisterRowError(
            line, None, f"{len(cells)} cells, {more} than the header's {len(positions)} columns"
        )
    texts = {column: cells[index] for column, index in positions.items()}
    engine_number, colour = _identity(texts, line)
    owner_ref = texts[OWNER_REF].strip()
    if not owner_ref:
        raise RegisterRowError(line, OWNER_REF, "empty: every registered vehicle has an owner reference")
    if len(owner_ref) > OWNER_REF_MAX:
        raise RegisterRowError(line, OWNER_REF, f"{len(owner_ref)} characters, at most {OWNER_REF_MAX}")
    values: dict[str, object] = {}
    for column, spec in _FIELDS_BY_COLUMN.items():
        values[column] = _value(spec, texts[column], line)
    try:
        values["vin"] = validate_vin(str(values["vin"]))
    except InvalidIdentifier as error:
        raise RegisterRowError(line, "vin", error.reason) from None
    try:
        values["plate"] = validate_plate(str(values["plate"]))
    except InvalidIdentifier as error:
        raise RegisterRowError(line, "plate", error.reason) from None
    province = values["registration_province"]
    if province not in _PROVINCE_CODES:
        raise RegisterRowError(
            line, "registration_province", f"{province!r} is not a GB/T 2260 province code"
        )
    plate_province = PROVINCES[str(values["plate"])[0]]
    if plate_province != province:
        raise RegisterRowError(
            line, "plate", f"a plate of province {plate_province}, registered in {province}"
        )
    try:
        vehicle = vehicle_from_values(values)
    except FieldValueError as error:  # pragma: no cover - every column was parsed above
        raise RegisterRowError(line, error.option, error.reason) from None
    return RegisterRow(line, vehicle, owner_ref, engine_number, colour)


def _identity(texts: dict[str, str], line: int) -> tuple[str | None, BodyColour | None]:
    engine_text = texts.get(ENGINE_NUMBER, "")
    colour_text = texts.get(COLOUR, "")
    try:
        engine_number = parse_engine_number(engine_text) if engine_text.strip() else None
        colour = parse_colour(colour_text) if colour_text.strip() else None
    except InvalidRegisterField as error:
        raise RegisterRowError(line, error.field, error.reason) from None
    return engine_number, colour


def _value(spec: VehicleField, text: str, line: int) -> object:
    column = spec.attribute
    if spec.is_flag:
        try:
            return _FLAG_TEXTS[text.strip().lower()]
        except KeyError:
            raise RegisterRowError(line, column, f"{text!r} is not true or false") from None
    if text == "" and spec.kind is not TextKind.AXLES:  # no axles is "" (a parking brake on none)
        if spec.default is None and not spec.required:
            return None
        raise RegisterRowError(line, column, "empty")
    try:
        return spec.parse(text)
    except FieldValueError as error:
        raise RegisterRowError(line, column, error.reason) from None

"""The vehicle register CSV: every field both ways, and bad text named by line and column."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection import PROVINCES, Fuel, LampSystem, Vehicle, VehicleClass, VehicleUse, vin_check_digit
from inspection.identifiers import VIN_ALPHABET
from inspection.register_identity import BodyColour
from inspection.vehicle_register_csv import (
    COLUMNS,
    RegisterCsvError,
    RegisterHeaderError,
    RegisterRow,
    RegisterRowError,
    format_row,
    read_register,
    write_register,
)

CAR = Vehicle(
    vin="LSVAU218XN2183294", plate="渝A12345", registration_province="50", vehicle_class=VehicleClass.N3,
    fuel=Fuel.DIESEL, seats=2, use=VehicleUse.OPERATING, registration_date=date(2019, 3, 4),
    curb_mass_kg=9000, max_total_mass_kg=25000, axle_count=3, parking_brake_axles=(2, 3),
    lamp_system=LampSystem.FOUR_LAMP, articulated=True, high_beam_separately_adjustable=True, van=True,
    rated_engine_speed_rpm=3600,
)  # fmt: skip

_PLATE_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_WHOLE = st.integers(0, 2**32 - 1)


@st.composite
def vins(draw: st.DrawFn) -> str:
    draft = draw(st.text(VIN_ALPHABET, min_size=17, max_size=17))
    return draft[:8] + vin_check_digit(draft) + draft[9:]


@st.composite
def vehicles(draw: st.DrawFn) -> Vehicle:
    prefix = draw(st.sampled_from(sorted(PROVINCES)))
    plate = (
        prefix + draw(st.sampled_from("ABCDEFGHJKLMN")) + draw(st.text(_PLATE_CHARS, min_size=5, max_size=6))
    )
    return Vehicle(
        vin=draw(vins()),
        plate=plate,
        registration_province=PROVINCES[prefix],
        vehicle_class=draw(st.sampled_from(VehicleClass)),
        fuel=draw(st.sampled_from(Fuel)),
        seats=draw(_WHOLE),
        use=draw(st.sampled_from(VehicleUse)),
        registration_date=draw(st.dates()),
        curb_mass_kg=draw(_WHOLE),
        max_total_mass_kg=draw(_WHOLE),
        axle_count=draw(_WHOLE),
        parking_brake_axles=tuple(draw(st.lists(_WHOLE, max_size=4))),
        lamp_system=draw(st.sampled_from(LampSystem)),
        articulated=draw(st.booleans()),
        high_beam_separately_adjustable=draw(st.booleans()),
        van=draw(st.booleans()),
        rated_engine_speed_rpm=draw(st.none() | _WHOLE),
    )


_OWNER_REFS = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=64
).filter(lambda text: text.strip() == text)


def _csv(text: str) -> list[RegisterRow | RegisterRowError]:
    return list(read_register(io.StringIO(text, newline="")))


_ENGINE_NUMBERS = st.none() | st.lists(
    st.text("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=1, max_size=6), min_size=1, max_size=3
).map("-".join)


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(vehicles(), _OWNER_REFS, _ENGINE_NUMBERS, st.none() | st.sampled_from(BodyColour)),
        max_size=8,
    )
)
def test_generated_vehicles_read_back_exactly_as_written(
    rows: list[tuple[Vehicle, str, str | None, BodyColour | None]],
) -> None:
    stream = io.StringIO(newline="")
    written = [RegisterRow(0, *row) for row in rows]
    assert write_register(stream, written) == len(rows)
    stream.seek(0)
    read = list(read_register(stream))
    assert all(isinstance(row, RegisterRow) for row in read), read
    assert [
        (row.vehicle, row.owner_ref, row.engine_number, row.colour)
        for row in read
        if isinstance(row, RegisterRow)
    ] == rows
    assert [row.line for row in read] == list(range(2, len(rows) + 2))


def test_a_register_written_before_engine_number_and_colour_reads_without_them() -> None:
    older = [c for c in COLUMNS if c not in ("engine_number", "colour")]
    cells = dict(zip(COLUMNS, format_row(CAR, "OWN-1", "WP10-2345678", BodyColour.BLUE), strict=True))
    stream = io.StringIO(newline="")
    csv.writer(stream, lineterminator="\n").writerows([older, [cells[c] for c in older]])
    (row,) = _csv(stream.getvalue())
    assert isinstance(row, RegisterRow) and (row.vehicle, row.engine_number, row.colour) == (CAR, None, None)
    (full,) = _csv(_row_text(engine_number=" wp10-2345678 ", colour="蓝"))
    assert isinstance(full, RegisterRow) and (full.engine_number, full.colour) == (
        "WP10-2345678",
        BodyColour.BLUE,
    )


@settings(max_examples=300)
@given(st.text(max_size=400))
def test_arbitrary_text_yields_rows_or_typed_errors_only(text: str) -> None:
    try:
        for row in read_register(io.StringIO(text, newline="")):
            assert isinstance(row, RegisterRow | RegisterRowError)
    except RegisterHeaderError:
        pass


@settings(max_examples=200)
@given(st.lists(st.text(max_size=30), min_size=len(COLUMNS), max_size=len(COLUMNS) + 1))
def test_arbitrary_cells_under_a_good_header_are_a_row_or_an_error_naming_the_line(cells: list[str]) -> None:
    stream = io.StringIO(newline="")
    write_register(stream, [])
    csv.writer(stream, lineterminator="\n").writerow(cells)
    stream.seek(0)
    read = list(read_register(stream))
    for row in read:
        assert isinstance(row, RegisterRow | RegisterRowError)
        if isinstance(row, RegisterRowError):
            assert row.line >= 2 and row.reason


def _good_text(*vehicles_and_refs: tuple[Vehicle, str]) -> str:
    stream = io.StringIO(newline="")
    write_register(stream, list(vehicles_and_refs))
    return stream.getvalue()


def _row_text(**changes: str) -> str:
    """The header and one row of CAR, with the cells named in ``changes`` replaced."""
    cells = dict(zip(COLUMNS, format_row(CAR, "OWN-1"), strict=True))
    cells.update(changes)
    stream = io.StringIO(newline="")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow([cells[c] for c in COLUMNS])
    return stream.getvalue()


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"vin": "LSVAU218XN2183295"}, "vin", "check digit is 'X', expected '1'"),
        ({"vin": "LSVAU218XN218329"}, "vin", "has 16 characters"),
        ({"vehicle_class": "M9"}, "vehicle_class", "'M9' is not one of M1"),
        ({"registration_date": "2019-02-30"}, "registration_date", "not a date"),
        ({"seats": "five"}, "seats", "not a whole number"),
        ({"seats": "-1"}, "seats", "outside 0.."),
        ({"seats": ""}, "seats", "empty"),
        ({"van": "yes"}, "van", "not true or false"),
        ({"plate": "渝I12345"}, "plate", "city letter"),
        ({"plate": "川A12345"}, "plate", "a plate of province 51, registered in 50"),
        ({"registration_province": "99"}, "registration_province", "not a GB/T 2260 province code"),
        ({"owner_ref": ""}, "owner_ref", "empty"),
        ({"owner_ref": "x" * 65}, "owner_ref", "65 characters"),
        ({"parking_brake_axles": "2,x"}, "parking_brake_axles", "not a whole number"),
        ({"engine_number": "WP10 2345"}, "engine_number", "not letters and digits"),
        ({"colour": "pearl"}, "colour", "not a register colour"),
    ],
)
def test_a_bad_cell_is_named_by_line_and_column(changes: dict[str, str], column: str, reason: str) -> None:
    (error,) = _csv(_row_text(**changes))
    assert isinstance(error, RegisterRowError)
    assert (error.line, error.column) == (2, column)
    assert reason in error.reason
    assert str(error).startswith(f"line 2, column {column}: ")


def test_an_empty_rpm_is_none_and_the_header_may_come_in_any_order() -> None:
    electric = _row_text(rated_engine_speed_rpm="")
    (row,) = _csv(electric)
    assert isinstance(row, RegisterRow) and row.vehicle.rated_engine_speed_rpm is None
    header, values = csv.reader(io.StringIO(electric))
    stream = io.StringIO(newline="")
    csv.writer(stream).writerows([list(reversed(header)), list(reversed(values))])
    assert _csv(stream.getvalue()) == [row]


def test_a_row_with_more_or_fewer_cells_is_an_error_and_reading_goes_on() -> None:
    good = _good_text((CAR, "OWN-1"))
    header, row = good.splitlines()
    text = "\n".join([header, row + ",extra", row.rsplit(",", 1)[0], "", row]) + "\n"  # last cell: rpm
    first, second, third = _csv(text)
    assert isinstance(first, RegisterRowError) and first.line == 2 and "more than the header" in first.reason
    assert isinstance(second, RegisterRowError) and second.line == 3 and "fewer" in second.reason
    assert isinstance(third, RegisterRow) and third.line == 5  # the blank line 4 is skipped
    assert third.vehicle == CAR


@pytest.mark.parametrize(
    ("header", "column", "reason"),
    [
        (",".join(c for c in COLUMNS if c != "owner_ref"), "owner_ref", "missing column owner_ref"),
        (",".join([*COLUMNS, "paint"]), "paint", "unknown column"),
        (",".join([*COLUMNS, "vin"]), "vin", "named twice"),
    ],
)
def test_a_bad_header_refuses_the_file(header: str, column: str, reason: str) -> None:
    with pytest.raises(RegisterHeaderError) as raised:
        _csv(header + "\n")
    assert (raised.value.line, raised.value.column) == (1, column)
    assert reason in raised.value.reason


def test_an_empty_file_and_broken_quoting_are_typed_errors() -> None:
    with pytest.raises(RegisterHeaderError, match="empty file"):
        _csv("")
    (error,) = _csv(",".join(COLUMNS) + '\n"unterminated\n')
    assert isinstance(error, RegisterCsvError) and "not CSV" in error.reason


def test_a_byte_order_mark_before_the_header_is_ignored() -> None:
    (row,) = _csv("\ufeff" + _good_text((CAR, "OWN-1")))
    assert isinstance(row, RegisterRow) and row.vehicle == CAR

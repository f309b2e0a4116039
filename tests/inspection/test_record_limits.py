"""The shared table of record limits and physical ranges: values inside a range never raise, values
outside always raise naming the path and the range; counts likewise; a valid record passes whole."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection.measurements import (
    Ambient,
    AsmMode,
    AsmPhase,
    AsmRun,
    AxleBrake,
    BrakeTest,
    GasReading,
    LampMeasurement,
    LimitSet,
    LoadedSecond,
    LugDownPoint,
    LugDownRun,
)
from inspection.record_limits import (
    AMBIENT_FIELDS,
    ASM_PHASE_FIELDS,
    ASM_RUN_FIELDS,
    BRAKE_TEST_FIELDS,
    GAS_READING_FIELDS,
    LAMP_FIELDS,
    LOADED_SECOND_FIELDS,
    LUG_DOWN_FIELDS,
    LUG_DOWN_POINT_FIELDS,
    MAX_COUNT,
    RANGES,
    WHEEL_LOAD_FIELDS,
    Part,
    Quantity,
    RecordOutOfLimits,
    check_count,
    check_photo,
    check_record,
    check_text,
    check_value,
)


@st.composite
def _inside(draw: st.DrawFn) -> tuple[Quantity, float]:
    quantity = draw(st.sampled_from(list(Quantity)))
    allowed = RANGES[quantity]
    return quantity, draw(st.floats(min_value=allowed.low, max_value=allowed.high))


@st.composite
def _outside(draw: st.DrawFn) -> tuple[Quantity, float]:
    quantity = draw(st.sampled_from(list(Quantity)))
    allowed = RANGES[quantity]
    value = draw(
        st.one_of(
            st.floats(max_value=allowed.low, exclude_max=True),
            st.floats(min_value=allowed.high, exclude_min=True),
            st.just(math.nan),
        )
    )
    return quantity, value


@given(_inside())
def test_values_inside_their_range_never_raise(case: tuple[Quantity, float]) -> None:
    quantity, value = case
    check_value(quantity, value, "somewhere.value")


@given(_outside(), st.text(min_size=1, max_size=20))
def test_values_outside_their_range_always_raise_naming_path_and_range(
    case: tuple[Quantity, float], path: str
) -> None:
    quantity, value = case
    with pytest.raises(RecordOutOfLimits) as error:
        check_value(quantity, value, path)
    assert error.value.path == path
    assert str(RANGES[quantity]) in error.value.reason
    assert quantity.value in error.value.reason


def test_not_available_passes() -> None:
    check_value(Quantity.CO_PCT, None, "co")


@given(st.sampled_from(list(Part)), st.integers(min_value=0, max_value=2000))
def test_counts_raise_exactly_above_the_table(part: Part, count: int) -> None:
    if count <= MAX_COUNT[part]:
        check_count(part, count)
    else:
        with pytest.raises(RecordOutOfLimits, match=f"{count} entries, at most {MAX_COUNT[part]}"):
            check_count(part, count)


def test_range_text_names_bounds_and_unit() -> None:
    assert str(RANGES[Quantity.WHEEL_LOAD_KG]) == "0..15000 kg"
    with pytest.raises(
        RecordOutOfLimits, match=r"^x: -5 is outside the range 0\.\.15000 kg of wheel_load_kg$"
    ):
        check_value(Quantity.WHEEL_LOAD_KG, -5, "x")


def test_photo_type_and_size() -> None:
    check_photo("image/jpeg", 1000)
    with pytest.raises(RecordOutOfLimits, match=r"photo\.content_type"):
        check_photo("text/html", 1000)
    with pytest.raises(RecordOutOfLimits, match=r"photo\.size_bytes: 0 is outside"):
        check_photo("image/jpeg", 0)


def test_long_text_is_refused() -> None:
    check_text("x" * 500, "note")
    with pytest.raises(RecordOutOfLimits, match="note: 501 characters"):
        check_text("x" * 501, "note")


def test_a_valid_record_passes_whole(make_record) -> None:  # type: ignore[no-untyped-def]
    check_record(make_record(3))


@pytest.mark.parametrize(
    ("measurement", "table", "unranged"),
    [
        (GasReading, GAS_READING_FIELDS, {"low_flow", "dilution"}),
        (LampMeasurement, LAMP_FIELDS, {"side", "beam"}),
        (BrakeTest, BRAKE_TEST_FIELDS, {"kind", "slip_left", "slip_right", "curve", "test_counter"}),
        (AxleBrake, WHEEL_LOAD_FIELDS, {"axle", "service", "parking"}),
        (LoadedSecond, LOADED_SECOND_FIELDS, {"low_flow", "dilution"}),
        (Ambient, AMBIENT_FIELDS, set()),
        (AsmPhase, ASM_PHASE_FIELDS, {"mode", "fast_pass", "seconds", "restarts"}),
        (AsmRun, ASM_RUN_FIELDS, {"limit_set", "ambient", "phases"}),
        (LugDownRun, LUG_DOWN_FIELDS, {"limit_set", "scan", "points"}),
        (LugDownPoint, LUG_DOWN_POINT_FIELDS, {"fraction_pct", "seconds"}),
    ],
)
def test_every_measured_field_has_a_range(measurement: type, table: tuple, unranged: set[str]) -> None:
    # Station and hub both walk these tables: a measured field missing here would go unchecked by both.
    ranged = {attribute for _quantity, attribute, _label in table}
    assert {f.name for f in dataclasses.fields(measurement)} - unranged == ranged


def test_a_loaded_run_out_of_range_is_refused_naming_the_second(make_record) -> None:  # type: ignore[no-untyped-def]
    second = LoadedSecond(t_s=1, speed_kmh=25.0, power_kw=10.0, rpm=1600)
    too_fast = LoadedSecond(t_s=2, speed_kmh=150.0, power_kw=10.0, rpm=1600)
    run = AsmRun(
        LimitSet.A,
        1450,
        Ambient(25, 50, 101.3),
        (AsmPhase(AsmMode.ASM5025, 9.5, 0.6, False, (second, too_fast)),),
    )
    with pytest.raises(RecordOutOfLimits) as caught:
        check_record(dataclasses.replace(make_record(1), emission=run))
    assert caught.value.path == "emission.asm.phases[0].seconds[1].speed_kmh"
    humid = dataclasses.replace(run, ambient=Ambient(25, 101, 101.3))
    with pytest.raises(RecordOutOfLimits, match="relative_humidity_pct"):
        check_record(dataclasses.replace(make_record(1), emission=humid))
    lug = LugDownRun(LimitSet.A, 110, (second,) * 601, 60, 50, 3000, ())
    with pytest.raises(RecordOutOfLimits, match="601 entries"):
        check_record(dataclasses.replace(make_record(1), emission=lug))

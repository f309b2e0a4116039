"""Properties of the rules: left/right symmetry, monotonic rates, and judge never raising."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from inspection import (
    AxleBrake,
    Beam,
    BrakeCurve,
    BrakeKind,
    FreeAccelerationRun,
    Fuel,
    GasReading,
    InspectionRecord,
    LampMeasurement,
    LampSystem,
    Outcome,
    Side,
    TwoSpeedIdleRun,
    Vehicle,
    VehicleClass,
    VehicleUse,
    VisualCheck,
)
from inspection.measurements import BrakeTest, LimitSet
from inspection.verdicts import (
    axle_rate_item,
    imbalance_item,
    judge,
    parking_rate_item,
    vehicle_rate_item,
)
from tests.inspection.verdicts.conftest import BASE_VEHICLE

# --------------------------------------------------------------- plausible brake data

loads = st.floats(min_value=300, max_value=6000, allow_nan=False)
forces = st.floats(min_value=0, max_value=30000, allow_nan=False)


@st.composite
def curves(draw: st.DrawFn) -> BrakeCurve:
    length = draw(st.integers(min_value=1, max_value=40))
    samples = st.lists(st.integers(min_value=0, max_value=3500), min_size=length, max_size=length)
    return BrakeCurve(100, tuple(draw(samples)), tuple(draw(samples)))


@st.composite
def axles(draw: st.DrawFn, number: int | None = None) -> AxleBrake:
    axle = number if number is not None else draw(st.integers(1, 4))
    service = BrakeTest(
        BrakeKind.SERVICE,
        draw(forces),
        draw(forces),
        draw(st.floats(0, 2000)),
        draw(st.floats(0, 2000)),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.one_of(st.none(), curves(), curves(), curves())),
    )
    parking = draw(
        st.one_of(
            st.none(),
            st.builds(
                BrakeTest,
                st.just(BrakeKind.PARKING),
                forces,
                forces,
                st.just(0.0),
                st.just(0.0),
                st.booleans(),
                st.booleans(),
                st.none(),
            ),
        )
    )
    return AxleBrake(axle, draw(loads), draw(loads), service, parking)


vehicles = st.builds(
    replace,
    st.just(BASE_VEHICLE),
    vehicle_class=st.sampled_from(VehicleClass),
    axle_count=st.integers(2, 4),
    max_total_mass_kg=st.integers(1000, 40000),
    curb_mass_kg=st.integers(800, 20000),
    articulated=st.booleans(),
)


def swapped_test(test: BrakeTest) -> BrakeTest:
    curve = test.curve
    return replace(
        test,
        left_max_n=test.right_max_n,
        right_max_n=test.left_max_n,
        left_drag_n=test.right_drag_n,
        right_drag_n=test.left_drag_n,
        slip_left=test.slip_right,
        slip_right=test.slip_left,
        curve=None if curve is None else BrakeCurve(curve.sample_rate_hz, curve.right_n, curve.left_n),
    )


def swapped(axle: AxleBrake) -> AxleBrake:
    return replace(
        axle,
        left_load_kg=axle.right_load_kg,
        right_load_kg=axle.left_load_kg,
        service=swapped_test(axle.service),
        parking=None if axle.parking is None else swapped_test(axle.parking),
    )


@settings(max_examples=400)
@given(vehicles, axles())
def test_swapping_left_and_right_never_changes_an_imbalance_result(vehicle: Vehicle, axle: AxleBrake) -> None:
    one, other = imbalance_item(vehicle, axle), imbalance_item(vehicle, swapped(axle))
    assert (one.outcome, one.measured, one.limit) == (other.outcome, other.measured, other.limit)


@settings(max_examples=300)
@given(vehicles, axles(), st.floats(min_value=1.0, max_value=5.0))
def test_scaling_forces_up_never_turns_an_axle_rate_pass_into_a_fail(
    vehicle: Vehicle, axle: AxleBrake, factor: float
) -> None:
    stronger = replace(axle, service=_scaled(axle.service, factor))
    before, after = axle_rate_item(vehicle, axle), axle_rate_item(vehicle, stronger)
    if before.outcome is Outcome.PASS:
        assert after.outcome is not Outcome.FAIL, (before, after)


@settings(max_examples=300)
@given(vehicles, st.data(), st.floats(min_value=1.0, max_value=5.0))
def test_scaling_forces_up_never_turns_a_vehicle_or_parking_pass_into_a_fail(
    vehicle: Vehicle, data: st.DataObject, factor: float
) -> None:
    record_axles = tuple(data.draw(axles(number)) for number in range(1, vehicle.axle_count + 1))
    stronger = tuple(
        replace(
            a,
            service=_scaled(a.service, factor),
            parking=None if a.parking is None else _scaled(a.parking, factor),
        )
        for a in record_axles
    )
    for rule in (vehicle_rate_item, parking_rate_item):
        before, after = rule(vehicle, record_axles), rule(vehicle, stronger)
        if before.outcome is Outcome.PASS:
            assert after.outcome is not Outcome.FAIL, (before, after)


def _scaled(test: BrakeTest, factor: float) -> BrakeTest:
    def scale(value: float | None) -> float | None:
        return None if value is None else value * factor

    return replace(test, left_max_n=scale(test.left_max_n), right_max_n=scale(test.right_max_n))


# --------------------------------------------------------------- arbitrary (valid-typed) records

any_float = st.floats(allow_nan=True, allow_infinity=True)
maybe_float = st.one_of(st.none(), any_float)
small_ints = st.integers(min_value=-(2**31), max_value=2**31)

any_test = st.builds(
    BrakeTest,
    st.sampled_from(BrakeKind),
    maybe_float,
    maybe_float,
    maybe_float,
    maybe_float,
    st.booleans(),
    st.booleans(),
    st.one_of(
        st.none(),
        st.builds(
            BrakeCurve,
            small_ints,
            st.lists(small_ints, max_size=8).map(tuple),
            st.lists(small_ints, max_size=8).map(tuple),
        ),
    ),
)
any_axle = st.builds(
    AxleBrake, st.integers(-2, 6), maybe_float, maybe_float, any_test, st.one_of(st.none(), any_test)
)
any_lamp = st.builds(
    LampMeasurement,
    st.sampled_from(Side),
    st.sampled_from(Beam),
    small_ints,
    small_ints,
    small_ints,
    small_ints,
)
any_reading = st.builds(
    GasReading,
    any_float,
    any_float,
    any_float,
    any_float,
    any_float,
    any_float,
    any_float,
    any_float,
    any_float,
    st.booleans(),
    st.booleans(),
)
any_emission = st.one_of(
    st.none(),
    st.builds(
        TwoSpeedIdleRun,
        st.sampled_from(LimitSet),  # an unknown set cannot be made (tests/inspection/test_limit_set.py)
        st.lists(any_reading, max_size=3).map(tuple),
        st.lists(any_reading, max_size=3).map(tuple),
    ),
    st.builds(FreeAccelerationRun, st.sampled_from(LimitSet), st.lists(any_float, max_size=4).map(tuple)),
)
any_vehicle = st.builds(
    Vehicle,
    vin=st.text(max_size=17),
    plate=st.text(max_size=8),
    registration_province=st.just("50"),
    vehicle_class=st.sampled_from(VehicleClass),
    fuel=st.sampled_from(Fuel),
    seats=small_ints,
    use=st.sampled_from(VehicleUse),
    registration_date=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)),
    curb_mass_kg=small_ints,
    max_total_mass_kg=small_ints,
    axle_count=st.integers(-1, 6),
    parking_brake_axles=st.lists(st.integers(-1, 7), max_size=3).map(tuple),
    lamp_system=st.sampled_from(LampSystem),
    articulated=st.booleans(),
    high_beam_separately_adjustable=st.booleans(),
)
any_record = st.builds(
    InspectionRecord,
    record_id=st.uuids(),
    station_id=st.just("50-0001"),
    lane=st.just(1),
    vehicle=any_vehicle,
    started_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
    ),
    finished_at=st.just(datetime(2040, 1, 1, tzinfo=UTC)),
    axles=st.lists(any_axle, max_size=5).map(tuple),
    lamps=st.lists(any_lamp, max_size=5).map(tuple),
    emission=any_emission,
    visual_checks=st.lists(
        st.builds(
            VisualCheck, st.text(min_size=1, max_size=5), st.booleans(), st.text(max_size=5), st.just("i1")
        ),
        max_size=3,
    ).map(tuple),
)


@settings(max_examples=500, deadline=None)
@given(any_record)
def test_judge_never_raises_and_every_item_is_complete(record: InspectionRecord) -> None:
    verdict = judge(record)
    for item in verdict.items:
        assert item.code and item.clause
        if item.outcome is Outcome.CANNOT_JUDGE:
            assert item.note, item
        if item.code.startswith(("brake.", "lamp.", "emission.")):
            assert item.code.endswith((".min", ".max")), item
            assert item.limit is not None, item


@settings(max_examples=100, deadline=None)
@given(any_record)
def test_a_record_without_measurements_never_passes(record: InspectionRecord) -> None:
    bare = replace(record, axles=(), lamps=(), emission=None, visual_checks=())
    assert judge(bare).overall is Outcome.CANNOT_JUDGE


def test_judging_is_deterministic_for_the_same_record() -> None:
    curve = BrakeCurve(100, (0, 1000, 2900), (0, 900, 2800))
    test = BrakeTest(BrakeKind.SERVICE, 2900.0, 2800.0, 20.0, 20.0, False, False, curve)
    record = InspectionRecord(
        uuid.uuid4(),
        "50-0001",
        1,
        BASE_VEHICLE,
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=5),
        axles=(AxleBrake(1, 500.0, 500.0, test), AxleBrake(2, 400.0, 400.0, test)),
    )
    assert judge(record) == judge(record)


@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.integers(0, 40_000), st.integers(0, 40_000)), min_size=1, max_size=400),
    st.data(),
)
def test_the_largest_difference_is_the_largest_over_the_span(
    samples: list[tuple[int, int]], data: st.DataObject
) -> None:
    # largest_difference_n maps over slices for speed; it must be the plain definition.
    from inspection.verdicts.brake_rules import largest_difference_n

    start = data.draw(st.integers(0, len(samples) - 1))
    end = data.draw(st.integers(start, len(samples) - 1))
    curve = BrakeCurve(100, tuple(left for left, _ in samples), tuple(right for _, right in samples))
    span = range(start, end + 1)
    assert largest_difference_n(curve, span) == max(abs(samples[i][0] - samples[i][1]) for i in span)

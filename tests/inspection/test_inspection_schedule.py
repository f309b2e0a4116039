"""The inspection schedule: regimes by date, due dates by age, month ends and 29 February."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection.inspection_schedule import (
    DueKind,
    Regime,
    ScheduledVehicle,
    due_date,
    due_points,
    position_on,
    regime_on,
)
from inspection.vehicle import VehicleClass, VehicleUse

DAY = timedelta(days=1)


def car(registered: date, *, seats: int = 5, van: bool = False) -> ScheduledVehicle:
    return ScheduledVehicle(VehicleClass.M1, VehicleUse.NON_OPERATING, seats, van, registered)


@pytest.mark.parametrize(
    ("day", "regime"),
    [
        (date(2014, 8, 31), Regime.LAW_2004),
        (date(2014, 9, 1), Regime.EXEMPT_2014),
        (date(2014, 9, 2), Regime.EXEMPT_2014),
        (date(2022, 9, 30), Regime.EXEMPT_2014),
        (date(2022, 10, 1), Regime.REFORM_2022),
        (date(2022, 10, 2), Regime.REFORM_2022),
    ],
)
def test_the_day_decides_the_regime(day: date, regime: Regime) -> None:
    assert regime_on(day) is regime


def test_a_29_february_registration_falls_due_on_28_february_in_other_years() -> None:
    assert due_date(date(2020, 2, 29), 24) == date(2022, 2, 28)
    assert due_date(date(2020, 2, 29), 48) == date(2024, 2, 29)
    assert due_date(date(2019, 8, 31), 6) == date(2020, 2, 29)
    assert due_date(date(2019, 8, 31), 18) == date(2021, 2, 28)


def test_a_window_opens_three_months_before_at_month_ends() -> None:
    point = due_points(car(date(2020, 5, 31)), Regime.REFORM_2022, date(2022, 1, 1))[0]
    assert (point.due, point.window_opens) == (date(2022, 5, 31), date(2022, 2, 28))


def ages(vehicle: ScheduledVehicle, regime: Regime, years: int) -> list[tuple[int, DueKind]]:
    until = due_date(vehicle.registration_date, years * 12)
    return [(p.age_months, p.kind) for p in due_points(vehicle, regime, until) if p.due <= until]


L, N = DueKind.LABEL, DueKind.LANE


def test_2022_small_car_labels_at_2_4_8_lane_at_6_10_then_2_yearly_to_15_then_yearly() -> None:
    got = ages(car(date(2023, 1, 10)), Regime.REFORM_2022, 17)
    assert got == [
        (24, L),
        (48, L),
        (72, N),
        (96, L),
        (120, N),
        (144, N),
        (168, N),
        (180, N),
        (192, N),
        (204, N),
    ]


def test_2014_small_car_labels_at_2_4_lane_at_6_then_yearly_then_half_yearly() -> None:
    got = ages(car(date(2015, 1, 10)), Regime.EXEMPT_2014, 16)
    assert got[:4] == [(24, L), (48, L), (72, N), (84, N)]
    assert got[-3:] == [(180, N), (186, N), (192, N)]


def test_seven_seats_are_exempt_since_2022_but_not_under_2014_and_vans_never() -> None:
    seven = car(date(2015, 1, 10), seats=7)
    assert ages(seven, Regime.EXEMPT_2014, 4)[:2] == [(24, N), (48, N)]
    assert ages(seven, Regime.REFORM_2022, 4)[:2] == [(24, L), (48, L)]
    assert ages(car(date(2015, 1, 10), van=True), Regime.REFORM_2022, 4)[:2] == [(24, N), (48, N)]


def test_operating_and_goods_vehicles_follow_article_16() -> None:
    taxi = ScheduledVehicle(VehicleClass.M1, VehicleUse.OPERATING, 5, False, date(2020, 1, 1))
    assert [a for a, _ in ages(taxi, Regime.REFORM_2022, 6)] == [12, 24, 36, 48, 60, 66, 72]
    truck = ScheduledVehicle(VehicleClass.N2, VehicleUse.NON_OPERATING, 3, False, date(2010, 1, 1))
    assert [a for a, _ in ages(truck, Regime.REFORM_2022, 11)][-3:] == [120, 126, 132]


@pytest.mark.parametrize(("offset", "current_age"), [(-1, None), (0, 24), (1, 24)])
def test_the_day_before_of_and_after_the_window_opens(offset: int, current_age: int | None) -> None:
    vehicle = car(date(2023, 3, 15))
    opens = date(2024, 12, 15)  # 2025-03-15 less 3 months
    position = position_on(vehicle, opens + offset * DAY)
    assert (position.current.age_months if position.current else None) == current_age


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    st.integers(min_value=0, max_value=240),
)
def test_due_date_is_monotone_in_registration_date(a: date, b: date, months: int) -> None:
    early, late = sorted((a, b))
    assert due_date(early, months) <= due_date(late, months)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    st.dates(min_value=date(2014, 9, 1), max_value=date(2050, 12, 31)),
    st.sampled_from(list(VehicleClass)),
    st.sampled_from(list(VehicleUse)),
    st.integers(min_value=1, max_value=60),
    st.booleans(),
)
def test_due_points_rise_and_the_position_brackets_the_day(
    registered: date, day: date, cls: VehicleClass, use: VehicleUse, seats: int, van: bool
) -> None:
    vehicle = ScheduledVehicle(cls, use, seats, van, registered)
    points = due_points(vehicle, regime_on(day), day)
    assert all(a.due < b.due for a, b in pairwise(points))
    assert all(a.age_months < b.age_months for a, b in pairwise(points))
    position = position_on(vehicle, day)
    assert position.following.window_opens > day
    if position.current is not None:
        assert position.current.window_opens <= day

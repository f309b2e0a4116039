"""Exemption eligibility: every reason alone and combined, and the boundary days."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection.exemption_rules import (
    ExemptionFacts,
    RefusalReason,
    decide_exemption,
    inspection_label_valid_until,
)
from inspection.inspection_schedule import Regime, ScheduledVehicle
from inspection.vehicle import VehicleClass, VehicleUse

DAY = timedelta(days=1)
R = RefusalReason
REGISTERED = date(2023, 3, 15)
APPLIED = date(2025, 2, 1)  # within the year-2 window (opens 2024-12-15, due 2025-03-15)


def facts(**changes: Any) -> ExemptionFacts:
    vehicle_changes = {k: changes.pop(k) for k in list(changes) if k in ScheduledVehicle.__slots__}
    vehicle = ScheduledVehicle(VehicleClass.M1, VehicleUse.NON_OPERATING, 5, False, REGISTERED)
    base = ExemptionFacts(
        vehicle=dataclasses.replace(vehicle, **vehicle_changes),
        casualty_accident=False,
        insurance_valid_until=date(2025, 12, 31),
        vehicle_tax_paid=True,
        unresolved_violations=0,
        unresolved_accidents=0,
    )
    return dataclasses.replace(base, **changes)


def test_a_young_private_car_with_clean_flags_is_granted_until_its_next_due_date() -> None:
    decision = decide_exemption(facts(), APPLIED)
    assert decision.granted and decision.regime is Regime.REFORM_2022
    assert decision.due_point is not None and decision.due_point.due == date(2025, 3, 15)
    assert decision.valid_until == date(2027, 3, 15)


# Each reason alone: the change that causes it, and the only reason it must produce.
ALONE: dict[RefusalReason, dict[str, Any]] = {
    R.NOT_SMALL_PASSENGER_CAR: {"vehicle_class": VehicleClass.N1},
    R.OPERATING_USE: {"use": VehicleUse.OPERATING},
    R.VAN: {"van": True},
    R.TOO_MANY_SEATS: {"seats": 10},
    R.CASUALTY_ACCIDENT: {"casualty_accident": True},
    R.INSURANCE_NOT_VALID: {"insurance_valid_until": None},
    R.VEHICLE_TAX_UNPAID: {"vehicle_tax_paid": False},
    R.UNRESOLVED_VIOLATIONS: {"unresolved_violations": 2},
    R.UNRESOLVED_ACCIDENTS: {"unresolved_accidents": 1},
}


@pytest.mark.parametrize("reason", list(ALONE))
def test_each_reason_alone(reason: RefusalReason) -> None:
    decision = decide_exemption(facts(**ALONE[reason]), APPLIED)
    assert decision.reasons == (reason,)
    assert not decision.granted and decision.due_point is None and decision.valid_until is None


@pytest.mark.parametrize("pair", list(combinations(ALONE, 2)))
def test_every_pair_of_reasons_is_listed_both(pair: tuple[RefusalReason, RefusalReason]) -> None:
    decision = decide_exemption(facts(**ALONE[pair[0]], **ALONE[pair[1]]), APPLIED)
    assert set(decision.reasons) == set(pair)


def test_all_reasons_at_once_are_all_listed_with_an_age_reason() -> None:
    everything: dict[str, Any] = {}
    for change in ALONE.values():
        everything.update(change)
    decision = decide_exemption(facts(**everything), REGISTERED + 30 * DAY)
    assert set(decision.reasons) == set(ALONE) | {R.WINDOW_NOT_OPEN}


def test_seven_seats_pass_since_2022_and_fail_under_2014() -> None:
    assert decide_exemption(facts(seats=7), APPLIED).granted
    old = facts(seats=7, registration_date=date(2018, 3, 15), insurance_valid_until=date(2021, 1, 1))
    assert decide_exemption(old, date(2020, 2, 1)).reasons == (R.TOO_MANY_SEATS,)


def test_before_2014_there_is_no_exemption() -> None:
    old = facts(registration_date=date(2012, 3, 15), insurance_valid_until=date(2015, 1, 1))
    assert decide_exemption(old, date(2014, 2, 1)).reasons == (R.NO_EXEMPTION_IN_FORCE,)


def test_an_application_before_registration_is_refused_as_such() -> None:
    assert R.NOT_YET_REGISTERED in decide_exemption(facts(), REGISTERED - DAY).reasons


@pytest.mark.parametrize(
    ("day", "reasons"),
    [
        (date(2024, 12, 14), (R.WINDOW_NOT_OPEN,)),  # the day before the window opens
        (date(2024, 12, 15), ()),
        (date(2024, 12, 16), ()),
        (date(2025, 3, 14), ()),  # the due date and either side of it
        (date(2025, 3, 15), ()),
        (date(2025, 3, 16), ()),
    ],
)
def test_the_window_of_the_first_label(day: date, reasons: tuple[RefusalReason, ...]) -> None:
    assert decide_exemption(facts(insurance_valid_until=date(2030, 1, 1)), day).reasons == reasons


@pytest.mark.parametrize(
    ("day", "reasons"),
    [
        (date(2028, 12, 14), ()),  # still answering year 4 (overdue is not our reason to give)
        (date(2028, 12, 15), (R.LANE_INSPECTION_DUE,)),  # year 6 window opens: a lane inspection
        (date(2030, 12, 14), (R.LANE_INSPECTION_DUE,)),
        (date(2030, 12, 15), ()),  # year 8 is a label again since 2022
        (date(2032, 12, 15), (R.LANE_INSPECTION_DUE,)),  # year 10: lane
    ],
)
def test_lane_years_refuse_and_year_8_is_a_label(day: date, reasons: tuple[RefusalReason, ...]) -> None:
    assert decide_exemption(facts(insurance_valid_until=date(2040, 1, 1)), day).reasons == reasons


@pytest.mark.parametrize(("offset", "valid"), [(-1, False), (0, True), (1, True)])
def test_insurance_must_be_valid_on_the_application_day(offset: int, valid: bool) -> None:
    decision = decide_exemption(facts(insurance_valid_until=APPLIED + offset * DAY), APPLIED)
    assert decision.granted is valid


def test_a_29_february_registration_is_due_on_28_february() -> None:
    leap = facts(registration_date=date(2024, 2, 29), insurance_valid_until=date(2030, 1, 1))
    assert decide_exemption(leap, date(2025, 11, 27)).reasons == (R.WINDOW_NOT_OPEN,)
    decision = decide_exemption(leap, date(2025, 11, 28))
    assert decision.due_point is not None and decision.due_point.due == date(2026, 2, 28)
    assert decision.valid_until == date(2028, 2, 29)


def test_an_inspection_label_runs_to_the_next_due_date() -> None:
    vehicle = facts().vehicle
    assert inspection_label_valid_until(vehicle, date(2029, 3, 1)) == date(2031, 3, 15)


@given(
    st.dates(min_value=date(2010, 1, 1), max_value=date(2035, 12, 31)),
    st.dates(min_value=date(2014, 9, 1), max_value=date(2045, 12, 31)),
    st.sampled_from(list(VehicleClass)),
    st.integers(min_value=1, max_value=12),
    st.booleans(),
)
def test_a_grant_always_answers_a_label_point_whose_window_is_open(
    registered: date, day: date, cls: VehicleClass, seats: int, van: bool
) -> None:
    decision = decide_exemption(
        facts(
            registration_date=registered, vehicle_class=cls, seats=seats, van=van, insurance_valid_until=day
        ),
        day,
    )
    assert decision.granted == (decision.due_point is not None)
    if decision.due_point is not None:
        assert decision.due_point.window_opens <= day
        assert decision.valid_until is not None and decision.valid_until > day
    assert len(set(decision.reasons)) == len(decision.reasons)

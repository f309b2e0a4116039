"""The OBD rules alone, case by case (GB 18285-2018 / GB 3847-2018 OBD check, standards.md §10)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inspection import Fuel, Outcome, Vehicle
from inspection.measurements import MonitorReadiness, ObdCheck, ReadinessMonitor
from inspection.verdicts import judge_obd, obd_check_required
from inspection.verdicts.limits import DEFAULT_LIMITS, Evidence, Rule
from inspection.verdicts.obd_rules import MIL_DTCS, READINESS, VIN_MATCH
from tests.inspection.verdicts.conftest import BASE_VEHICLE

CAR = replace(BASE_VEHICLE, has_obd=True)
M = ReadinessMonitor


def _readiness(
    *incomplete: ReadinessMonitor, unsupported: tuple[ReadinessMonitor, ...] = ()
) -> tuple[MonitorReadiness, ...]:
    monitors = (
        M.MISFIRE,
        M.FUEL_SYSTEM,
        M.COMPONENTS,
        M.CATALYST,
        M.EVAPORATIVE_SYSTEM,
        M.OXYGEN_SENSOR,
        M.EGR_VVT,
    )
    return tuple(MonitorReadiness(m, m not in unsupported, m not in incomplete) for m in monitors)


GOOD = ObdCheck(communicated=True, protocol="6", readiness=_readiness(), vin=CAR.vin)


def _outcomes(vehicle: Vehicle, check: ObdCheck | None) -> dict[str, Outcome]:
    return {item.code: item.outcome for item in judge_obd(vehicle, check)}


def test_a_clean_check_passes_every_item_under_gb_18285_for_petrol() -> None:
    items = judge_obd(CAR, GOOD)
    assert [i.outcome for i in items] == [Outcome.PASS] * 4
    assert {i.clause for i in items} == {"GB 18285-2018 OBD check"}


def test_diesel_is_judged_under_gb_3847() -> None:
    diesel = replace(CAR, fuel=Fuel.DIESEL)
    assert {i.clause for i in judge_obd(diesel, GOOD)} == {"GB 3847-2018 OBD check"}


def test_mil_on_with_stored_emission_dtcs_fails_with_the_codes() -> None:
    check = replace(GOOD, mil_on=True, dtc_count=2, stored_dtcs=("P0420", "P0133"))
    item = next(i for i in judge_obd(CAR, check) if i.code == MIL_DTCS)
    assert (item.outcome, item.measured, item.limit) == (Outcome.FAIL, 2, 0)
    assert "P0420, P0133" in item.note


def test_mil_on_without_stored_dtcs_and_mil_off_with_codes_both_pass() -> None:
    on_without = replace(GOOD, mil_on=True)
    off_with = replace(GOOD, stored_dtcs=("P0171",))
    assert _outcomes(CAR, on_without)[MIL_DTCS] is Outcome.PASS
    item = next(i for i in judge_obd(CAR, off_with) if i.code == MIL_DTCS)
    assert (item.outcome, item.measured) == (Outcome.PASS, 0) and "P0171" in item.note


@pytest.mark.parametrize(
    ("incomplete", "outcome"),
    [
        ((), Outcome.PASS),
        ((M.CATALYST, M.OXYGEN_SENSOR), Outcome.PASS),  # 2 <= 2 allowed
        ((M.CATALYST, M.OXYGEN_SENSOR, M.EVAPORATIVE_SYSTEM), Outcome.FAIL),  # 3 > 2
    ],
)
def test_readiness_counts_supported_incomplete_monitors_against_the_allowed_count(
    incomplete: tuple[ReadinessMonitor, ...], outcome: Outcome
) -> None:
    item = next(
        i for i in judge_obd(CAR, replace(GOOD, readiness=_readiness(*incomplete))) if i.code == READINESS
    )
    assert (item.outcome, item.measured, item.limit) == (outcome, len(incomplete), 2)


def test_an_unsupported_monitor_is_never_incomplete() -> None:
    readiness = _readiness(
        M.CATALYST, M.EVAPORATIVE_SYSTEM, M.EGR_VVT, unsupported=(M.EVAPORATIVE_SYSTEM, M.EGR_VVT)
    )
    item = next(i for i in judge_obd(CAR, replace(GOOD, readiness=readiness)) if i.code == READINESS)
    assert (item.measured, item.outcome) == (1, Outcome.PASS)


def test_the_allowed_count_is_configuration_with_its_evidence() -> None:
    limit = DEFAULT_LIMITS.get(Rule.OBD_READINESS_INCOMPLETE, "petrol")
    assert limit.evidence is Evidence.MEMORY and "open" in limit.open_question
    strict = DEFAULT_LIMITS.replace(Rule.OBD_READINESS_INCOMPLETE, "petrol", value=0)
    check = replace(GOOD, readiness=_readiness(M.CATALYST))
    assert next(i for i in judge_obd(CAR, check, strict) if i.code == READINESS).outcome is Outcome.FAIL


def test_vin_mismatch_fails_and_an_unread_vin_cannot_be_judged() -> None:
    assert _outcomes(CAR, replace(GOOD, vin="LFV2A21K0NA000002"))[VIN_MATCH] is Outcome.FAIL
    item = next(i for i in judge_obd(CAR, replace(GOOD, vin=None, vin_note="NO DATA")) if i.code == VIN_MATCH)
    assert item.outcome is Outcome.CANNOT_JUDGE and "NO DATA" in item.note


def test_no_communication_fails_and_leaves_the_rest_unjudged() -> None:
    items = judge_obd(CAR, ObdCheck(communicated=False))
    assert [i.outcome for i in items] == [Outcome.FAIL] + [Outcome.CANNOT_JUDGE] * 3


def test_a_vehicle_with_obd_and_no_check_cannot_be_judged_one_without_obd_gets_no_items() -> None:
    assert set(_outcomes(CAR, None).values()) == {Outcome.CANNOT_JUDGE}
    assert judge_obd(BASE_VEHICLE, None) == ()
    assert len(judge_obd(BASE_VEHICLE, GOOD)) == 4  # a check on the record is judged as recorded


def test_which_vehicles_need_the_check() -> None:
    assert obd_check_required(CAR) and obd_check_required(replace(CAR, fuel=Fuel.DIESEL))
    assert not obd_check_required(BASE_VEHICLE)  # no OBD
    assert not obd_check_required(replace(CAR, fuel=Fuel.ELECTRIC))  # no emission test at all

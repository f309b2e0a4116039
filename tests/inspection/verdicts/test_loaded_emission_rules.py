"""ASM and lug-down rules, each alone, with numbers worked by hand (limits: standards.md §10, [mem]).

Ambient used throughout: 25 °C, 50 % RH, 101.3 kPa.
    Pd = 0.61094 exp(17.625 x 25 / 268.04) = 0.61094 x 5.1752 = 3.1617 kPa
    H  = 6.211 x 50 x 3.1617 / (101.3 - 3.1617 x 0.5) = 981.87 / 99.719 = 9.846 g/kg
    kH = 1 / (1 - 0.0329 (9.846 - 10.71)) = 1 / 1.02842 = 0.97237
Gas of the "diluted" second: CO 0.2 %, CO2 9.8 %:
    x = 0.98, undiluted = 98 / (4.644 + 1.8424) = 15.1085, DF = 15.1085 / 10 = 1.51085
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection import (
    Ambient,
    AsmMode,
    AsmPhase,
    AsmRun,
    Fuel,
    InspectionRecord,
    LimitSet,
    LoadedSecond,
    LugDownPoint,
    LugDownRun,
    Outcome,
    TwoSpeedIdleRun,
)
from inspection.verdicts import Procedure, accepted_procedures, judge, judge_emission, required_procedure
from inspection.verdicts.loaded_emission_rules import (
    asm_averages,
    asm_items,
    dilution_factor,
    humidity_factor,
    humidity_g_per_kg,
    lug_down_items,
)
from protos.record_mapping import record_from_bytes, record_to_bytes
from tests.inspection.verdicts.conftest import BASE_VEHICLE

AIR = Ambient(25.0, 50.0, 101.3)


def _second(t: float, speed: float = 25.0, **gas: float) -> LoadedSecond:
    values = {"hc_ppm": 40.0, "co_pct": 0.2, "co2_pct": 9.8, "no_ppm": 300.0} | gas
    return LoadedSecond(t_s=t, speed_kmh=speed, power_kw=10.0, rpm=1600.0, o2_pct=5.0, **values)


def _phase(mode: AsmMode, seconds: list[LoadedSecond], *, fast: bool = False) -> AsmPhase:
    return AsmPhase(mode, 9.5, 0.6, fast, tuple(seconds))


def _asm(limit_set: str, *phases: AsmPhase) -> AsmRun:
    return AsmRun(LimitSet(limit_set), 1450, AIR, phases)


def _both(limit_set: str = "a", **gas: float) -> AsmRun:
    return _asm(
        limit_set,
        _phase(AsmMode.ASM5025, [_second(t, **gas) for t in range(1, 11)]),
        _phase(AsmMode.ASM2540, [_second(t, 40.0, **gas) for t in range(1, 11)]),
    )


def _items(run: AsmRun) -> dict[str, tuple[Outcome, float | None, str]]:
    return {i.code: (i.outcome, i.measured, i.note) for i in asm_items(run)}


def test_humidity_and_dilution_corrections() -> None:
    assert humidity_g_per_kg(AIR) == pytest.approx(9.846, abs=0.002)
    assert humidity_factor(AIR) == pytest.approx(0.97237, abs=2e-4)
    assert dilution_factor(0.2, 9.8) == pytest.approx(1.51085, abs=1e-4)
    assert dilution_factor(0.5, 14.5) == 1.0  # 0.997 undiluted: never corrected downwards
    assert dilution_factor(0.1, 4.0) == 3.0  # 3.67, capped
    assert dilution_factor(0.0, 0.0) == 3.0  # the probe out of the pipe: no division by zero


def test_asm_averages_are_corrected_and_rounded_as_reported() -> None:
    averages = asm_averages([_second(t) for t in range(1, 11)], AIR)
    # HC 40 x 1.51085 = 60.43 -> 60; CO 0.2 x 1.51085 = 0.302 -> 0.30; NO 300 x 1.51085 x 0.97237 = 440.7 -> 441
    assert (averages.hc, averages.co, averages.no) == (60.0, 0.30, 441.0)


def test_asm_limit_set_a_passes_and_b_fails_on_hc_and_no() -> None:
    a = _items(_both("a"))
    assert a["emission.asm5025.co.max"][:2] == (Outcome.PASS, 0.30)
    assert a["emission.asm5025.hc.max"][:2] == (Outcome.PASS, 60.0)
    assert a["emission.asm5025.no.max"][:2] == (Outcome.PASS, 441.0)
    assert a["emission.asm2540.no.max"][0] is Outcome.PASS  # 441 <= 650
    b = _items(_both("b"))
    assert b["emission.asm5025.co.max"][0] is Outcome.PASS  # 0.30 <= 0.35
    assert b["emission.asm5025.hc.max"][0] is Outcome.FAIL  # 60 > 47
    assert b["emission.asm5025.no.max"][0] is Outcome.FAIL  # 441 > 420
    assert b["emission.asm2540.hc.max"][0] is Outcome.FAIL  # 60 > 44
    assert b["emission.asm2540.co.max"][0] is Outcome.PASS  # 0.30 <= 0.30


def test_a_full_phase_is_judged_on_its_last_ten_seconds() -> None:
    dirty = [_second(t, no_ppm=1000.0) for t in range(1, 81)]
    clean = [_second(t) for t in range(81, 91)]
    run = _asm("a", _phase(AsmMode.ASM5025, dirty + clean), _both().phases[1])
    assert _items(run)["emission.asm5025.no.max"][:2] == (Outcome.PASS, 441.0)


def test_a_fast_pass_must_be_borne_out_by_its_first_average() -> None:
    # CO 0.30 is above half the 0.50 limit: not "well inside".
    run = _asm("a", _phase(AsmMode.ASM5025, [_second(t) for t in range(1, 11)], fast=True), _both().phases[1])
    outcome, _, note = _items(run)["emission.asm5025.co.max"]
    assert outcome is Outcome.CANNOT_JUDGE and "fast pass" in note
    # Clean: CO 0.1 + CO2 14.9: x = 0.99333, DF = 99.333 / 6.51147 / 15 = 1.01701; HC 20 x DF = 20,
    # CO 0.10, NO 100 x 1.01701 x 0.97237 = 98.9 -> 99: every average under half its limit.
    clean = [_second(t, hc_ppm=20.0, co_pct=0.1, co2_pct=14.9, no_ppm=100.0) for t in range(1, 11)]
    run = _asm("a", _phase(AsmMode.ASM5025, clean, fast=True), _both().phases[1])
    assert _items(run)["emission.asm5025.no.max"][:2] == (Outcome.PASS, 99.0)


@pytest.mark.parametrize(
    ("seconds", "reason"),
    [
        ([_second(t) for t in range(1, 10)], "9 measured seconds"),
        (
            [_second(t, 27.5 if 4 <= t <= 7 else 25.0) for t in range(1, 11)],
            "27.5 km/h outside 23-27 km/h for more than 2 s",
        ),
        ([_second(t, co2_pct=5.0 if t == 2 else 9.8) for t in range(1, 11)], "diluted"),
        ([replace(_second(t), low_flow=t == 7) for t in range(1, 11)], "low flow"),
    ],
)
def test_an_invalid_phase_cannot_be_judged(seconds: list[LoadedSecond], reason: str) -> None:
    run = _asm("a", _phase(AsmMode.ASM5025, seconds), _both().phases[1])
    items = _items(run)
    for gas in ("co", "hc", "no"):
        outcome, measured, note = items[f"emission.asm5025.{gas}.max"]
        assert outcome is Outcome.CANNOT_JUDGE and measured is None and reason in note
    assert items["emission.asm2540.co.max"][0] is Outcome.PASS


def test_a_short_excursion_is_allowed() -> None:
    seconds = [_second(t, 27.5 if 4 <= t <= 5 else 25.0) for t in range(1, 11)]  # outside for 1 s (t 4 to 5)
    run = _asm("a", _phase(AsmMode.ASM5025, seconds), _both().phases[1])
    assert _items(run)["emission.asm5025.no.max"][0] is Outcome.PASS


def test_a_missing_phase_cannot_be_judged() -> None:
    run = _asm("a", _both().phases[0])
    assert _items(run)["emission.asm2540.hc.max"][0] is Outcome.CANNOT_JUDGE


def _lug(limit_set: str, *, k: dict[int, list[float]], nox: list[float], max_kw: float) -> LugDownRun:
    scan = tuple(
        LoadedSecond(t_s=i, speed_kmh=70.0 - 2 * i, power_kw=p, rpm=3200 - 90 * i)
        for i, p in enumerate((30.0, max_kw, max_kw - 2, 40.0))
    )
    points = tuple(
        LugDownPoint(
            f,
            66.0 * f / 100,
            tuple(
                LoadedSecond(t_s=j, speed_kmh=66.0 * f / 100, power_kw=40.0, rpm=2500, k_per_m=kv, no_ppm=n)
                for j, (kv, n) in enumerate(zip(values, nox if f == 80 else [0.0] * len(values), strict=True))
            ),
        )
        for f, values in k.items()
    )
    return LugDownRun(LimitSet(limit_set), 110.0, scan, 68.0, max_kw, 3110, points)


def test_lug_down_k_nox_and_wheel_power() -> None:
    k = {100: [0.5, 0.6], 90: [0.62, 0.62], 80: [0.8, 0.7]}
    items = {i.code: i for i in lug_down_items(_lug("b", k=k, nox=[850.0, 950.0], max_kw=46.0))}
    assert (items["emission.lug_down.k100.max"].measured, items["emission.lug_down.k100.max"].outcome) == (
        0.55,
        Outcome.PASS,
    )
    assert items["emission.lug_down.k90.max"].outcome is Outcome.PASS  # 0.62 <= 0.7
    assert (items["emission.lug_down.k80.max"].measured, items["emission.lug_down.k80.max"].outcome) == (
        0.75,
        Outcome.FAIL,
    )
    assert (items["emission.lug_down.nox80.max"].measured, items["emission.lug_down.nox80.max"].outcome) == (
        900.0,
        Outcome.PASS,  # 900 <= 900: at the limit passes
    )
    power = items["emission.lug_down.wheel_power.min"]
    assert (power.measured, power.outcome) == (41.8, Outcome.PASS)  # 46 / 110 = 41.8 %
    a = {i.code: i for i in lug_down_items(_lug("a", k=k, nox=[850.0, 950.0], max_kw=43.0))}
    assert a["emission.lug_down.k80.max"].outcome is Outcome.PASS  # 0.75 <= 1.2
    assert (
        a["emission.lug_down.wheel_power.min"].measured,
        a["emission.lug_down.wheel_power.min"].outcome,
    ) == (
        39.1,
        Outcome.FAIL,  # 43 / 110 = 39.09 %
    )
    assert a["emission.lug_down.wheel_power.min"].limit == 40.0


def test_lug_down_missing_points_and_k_cannot_be_judged() -> None:
    run = _lug("a", k={100: [0.5], 90: [0.5]}, nox=[], max_kw=50.0)
    items = {i.code: i for i in lug_down_items(run)}
    assert items["emission.lug_down.k80.max"].outcome is Outcome.CANNOT_JUDGE
    assert items["emission.lug_down.nox80.max"].outcome is Outcome.CANNOT_JUDGE
    assert items["emission.lug_down.k100.max"].outcome is Outcome.PASS


def test_which_method_a_vehicle_takes() -> None:
    diesel = replace(BASE_VEHICLE, fuel=Fuel.DIESEL)
    awd = replace(BASE_VEHICLE, full_time_awd=True)
    assert required_procedure(BASE_VEHICLE) is Procedure.ASM
    assert required_procedure(replace(BASE_VEHICLE, fuel=Fuel.GAS)) is Procedure.ASM
    assert required_procedure(BASE_VEHICLE, dynamometer=False) is Procedure.TWO_SPEED_IDLE
    assert required_procedure(awd) is Procedure.TWO_SPEED_IDLE
    assert required_procedure(diesel) is Procedure.LUG_DOWN
    assert required_procedure(replace(diesel, full_time_awd=True)) is Procedure.FREE_ACCELERATION
    assert required_procedure(replace(BASE_VEHICLE, fuel=Fuel.ELECTRIC)) is None
    assert accepted_procedures(awd) == (Procedure.TWO_SPEED_IDLE,)


def test_a_loaded_run_on_a_vehicle_that_cannot_be_loaded_is_not_judged_and_tsi_still_is() -> None:
    awd = replace(BASE_VEHICLE, full_time_awd=True)
    items = judge_emission(awd, _both())
    assert {i.code.split(".")[1] for i in items} == {"tsi"}
    assert all(i.outcome is Outcome.CANNOT_JUDGE and "cannot go on the rollers" in i.note for i in items)
    # A two-wheel-drive petrol car from a lane without a dynamometer keeps its two-speed idle verdict.
    old = judge_emission(BASE_VEHICLE, TwoSpeedIdleRun(LimitSet.A, (), ()))
    assert {i.code.split(".")[1] for i in old} == {"tsi"}


@pytest.mark.parametrize(
    "run", [_both("b"), _lug("a", k={100: [0.5], 90: [0.6], 80: [0.7]}, nox=[800], max_kw=50)]
)
def test_the_hub_recomputes_the_stations_verdict_from_the_signed_bytes(run: AsmRun | LugDownRun) -> None:
    car = replace(BASE_VEHICLE, vin="LFV2A21K6NA000001")  # a VIN with its check digit, as the hub wants
    vehicle = car if isinstance(run, AsmRun) else replace(car, fuel=Fuel.DIESEL, rated_power_kw=110)
    record = InspectionRecord(
        record_id=UUID("00000000-0000-4000-8000-000000000001"),
        station_id="5001001",
        lane=1,
        vehicle=vehicle,
        started_at=datetime(2026, 1, 1, 2, 0, tzinfo=UTC),
        finished_at=datetime(2026, 1, 1, 2, 20, tzinfo=UTC),
        emission=run,
    )
    station = judge(record)
    record = replace(record, station_verdict=station)
    arrived = record_from_bytes(record_to_bytes(record))
    assert arrived.emission == run
    assert judge(arrived) == station


_value = st.floats(min_value=-1.0, max_value=1e4) | st.sampled_from([math.nan, math.inf])
_seconds = st.lists(
    st.builds(
        LoadedSecond,
        t_s=st.floats(0, 200),
        speed_kmh=_value,
        power_kw=_value,
        rpm=_value,
        hc_ppm=_value,
        co_pct=_value,
        co2_pct=_value,
        no_ppm=_value,
        k_per_m=st.none() | _value,
        low_flow=st.booleans(),
    ),
    max_size=14,
)


@settings(max_examples=150)
@given(_seconds, _seconds, st.booleans(), st.sampled_from(["a", "b"]))
def test_any_loaded_run_gives_its_items_and_never_raises(
    first: list[LoadedSecond], second: list[LoadedSecond], fast: bool, limit_set: str
) -> None:
    asm = _asm(limit_set, _phase(AsmMode.ASM5025, first, fast=fast), _phase(AsmMode.ASM2540, second))
    assert len(asm_items(asm)) == 6
    lug = LugDownRun(
        LimitSet(limit_set), 110.0, tuple(first), 60.0, 50.0, 3000.0, (LugDownPoint(80, 48.0, tuple(second)),)
    )
    items = lug_down_items(lug)
    assert len(items) == 5
    assert all(i.outcome is not Outcome.PASS or i.measured is not None for i in items)

"""Each anomaly rule alone, on hand-made records: a case that must hit (with the numbers in the
reason), the edge that must not, and the configuration moving the edge."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.anomaly_rules import (
    COUNTER_MODULUS,
    AnomalyConfig,
    PassCounts,
    Rule,
    StationHours,
    Visit,
    copied_curves,
    counter_anomalies,
    curve_fingerprint,
    implausible_values,
    outside_hours,
    overlapping_visits,
    pass_rate_outlier,
    record_fingerprints,
    record_flags,
    shared_photos,
    too_fast,
)
from inspection import Fuel, InspectionRecord, Outcome, Vehicle, VehicleClass, VehicleUse
from inspection.measurements import AxleBrake, BrakeCurve, BrakeKind, BrakeTest, PhotoRef, VisualCheck

CONFIG = AnomalyConfig()
_VEHICLE = Vehicle(
    vin="LSVAU2180N2000001",
    plate="渝B00001",
    registration_province="50",
    vehicle_class=VehicleClass.M1,
    fuel=Fuel.PETROL,
    seats=5,
    use=VehicleUse.NON_OPERATING,
    registration_date=date(2020, 5, 1),
    curb_mass_kg=1350,
    max_total_mass_kg=1800,
    axle_count=8,
)
RecordFactory = Callable[..., InspectionRecord]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in UTC+8


def _run(
    counter: int = 0, curve: BrakeCurve | None = None, force: float = 2900.0, slip: bool = False
) -> BrakeTest:
    return BrakeTest(BrakeKind.SERVICE, force, force - 50, 40.0, 35.0, slip, False, curve, counter)


def _record(
    make_record: RecordFactory,
    *,
    minutes: float = 8,
    axles: tuple[AxleBrake, ...] | None = None,
    **changes: Any,
) -> InspectionRecord:
    record: InspectionRecord = make_record(1)
    values: dict[str, object] = {"started_at": T0, "finished_at": T0 + timedelta(minutes=minutes)}
    if axles is not None:
        values["axles"] = axles
    values.update(changes)
    return dataclasses.replace(record, **values)  # type: ignore[arg-type]  # keyword values of mixed types


def _curve(shape: list[float], scale: float = 3000.0, rate: int = 100) -> BrakeCurve:
    samples = tuple(round(value * scale) for value in shape)
    return BrakeCurve(rate, samples, tuple(round(value * 0.95) for value in samples))


def _ramp(samples: int) -> list[float]:
    """Rise to full force over the first half, hold, release at the end: sampled ``samples`` times."""
    return [min(1.0, 2 * i / samples) if i < samples - 5 else 0.0 for i in range(samples)]


RAMP = _ramp(64)
HUMP = [(i / 30) ** 3 if i < 30 else 1.0 - (i - 30) / 40 for i in range(65)]


# ------------------------------------------------------------------ too fast


def test_too_fast_counts_curves_runs_and_lamps(make_record) -> None:  # type: ignore[no-untyped-def]
    axles = (AxleBrake(1, 400.0, 400.0, _run(curve=_curve(RAMP, rate=1))),)  # one second a sample
    need = CONFIG.min_visit_s + CONFIG.min_brake_run_s + len(RAMP)
    ok = _record(make_record, minutes=need / 60, axles=axles)
    assert too_fast(ok, CONFIG) == []
    fast = _record(make_record, minutes=(need - 1) / 60, axles=axles)
    [hit] = too_fast(fast, CONFIG)
    assert hit.rule is Rule.TOO_FAST and f"at least {need:.0f} s" in hit.reason
    assert too_fast(fast, dataclasses.replace(CONFIG, min_visit_s=CONFIG.min_visit_s - 2)) == []


# ------------------------------------------------------------------ implausible values


def test_brake_force_beyond_what_the_load_allows(make_record) -> None:  # type: ignore[no-untyped-def]
    load = 400.0
    limit = CONFIG.max_brake_force_per_load_g * load * 9.80665
    fine = _record(make_record, axles=(AxleBrake(1, load, load, _run(force=limit - 1)),))
    assert implausible_values(fine, CONFIG) == []
    rigged = _record(make_record, axles=(AxleBrake(1, load, load, _run(force=limit + 60)),))
    hit, *_ = implausible_values(rigged, CONFIG)
    assert (
        hit.rule is Rule.IMPLAUSIBLE_VALUE and "axle 1 service left" in hit.reason and "400 kg" in hit.reason
    )


def test_values_outside_the_physical_range_table(make_record) -> None:  # type: ignore[no-untyped-def]
    broken = _record(make_record, axles=(AxleBrake(1, -5.0, 400.0, _run()),))
    hits = implausible_values(broken, CONFIG)
    assert any("outside physical range" in h.reason and "axles[0].left_load_kg" in h.reason for h in hits)


# ------------------------------------------------------------------ hours


@pytest.mark.parametrize(
    ("start_local", "minutes", "hit"),
    [
        ("07:00", 10, False),
        ("19:50", 10, False),
        ("06:59", 10, True),
        ("19:55", 10, True),
        ("23:55", 10, True),
    ],
)
def test_outside_hours_in_local_time(make_record, start_local: str, minutes: int, hit: bool) -> None:  # type: ignore[no-untyped-def]
    hours = StationHours(time(7, 0), time(20, 0), timedelta(hours=8))
    h, m = map(int, start_local.split(":"))
    start = datetime(2026, 11, 2, h, m, tzinfo=UTC) - timedelta(hours=8)
    record = _record(make_record, started_at=start, finished_at=start + timedelta(minutes=minutes))
    hits = outside_hours(record, hours)
    assert bool(hits) is hit
    if hit:
        assert "07:00..20:00" in hits[0].reason


def test_hours_per_station_override_the_default() -> None:
    night = StationHours(time(0, 0), time(23, 59))
    config = AnomalyConfig(station_hours={"50-0009": night})
    assert config.hours_of("50-0009") is night and config.hours_of("50-0001") == StationHours()
    with pytest.raises(ValueError, match="opens"):
        StationHours(time(20, 0), time(7, 0))


# ------------------------------------------------------------------ TEST_COUNTER


def _counted(make_record, *counters: int):  # type: ignore[no-untyped-def]
    return _record(
        make_record, axles=tuple(AxleBrake(i + 1, 400.0, 400.0, _run(c)) for i, c in enumerate(counters))
    )


@pytest.mark.parametrize(
    ("previous", "counters", "problems"),
    [
        (10, (11, 12), []),
        (None, (11, 12), []),
        (10, (13, 14), []),  # two aborted runs before
        (65535, (0 + 1, 2), []),  # wraps (0 means "not reported" and is skipped)
        (10, (10, 11), ["repeats 10"]),
        (10, (11, 11), ["repeats 11"]),
        (10, (9, 10), ["goes back from 10"]),
        (10, (17, 18), ["jumps 7 from 10"]),
    ],
)
def test_counter(make_record, previous, counters, problems) -> None:  # type: ignore[no-untyped-def]
    hits = counter_anomalies(_counted(make_record, *counters), previous, CONFIG)
    assert [h.rule for h in hits] == [Rule.TEST_COUNTER] * len(problems)
    for hit, problem in zip(hits, problems, strict=True):
        assert problem in hit.reason


# ------------------------------------------------------------------ curve fingerprints


def test_a_scaled_copy_has_the_same_fingerprint_and_another_shape_does_not() -> None:
    a = _curve(RAMP, 3000.0)
    scaled = _curve(RAMP, 4100.0)
    noisy = BrakeCurve(100, tuple(x + (7 if i % 3 else -5) for i, x in enumerate(a.left_n)), a.right_n)
    other = _curve(HUMP, 3000.0)
    fa = curve_fingerprint(a.left_n, a.right_n, CONFIG)
    assert fa is not None
    assert curve_fingerprint(scaled.left_n, scaled.right_n, CONFIG) == fa
    assert curve_fingerprint(noisy.left_n, noisy.right_n, CONFIG) == fa
    assert curve_fingerprint(other.left_n, other.right_n, CONFIG) != fa


def test_no_fingerprint_for_runs_without_a_shape() -> None:
    assert curve_fingerprint((1, 2, 3), (1, 2, 3), CONFIG) is None  # too few samples
    weak = tuple([100] * 40)
    assert curve_fingerprint(weak, weak, CONFIG) is None  # below curve_min_peak_n


def test_copied_curve_names_the_other_vehicle(make_record) -> None:  # type: ignore[no-untyped-def]
    record = _record(make_record, axles=(AxleBrake(1, 400.0, 400.0, _run(curve=_curve(RAMP))),))
    prints = record_fingerprints(record, CONFIG)
    [(name, fingerprint)] = prints
    assert copied_curves(record, prints, {fingerprint: [record.vehicle.vin]}) == []  # its own
    [hit] = copied_curves(record, prints, {fingerprint: ["LSVAU2180N2000001", record.vehicle.vin]})
    assert hit.rule is Rule.COPIED_CURVE and "LSVAU2180N2000001" in hit.reason and name in hit.reason


# ------------------------------------------------------------------ photos


def test_shared_photo(make_record) -> None:  # type: ignore[no-untyped-def]
    photo = PhotoRef("ab" * 32, "image/jpeg", 1000, "front")
    record = _record(make_record, photos=(photo,))
    assert shared_photos(record, {}) == []
    assert shared_photos(record, {photo.sha256: [record.vehicle.vin]}) == []
    [hit] = shared_photos(record, {photo.sha256: ["LSVAU2180N2000001"]})
    assert hit.rule is Rule.SHARED_PHOTO and "front" in hit.reason and "LSVAU2180N2000001" in hit.reason


# ------------------------------------------------------------------ overlapping visits


def test_overlapping_visit_at_another_station(make_record) -> None:  # type: ignore[no-untyped-def]
    record = _record(make_record, minutes=10)
    end = record.finished_at
    overlapping = Visit("50-0002", "x", end - timedelta(minutes=1), end + timedelta(minutes=9))
    touching = Visit("50-0002", "y", end, end + timedelta(minutes=9))  # the next visit, right after
    same_station = Visit(record.station_id, "z", record.started_at, end)
    assert overlapping_visits(record, [touching, same_station]) == []
    [hit] = overlapping_visits(record, [overlapping, touching])
    assert hit.rule is Rule.OVERLAPPING_VISIT and "50-0002" in hit.reason


# ------------------------------------------------------------------ pass rate


@pytest.mark.parametrize(
    ("station", "outcome", "hit"),
    [
        (PassCounts(100, 97), Outcome.PASS, True),
        (PassCounts(100, 97), Outcome.FAIL, False),  # a failure does not push the high rate
        (PassCounts(100, 94), Outcome.PASS, False),  # 0.19 off: inside
        (PassCounts(100, 50), Outcome.FAIL, True),
        (PassCounts(49, 49), Outcome.PASS, False),  # too few to tell
    ],
)
def test_pass_rate_outlier(station: PassCounts, outcome: Outcome, hit: bool) -> None:
    peers = PassCounts(1000, 750)
    hits = pass_rate_outlier("50-0003", outcome, station, peers, CONFIG)
    assert bool(hits) is hit
    if hit:
        assert hits[0].rule is Rule.PASS_RATE_OUTLIER and "75% of 1000" in hits[0].reason


# ------------------------------------------------------------------ flags without a rule


def test_flags_mismatch_slip_and_pda_correction(make_record) -> None:  # type: ignore[no-untyped-def]
    plain = _record(make_record)
    assert record_flags(plain, False, "pass", "pass") == []
    corrected = VisualCheck("C01", True, "", "insp-7", T0, correction_reason="misread the tyre")
    flagged = _record(
        make_record,
        axles=(AxleBrake(1, 400.0, 400.0, _run(slip=True)),),
        visual_checks=(VisualCheck("C01", False, "", "insp-7", T0), corrected),
    )
    rules = [h.rule for h in record_flags(flagged, True, "pass", "fail")]
    assert rules == [Rule.VERDICT_MISMATCH, Rule.WHEEL_SLIP, Rule.PDA_CORRECTION]


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_counter_jump"):
        AnomalyConfig(max_counter_jump=-1)
    with pytest.raises(ValueError, match="min_visit_s"):
        AnomalyConfig(min_visit_s=-1)


# ------------------------------------------------------------------ properties


@given(
    start=st.integers(min_value=1, max_value=COUNTER_MODULUS - 1),
    steps=st.lists(st.integers(min_value=1, max_value=CONFIG.max_counter_jump + 1), min_size=1, max_size=8),
)
def test_a_counter_that_only_moves_forward_a_little_never_hits(start: int, steps: list[int]) -> None:
    counters, value = [], start
    for step in steps:
        value = (value + step) % COUNTER_MODULUS or 1  # 0 means "not reported"
        counters.append(value)
    if any(
        (b - a) % COUNTER_MODULUS not in range(1, CONFIG.max_counter_jump + 2)
        for a, b in zip([start, *counters], counters, strict=False)
    ):
        return  # skipping 0 made a longer step; not what this property is about
    axles = tuple(AxleBrake(i + 1, 400.0, 400.0, _run(c)) for i, c in enumerate(counters))
    record = InspectionRecord(
        record_id=uuid.UUID(int=1),
        station_id="50-0001",
        lane=1,
        vehicle=_VEHICLE,
        started_at=T0,
        finished_at=T0 + timedelta(minutes=8),
        axles=axles,
    )
    assert counter_anomalies(record, start, CONFIG) == []


@given(
    samples=st.lists(st.integers(min_value=0, max_value=20_000), min_size=20, max_size=200),
    power=st.integers(min_value=1, max_value=3),
)
def test_a_curve_scaled_by_a_power_of_two_keeps_its_fingerprint(samples: list[int], power: int) -> None:
    scale = 2**power
    left, right = tuple(samples), tuple(reversed(samples))
    scaled = curve_fingerprint(tuple(x * scale for x in left), tuple(x * scale for x in right), CONFIG)
    original = curve_fingerprint(left, right, CONFIG)
    if original is not None:
        assert scaled == original

"""The brake rules completed (standards.md §2 and §10; GB 7258-2017 7.13, method GB 38900-2020
Annex D), each with a hand-computed case: laden limits, road trains, trailers, steered axles, and the
inspection's purpose for the "new vehicle" values. g = 9.8 m/s², percentages to one decimal."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from inspection import Outcome, VehicleClass
from inspection.measurements import AxleBrake, Beam, BrakeKind, BrakeTest, LampMeasurement, Side
from inspection.record import InspectionPurpose
from inspection.verdicts import judge, judge_brakes
from inspection.verdicts.brake_rules import is_front_axle
from inspection.verdicts.headlight_rules import judge_headlamps
from tests.inspection.verdicts.conftest import BASE_VEHICLE, record_from

CLAUSE = "GB 7258-2017 7.13; method GB 38900-2020 Annex D"


def _axle(number: int, load_each_kg: float, force_each_n: float) -> AxleBrake:
    service = BrakeTest(BrakeKind.SERVICE, force_each_n, force_each_n, 0.0, 0.0, False, False, None)
    parking = (
        BrakeTest(BrakeKind.PARKING, 3000.0, 3000.0, 0.0, 0.0, False, False, None) if number == 2 else None
    )
    return AxleBrake(number, load_each_kg, load_each_kg, service, parking)


# A light truck (N1, 3,500 kg): front 2 x 1,000 kg braking 2 x 8,000 N, rear 2 x 750 kg braking 2 x 1,000 N.
#   whole vehicle: 18,000 N / (3,500 kg x 9.8) = 52.48 % -> 52.5 %
#   rear axle:      2,000 N / (1,500 kg x 9.8) = 13.61 % -> 13.6 %
N1 = replace(BASE_VEHICLE, vehicle_class=VehicleClass.N1, max_total_mass_kg=3500, curb_mass_kg=2000)
WEAK_REAR = (_axle(1, 1000, 8000), _axle(2, 750, 1000))


def _items(vehicle, axles, **kwargs):  # type: ignore[no-untyped-def]
    return {item.code: item for item in judge_brakes(vehicle, axles, **kwargs)}


def test_unladen_the_light_truck_fails_whole_vehicle_60_and_rear_axle_20() -> None:
    items = _items(N1, WEAK_REAR)
    whole, rear = items["brake.service.vehicle.rate.min"], items["brake.service.axle2.rate.min"]
    assert (whole.measured, whole.limit, whole.outcome, whole.clause) == (52.5, 60.0, Outcome.FAIL, CLAUSE)
    assert (rear.measured, rear.limit, rear.outcome) == (13.6, 20.0, Outcome.FAIL)


def test_laden_the_same_truck_passes_at_50_and_its_rear_axle_is_not_judged() -> None:
    items = _items(N1, WEAK_REAR, laden=True)
    whole = items["brake.service.vehicle.rate.min"]
    assert (whole.measured, whole.limit, whole.outcome) == (52.5, 50.0, Outcome.PASS)
    assert "brake.service.axle2.rate.min" not in items
    assert items["brake.service.axle1.rate.min"].limit == 60.0  # front axle still judged (§2)
    assert "brake.service.axle2.imbalance.max" in items  # only the rear rate is left out


def test_laden_is_read_from_the_record() -> None:
    record = replace(record_from({}), vehicle=N1, axles=WEAK_REAR)
    codes = {i.code: i for i in judge(replace(record, laden=True)).items}
    assert codes["brake.service.vehicle.rate.min"].limit == 50.0
    assert judge(record).items != judge(replace(record, laden=True)).items


def test_a_road_train_takes_55_unladen_and_45_laden() -> None:
    # 52.5 % as above: below 55 unladen (FAIL), above 45 laden (PASS).
    train = replace(N1, vehicle_class=VehicleClass.ROAD_TRAIN, max_total_mass_kg=40000)
    unladen = _items(train, WEAK_REAR)["brake.service.vehicle.rate.min"]
    laden = _items(train, WEAK_REAR, laden=True)["brake.service.vehicle.rate.min"]
    assert (unladen.limit, unladen.outcome) == (55.0, Outcome.FAIL)
    assert (laden.limit, laden.outcome) == (45.0, Outcome.PASS)
    # its rear axle is "other vehicles" (over 3,500 kg): 50 %
    assert _items(train, WEAK_REAR)["brake.service.axle2.rate.min"].limit == 50.0


def test_a_trailers_axles_are_all_rear() -> None:
    # O3 trailer, axle 1: 2 x 10,000 N / (4,000 kg x 9.8) = 51.02 % -> 51.0 %: passes as a rear
    # axle of a vehicle over 3,500 kg (>= 50 %), would fail as a front axle (>= 60 %).
    trailer = replace(N1, vehicle_class=VehicleClass.O3, max_total_mass_kg=9000, steered_axles=(1,))
    axles = (_axle(1, 2000, 10000), _axle(2, 2000, 10000))
    item = _items(trailer, axles)["brake.service.axle1.rate.min"]
    assert (item.measured, item.limit, item.outcome) == (51.0, 50.0, Outcome.PASS)
    assert not is_front_axle(1, trailer)


@pytest.mark.parametrize(
    ("steered", "limit", "outcome"),
    [
        ((1, 2), 60.0, Outcome.FAIL),  # twin steered front axles: axle 2 is a front axle
        ((1,), 50.0, Outcome.PASS),  # axle 2 is a rear axle of a heavy vehicle
        (None, 50.0, Outcome.PASS),  # not recorded: 3 axles by count, 3 // 2 = 1 front axle (as before)
    ],
)
def test_front_axles_are_the_steered_axles(
    steered: tuple[int, ...] | None, limit: float, outcome: Outcome
) -> None:
    # N3, 3 axles; axle 2: 2 x 16,170 N / (6,000 kg x 9.8) = 55.0 %.
    truck = replace(
        N1, vehicle_class=VehicleClass.N3, max_total_mass_kg=25000, axle_count=3, steered_axles=steered
    )
    axles = (_axle(1, 3000, 18000), _axle(2, 3000, 16170), _axle(3, 4000, 24000))
    item = _items(truck, axles)["brake.service.axle2.rate.min"]
    assert (item.measured, item.limit, item.outcome) == (55.0, limit, outcome)


def test_records_without_steered_axles_keep_the_count_rule() -> None:
    four = replace(N1, axle_count=4)
    assert [is_front_axle(n, four) for n in (1, 2, 3, 4)] == [True, True, False, False]


LAMPS = tuple(
    LampMeasurement(side, beam, 16000 if beam is Beam.HIGH else 0, 630 if beam is Beam.HIGH else 560, 0, 700)
    for side in Side
    for beam in Beam
)


@pytest.mark.parametrize(
    ("purpose", "registered", "limit", "outcome"),
    [
        (InspectionPurpose.REGISTRATION, date(2020, 5, 1), 18000, Outcome.FAIL),  # new: >= 18,000 cd
        (InspectionPurpose.PERIODIC, date(2030, 1, 1), 15000, Outcome.PASS),  # in use, whatever the dates say
        (InspectionPurpose.UNRECORDED, date(2030, 1, 1), 18000, Outcome.FAIL),  # older records: dates
        (InspectionPurpose.UNRECORDED, date(2020, 5, 1), 15000, Outcome.PASS),
    ],
)
def test_new_vehicle_intensity_follows_the_purpose_not_the_dates(
    purpose: InspectionPurpose, registered: date, limit: int, outcome: Outcome
) -> None:
    # 16,000 cd per lamp, two-lamp system (GB 7258-2017 8.5): new >= 18,000, in use >= 15,000.
    vehicle = replace(BASE_VEHICLE, registration_date=registered)
    items = judge_headlamps(vehicle, LAMPS, date(2026, 1, 1), purpose=purpose)
    intensity = next(i for i in items if i.code.endswith("intensity.min"))
    assert (intensity.limit, intensity.outcome) == (limit, outcome)

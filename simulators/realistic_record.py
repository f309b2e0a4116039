"""A full-size inspection record, as a four-axle lorry's periodic inspection produces it, for benchmarks.

Every figure about records (ingest throughput, forwarding latency, backlog drain, storage growth)
is measured with these rather than with a two-axle record without curves, because the cost of
parse, verify, judge and storage grows with the record: four axles, each with a service-brake
run whose curve is 3 s at 100 Hz per side (plus a parking-brake run on the two rear axles),
high and low beam of both headlamps, a free-acceleration emission run, 20 visual checks with
notes and 3 photo references. The record passes ``inspection.record_limits`` and the rules judge
it (it passes, so that the hub's verdict agrees with the station's).

Deterministic: ``realistic_record(i)`` is the same record on every call, with a record id and VIN
of its own, so that benchmarks can build identical envelopes for the hub and its baseline.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta

from inspection import (
    AxleBrake,
    BrakeCurve,
    BrakeKind,
    Fuel,
    InspectionRecord,
    Vehicle,
    VehicleClass,
    VehicleUse,
    vin_check_digit,
)
from inspection.measurements import (
    Beam,
    BrakeTest,
    FreeAccelerationRun,
    LampMeasurement,
    LimitSet,
    PhotoRef,
    Side,
    VisualCheck,
)

CURVE_RATE_HZ = 100
CURVE_SECONDS = 3
AXLES = 4
VISUAL_CHECKS = 20
PHOTOS = 3
_FIRST_START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def realistic_vin(index: int, province_prefix: str = "LZZ") -> str:
    body = f"{province_prefix}5BLD40NA{index % 1_000_000:06d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def _curve(peak: int, lag: int, wobble: int) -> BrakeCurve:
    """3 s at 100 Hz: 0.8 s drag, 1.2 s build-up, 0.6 s held, 0.4 s release (right side lagging)."""

    def side(top: int, delay: int) -> tuple[int, ...]:
        drag = [40 + (i + wobble) % 5 for i in range(80 + delay)]
        ramp = [40 + round((top - 40) * (i / 120) ** 1.3) for i in range(1, 121)]
        hold = [top - ((i + wobble) % 9) * 7 for i in range(60 - delay)]
        release = [round(top * (1 - i / 40)) for i in range(1, 41)]
        return tuple(drag + ramp + hold + release)

    return BrakeCurve(CURVE_RATE_HZ, side(peak, 0), side(peak - 150 - wobble % 200, lag))


def realistic_record(index: int, station_id: str = "50-0001", province: str = "50") -> InspectionRecord:
    """Record number ``index`` of a station's day: a four-axle N3 diesel lorry, everything measured."""
    started = _FIRST_START + timedelta(seconds=37 * index)
    vehicle = Vehicle(
        vin=realistic_vin(index), plate=f"渝D{index % 100_000:05d}", registration_province=province,
        vehicle_class=VehicleClass.N3, fuel=Fuel.DIESEL, seats=2, use=VehicleUse.OPERATING,
        registration_date=date(2019, 3, 1), curb_mass_kg=12_300, max_total_mass_kg=31_000, axle_count=AXLES,
        parking_brake_axles=(3, 4),
    )  # fmt: skip
    axles = []
    for axle in range(1, AXLES + 1):
        load = 3400.0 + 250 * axle + index % 40
        peak = round(load * 9.81 * 0.72)  # well above the 60 % sum rule, balanced within 20 %
        wobble = index + axle
        service = BrakeTest(
            BrakeKind.SERVICE, float(peak), float(peak - 150 - wobble % 200), 45.0, 52.0, False, False,
            _curve(peak, 6 + axle, wobble), index * 8 + axle,
        )  # fmt: skip
        parking = None
        if axle >= 3:
            park_peak = round(load * 9.81 * 0.45)
            parking = BrakeTest(
                BrakeKind.PARKING, float(park_peak), float(park_peak - 120), 40.0, 40.0, False, False,
                _curve(park_peak, 4, wobble), index * 8 + 4 + axle,
            )  # fmt: skip
        axles.append(AxleBrake(axle, load, load - 35.0, service, parking))
    lamps = (
        LampMeasurement(Side.LEFT, Beam.HIGH, 23_400 + index % 900, 980, 30, 1050),
        LampMeasurement(Side.LEFT, Beam.LOW, 0, 790, -70, 1050),
        LampMeasurement(Side.RIGHT, Beam.HIGH, 22_900 + index % 700, 985, 20, 1050),
        LampMeasurement(Side.RIGHT, Beam.LOW, 0, 785, 40, 1050),
    )
    emission = FreeAccelerationRun(LimitSet.B, (0.61 + index % 7 / 100, 0.58, 0.63))
    checks = tuple(
        VisualCheck(
            item_code=f"{1 + i // 10:02d}{1 + i % 10:02d}",
            passed=True,
            note="外观良好，无渗漏" if i % 4 else "轮胎花纹深度 4.2 mm，符合要求",
            inspector_id=f"insp-{index % 12:02d}",
            recorded_at=started + timedelta(seconds=20 * i),
        )
        for i in range(VISUAL_CHECKS)
    )
    photos = tuple(
        PhotoRef(
            sha256=hashlib.sha256(f"photo/{index}/{i}".encode()).hexdigest(),
            content_type="image/jpeg",
            size_bytes=380_000 + 1_000 * i + index % 997,
            item_code=("0101", "0105", "0203")[i],
        )
        for i in range(PHOTOS)
    )
    return InspectionRecord(
        record_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tongjian-bench/{station_id}/{index}"),
        station_id=station_id,
        lane=1 + index % 4,
        vehicle=vehicle,
        started_at=started,
        finished_at=started + timedelta(minutes=14),
        axles=tuple(axles),
        lamps=lamps,
        emission=emission,
        visual_checks=checks,
        photos=photos,
    )

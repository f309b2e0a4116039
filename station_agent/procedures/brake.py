"""Roller brake test of a whole vehicle: every axle's service brake, the parking brake where it acts.

The tester reports in daN (spec 1.2); the record holds newtons, so every force is multiplied by 10
here, and curve samples are rounded to whole newtons (far below any bench's accuracy, and what the
protobuf contract carries bit for bit). "Not available" (``None`` from the driver) stays ``None``:
the rules turn it into "cannot judge", never into a zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from inspection import AxleBrake, BrakeCurve, BrakeKind, Vehicle
from inspection.measurements import BrakeTest
from station_agent.bench_drivers import BrakeTester

if TYPE_CHECKING:
    from equipment.rbt_driver import AxleResult, RollerRun

DAN_TO_N = 10.0


def dan_to_n(value: float | None) -> float | None:
    return None if value is None else value * DAN_TO_N


def _curve_n(samples: Sequence[float | None]) -> tuple[int, ...]:
    # A "not available" sample inside a curve cannot be carried by the contract (whole newtons);
    # 0 marks it, and the max/drag fields, which keep None, tell the rules the sensor was out.
    return tuple(0 if s is None else round(s * DAN_TO_N) for s in samples)


def brake_test_from_run(kind: BrakeKind, run: RollerRun) -> BrakeTest:
    has_curve = bool(run.left_curve_dan or run.right_curve_dan)
    return BrakeTest(
        kind=kind,
        left_max_n=dan_to_n(run.left_max_dan),
        right_max_n=dan_to_n(run.right_max_dan),
        left_drag_n=dan_to_n(run.left_drag_dan),
        right_drag_n=dan_to_n(run.right_drag_dan),
        slip_left=run.slip_left,
        slip_right=run.slip_right,
        curve=BrakeCurve(
            sample_rate_hz=run.sample_rate_hz,
            left_n=_curve_n(run.left_curve_dan),
            right_n=_curve_n(run.right_curve_dan),
        )
        if has_curve
        else None,
        test_counter=run.test_counter,
    )


def axle_brake_from_result(axle: int, result: AxleResult) -> AxleBrake:
    return AxleBrake(
        axle=axle,
        left_load_kg=result.loads.left_kg,
        right_load_kg=result.loads.right_kg,
        service=brake_test_from_run(BrakeKind.SERVICE, result.service),
        parking=None if result.parking is None else brake_test_from_run(BrakeKind.PARKING, result.parking),
    )


async def run_brake_test(tester: BrakeTester, vehicle: Vehicle) -> tuple[AxleBrake, ...]:
    """Axle 1 (front) first, as the vehicle drives over the rollers; parking brake on its axles."""
    axles = []
    for axle in range(1, vehicle.axle_count + 1):
        result = await tester.test_axle(parking=axle in vehicle.parking_brake_axles)
        axles.append(axle_brake_from_result(axle, result))
    return tuple(axles)

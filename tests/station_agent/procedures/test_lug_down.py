"""Lug-down against the three simulators sharing one diesel on the rollers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from equipment.dyn_signals import DynCommand
from equipment.errors import SpeedSensorFault
from inspection import LimitSet, Outcome
from inspection.verdicts import lug_down_items
from simulators.dyn_sim import DynFault, DynFaultKind
from simulators.vehicle_on_rollers import LoadMode, VehicleModel
from station_agent.lane_config import LugDownTimings
from station_agent.procedures import ProcedureError
from station_agent.procedures.lug_down import run_lug_down
from tests.station_agent.procedures.conftest import DIESEL_TRUCK, LoadedRig, StartLoaded

TIMINGS = LugDownTimings()


async def _run(rig: LoadedRig, limit_set: str = "a", vehicle=DIESEL_TRUCK):  # type: ignore[no-untyped-def]
    return await run_lug_down(
        rig.dyn, rig.opm, rig.ega, vehicle, limit_set=LimitSet(limit_set), timings=TIMINGS, clock=rig.clock
    )


async def test_the_scan_finds_max_power_at_rated_speed_and_the_holds_read_smoke_and_nox(
    start_loaded: StartLoaded,
) -> None:
    truck = VehicleModel.diesel_truck()
    rig = await start_loaded(truck)
    run = await _run(rig)
    # Full load peaks at rated speed: 3200 r/min x 20 km/h per 1000 r/min = 64 km/h, within a step.
    assert run.vel_max_hp_kmh == pytest.approx(64.0, abs=2.5)
    assert run.max_wheel_power_kw == max(s.power_kw for s in run.scan)
    # The wheels give the engine's power less the tyres' loss on the rollers.
    assert run.max_wheel_power_kw == pytest.approx(110 - 250 * 64 / 3600, rel=0.05)
    assert [p.fraction_pct for p in run.points] == [100, 90, 80]
    assert [p.target_speed_kmh for p in run.points] == [
        round(run.vel_max_hp_kmh * f / 100, 1) for f in (100, 90, 80)
    ]
    eighty = run.points[2]
    assert all(s.k_per_m is not None and s.k_per_m > 0.4 for s in eighty.seconds)  # full load smokes
    assert all(s.no_ppm > 500 for s in eighty.seconds)  # and makes NOx
    assert all(abs(s.speed_kmh - eighty.target_speed_kmh) < 1.0 for s in eighty.seconds)
    items = {i.code: i for i in lug_down_items(run)}
    assert all(i.outcome is Outcome.PASS for i in items.values()), items
    assert items["emission.lug_down.wheel_power.min"].measured == pytest.approx(95, abs=5)
    assert rig.dyn_sim.bench.commands[-1] is DynCommand.LIFT_UP


async def test_a_smoky_diesel_fails_set_b(start_loaded: StartLoaded) -> None:
    smoky = replace(VehicleModel.diesel_truck().exhaust, k_full_load=1.0)
    rig = await start_loaded(VehicleModel.diesel_truck(exhaust=smoky))  # type: ignore[arg-type]
    run = await _run(rig, "b")
    items = {i.code: i.outcome for i in lug_down_items(run)}
    assert items["emission.lug_down.k80.max"] is Outcome.FAIL


async def test_a_speed_sensor_fault_mid_scan_aborts_with_its_type(start_loaded: StartLoaded) -> None:
    rig = await start_loaded(
        VehicleModel.diesel_truck(), faults=[DynFault(DynFaultKind.SPEED_SENSOR, after_s=6.0)]
    )
    with pytest.raises(SpeedSensorFault):
        await _run(rig)
    assert rig.model.mode is LoadMode.RELEASE


async def test_without_rated_power_the_test_is_refused_before_it_starts(start_loaded: StartLoaded) -> None:
    rig = await start_loaded(VehicleModel.diesel_truck())
    with pytest.raises(ProcedureError, match="rated engine power"):
        await _run(rig, vehicle=replace(DIESEL_TRUCK, rated_power_kw=None))
    assert rig.dyn_sim.bench.commands == []

"""ASM5025 then ASM2540 against the three simulators sharing one vehicle on the rollers."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from equipment.dyn_signals import DynCommand
from equipment.errors import AbsorberOverheat
from inspection import AsmMode, LimitSet, Outcome
from inspection.verdicts import asm_items
from simulators.dyn_sim import DynFault, DynFaultKind
from simulators.vehicle_on_rollers import ExhaustProfile, LoadMode, Pedal, VehicleModel
from station_agent.lane_config import AsmTimings
from station_agent.procedures import ProcedureError
from station_agent.procedures.asm import AsmStats, run_asm
from tests.station_agent.procedures.conftest import PETROL_CAR, SCALE, LoadedRig, StartLoaded

TIMINGS = AsmTimings(reach_wait_s=40.0)


async def _run(
    rig: LoadedRig, timings: AsmTimings = TIMINGS, stats: AsmStats | None = None, limit_set: str = "a"
):  # type: ignore[no-untyped-def]
    return await run_asm(
        rig.dyn,
        rig.ega,
        PETROL_CAR,
        limit_set=LimitSet(limit_set),
        timings=timings,
        clock=rig.clock,
        stats=stats,
    )


async def test_a_clean_car_passes_fast_on_the_load_its_mass_asks_for(start_loaded: StartLoaded) -> None:
    rig = await start_loaded()
    stats = AsmStats()
    run = await _run(rig, stats=stats)
    assert [p.mode for p in run.phases] == [AsmMode.ASM5025, AsmMode.ASM2540]
    assert run.reference_mass_kg == 1450
    first, second = run.phases
    # RM / 148 less PARASITIC_25 (0.6 kW); RM / 185 less PARASITIC_40 (1.1 kW).
    assert first.setpoint_kw == pytest.approx(1450 / 148 - 0.6, abs=0.01)
    assert second.setpoint_kw == pytest.approx(1450 / 185 - 1.1, abs=0.01)
    assert first.fast_pass and second.fast_pass and len(first.seconds) == 10
    assert all(23 <= s.speed_kmh <= 27 for s in first.seconds)
    # The roller power is the absorbed load plus the parasitic loss: the vehicle was really loaded.
    assert sum(s.power_kw for s in first.seconds) / 10 == pytest.approx(1450 / 148, rel=0.05)
    # NO is higher under the heavier ASM5025 load than at 25 km/h unloaded (40 ppm at idle).
    assert min(s.no_ppm for s in first.seconds) > 100
    assert len(stats.mode_latencies_s) == 2
    assert all(item.outcome is Outcome.PASS for item in asm_items(run))
    # Released, run down, lift up for driving off.
    assert rig.dyn_sim.bench.commands[-1] is DynCommand.LIFT_UP
    assert rig.model.mode is LoadMode.RELEASE


async def test_a_dirty_car_measures_on_to_90_s_and_fails(start_loaded: StartLoaded) -> None:
    dirty = ExhaustProfile(hc_ppm=70, co_pct=0.3, no_full_load_ppm=2600)
    rig = await start_loaded(VehicleModel.petrol_car(exhaust=dirty))  # type: ignore[arg-type]
    run = await _run(rig, limit_set="b")
    assert not any(p.fast_pass for p in run.phases)
    assert [len(p.seconds) for p in run.phases] == [85, 85]  # 5 s settling, then to 90 s
    outcomes = {i.code: i.outcome for i in asm_items(run)}
    assert outcomes["emission.asm5025.no.max"] is Outcome.FAIL
    assert outcomes["emission.asm5025.hc.max"] is Outcome.FAIL


async def _lift_off_once_loaded(rig: LoadedRig, after_s: float) -> None:
    """The driver lifts off the pedal ``after_s`` into the first load: the speed falls out of its window."""
    async with asyncio.timeout(30):
        while rig.model.mode is not LoadMode.CONSTANT_POWER:
            await asyncio.sleep(0.001)
    await asyncio.sleep(after_s * SCALE)
    rig.model.aid_pedal = Pedal.NONE


async def test_a_phase_restarts_when_the_speed_leaves_its_window_too_long(start_loaded: StartLoaded) -> None:
    rig = await start_loaded()
    lapse = asyncio.create_task(_lift_off_once_loaded(rig, 8.0))
    run = await _run(rig)
    await lapse
    first = run.phases[0]
    assert len(first.restarts) == 1
    assert "outside 23-27 km/h for more than 2 s" in first.restarts[0]
    assert first.fast_pass and all(23 <= s.speed_kmh <= 27 for s in first.seconds)
    items = {i.code: i for i in asm_items(run)}
    assert "restarted 1x" in items["emission.asm5025.co.max"].note


async def test_too_many_restarts_fail_the_test_and_release_the_absorber(start_loaded: StartLoaded) -> None:
    rig = await start_loaded()
    lapse = asyncio.create_task(_lift_off_once_loaded(rig, 8.0))
    with pytest.raises(ProcedureError, match="asm5025 restarted 1 times"):
        await _run(rig, replace(TIMINGS, max_restarts=0))
    await lapse
    assert rig.model.mode is LoadMode.RELEASE
    assert rig.model.aid_pedal is Pedal.RELEASE


async def test_an_absorber_fault_mid_phase_aborts_with_its_type(start_loaded: StartLoaded) -> None:
    rig = await start_loaded(faults=[DynFault(DynFaultKind.OVERHEAT, after_s=8.0)])
    with pytest.raises(AbsorberOverheat):
        await _run(rig)
    assert rig.dyn_sim.bench.commands[-1] is DynCommand.RELEASE
    # The absorber is free; a faulted bench takes nothing but RELEASE (spec 5), so the aid is as it was.
    assert rig.model.mode is LoadMode.RELEASE
    rig.model.advance(1.0)
    assert rig.model.absorber_n < 1.0

"""The dynamometer driver against the simulator on loopback: every move of spec 5, every fault."""

from __future__ import annotations

import asyncio

import pytest

from equipment.dyn_driver import ChassisDynamometer, DynInfo, DynTimings
from equipment.dyn_signals import DynCommand, DynStatus, PedalPrompt
from equipment.errors import (
    AbsorberOverheat,
    DeviceTimeout,
    LiftBusy,
    ModeNotReached,
    ModeRefused,
    OverspeedFault,
    SpeedSensorFault,
)
from simulators.dyn_sim import DynFault, DynFaultKind
from simulators.vehicle_on_rollers import VehicleModel
from tests.equipment.dyn.conftest import FAST, TIME_SCALE, StartDyn


async def _rolling_at(dyn: ChassisDynamometer, kmh: float) -> None:
    """Lift down, and the simulated driver brought to ``kmh`` by the driver's aid."""
    await dyn.lift_down()
    await dyn.show_aid(kmh, PedalPrompt.HOLD_SPEED)
    for _ in range(2000):
        if abs((await dyn.read()).speed_kmh - kmh) < 1.0:
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"never reached {kmh} km/h")


async def test_info_and_the_parasitic_line(start_dyn: StartDyn) -> None:
    rig = await start_dyn()
    info = await rig.dyn.read_info()
    assert info == DynInfo(907.0, 0.6, 1.1)
    assert info.parasitic_kw(25) == pytest.approx(0.6)
    assert info.parasitic_kw(40) == pytest.approx(1.1)
    assert info.parasitic_kw(55) == pytest.approx(1.6)


async def test_the_lift_moves_and_load_modes_need_it_down_and_rollers_turning(start_dyn: StartDyn) -> None:
    rig = await start_dyn()
    assert DynStatus.LIFT_UP in await rig.dyn.read_status()
    with pytest.raises(ModeRefused) as caught:
        await rig.dyn.hold_power(5.0)  # lift up
    assert caught.value.code == 3 and caught.value.device == "dyn"
    await rig.dyn.lift_down()
    status = await rig.dyn.read_status()
    assert DynStatus.LIFT_UP not in status and DynStatus.READY in status
    with pytest.raises(ModeRefused):
        await rig.dyn.hold_speed(30.0)  # rollers stand
    await rig.dyn.lift_up()
    assert DynStatus.LIFT_UP in await rig.dyn.read_status()


async def test_constant_power_really_loads_the_vehicle_and_release_counts(start_dyn: StartDyn) -> None:
    rig = await start_dyn()
    await _rolling_at(rig.dyn, 25.0)
    before = await rig.dyn.read()
    latency = await rig.dyn.hold_power(9.5)
    assert 0 < latency < FAST.mode_s
    await asyncio.sleep(5 * TIME_SCALE)
    reading = await rig.dyn.read()
    assert DynStatus.MODE_ACTIVE in reading.status
    # Roller power = absorbed + parasitic (about 0.6 kW at 25 km/h).
    assert reading.power_kw == pytest.approx(9.5 + 0.6, abs=0.4)
    assert reading.force_n == pytest.approx(reading.power_kw * 3600 / reading.speed_kmh, rel=0.05)
    assert rig.simulator.model.throttle > 0.2  # the driver has to push against the load
    await rig.dyn.release()
    after = await rig.dyn.read()
    assert after.test_counter == before.test_counter + 1
    await rig.dyn.release()  # a second RELEASE ends nothing: safe to re-send
    assert (await rig.dyn.read()).test_counter == before.test_counter + 1


async def test_constant_speed_holds_a_driver_on_full_throttle(start_dyn: StartDyn) -> None:
    rig = await start_dyn()
    await _rolling_at(rig.dyn, 40.0)
    await rig.dyn.show_aid(40.0, PedalPrompt.FULL_THROTTLE)
    await rig.dyn.hold_speed(40.0)
    await asyncio.sleep(5 * TIME_SCALE)
    reading = await rig.dyn.read()
    assert reading.speed_kmh == pytest.approx(40.0, abs=0.8)
    assert reading.power_kw > 30  # the absorber takes what a full-throttle engine gives


async def test_constant_force_mode(start_dyn: StartDyn) -> None:
    rig = await start_dyn()
    await _rolling_at(rig.dyn, 30.0)
    await rig.dyn.hold_force(800.0)
    await asyncio.sleep(3 * TIME_SCALE)
    reading = await rig.dyn.read()
    assert reading.force_n == pytest.approx(800.0 + 0.8 * 3600 / reading.speed_kmh, rel=0.05)


async def test_mode_not_reached_is_a_typed_timeout(start_dyn: StartDyn) -> None:
    # A speed the engine cannot hold the rollers above: the absorber never gets within 2 %.
    rig = await start_dyn(timings=DynTimings(mode_s=0.05, lift_s=0.5, release_s=0.5, poll_s=0.002))
    await _rolling_at(rig.dyn, 25.0)
    with pytest.raises(ModeNotReached) as caught:
        await rig.dyn.hold_speed(120.0)
    assert isinstance(caught.value, DeviceTimeout)


async def test_absorber_overheat_mid_load(start_dyn: StartDyn) -> None:
    rig = await start_dyn(faults=[DynFault(DynFaultKind.OVERHEAT, after_s=5.0, cool_s=5.0)])
    await _rolling_at(rig.dyn, 25.0)
    await rig.dyn.hold_power(8.0)
    await asyncio.sleep(6 * TIME_SCALE)
    with pytest.raises(AbsorberOverheat) as caught:
        await rig.dyn.check("asm5025")
    assert caught.value.code == 1 and "overheat" in caught.value.cause
    # The driver sent RELEASE; while the cause lasts only RELEASE is taken and the fault stays: a
    # setpoint refused then is reported as the fault it was refused for, not as a refusal.
    assert rig.simulator.bench.commands[-1] is DynCommand.RELEASE
    with pytest.raises(AbsorberOverheat):
        await rig.dyn.hold_power(8.0)
    await asyncio.sleep(6 * TIME_SCALE)
    await rig.dyn.release()
    assert DynStatus.FAULT not in await rig.dyn.read_status()


async def test_speed_sensor_fault(start_dyn: StartDyn) -> None:
    rig = await start_dyn(faults=[DynFault(DynFaultKind.SPEED_SENSOR, after_s=5.0)])
    await _rolling_at(rig.dyn, 25.0)
    await rig.dyn.hold_power(8.0)
    await asyncio.sleep(6 * TIME_SCALE)
    with pytest.raises(SpeedSensorFault) as caught:
        await rig.dyn.check("asm5025")
    assert caught.value.code == 2
    assert (await rig.dyn.read()).speed_kmh == 0.0  # the sensor reads nothing


async def test_a_stuck_lift_is_busy_then_a_timeout(start_dyn: StartDyn) -> None:
    rig = await start_dyn(faults=[DynFault(DynFaultKind.LIFT_BUSY, cool_s=100.0)], retries=2)
    with pytest.raises(DeviceTimeout):
        await rig.dyn.lift_down()
    with pytest.raises(LiftBusy) as caught:
        await rig.dyn.show_aid(25.0, PedalPrompt.HOLD_SPEED)
    assert caught.value.code == 6


async def test_a_lost_reply_to_a_write_is_re_sent(start_dyn: StartDyn) -> None:
    rig = await start_dyn()
    await _rolling_at(rig.dyn, 25.0)
    rig.simulator.bench.faults.append(DynFault(DynFaultKind.SILENCE))
    await rig.dyn.hold_power(8.0)  # the setpoint write's reply is dropped, and it is sent again
    assert rig.simulator.model.setpoint_power_kw == pytest.approx(8.0)
    assert rig.link.stats.requests > rig.link.stats.frames_received


async def test_overspeed_is_a_fault_of_its_own(start_dyn: StartDyn) -> None:
    # A tall test gear: full throttle runs the rollers past 130 km/h.
    rig = await start_dyn(VehicleModel(kmh_per_1000rpm=26.0, rated_power_kw=150.0))
    await rig.dyn.lift_down()
    await rig.dyn.show_aid(0.0, PedalPrompt.FULL_THROTTLE)
    with pytest.raises(OverspeedFault) as caught:
        for _ in range(3000):
            await rig.dyn.check("full throttle")
            await asyncio.sleep(0.002)
    assert caught.value.code == 4

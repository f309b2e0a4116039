"""The brake driver against the simulator on a real Modbus server: values, chunking, every fault path."""

from __future__ import annotations

import socket
from datetime import date

import pytest

from equipment.errors import (
    DeviceDisconnected,
    DeviceFault,
    DeviceTimeout,
    DeviceUnreachable,
    ModbusExceptionReply,
)
from equipment.modbus_link import ModbusRtuLink, ModbusTcpLink
from equipment.rbt_driver import AxleResult, RollerBrakeTester, curve_chunks
from equipment.rbt_profile import Quantity, load_profile
from simulators.brake_scenario import BrakeFailure, RollerRunScenario, scenario_for_vehicle
from simulators.fleet import generate_fleet
from simulators.rbt_bench import parse_fault
from station_agent.procedures.brake import axle_brake_from_result
from tests.equipment.rbt.conftest import StartRig, one_axle

pytestmark = pytest.mark.timeout(30)

BOTH = pytest.mark.parametrize(
    ("profile", "rtu"),
    [("default", False), ("default", True), ("rbt-f", False), ("rbt-f", True)],
    ids=["default-tcp", "default-rtu", "rbt-f-tcp", "rbt-f-rtu"],
)


def _assert_run_matches(run, scenario: RollerRunScenario) -> None:  # type: ignore[no-untyped-def]
    left, right = scenario.curves()
    assert run.left_curve_dan == pytest.approx(left)
    assert run.right_curve_dan == pytest.approx(right)
    assert run.left_max_dan == pytest.approx(scenario.expected_left_max)
    assert run.right_max_dan == pytest.approx(scenario.expected_right_max)
    assert run.left_drag_dan == pytest.approx(scenario.left_drag_dan)
    assert run.right_drag_dan == pytest.approx(scenario.right_drag_dan)
    assert (run.slip_left, run.slip_right) == (scenario.slip_left, scenario.slip_right)
    assert run.sample_rate_hz == scenario.sample_rate_hz


@BOTH
async def test_a_whole_vehicle_reads_back_exactly_the_scenario(
    start_rig: StartRig, profile: str, rtu: bool
) -> None:
    vehicle = next(v for v in generate_fleet(30, seed=4, as_of=date(2026, 11, 25)) if v.axle_count >= 2)
    scenario = scenario_for_vehicle(vehicle, seed=7, failing=BrakeFailure.SLIP)
    rig = await start_rig(scenario, profile=profile, rtu=rtu)
    counters = []
    for number, axle in enumerate(scenario.axles, start=1):
        result = await rig.tester.test_axle(parking=number in vehicle.parking_brake_axles)
        assert isinstance(result, AxleResult)
        assert (result.loads.left_kg, result.loads.right_kg) == pytest.approx(
            (axle.left_load_kg, axle.right_load_kg)
        )
        _assert_run_matches(result.service, axle.service)
        if number in vehicle.parking_brake_axles:
            assert result.parking is not None
            _assert_run_matches(result.parking, axle.parking_run())
            counters.append(result.parking.test_counter)
        else:
            assert result.parking is None
        counters.append(result.service.test_counter)
        # The lane's procedure takes the result as it is.
        assert axle_brake_from_result(number, result).service.left_max_n == pytest.approx(
            axle.service.left_max_dan * 10
        )
    assert sorted(counters) == list(range(1, len(counters) + 1))


async def test_several_vehicles_in_turn_and_sensor_not_available(start_rig: StartRig) -> None:
    rig = await start_rig(one_axle(10))
    first = await rig.tester.test_axle(parking=False)
    dead = RollerRunScenario(200.0, 0.0, None, 4.0, sample_count=20, right_sensor_out=True)
    from simulators.brake_scenario import AxleScenario, BrakeScenario

    rig.simulator.load_vehicle(BrakeScenario((AxleScenario(None, 380.0, dead),)))
    second = await rig.tester.test_axle(parking=False)
    assert first.service.left_max_dan == 312.0
    assert second.loads.left_kg is None and second.loads.right_kg == 380.0
    assert second.service.right_max_dan is None and second.service.left_drag_dan is None
    assert set(second.service.right_curve_dan) == {None}
    assert second.service.test_counter == first.service.test_counter + 1


@pytest.mark.parametrize("samples", [1, 125, 126, 1000])
@pytest.mark.parametrize("profile", ["default", "rbt-f"])
async def test_curves_are_read_in_chunks_of_at_most_125_registers(
    start_rig: StartRig, samples: int, profile: str
) -> None:
    rig = await start_rig(one_axle(samples), profile=profile)
    result = await rig.tester.test_axle(parking=False)
    assert len(result.service.left_curve_dan) == samples == len(result.service.right_curve_dan)
    reads = [entry.split()[-1] for entry in rig.simulator.bench.log if entry.startswith("read")]
    counts = [int(r.split("+")[1]) for r in reads]
    assert max(counts) <= 125
    spec = load_profile(profile)[Quantity.CURVE_LEFT]
    chunks = curve_chunks(spec, samples)
    per_read = 125 if profile == "default" else 62
    assert len(chunks) == -(-samples // per_read)
    # Each chunk of both curves went over the wire, at the spec's addresses, exactly once.
    base_left, base_right = (1000, 2000) if profile == "default" else (4000, 6000)
    for address, count in chunks:
        assert reads.count(f"{address}+{count}") == 1
        assert reads.count(f"{address - base_left + base_right}+{count}") == 1
    if profile == "rbt-f":
        assert all(count % 2 == 0 for address, count in chunks)


async def test_busy_is_retried_then_succeeds(start_rig: StartRig) -> None:
    rig = await start_rig(faults=[parse_fault("exception:6@service/3")], retries=3)
    result = await rig.tester.test_axle(parking=False)
    assert result.service.left_max_dan == 312.0
    assert rig.simulator.bench.log.count("write service") == 4


async def test_busy_beyond_retries_is_a_modbus_exception_6(start_rig: StartRig) -> None:
    rig = await start_rig(faults=[parse_fault("exception:6@service/3")], retries=2)
    with pytest.raises(ModbusExceptionReply) as caught:
        await rig.tester.test_axle(parking=False)
    assert caught.value.code == 6 and caught.value.device == "rbt"
    assert "write holding 1=2 (function 6)" in caught.value.command
    assert rig.simulator.bench.log.count("write service") == 3


@pytest.mark.parametrize("code", [2, 3, 4])
async def test_other_exception_codes_are_not_retried(start_rig: StartRig, code: int) -> None:
    rig = await start_rig(faults=[parse_fault(f"exception:{code}@curve/1")])
    with pytest.raises(ModbusExceptionReply) as caught:
        await rig.tester.test_axle(parking=False)
    assert caught.value.code == code
    assert "read holding 1000+" in caught.value.command and "function 3" in caught.value.command
    assert sum(1 for e in rig.simulator.bench.log if e.startswith("read holding 1000+")) == 1


@pytest.mark.parametrize("rtu", [False, True], ids=["tcp", "rtu"])
async def test_fault_status_becomes_device_fault_with_its_code(start_rig: StartRig, rtu: bool) -> None:
    rig = await start_rig(faults=[parse_fault("fault:3@service")], rtu=rtu, profile="rbt-f")
    with pytest.raises(DeviceFault) as caught:
        await rig.tester.test_axle(parking=False)
    assert caught.value.code == 3 and caught.value.command == "service brake test"
    assert "force sensor" in str(caught.value)
    # The driver left the bench reset, so the fault is cleared.
    assert rig.simulator.bench.log[-1] == "write reset" and rig.simulator.bench.fault_code == 0


@pytest.mark.parametrize("rtu", [False, True], ids=["tcp", "rtu"])
async def test_silence_is_a_timeout_after_the_read_retries(start_rig: StartRig, rtu: bool) -> None:
    rig = await start_rig(faults=[parse_fault("silence@curve")], rtu=rtu, timeout=0.1, retries=1)
    with pytest.raises(DeviceTimeout) as caught:
        await rig.tester.test_axle(parking=False)
    assert "read holding 1000+" in caught.value.command
    assert sum(1 for e in rig.simulator.bench.log if e.startswith("read holding 1000+")) == 2


async def test_silence_on_a_command_is_not_resent(start_rig: StartRig) -> None:
    rig = await start_rig(faults=[parse_fault("silence@weigh")], timeout=0.1)
    with pytest.raises(DeviceTimeout, match="write holding 1=1"):
        await rig.tester.test_axle(parking=False)
    assert rig.simulator.bench.log.count("write weigh") == 1


@pytest.mark.parametrize("rtu", [False, True], ids=["tcp", "rtu"])
async def test_disconnect_mid_sequence(start_rig: StartRig, rtu: bool) -> None:
    rig = await start_rig(faults=[parse_fault("disconnect@service")], rtu=rtu, timeout=0.2)
    with pytest.raises(DeviceDisconnected):
        await rig.tester.test_axle(parking=False)
    assert rig.simulator.disconnects == 1


async def test_unreachable_port_and_missing_serial_device() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    profile = load_profile("default")
    with pytest.raises(DeviceUnreachable) as caught:
        async with RollerBrakeTester(ModbusTcpLink("127.0.0.1", port, timeout=0.2), profile):
            pass
    assert caught.value.device == "rbt" and str(port) in str(caught.value)
    with pytest.raises(DeviceUnreachable):
        async with RollerBrakeTester(ModbusRtuLink("/dev/does-not-exist", timeout=0.2), profile):
            pass


async def test_axle_never_arriving_is_a_timeout_naming_the_wait(start_rig: StartRig) -> None:
    from equipment.rbt_driver import RbtTimings

    rig = await start_rig(timings=RbtTimings(axle_s=0.05, poll_s=0.01))
    await rig.tester.test_axle(parking=False)
    with pytest.raises(DeviceTimeout, match="AXLE_PRESENT"):
        await rig.tester.test_axle(parking=False)

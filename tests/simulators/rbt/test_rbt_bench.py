"""The bench state machine without I/O, and its register map on a real server read by bare pymodbus."""

from __future__ import annotations

import struct
from datetime import date

import pytest
from pymodbus.client import AsyncModbusTcpClient

from equipment.rbt_profile import load_profile
from equipment.rbt_signals import Command, Status
from equipment.register_codec import RegisterKind
from simulators.brake_scenario import AxleScenario, BrakeScenario, RollerRunScenario, scenario_for_vehicle
from simulators.fleet import generate_fleet
from simulators.rbt_bench import (
    TRANSITIONS,
    Answer,
    Phase,
    RbtBench,
    ReadRequest,
    Refuse,
    Silence,
    WriteRequest,
    parse_fault,
)
from simulators.rbt_server import RbtSimulator

RUN = RollerRunScenario(300.0, 280.0, 7.0, 8.0, rise_s=0.5, sample_count=50)
VEHICLE = BrakeScenario((AxleScenario(400.0, 390.0, RUN), AxleScenario(300.0, 310.0, RUN, RUN)))


def _status(bench: RbtBench, now: float) -> Status:
    answer = bench.handle(ReadRequest(RegisterKind.HOLDING, 0, 1), now)
    assert isinstance(answer, Answer)
    return Status(answer.words[0])


def _command(bench: RbtBench, command: Command, now: float) -> object:
    return bench.handle(WriteRequest(1, (command.value,)), now)


def test_one_axle_through_the_sequence_with_time_given_explicitly() -> None:
    bench = RbtBench(load_profile("default"))
    bench.queue([VEHICLE], now=0.0)
    assert _status(bench, 0.5) == Status.READY
    assert _status(bench, 1.0) == Status.READY | Status.AXLE_PRESENT
    assert isinstance(_command(bench, Command.SERVICE_BRAKE_TEST, 1.0), Refuse)  # not weighed yet
    _command(bench, Command.WEIGH, 1.0)
    assert Status.WEIGHED not in _status(bench, 2.0)
    assert Status.WEIGHED in _status(bench, 2.6)
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 10, 2), 2.6) == Answer((400, 390))
    _command(bench, Command.SERVICE_BRAKE_TEST, 3.0)
    assert Status.ROLLERS_RUNNING in _status(bench, 3.1)
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 14, 2), 3.1) == Answer((0, 0))  # drag not yet valid
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 14, 2), 5.1) == Answer((7, 8))
    done = _status(bench, 3.0 + 2.0 + RUN.duration_s)
    assert Status.TEST_DONE in done and Status.ROLLERS_RUNNING not in done
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 20, 2), 6.0) == Answer((50, 100))
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 3, 1), 6.0) == Answer((1,))
    _command(bench, Command.RESET, 6.0)
    assert _status(bench, 6.0) == Status.READY  # axle 1 rolled off
    assert bench.phase is Phase.ROLLING_ON


def test_unmapped_addresses_and_illegal_commands_are_refused() -> None:
    bench = RbtBench(load_profile("default"))
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 4, 1), 0) == Refuse(2)
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 15, 2), 0) == Refuse(2)  # 16 is a gap
    assert bench.handle(ReadRequest(RegisterKind.INPUT, 0, 1), 0) == Refuse(2)
    assert bench.handle(WriteRequest(0, (1,)), 0) == Refuse(2)  # STATUS is read-only
    assert bench.handle(WriteRequest(1, (9,)), 0) == Refuse(3)


def test_every_phase_accepts_reset_and_fault_accepts_only_reset() -> None:
    for phase, moves in TRANSITIONS.items():
        if phase is not Phase.NEXT_AXLE:
            assert Command.RESET in moves, phase
    assert set(TRANSITIONS[Phase.FAULT]) == {Command.RESET}


def test_faults_fire_their_count_then_stop() -> None:
    bench = RbtBench(
        load_profile("default"), faults=[parse_fault("exception:6@weigh/2"), parse_fault("silence@status/1")]
    )
    bench.queue([VEHICLE], 0.0)
    assert bench.handle(ReadRequest(RegisterKind.HOLDING, 0, 4), 2.0) == Silence()
    assert _command(bench, Command.WEIGH, 2.0) == Refuse(6)
    assert _command(bench, Command.WEIGH, 2.0) == Refuse(6)
    assert _command(bench, Command.WEIGH, 2.0) == Answer()
    with pytest.raises(ValueError, match="unknown fault target"):
        parse_fault("silence@teleport")
    with pytest.raises(ValueError, match="exception code"):
        parse_fault("exception:99")


def test_scenarios_are_deterministic_and_realistic() -> None:
    vehicle = generate_fleet(1, seed=3, as_of=date(2026, 11, 25))[0]
    assert scenario_for_vehicle(vehicle, 5) == scenario_for_vehicle(vehicle, 5)
    assert scenario_for_vehicle(vehicle, 5) != scenario_for_vehicle(vehicle, 6)
    scenario = scenario_for_vehicle(vehicle, 5)
    weight_dan = sum((a.left_load_kg or 0) + (a.right_load_kg or 0) for a in scenario.axles) * 9.8 / 10
    braking = sum(a.service.left_max_dan + a.service.right_max_dan for a in scenario.axles)
    assert 0.6 <= braking / weight_dan <= 0.9
    front = scenario.axles[0].service
    assert abs(front.left_max_dan - front.right_max_dan) / max(front.left_max_dan, front.right_max_dan) < 0.2


@pytest.mark.parametrize("profile", ["default", "rbt-f"])
async def test_register_addresses_end_to_end_with_a_bare_pymodbus_client(profile: str) -> None:
    """What the spec's addresses hold, read without any of our code on the client side."""
    run = RollerRunScenario(321.0, 0.0, 12.0, 13.0, sample_count=3, right_sensor_out=True)
    sim = RbtSimulator(BrakeScenario((AxleScenario(455.0, 444.0, run),)), profile=profile, time_scale=0.001)
    port = await sim.start_tcp()
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0, reconnect_delay=0)
    await client.connect()
    try:
        # Simulated time runs 1000x: let the axle finish rolling on (1 simulated second) however
        # fast the connect was; a weigh command before that is refused (once a flaky test).
        sim.bench.advance(sim.now() + 5)
        assert not (await client.write_register(1, 1, device_id=1)).isError()
        sim.bench.advance(sim.now() + 5)
        sim.bench.log.clear()
        assert not (await client.write_register(1, 2, device_id=1)).isError()
        for _ in range(10_000):
            if (await client.read_holding_registers(0, count=1, device_id=1)).registers[0] & 0x10:
                break
        else:
            pytest.fail("the brake test never reported done")
        if profile == "default":
            regs = (await client.read_holding_registers(10, count=6, device_id=1)).registers
            assert regs[:2] == [455, 444] and regs[4:] == [12, 13]
            assert (await client.read_holding_registers(20, count=2, device_id=1)).registers == [3, 100]
            assert (await client.read_holding_registers(1000, count=3, device_id=1)).registers[-1] == 321
            assert (await client.read_holding_registers(2000, count=3, device_id=1)).registers == [65535] * 3
        else:

            def f32(words: list[int]) -> float:  # low word first, each word big-endian
                return struct.unpack(">f", struct.pack(">HH", words[1], words[0]))[0]

            regs = (await client.read_input_registers(100, count=12, device_id=1)).registers
            assert [f32(regs[i : i + 2]) for i in (0, 2, 8, 10)] == [455.0, 444.0, 120.0, 130.0]
            assert (await client.read_input_registers(120, count=2, device_id=1)).registers == [3, 100]
            left = (await client.read_input_registers(4000, count=6, device_id=1)).registers
            assert f32(left[4:6]) == 3210.0  # newtons
            right = (await client.read_input_registers(6000, count=2, device_id=1)).registers
            assert f32(right) != f32(right)  # NaN: not available
            assert (await client.read_input_registers(3, count=1, device_id=1)).registers == [1]
            assert (await client.read_holding_registers(2, count=1, device_id=1)).isError()
    finally:
        client.close()
        await sim.stop()

"""HeadlightTester against the headlight simulator over a real pty."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pytest

from equipment.errors import DeviceFault, DeviceTimeout, ErrorReply
from equipment.hlt_codec import Beam, HltState, Side
from equipment.hlt_driver import HeadlightTester
from simulators.hlt_sim import HeadlightScenario, HeadlightTesterSimulator, LampOutcome, LampScenario
from simulators.serial_device import parse_fault

SCALE = 0.01  # a 2-6 s measurement takes 20-60 ms


async def test_identify_status_and_all_four_lamps_equal_the_scenario(connect) -> None:
    scenario = HeadlightScenario.typical(seed=7)
    simulator = HeadlightTesterSimulator(scenario, seed=7, time_scale=SCALE)
    hlt = HeadlightTester(connect(simulator), measure_timeout_s=0.5)
    assert await hlt.identify() == (scenario.serial, scenario.firmware)
    assert await hlt.status() is HltState.READY
    for side in Side:
        for beam in Beam:
            reading = await hlt.measure(side, beam)
            assert reading == scenario.reading(side, beam)
            assert (reading.intensity_cd > 0) == (beam is Beam.HIGH)


async def test_measurement_takes_the_scaled_two_to_six_seconds(connect) -> None:
    simulator = HeadlightTesterSimulator(time_scale=0.05)  # 0.1-0.3 s
    hlt = HeadlightTester(connect(simulator), measure_timeout_s=1.0)
    started = time.monotonic()
    await hlt.measure(Side.RIGHT, Beam.LOW)
    assert 0.1 <= time.monotonic() - started < 0.6


@pytest.mark.parametrize(
    ("outcome", "code", "text"),
    [(LampOutcome.NO_LAMP_FOUND, 4, "no lamp found"), (LampOutcome.NOT_ALIGNED, 5, "not aligned")],
)
async def test_lamp_errors_are_error_replies(connect, outcome: LampOutcome, code: int, text: str) -> None:
    lamps = dict(HeadlightScenario.typical().lamps)
    lamps[(Side.LEFT, Beam.HIGH)] = LampScenario(0, 0, 0, 0, outcome)
    simulator = HeadlightTesterSimulator(HeadlightScenario(lamps), time_scale=SCALE)
    hlt = HeadlightTester(connect(simulator), measure_timeout_s=0.5)
    with pytest.raises(ErrorReply) as caught:
        await hlt.measure(Side.LEFT, Beam.HIGH)
    error = caught.value
    assert (error.device, error.command, error.code) == ("hlt", "MEAS,L,H", code)
    assert text in error.cause
    # The other lamps still measure.
    assert (await hlt.measure(Side.RIGHT, Beam.HIGH)).side is Side.RIGHT


async def test_fault_status_is_a_device_fault(connect) -> None:
    simulator = HeadlightTesterSimulator(time_scale=SCALE, faults=[parse_fault("fault")])
    hlt = HeadlightTester(connect(simulator), "hlt-2")
    assert await hlt.status() is HltState.FAULT
    with pytest.raises(DeviceFault) as caught:
        await hlt.measure(Side.LEFT, Beam.LOW)
    assert (caught.value.device, caught.value.command) == ("hlt-2", "MEAS,L,L")
    assert "FAULT" in caught.value.cause
    assert "meas" not in simulator.received  # never asked to measure


async def test_busy_is_retried_then_measures(connect) -> None:
    simulator = HeadlightTesterSimulator(time_scale=SCALE, faults=[parse_fault("err:3@meas/2")])
    hlt = HeadlightTester(connect(simulator), measure_timeout_s=0.5)
    await hlt.measure(Side.LEFT, Beam.HIGH)
    assert simulator.received.count("meas") == 3


async def test_busy_for_ever_is_an_error_reply_after_the_configured_retries(connect) -> None:
    simulator = HeadlightTesterSimulator(time_scale=SCALE, faults=[parse_fault("err:3@meas")])
    link = connect(simulator, busy_retries=2)
    with pytest.raises(ErrorReply) as caught:
        await HeadlightTester(link).measure(Side.LEFT, Beam.HIGH)
    assert caught.value.code == 3 and caught.value.command == "MEAS,L,H"
    assert simulator.received.count("meas") == 3


async def test_measurement_slower_than_the_timeout_is_a_device_timeout(connect) -> None:
    simulator = HeadlightTesterSimulator(time_scale=0.1)  # 0.2-0.6 s
    hlt = HeadlightTester(connect(simulator), measure_timeout_s=0.1)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout) as caught:
        await hlt.measure(Side.LEFT, Beam.HIGH)
    assert time.monotonic() - started < 0.4
    assert (caught.value.device, caught.value.command) == ("hlt", "MEAS,L,H")
    assert "no reply within 0.1 s" in caught.value.cause


async def test_a_bench_exchange_does_not_wait_for_the_event_loops_shared_threads(connect) -> None:
    # The loop's default pool is where the outbox commits; here its only thread is busy for 3 s.
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(1))
    busy = asyncio.ensure_future(asyncio.to_thread(time.sleep, 3))
    hlt = HeadlightTester(connect(HeadlightTesterSimulator(time_scale=SCALE)), measure_timeout_s=0.5)
    started = time.monotonic()
    assert (await asyncio.wait_for(hlt.measure(Side.LEFT, Beam.LOW), 2)).side is Side.LEFT
    assert time.monotonic() - started < 1.5
    await busy

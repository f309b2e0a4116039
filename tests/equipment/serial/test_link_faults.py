"""Every transport fault on every serial bench: the right typed error, naming device, command, cause.

Each case runs the real driver, pyserial and a pty against the real simulator with one fault armed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from equipment.ega_driver import GasAnalyser
from equipment.errors import (
    DeviceDisconnected,
    DeviceTimeout,
    DeviceUnreachable,
    RemoteProtocolError,
)
from equipment.hlt_driver import HeadlightTester
from equipment.opm_driver import OpacityMeter
from equipment.serial_link import SerialConfig, SerialLink
from simulators.ega_sim import EgaScenario, GasAnalyserSimulator
from simulators.hlt_sim import HeadlightTesterSimulator
from simulators.opm_sim import OpacityMeterSimulator, OpmScenario
from simulators.serial_device import SerialDeviceSimulator, parse_fault


@dataclass(frozen=True)
class Bench:
    """One bench: how to make its simulator, and one ordinary call with its command names."""

    name: str
    simulator: Callable[[list], SerialDeviceSimulator]
    call: Callable[[SerialLink], Awaitable[object]]
    sim_command: str  # the simulator's name for the request (fault matching)
    command: str  # the driver's name for it in errors


BENCHES = [
    Bench(
        "hlt",
        lambda faults: HeadlightTesterSimulator(time_scale=0.01, faults=faults),
        lambda link: HeadlightTester(link).identify(),
        "id",
        "ID",
    ),
    Bench(
        "ega",
        lambda faults: GasAnalyserSimulator(
            EgaScenario.two_speed_idle(warm_up_s=0), time_scale=0.01, faults=faults
        ),
        lambda link: GasAnalyser(link).read(),
        "read",
        "READ",
    ),
    Bench(
        "opm",
        lambda faults: OpacityMeterSimulator(OpmScenario(warm_up_s=0), time_scale=0.01, faults=faults),
        lambda link: OpacityMeter(link).peak(),
        "peak",
        "PEAK",
    ),
]
bench_ids = [bench.name for bench in BENCHES]


@pytest.mark.parametrize("bench", BENCHES, ids=bench_ids)
async def test_garbage_before_the_reply_is_skipped(connect, bench: Bench) -> None:
    simulator = bench.simulator([parse_fault(f"garbage@{bench.sim_command}")])
    await bench.call(connect(simulator))
    assert simulator.received == [bench.sim_command]


@pytest.mark.parametrize("bench", BENCHES, ids=bench_ids)
async def test_one_bad_checksum_is_retried_then_ok(connect, bench: Bench) -> None:
    simulator = bench.simulator([parse_fault(f"bad-checksum@{bench.sim_command}/1")])
    await bench.call(connect(simulator))
    assert simulator.received == [bench.sim_command] * 2


@pytest.mark.parametrize("bench", BENCHES, ids=bench_ids)
async def test_bad_checksum_every_time_is_a_remote_protocol_error(connect, bench: Bench) -> None:
    simulator = bench.simulator([parse_fault(f"bad-checksum@{bench.sim_command}")])
    with pytest.raises(RemoteProtocolError) as caught:
        await bench.call(connect(simulator, checksum_retries=3))
    assert (caught.value.device, caught.value.command) == (bench.name, bench.command)
    assert "checksum" in caught.value.cause and "4 times" in caught.value.cause
    assert simulator.received == [bench.sim_command] * 4


@pytest.mark.parametrize("bench", BENCHES, ids=bench_ids)
async def test_silence_is_a_timeout_within_the_configured_limit(connect, bench: Bench) -> None:
    simulator = bench.simulator([parse_fault("silence")])
    link = connect(simulator, response_timeout_s=0.15)
    started = time.monotonic()
    with pytest.raises(DeviceTimeout) as caught:
        await bench.call(link)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 0.6  # the limit, plus what a loaded 2-core CI machine adds
    assert (caught.value.device, caught.value.command) == (bench.name, bench.command)
    assert "no reply within 0.15 s" in caught.value.cause


@pytest.mark.parametrize("bench", BENCHES, ids=bench_ids)
async def test_partial_frame_then_silence_is_a_timeout_that_says_so(connect, bench: Bench) -> None:
    simulator = bench.simulator([parse_fault(f"partial@{bench.sim_command}/1")])
    link = connect(simulator, response_timeout_s=0.15)
    with pytest.raises(DeviceTimeout) as caught:
        await bench.call(link)
    assert caught.value.command == bench.command
    assert "partial frame" in caught.value.cause
    # The stale half frame does not spoil the next exchange.
    await bench.call(link)


@pytest.mark.parametrize("bench", BENCHES, ids=bench_ids)
async def test_pty_closed_mid_frame_is_a_disconnect(connect, bench: Bench) -> None:
    simulator = bench.simulator([parse_fault(f"close@{bench.sim_command}")])
    link = connect(simulator)
    started = time.monotonic()
    with pytest.raises(DeviceDisconnected) as caught:
        await bench.call(link)
    assert time.monotonic() - started < 0.25  # seen at once, not after the response timeout
    assert (caught.value.device, caught.value.command) == (bench.name, bench.command)
    assert "mid-frame" in caught.value.cause
    assert not link.is_open


async def test_a_port_that_does_not_exist_is_unreachable() -> None:
    link = SerialLink(SerialConfig("/dev/does-not-exist-tongjian", open_attempts=2, open_retry_wait_s=0.01))
    with pytest.raises(DeviceUnreachable) as caught:
        await HeadlightTester(link).identify()
    assert caught.value.device == "hlt" and "2 attempts" in caught.value.cause


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        SerialConfig("/dev/null", response_timeout_s=0)
    with pytest.raises(ValueError):
        SerialConfig("/dev/null", checksum_retries=-1)

"""Brake tester curve acquisition: what the driver costs on the wire and in time.

    python benchmarks/rbt_curve_acquisition.py [--samples 1000] [--rounds 20]

(a) RTU on a pty: one axle (service brake, no parking) with N curve samples. Requests and bytes the
    driver sent and received, turned into wire time at 19200 baud 8E1 (11 bits a character, a
    3.5-character gap before every frame), against the least the spec 1.3 sequence needs: one
    STATUS read per wait, the readings in as few gap-free reads as the register map allows, the
    curves in 125-register reads (124 for float32), three command writes. Goal: <= 110 %.
    The simulator runs so fast that every wait is over at its first STATUS read; with a real bench
    the driver adds one STATUS read per ``poll_s`` while it waits, which the sequence needs too.
(b) TCP on loopback: the driver's read of both curves against a bare pymodbus loop reading the same
    registers, alternating in the same run against the same simulator. Goal: <= 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymodbus.client import AsyncModbusTcpClient

from equipment.modbus_link import ModbusRtuLink, ModbusTcpLink
from equipment.rbt_driver import RbtTimings, RollerBrakeTester, curve_chunks, plan_reads
from equipment.rbt_profile import Quantity, RbtProfile, load_profile
from equipment.register_codec import RegisterKind
from simulators.brake_scenario import AxleScenario, BrakeScenario, RollerRunScenario
from simulators.rbt_server import RbtSimulator

BAUD = 19200
BITS_PER_CHAR = 11  # start + 8 data + even parity + stop
GAP_CHARS = 3.5
TIME_SCALE = 1e-6  # every simulated wait is over before the next request


def _scenario(samples: int) -> BrakeScenario:
    return BrakeScenario(
        (AxleScenario(400.0, 390.0, RollerRunScenario(300.0, 290.0, 8.0, 9.0, sample_count=samples)),)
    )


def _wire_s(bytes_total: int, frames: int) -> float:
    return (bytes_total + GAP_CHARS * frames) * BITS_PER_CHAR / BAUD


def minimum_rtu(profile: RbtProfile, samples: int) -> tuple[int, int, int]:
    """(requests, bytes, frames) of the least the sequence needs for one axle without parking."""
    reads: list[int] = []  # register counts
    reads += [1, 1, 1]  # STATUS: axle present, weighed, test done
    for group in (
        [Quantity.LEFT_WHEEL_LOAD, Quantity.RIGHT_WHEEL_LOAD],
        [
            Quantity.TEST_COUNTER,
            Quantity.LEFT_DRAG,
            Quantity.RIGHT_DRAG,
            Quantity.CURVE_SAMPLES,
            Quantity.CURVE_RATE,
        ],
    ):
        reads += [block.count for block in plan_reads([profile[q] for q in group])]
    for curve in (Quantity.CURVE_LEFT, Quantity.CURVE_RIGHT):
        reads += [count for _, count in curve_chunks(profile[curve], samples)]
    writes = 3  # WEIGH, SERVICE_BRAKE_TEST, RESET
    requests = len(reads) + writes
    total = sum(8 + 5 + 2 * count for count in reads) + writes * (8 + 8)
    return requests, total, 2 * requests


async def rtu_figures(profile_name: str, samples: int) -> None:
    profile = load_profile(profile_name)
    sim = RbtSimulator(_scenario(samples), profile=profile, time_scale=TIME_SCALE)
    link = ModbusRtuLink(await sim.start_rtu(), timeout=0.5)
    try:
        async with RollerBrakeTester(link, profile, RbtTimings(poll_s=0.001)) as tester:
            link.stats.reset()
            await tester.test_axle(parking=False)
    finally:
        await sim.stop()
    stats = link.stats
    used_bytes = stats.bytes_sent + stats.bytes_received
    used_s = _wire_s(used_bytes, stats.requests + stats.frames_received)
    min_requests, min_bytes, min_frames = minimum_rtu(profile, samples)
    min_s = _wire_s(min_bytes, min_frames)
    print(
        f"  {profile_name:8s} N={samples:4d}: driver {stats.requests} requests, {used_bytes} bytes, "
        f"{used_s * 1000:.0f} ms on the wire; minimum {min_requests} requests, {min_bytes} bytes, "
        f"{min_s * 1000:.0f} ms -> ratio {used_s / min_s:.3f} (goal <= 1.10)"
    )


async def tcp_figures(profile_name: str, samples: int, rounds: int) -> None:
    profile = load_profile(profile_name)
    sim = RbtSimulator(_scenario(samples), profile=profile, time_scale=TIME_SCALE)
    port = await sim.start_tcp()
    link = ModbusTcpLink("127.0.0.1", port, timeout=1.0)
    bare = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0, reconnect_delay=0)
    left, right = profile[Quantity.CURVE_LEFT], profile[Quantity.CURVE_RIGHT]
    driver_s: list[float] = []
    bare_s: list[float] = []
    try:
        await bare.connect()
        async with RollerBrakeTester(link, profile, RbtTimings(poll_s=0.001)) as tester:
            await tester.test_axle(parking=False)  # leaves curves frozen in the bench
            for _ in range(rounds):
                start = time.perf_counter()
                await tester.read_curve(left, samples)
                await tester.read_curve(right, samples)
                driver_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                for spec in (left, right):
                    for address, count in curve_chunks(spec, samples):
                        if spec.kind is RegisterKind.HOLDING:
                            await bare.read_holding_registers(address, count=count, device_id=1)
                        else:
                            await bare.read_input_registers(address, count=count, device_id=1)
                bare_s.append(time.perf_counter() - start)
    finally:
        bare.close()
        await sim.stop()
    d, b = statistics.median(driver_s), statistics.median(bare_s)
    print(
        f"  {profile_name:8s} N={samples:4d}: driver {d * 1000:.2f} ms, bare pymodbus {b * 1000:.2f} ms "
        f"(medians of {rounds}) -> ratio {d / b:.2f}x (goal <= 2x)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="*", default=[125, 1000])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print("(a) RTU wire time at 19200 8E1, one axle, driver / spec minimum:")
    for profile in ("default", "rbt-f"):
        for samples in args.samples:
            await rtu_figures(profile, samples)
    print("(b) TCP loopback, both curves, driver / bare pymodbus loop:")
    for profile in ("default", "rbt-f"):
        for samples in args.samples:
            await tcp_figures(profile, samples, args.rounds)


if __name__ == "__main__":
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(main())

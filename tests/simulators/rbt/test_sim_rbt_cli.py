"""``tongjian sim rbt`` as a real process: prints where it serves, and a driver tests an axle there."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys

import pytest

from equipment.modbus_link import ModbusRtuLink, ModbusTcpLink
from equipment.rbt_driver import RbtTimings, RollerBrakeTester
from equipment.rbt_profile import load_profile
from tongjian.commands import sim_rbt

RUNNER = """
import argparse, sys
from tongjian.commands import sim_rbt
parser = argparse.ArgumentParser()
sim_rbt.register(parser.add_subparsers(dest="device", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def test_register_adds_rbt_with_its_options() -> None:
    parser = argparse.ArgumentParser()
    sim_rbt.register(parser.add_subparsers(dest="device", required=True))
    args = parser.parse_args(["rbt", "--port", "0", "--profile", "rbt-f", "--rtu", "--seed", "3",
                              "--fault", "exception:6@service/2", "--serve-for", "1"])  # fmt: skip
    assert (args.port, args.profile, args.rtu, args.seed, args.serve_for) == (0, "rbt-f", True, 3, 1.0)
    assert args.fault[0].code == 6 and args.fault[0].count == 2 and callable(args.handler)
    with pytest.raises(SystemExit):
        parser.parse_args(["rbt", "--fault", "explode"])


@pytest.mark.slow
@pytest.mark.parametrize("rtu", [False, True], ids=["tcp", "rtu"])
async def test_simulator_process_serves_a_driver(rtu: bool) -> None:
    extra = ["--rtu"] if rtu else ["--port", "0"]
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "rbt", "--profile", "rbt-f", "--time-scale", "0.002", "--serve-for", "20",
         *extra],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        where = (await asyncio.to_thread(process.stdout.readline)).strip()
        if rtu:
            assert where.startswith("/dev/")
            link: ModbusTcpLink | ModbusRtuLink = ModbusRtuLink(where, timeout=0.3)
        else:
            host, _, port = where.rpartition(":")
            assert host == "127.0.0.1"
            link = ModbusTcpLink(host, int(port), timeout=0.3)
        async with RollerBrakeTester(link, load_profile("rbt-f"), RbtTimings(poll_s=0.005)) as tester:
            result = await tester.test_axle(parking=False)
        assert result.service.left_max_dan and result.service.left_max_dan > 0
    finally:
        process.terminate()
        process.wait(timeout=10)

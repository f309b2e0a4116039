"""``tongjian sim dyn`` as a real process: prints where it serves, and the driver loads its vehicle there."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys

import pytest

from equipment.dyn_driver import ChassisDynamometer, DynTimings
from equipment.dyn_profile import load_dyn_profile
from equipment.dyn_signals import DynStatus, PedalPrompt
from equipment.modbus_link import ModbusTcpLink
from tongjian.cli import main
from tongjian.commands import sim_dyn

RUNNER = """
import argparse, sys
from tongjian.commands import sim_dyn
parser = argparse.ArgumentParser()
sim_dyn.register(parser.add_subparsers(dest="device", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def test_register_adds_dyn_with_its_options() -> None:
    parser = argparse.ArgumentParser()
    sim_dyn.register(parser.add_subparsers(dest="device", required=True))
    args = parser.parse_args(["dyn", "--port", "0", "--vehicle", "diesel", "--fault", "overheat@12"])
    assert (args.port, args.vehicle, args.fault[0].after_s) == (0, "diesel", 12.0)
    with pytest.raises(SystemExit):
        parser.parse_args(["dyn", "--fault", "melt"])


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "dyn", "--time-scale", "0"]) == 2
    assert "--time-scale must be positive" in capsys.readouterr().err
    assert main(["sim", "dyn", "--port", "0", "--profile", "/nonexistent.toml", "--serve-for", "0"]) == 2
    assert "cannot read the profile" in capsys.readouterr().err


async def test_simulator_process_serves_a_driver() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "dyn", "--port", "0", "--time-scale", "0.02", "--serve-for", "20",
         "--with-analysers"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        where = (await asyncio.to_thread(process.stdout.readline)).strip()
        ega = (await asyncio.to_thread(process.stdout.readline)).split()
        assert ega[0] == "ega" and ega[1].startswith("/dev/")
        host, _, port = where.rpartition(":")
        link = ModbusTcpLink(host, int(port), timeout=0.5, device="dyn")
        async with ChassisDynamometer(link, load_dyn_profile("dyn-default"), DynTimings(poll_s=0.002)) as dyn:
            await dyn.lift_down()
            await dyn.show_aid(25.0, PedalPrompt.HOLD_SPEED)
            for _ in range(500):
                if (await dyn.read()).speed_kmh > 23:
                    break
                await asyncio.sleep(0.01)
            await dyn.hold_power(8.0)
            assert DynStatus.MODE_ACTIVE in await dyn.read_status()
            await dyn.release()
    finally:
        process.terminate()
        process.wait(timeout=10)

"""``tongjian sim obd`` as a real process, read by the OBD driver; its arguments refused by name."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

import pytest

from equipment.obd_driver import ObdAdapter, ObdConfig
from tests.simulators.serial.test_sim_serial_cli import RUNNER
from tongjian.cli import CommandError
from tongjian.commands import sim_serial


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sim_serial.register(parser.add_subparsers(dest="device", required=True))
    return parser.parse_args(list(argv))


def test_each_scenario_is_built_with_the_vin_given() -> None:
    simulator = sim_serial.build_simulator(
        _parse("obd", "--scenario", "mil-on-dtcs", "--vin", "LFV2A21K6A3041726")
    )
    assert simulator.scenario.mil_on and simulator.scenario.vin == "LFV2A21K6A3041726"  # type: ignore[attr-defined]
    assert (
        sim_serial.build_simulator(_parse("obd", "--scenario", "no-communication")).scenario.protocol is None
    )  # type: ignore[attr-defined]
    with pytest.raises(SystemExit):
        _parse("obd", "--scenario", "exploding")


def test_a_vin_the_scenario_cannot_hold_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="--vin"):
        sim_serial.build_simulator(_parse("obd", "--scenario", "vin-mismatch", "--vin", "SHORT"))


@pytest.mark.slow
async def test_obd_simulator_process_is_read_by_the_driver() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "obd", "--scenario", "mil-on-dtcs"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        adapter = ObdAdapter(ObdConfig(path, protocol="6"))
        async with adapter.connect() as session:
            assert (await session.status()).mil_on
            assert await session.stored_dtcs() == ("P0420", "P0133")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

"""``tongjian sim hlt|ega|opm`` as a real process: prints its pty, serves it, stops on Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import serial

from equipment.hlt_codec import HltDecoder, frame_body, parse_reply
from tongjian.cli import CommandError
from tongjian.commands import sim_serial

# Wires the subcommands under a `sim` group the way tongjian.cli does, without depending on it.
RUNNER = """
import argparse, sys
from tongjian.commands import sim_serial
parser = argparse.ArgumentParser()
sim_serial.register(parser.add_subparsers(dest="device", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.handler(args))
"""


def test_register_adds_the_three_benches_with_their_options() -> None:
    parser = argparse.ArgumentParser()
    sim_serial.register(parser.add_subparsers(dest="device", required=True))
    args = parser.parse_args(["opm", "--seed", "5", "--time-scale", "0.1", "--fault", "nak:4@read/1"])
    assert (args.simulator, args.seed, args.time_scale) == ("opm", 5, 0.1)
    assert args.fault[0].code == 4 and callable(args.handler)
    for device in ("hlt", "ega"):
        assert parser.parse_args([device]).simulator == device
    with pytest.raises(SystemExit):
        parser.parse_args(["hlt", "--fault", "explode"])


def test_the_gas_analysers_driver_follows_the_rated_speed_it_is_given() -> None:
    parser = argparse.ArgumentParser()
    sim_serial.register(parser.add_subparsers(dest="device", required=True))
    simulator = sim_serial.build_simulator(parser.parse_args(["ega", "--rated-rpm", "6200"]))
    assert simulator.scenario.phases[0].rpm == 4340  # type: ignore[attr-defined]  # 70 % of rated
    assert sim_serial.build_simulator(parser.parse_args(["ega"])).scenario.phases[0].rpm == 3850  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match=r"--rated-rpm 50: expected 1000\.\.10000"):
        sim_serial.build_simulator(parser.parse_args(["ega", "--rated-rpm", "50"]))
    with pytest.raises(CommandError, match="--time-scale must be positive"):
        sim_serial.build_simulator(parser.parse_args(["hlt", "--time-scale", "0"]))


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_hlt_simulator_process_serves_its_pty_until_interrupted(stop: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "hlt", "--seed", "2", "--fault", "err:5@meas"],
        stdout=subprocess.PIPE,
        text=True,
        # Started as a background job of a non-interactive shell is: it inherits SIGINT ignored.
        preexec_fn=_ignore_sigint,
    )
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        assert path.startswith("/dev/")
        with serial.Serial(path, 9600, timeout=2) as port:
            port.write(frame_body("ID"))
            decoder = HltDecoder()
            decoder.feed(port.read_until(b"\n"))
            assert parse_reply(decoder.next_frame() or b"").serial == "HLT-0417"  # type: ignore[union-attr]
            port.write(frame_body("MEAS,L,H"))
            decoder.feed(port.read_until(b"\n"))
            assert parse_reply(decoder.next_frame() or b"").code == 5  # type: ignore[union-attr]
        process.send_signal(stop)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_sent_the_moment_it_is_ready_stops_it(stop: signal.Signals, tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB-ega"
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "ega", "--link", str(link)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == str(link)
        process.send_signal(stop)
        assert process.wait(timeout=5) == 0
        assert not link.exists()  # a clean stop takes its link away
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

"""``tongjian sim hlt --link PATH``: the simulator also answers at a stable path, which goes away
when it stops (an adapter unplugged) and comes back when it starts again with the same ``--link``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import serial

from equipment.hlt_codec import HltDecoder, frame_body, parse_reply
from tests.simulators.serial.test_sim_serial_cli import RUNNER

pytestmark = pytest.mark.slow


def _serve(link: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, "hlt", "--link", str(link)], stdout=subprocess.PIPE, text=True
    )


def _state_at(path: str) -> str:
    with serial.Serial(path, 9600, timeout=2) as port:
        port.write(frame_body("STAT"))
        decoder = HltDecoder()
        decoder.feed(port.read_until(b"\n"))
        return parse_reply(decoder.next_frame() or b"").state.value  # type: ignore[union-attr]


def test_the_link_path_is_unplugged_with_the_simulator_and_plugged_back_in(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB-hlt"
    for _run in range(2):
        process = _serve(link)
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == str(link)
            assert _state_at(str(link)) == "READY"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0
            assert not link.exists()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

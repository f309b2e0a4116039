"""A serial link whose device went away (USB adapter pulled: the pty closes, its path vanishes) says
so with a typed error, and reopens the same path by itself once the device is back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from equipment.errors import DeviceDisconnected, DeviceUnreachable
from equipment.hlt_codec import HltState
from equipment.hlt_driver import HeadlightTester
from equipment.serial_link import SerialLink
from simulators.hlt_sim import HeadlightTesterSimulator
from tests.equipment.serial.conftest import FAST_CONFIG


async def test_a_port_unplugged_while_idle_then_plugged_back_is_reopened(tmp_path: Path) -> None:
    simulator = HeadlightTesterSimulator(time_scale=0.01)
    path = simulator.start(link_path=tmp_path / "ttyUSB-hlt")
    link = SerialLink(replace(FAST_CONFIG, port=path))
    tester = HeadlightTester(link)
    try:
        assert await tester.status() is HltState.READY
        simulator.unplug()
        with pytest.raises(DeviceDisconnected) as dropped:
            await tester.status()
        assert dropped.value.device == "hlt" and path in dropped.value.cause
        with pytest.raises(DeviceUnreachable, match="No such file"):
            await tester.status()
        simulator.replug()
        assert await tester.status() is HltState.READY
    finally:
        link.close()
        simulator.stop()

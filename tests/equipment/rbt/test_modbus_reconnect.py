"""A Modbus link whose bench restarted reconnects on the next request instead of failing for ever
("connection to 127.0.0.1:PORT was lost" on every later request, until the agent restarted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from equipment.errors import DeviceDisconnected, DeviceUnreachable
from equipment.modbus_link import ModbusRtuLink, ModbusTcpLink
from equipment.rbt_driver import RollerBrakeTester, Status
from equipment.rbt_profile import load_profile
from simulators.rbt_server import RbtSimulator


async def test_tcp_link_reconnects_after_the_bench_restarts() -> None:
    simulator = RbtSimulator(time_scale=0.01)
    port = await simulator.start_tcp()
    link = ModbusTcpLink("127.0.0.1", port, timeout=0.3, retries=0)
    tester = RollerBrakeTester(link, load_profile("default"))
    try:
        async with tester:
            assert Status.READY in await tester.read_status()
            await simulator.stop()
            # The first request may meet the closing connection; either way it names the bench.
            with pytest.raises((DeviceDisconnected, DeviceUnreachable), match=str(port)):
                await tester.read_status()
            await simulator.start_tcp(port=port)
            assert Status.READY in await tester.read_status()
    finally:
        await simulator.stop()


async def test_rtu_link_reopens_its_path_after_the_adapter_comes_back(tmp_path: Path) -> None:
    simulator = RbtSimulator(time_scale=0.01)
    path = await simulator.start_rtu(link_path=tmp_path / "ttyUSB-rbt")
    link = ModbusRtuLink(path, timeout=0.3, retries=0)
    tester = RollerBrakeTester(link, load_profile("default"))
    try:
        async with tester:
            assert Status.READY in await tester.read_status()
            await simulator.stop()
            with pytest.raises((DeviceDisconnected, DeviceUnreachable)):
                await tester.read_status()
            await simulator.start_rtu(link_path=path)
            assert Status.READY in await tester.read_status()
    finally:
        await simulator.stop()

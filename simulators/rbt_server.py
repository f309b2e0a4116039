"""The roller brake tester simulator on a real pymodbus server: Modbus TCP, or RTU on a pseudo-terminal.

Theory of operation. The bench itself is ``rbt_bench.RbtBench`` (sans-I/O); this file is only the
boundary to pymodbus, kept thin because pymodbus' server-side datastore classes change between 3.x
releases (3.16 deprecates ``ModbusServerContext`` and the data blocks, whose addressing is 1-based,
in favour of ``SimDevice`` / ``SimData``). We use ``SimDevice`` with one plain register block per
kind starting at address 0 and an ``action`` hook: before pymodbus answers a request, the hook asks
the bench and writes the bench's words into the block at the request's own address, or returns the
bench's exception code. So the register addresses on the wire are the profile's, and the tests read
them end to end. Silence is made by dropping the reply frame in ``trace_packet``; a disconnect
closes the TCP connection or the pty.

RTU. pymodbus' serial server opens a device path with pyserial; a pty's slave has a path but its
master does not, so two pty pairs are bridged (as ``serial_device`` does with one): the server
opens one slave, the driver opens the other (the path ``start_rtu`` returns), and the event loop
copies bytes between the two masters.

Restarts. ``stop()`` then ``start_tcp(port=the same port)`` is the bench restarting: its TCP
connections drop, and it listens again. Over RTU, ``start_rtu(link_path=...)`` keeps a stable symlink
to the driver's pty (as udev does for a USB adapter); ``stop()`` removes it and the next
``start_rtu`` with the same ``link_path`` puts a new pty behind it. The bench's state is kept.

Time. ``time_scale`` real seconds per simulated second (0.01 runs a 2 s weighing in 20 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import tty
from collections.abc import Iterable

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from equipment.rbt_profile import RbtProfile, load_profile
from equipment.register_codec import RegisterKind
from simulators.brake_scenario import BrakeScenario
from simulators.rbt_bench import (
    Answer,
    BenchFault,
    Disconnect,
    RbtBench,
    ReadRequest,
    Refuse,
    Silence,
    WriteRequest,
    register_block_sizes,
)

log = logging.getLogger(__name__)

_WRITE_FUNCTIONS = frozenset({6, 16})
_KIND_OF_READ = {3: RegisterKind.HOLDING, 4: RegisterKind.INPUT}


class RbtSimulator:
    def __init__(
        self,
        scenario_or_queue: BrakeScenario | Iterable[BrakeScenario] | None = None,
        *,
        profile: str | RbtProfile = "default",
        faults: Iterable[BenchFault] = (),
        time_scale: float = 1.0,
        unit: int = 1,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.profile = profile if isinstance(profile, RbtProfile) else load_profile(profile)
        self.time_scale = time_scale
        self.unit = unit
        self.bench = RbtBench(self.profile, faults=list(faults))
        self._origin = time.monotonic()
        if isinstance(scenario_or_queue, BrakeScenario):
            self.bench.queue([scenario_or_queue], self.now())
        elif scenario_or_queue is not None:
            self.bench.queue(scenario_or_queue, self.now())
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._drop_replies = 0
        self._fds: list[int] = []
        self._bridge: tuple[int, int] | None = None
        self._host_slave = -1
        self._link_path: str | None = None
        self.disconnects = 0

    # Time and vehicles

    def now(self) -> float:
        return (time.monotonic() - self._origin) / self.time_scale

    def load_vehicle(self, scenario: BrakeScenario) -> None:
        """The next vehicle drives on (its first axle rolls onto the rollers)."""
        self.bench.load_vehicle(scenario, self.now())

    def queue(self, scenarios: Iterable[BrakeScenario]) -> None:
        self.bench.queue(scenarios, self.now())

    # The pymodbus boundary

    def _device(self) -> SimDevice:
        sizes = register_block_sizes(self.profile)

        def block(size: int) -> list[SimData]:
            return [SimData(0, count=max(1, size), values=0, datatype=DataType.REGISTERS)]

        bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
        return SimDevice(
            self.unit,
            simdata=(bits, list(bits), block(sizes[RegisterKind.HOLDING]), block(sizes[RegisterKind.INPUT])),
            action=self._action,
        )

    async def _action(
        self,
        function: int,
        start: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if function in _WRITE_FUNCTIONS and values is None:
            return None  # pymodbus reading back what it just wrote, for the reply: not a request
        if values is None:
            kind = _KIND_OF_READ.get(function)
            if kind is None:
                return ExcCodes.ILLEGAL_FUNCTION
            outcome = self.bench.handle(ReadRequest(kind, address, count), self.now())
        else:
            outcome = self.bench.handle(WriteRequest(address, tuple(int(v) for v in values)), self.now())
        match outcome:
            case Answer(words) if words:
                registers[address - start : address - start + count] = list(words)
            case Answer():
                pass
            case Refuse(code):
                return ExcCodes(code)
            case Silence():
                self._drop_replies += 1
            case Disconnect():
                self._drop_replies += 1
                asyncio.get_running_loop().call_soon(self._disconnect)
        return None

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if sending and self._drop_replies:
            self._drop_replies -= 1
            return b""
        return data

    def _disconnect(self) -> None:
        self.disconnects += 1
        if self._bridge is not None:
            self._close_bridge()
            return
        server = self._server
        if server is not None:
            for connection in list(server.active_connections.values()):
                connection.close()

    # Life cycle

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus TCP; returns the port (the OS picks one for ``port=0``)."""
        server = ModbusTcpServer(self._device(), address=(host, port), trace_packet=self._trace_packet)
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if not sockets:
            raise OSError(f"the Modbus TCP server did not start on {host}:{port}")
        return int(sockets[0].getsockname()[1])

    async def start_rtu(self, *, baud: int = 19200, link_path: str | os.PathLike[str] | None = None) -> str:
        """Serve Modbus RTU on a pty; returns the path the driver opens (like ``/dev/ttyUSB0``).

        8N1 on the pty, whatever the spec's 8E1: Linux refuses a parity bit on a pseudo-terminal
        (``ModbusRtuLink`` does the same there).
        """
        server_master, server_slave = os.openpty()
        host_master, host_slave = os.openpty()
        for fd in (server_slave, host_slave):
            tty.setraw(fd)
        os.set_blocking(server_master, False)
        os.set_blocking(host_master, False)
        # Our own handles on both slaves stay open, so neither master sees a hang-up between opens.
        self._fds = [server_master, server_slave, host_master, host_slave]
        self._host_slave = host_slave
        server = ModbusSerialServer(
            self._device(),
            port=os.ttyname(server_slave),
            baudrate=baud,
            parity="N",
            bytesize=8,
            stopbits=1,
            trace_packet=self._trace_packet,
        )
        await server.serve_forever(background=True)
        self._server = server
        loop = asyncio.get_running_loop()
        self._bridge = (server_master, host_master)
        loop.add_reader(server_master, self._copy, server_master, host_master)
        loop.add_reader(host_master, self._copy, host_master, server_master)
        if link_path is None:
            return os.ttyname(host_slave)
        self._link_path = os.fspath(link_path)
        temporary = f"{self._link_path}.new"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        os.symlink(os.ttyname(host_slave), temporary)
        os.replace(temporary, self._link_path)
        return self._link_path

    def _copy(self, source: int, target: int) -> None:
        try:
            data = os.read(source, 4096)
        except BlockingIOError:
            return
        except OSError:
            # EIO: nobody holds that slave open just now; we keep our own handle, so it passes.
            return
        if data:
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(target, data)

    def _close_bridge(self) -> None:
        bridge, self._bridge = self._bridge, None
        if bridge is None:
            return
        loop = asyncio.get_running_loop()
        for fd in bridge:
            loop.remove_reader(fd)
        # The driver's side goes away as a USB adapter would: its master closes, reads fail with EIO.
        _server_master, host_master = bridge
        for fd in (host_master, self._host_slave):
            with contextlib.suppress(OSError):
                os.close(fd)
            if fd in self._fds:
                self._fds.remove(fd)

    async def stop(self) -> None:
        if self._link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._link_path)
        if self._bridge is not None:
            loop = asyncio.get_running_loop()
            for fd in self._bridge:
                loop.remove_reader(fd)
            self._bridge = None
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []

    async def __aenter__(self) -> RbtSimulator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


__all__ = ["RbtSimulator"]

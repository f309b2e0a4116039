"""Modbus transport for the roller brake tester: pymodbus' async clients behind one small interface.

``ModbusTcpLink`` and ``ModbusRtuLink`` differ only in the pymodbus client they make; the driver
sees ``read_registers(kind, address, count)`` and ``write_register(s)``, plain ints in and out.
Every request is counted (requests, bytes each way on the wire, as framed by pymodbus) so the
benchmark can compare what the driver sends with what the spec's sequence needs.

What can be observed, and what it becomes (device "rbt" unless the link is given another name, e.g.
"dyn"; the command names function and address):

* cannot connect / open the port                                   -> ``DeviceUnreachable``
* no answer within ``timeout``; reads are re-sent up to ``retries``
  times first (they are idempotent; writes of a command are not,
  unless the driver says so: ``write_register(idempotent=True)``)  -> ``DeviceTimeout``
* the connection dropped (TCP closed, pty / USB adapter gone)      -> ``DeviceDisconnected``
* Modbus exception 6 (busy; spec 1.3: "while the rollers start")
  after ``retries`` re-sends with a growing pause (tenacity)       -> ``ModbusExceptionReply(6)``
* any other Modbus exception code, at once                         -> ``ModbusExceptionReply(code)``

pymodbus' own retries and auto-reconnect are switched off: a dropped bench must surface as an error
the lane can act on, not as a reconnect loop behind the driver's back. The link reconnects on the
next request instead (``DeviceUnreachable`` while the bench is still away), so whoever sends that
request - the lane's bench supervisor, backing off with tenacity - decides how often. A request
whose connection dropped after it was sent is never re-sent: a write of COMMAND may have acted.
"""

from __future__ import annotations

import asyncio
import os
import stat
import termios
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ModbusPDU
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from equipment.errors import (
    DeviceDisconnected,
    DeviceTimeout,
    DeviceUnreachable,
    ModbusExceptionReply,
    RemoteProtocolError,
)
from equipment.register_codec import MAX_READ_REGISTERS, RegisterKind

DEVICE = "rbt"
BUSY = 6
# Modbus allows 123 registers in one write-multiple request.
MAX_WRITE_REGISTERS = 123
_READ_FUNCTION = {RegisterKind.HOLDING: 3, RegisterKind.INPUT: 4}


@dataclass
class LinkStats:
    """What went over the wire: requests sent (re-sends included) and bytes each way."""

    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    frames_received: int = 0

    def reset(self) -> None:
        self.requests = self.bytes_sent = self.bytes_received = self.frames_received = 0


def is_pseudo_terminal(path: str) -> bool:
    """A Unix98 pty slave (``/dev/pts/N``: character devices of majors 136-143)."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISCHR(info.st_mode) and 136 <= os.major(info.st_rdev) <= 143


def _is_busy(error: BaseException) -> bool:
    return isinstance(error, ModbusExceptionReply) and error.code == BUSY


def _is_retryable_read(error: BaseException) -> bool:
    return _is_busy(error) or isinstance(error, DeviceTimeout)


class ModbusLink:
    """One Modbus client, one request at a time. Subclasses make the client (``_make_client``)."""

    def __init__(
        self, where: str, *, unit: int, timeout: float, retries: int, busy_wait: float, device: str = DEVICE
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        if retries < 0:
            raise ValueError(f"retries must not be negative, not {retries!r}")
        self.where = where
        self.device = device
        self.unit = unit
        self.timeout = timeout
        self.retries = retries
        self.busy_wait = busy_wait
        self.stats = LinkStats()
        self._client: ModbusBaseClient | None = None
        self._lock = asyncio.Lock()

    def _make_client(self) -> ModbusBaseClient:  # pragma: no cover - abstract
        raise NotImplementedError

    # Bytes around a PDU's data on the wire: RTU address + function + CRC; TCP MBAP header + function.
    _frame_overhead = 0

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        # Received packets are not counted here: pymodbus passes its whole receive buffer each time a
        # piece arrives, so a reply that comes in three pieces would be counted three times.
        if sending:
            self.stats.requests += 1
            self.stats.bytes_sent += len(data)
        return data

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.stats.frames_received += 1
            self.stats.bytes_received += self._frame_overhead + len(pdu.encode())
        return pdu

    # Opening and closing

    async def open(self) -> None:
        if self._client is not None and self._client.connected:
            return
        self.close()
        client = self._make_client()
        try:
            connected = await client.connect()
        except (OSError, termios.error, ModbusException) as error:
            client.close()
            raise DeviceUnreachable(
                self.device, "connect", f"cannot connect to {self.where}: {error}"
            ) from error
        if not connected:
            client.close()
            raise DeviceUnreachable(self.device, "connect", f"cannot connect to {self.where}")
        self._client = client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    # Requests

    async def read_registers(self, kind: RegisterKind, address: int, count: int) -> list[int]:
        """``count`` registers from ``address`` (function 3 or 4); at most 125, per the standard."""
        if not 1 <= count <= MAX_READ_REGISTERS:
            raise ValueError(f"a read takes 1..{MAX_READ_REGISTERS} registers, not {count}")
        function = _READ_FUNCTION[kind]
        command = f"read {kind.value} {address}+{count} (function {function})"

        async def once(client: ModbusBaseClient) -> Any:
            if kind is RegisterKind.HOLDING:
                return await client.read_holding_registers(address, count=count, device_id=self.unit)
            return await client.read_input_registers(address, count=count, device_id=self.unit)

        reply = await self._request(command, once, retry_timeouts=True)
        registers = list(getattr(reply, "registers", ()))
        if len(registers) != count:
            raise RemoteProtocolError(
                self.device, command, f"{len(registers)} registers in the reply, asked for {count}"
            )
        return registers

    async def write_register(self, address: int, value: int, *, idempotent: bool = False) -> None:
        """One holding register (function 6).

        ``idempotent``: the caller knows a second copy of this write changes nothing (a setpoint, a
        load mode already held), so one whose reply was lost is re-sent like a read.
        """
        command = f"write holding {address}={value} (function 6)"
        await self._request(
            command,
            lambda c: c.write_register(address, value, device_id=self.unit),
            retry_timeouts=idempotent,
        )

    async def write_registers(self, address: int, values: Sequence[int]) -> None:
        """Consecutive holding registers (function 16)."""
        if not 1 <= len(values) <= MAX_WRITE_REGISTERS:
            raise ValueError(f"a write takes 1..{MAX_WRITE_REGISTERS} registers, not {len(values)}")
        command = f"write holding {address}+{len(values)} (function 16)"
        words = list(values)
        await self._request(
            command, lambda c: c.write_registers(address, words, device_id=self.unit), retry_timeouts=False
        )

    async def _request(self, command: str, send: Any, *, retry_timeouts: bool) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.busy_wait, max=self.timeout),
            retry=retry_if_exception(_is_retryable_read if retry_timeouts else _is_busy),
            reraise=True,
        )
        async with self._lock:
            async for attempt in retrying:
                with attempt:
                    return await self._once(command, send)
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    async def _once(self, command: str, send: Any) -> Any:
        if self._client is None or not self._client.connected:
            # Nothing was sent on the lost connection for this request: opening a new one is safe.
            await self.open()
        client = self._client
        assert client is not None  # open() raised otherwise
        try:
            reply = await send(client)
        except ConnectionException as error:
            raise DeviceDisconnected(
                self.device, command, f"connection to {self.where} was lost: {error}"
            ) from error
        except ModbusIOException as error:
            if not client.connected:
                raise DeviceDisconnected(
                    self.device, command, f"connection to {self.where} dropped while waiting for the reply"
                ) from error
            raise DeviceTimeout(
                self.device, command, f"no reply within {self.timeout:g} s from {self.where}"
            ) from error
        except ModbusException as error:
            raise RemoteProtocolError(
                self.device, command, f"bad reply from {self.where}: {error}"
            ) from error
        if reply.isError():
            code = int(getattr(reply, "exception_code", 0))
            raise ModbusExceptionReply(
                self.device, command, f"Modbus exception {code} from {self.where}", code
            )
        return reply


class ModbusTcpLink(ModbusLink):
    _frame_overhead = 8

    def __init__(
        self,
        host: str,
        port: int = 502,
        *,
        unit: int = 1,
        timeout: float = 0.5,
        retries: int = 3,
        busy_wait: float = 0.05,
        device: str = DEVICE,
    ) -> None:
        super().__init__(
            f"{host}:{port}", unit=unit, timeout=timeout, retries=retries, busy_wait=busy_wait, device=device
        )
        self.host = host
        self.port = port

    def _make_client(self) -> ModbusBaseClient:
        return AsyncModbusTcpClient(
            self.host,
            port=self.port,
            timeout=self.timeout,
            retries=0,
            reconnect_delay=0,
            trace_packet=self._trace_packet,
            trace_pdu=self._trace_pdu,
        )


class ModbusRtuLink(ModbusLink):
    _frame_overhead = 4

    def __init__(
        self,
        serial_port: str,
        *,
        baud: int = 19200,
        parity: str = "E",
        stop_bits: int = 1,
        unit: int = 1,
        timeout: float = 0.5,
        retries: int = 3,
        busy_wait: float = 0.05,
    ) -> None:
        if parity not in ("N", "E", "O"):
            raise ValueError(f"parity must be 'N', 'E' or 'O', not {parity!r}")
        super().__init__(serial_port, unit=unit, timeout=timeout, retries=retries, busy_wait=busy_wait)
        self.serial_port = serial_port
        self.baud = baud
        self.parity = parity
        self.stop_bits = stop_bits

    def _make_client(self) -> ModbusBaseClient:
        # A pseudo-terminal has no line to put a parity bit on, and Linux refuses PARENB on one
        # (tcsetattr: EINVAL); the simulator's pty gets 8N1, a real RS-485 adapter the spec's 8E1.
        parity = "N" if is_pseudo_terminal(self.serial_port) else self.parity
        return AsyncModbusSerialClient(
            self.serial_port,
            baudrate=self.baud,
            bytesize=8,
            parity=parity,
            stopbits=self.stop_bits,
            timeout=self.timeout,
            retries=0,
            reconnect_delay=0,
            trace_packet=self._trace_packet,
            trace_pdu=self._trace_pdu,
        )


__all__ = [
    "MAX_WRITE_REGISTERS",
    "LinkStats",
    "ModbusLink",
    "ModbusRtuLink",
    "ModbusTcpLink",
    "is_pseudo_terminal",
]

"""OBD scan tool driver: an ELM327-compatible adapter on a serial port, through python-OBD (spec 6).

What it reads (SAE J1979): service 01 PID 01 (MIL, DTC count, readiness monitors), service 03
(stored, i.e. confirmed emission-related, DTCs) and service 09 PID 02 (the VIN the ECU holds).

Theory of operation
-------------------
python-OBD owns the conversation with adapter and vehicle: it resets the adapter (``ATZ``, echo,
headers and linefeeds off/on), reads the battery voltage, finds the protocol (``ATSP0`` and ``0100``
with ``ATDPN``, or the lane's fixed one with ``ATTP``), loads the supported PIDs, and decodes the
answers. Its API blocks (serial reads with a 10 s timeout, ``time.sleep`` of 1 s after ``ATZ`` and
after each protocol search step), so every call runs in a worker thread (``asyncio.to_thread``);
one ``ObdSession`` is one connection, used by one caller.

Three different results, three different errors (the spec asks that they be told apart):

* the adapter does not answer (wrong port, adapter dead, no power): ``AdapterNotAnswering``. Found
  by our own short probe (``ATI`` through a ``SerialLink``, a prompt within ``answer_timeout_s``)
  before python-OBD opens the port: python-OBD would wait 10 s on each of its init commands, and
  its status cannot tell a silent adapter from a port that opened. A port that cannot be opened at
  all is ``DeviceUnreachable``, as for every serial bench.
* the adapter answers, the vehicle does not (no protocol found, ``UNABLE TO CONNECT``,
  ``CAN ERROR``, ``NO DATA`` to 01 01): ``VehicleNotCommunicating``. Not a bench failure: the rules
  judge it (a vehicle that should have OBD and does not talk fails).
* the vehicle answers something that does not decode: ``ObdAnswerUnreadable``, and for the VIN
  (absent, too short, not 17 VIN characters) ``VinUnreadable``.

The VIN is taken from the answer's bytes here, not from python-OBD's decoder: its
``decode_encoded_string`` (0.7.3) strips the characters ``\\ x 0 1 2`` from both ends of the string
(a bytes literal that was meant as escapes), so a VIN ending in 0, 1 or 2 loses characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from equipment.errors import (
    AdapterNotAnswering,
    DeviceDisconnected,
    DeviceTimeout,
    DeviceUnreachable,
    ObdAnswerUnreadable,
    VehicleNotCommunicating,
    VinUnreadable,
)
from equipment.serial_link import SerialConfig, SerialLink
from inspection.measurements import ReadinessMonitor

if TYPE_CHECKING:
    import obd

log = logging.getLogger(__name__)

PROMPT = b">"
VIN_LENGTH = 17
# What an ELM327 prints instead of data when the vehicle is not there or not talking.
NO_VEHICLE_MESSAGES = (
    "UNABLE TO CONNECT",
    "CAN ERROR",
    "NO DATA",
    "BUS INIT",
    "BUS ERROR",
    "BUS BUSY",
    "FB ERROR",
    "DATA ERROR",
    "STOPPED",
)
_VIN_CHARACTERS = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
_ELM_PROTOCOLS = frozenset("123456789A")

# python-OBD's names for the readiness monitors -> ours (SAE J1979 service 01 PID 01 bytes B-D).
MONITOR_NAMES: dict[str, ReadinessMonitor] = {
    "MISFIRE_MONITORING": ReadinessMonitor.MISFIRE,
    "FUEL_SYSTEM_MONITORING": ReadinessMonitor.FUEL_SYSTEM,
    "COMPONENT_MONITORING": ReadinessMonitor.COMPONENTS,
    "CATALYST_MONITORING": ReadinessMonitor.CATALYST,
    "HEATED_CATALYST_MONITORING": ReadinessMonitor.HEATED_CATALYST,
    "EVAPORATIVE_SYSTEM_MONITORING": ReadinessMonitor.EVAPORATIVE_SYSTEM,
    "SECONDARY_AIR_SYSTEM_MONITORING": ReadinessMonitor.SECONDARY_AIR,
    "OXYGEN_SENSOR_MONITORING": ReadinessMonitor.OXYGEN_SENSOR,
    "OXYGEN_SENSOR_HEATER_MONITORING": ReadinessMonitor.OXYGEN_SENSOR_HEATER,
    "EGR_VVT_SYSTEM_MONITORING": ReadinessMonitor.EGR_VVT,
    "NMHC_CATALYST_MONITORING": ReadinessMonitor.NMHC_CATALYST,
    "NOX_SCR_AFTERTREATMENT_MONITORING": ReadinessMonitor.NOX_SCR,
    "BOOST_PRESSURE_MONITORING": ReadinessMonitor.BOOST_PRESSURE,
    "EXHAUST_GAS_SENSOR_MONITORING": ReadinessMonitor.EXHAUST_GAS_SENSOR,
    "PM_FILTER_MONITORING": ReadinessMonitor.PM_FILTER,
}
_CONTINUOUS = ("MISFIRE_MONITORING", "FUEL_SYSTEM_MONITORING", "COMPONENT_MONITORING")
_SPARK = (
    "CATALYST_MONITORING",
    "HEATED_CATALYST_MONITORING",
    "EVAPORATIVE_SYSTEM_MONITORING",
    "SECONDARY_AIR_SYSTEM_MONITORING",
    "OXYGEN_SENSOR_MONITORING",
    "OXYGEN_SENSOR_HEATER_MONITORING",
    "EGR_VVT_SYSTEM_MONITORING",
)
_COMPRESSION = (
    "NMHC_CATALYST_MONITORING",
    "NOX_SCR_AFTERTREATMENT_MONITORING",
    "BOOST_PRESSURE_MONITORING",
    "EXHAUST_GAS_SENSOR_MONITORING",
    "PM_FILTER_MONITORING",
    "EGR_VVT_SYSTEM_MONITORING",
)


# --------------------------------------------------------------------------- what is read


@dataclass(frozen=True, slots=True)
class MonitorStatus:
    monitor: ReadinessMonitor
    supported: bool
    complete: bool


@dataclass(frozen=True, slots=True)
class ObdStatus:
    """Service 01 PID 01: MIL, the ECU's count of confirmed DTCs, the readiness monitors."""

    mil_on: bool
    dtc_count: int
    compression_ignition: bool
    monitors: tuple[MonitorStatus, ...]  # every monitor of the ignition type, supported or not


# --------------------------------------------------------------------------- parsers (pure)


class PromptDecoder:
    """An ELM327 answer: everything up to the ``>`` prompt, as non-empty lines (a ``SerialLink`` codec).

    Never drops a partial answer at an idle gap: an adapter searching for the protocol prints
    ``SEARCHING...`` and then nothing for seconds before the rest.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer.extend(data)

    def next_frame(self) -> tuple[str, ...] | None:
        end = self._buffer.find(PROMPT)
        if end < 0:
            return None
        answer = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return answer_lines(answer)

    def reset(self) -> None:
        self._buffer.clear()

    def idle(self) -> None:
        pass

    @property
    def pending(self) -> int:
        return len(self._buffer)


def answer_lines(answer: bytes) -> tuple[str, ...]:
    """The lines of an answer (prompt excluded): CR / LF separated, NULs dropped, blank lines gone."""
    text = answer.replace(b"\x00", b"").decode("ascii", "replace")
    return tuple(line.strip() for line in re.split(r"[\r\n]+", text) if line.strip())


def vin_from_service09(data: bytes) -> str:
    """The VIN in a service 09 PID 02 answer's bytes (``49 02 <count> <VIN...>``), checked.

    CAN ECUs send one count byte (01) before the 17 characters; some pad the front with NULs (a
    VIN shorter than 17 in an older format). Raises ``ValueError`` naming what is wrong.
    """
    if len(data) < 3 or data[0] != 0x49 or data[1] != 0x02:
        raise ValueError(f"not a service 09 PID 02 answer: {data.hex(' ')!r}")
    body = bytes(data[3:]).rstrip(b"\x00").lstrip(b"\x00")
    if len(body) != VIN_LENGTH:
        raise ValueError(f"VIN has {len(body)} characters, not {VIN_LENGTH}: {body!r}")
    text = body.decode("ascii", "replace")
    if not _VIN_CHARACTERS.fullmatch(text):
        raise ValueError(f"VIN {text!r} has characters a VIN cannot have (I, O, Q, or not A-Z 0-9)")
    return text


def status_from_obd(value: Any) -> ObdStatus:
    """python-OBD's decoded ``Status`` (``obd.OBDResponse.Status``) as our dataclass."""
    compression = value.ignition_type == "compression"
    names = (*_CONTINUOUS, *(_COMPRESSION if compression else _SPARK))
    monitors = []
    for name in names:
        test = getattr(value, name)
        monitors.append(MonitorStatus(MONITOR_NAMES[name], bool(test.available), bool(test.complete)))
    return ObdStatus(
        mil_on=bool(value.MIL),
        dtc_count=int(value.DTC_count),
        compression_ignition=compression,
        monitors=tuple(monitors),
    )


def _from_ecu(message: Any) -> bool:
    """Whether a python-OBD message came from an ECU's frames (not an adapter text line such as
    ``NO DATA``; after a query ``message.data`` is padded to the command's length either way)."""
    return any(frame.data for frame in message.frames)


def _no_vehicle_message(lines: Sequence[str]) -> str | None:
    for line in lines:
        for message in NO_VEHICLE_MESSAGES:
            if message in line.upper():
                return line
    return None


# --------------------------------------------------------------------------- the adapter


@dataclass(frozen=True, slots=True)
class ObdConfig:
    port: str
    baudrate: int = 38400  # spec 6: 38400 baud, 8N1
    # "1".."A" (python-OBD / ELM protocol number) to skip the search; None: ATSP0, automatic.
    protocol: str | None = None
    # How long the adapter may take to show its prompt to our probe.
    answer_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if self.protocol is not None and self.protocol not in _ELM_PROTOCOLS:
            raise ValueError(f"OBD protocol {self.protocol!r}: expected one of 1-9, A, or none (automatic)")
        if self.answer_timeout_s <= 0 or self.baudrate <= 0:
            raise ValueError("OBD answer timeout and baud rate must be positive")


class ObdAdapter:
    """The lane's OBD adapter. ``probe()`` for the bench supervisor, ``connect()`` for a vehicle."""

    def __init__(self, config: ObdConfig, device: str = "obd") -> None:
        self.config = config
        self.device = device
        self.link = SerialLink(
            SerialConfig(
                port=config.port,
                baudrate=config.baudrate,
                response_timeout_s=config.answer_timeout_s,
                open_attempts=1,
            )
        )

    async def probe(self) -> str:
        """The adapter's identity (``ATI``: "ELM327 v1.5"). Raises ``AdapterNotAnswering`` if no prompt."""
        try:
            # Two DELs first, as python-OBD does: the adapter answers "?" and a half-received
            # earlier line cannot join ours.
            await self.link.request(
                b"\x7f\x7f\r", PromptDecoder(), device=self.device, command="probe", corrupt=()
            )
            lines = await self.link.request(
                b"ATI\r", PromptDecoder(), device=self.device, command="ATI", corrupt=()
            )
        except DeviceTimeout as error:
            raise AdapterNotAnswering(self.device, error.command, error.cause) from error
        finally:
            # python-OBD opens the port itself: ours must not read its answers meanwhile.
            self.link.close()
        identity = [line for line in lines if line.upper() != "ATI"]  # echo still on after power-up
        return identity[-1] if identity else ""

    def close(self) -> None:
        self.link.close()

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[ObdSession]:
        """A connection to the vehicle through the adapter, closed (``ATZ``) on exit."""
        await self.probe()
        opening = asyncio.ensure_future(asyncio.to_thread(self._open))
        try:
            # A caller cancelled meanwhile (the visit aborted) cannot stop the thread: the
            # connection it opens is closed when it is there, not left holding the port.
            connection = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)
            raise
        try:
            yield ObdSession(connection, self.device)
        finally:
            await asyncio.to_thread(connection.close)

    def _open(self) -> obd.OBD:
        import obd  # imported here: the agent's other benches and the hub need no python-OBD

        config = self.config
        device_file = os.path.realpath(config.port)  # what a stable link points at now
        with _PortFailureWatch() as port_failure:
            connection = obd.OBD(
                config.port, baudrate=config.baudrate, protocol=config.protocol, fast=True, check_voltage=True
            )
        status = connection.status()
        if status == obd.OBDStatus.CAR_CONNECTED:
            # On a fixed protocol python-OBD takes any answer but UNABLE TO CONNECT as the vehicle
            # (an ELM says CAN ERROR on a silent bus): ask 01 00 once more and look at the answer.
            # python-OBD drops adapter text such as CAN ERROR from an engine command's answer.
            answer = connection.query(obd.commands.PIDS_A, force=True)
            if any(_from_ecu(m) for m in answer.messages):
                return connection
            connection.close()
            raise VehicleNotCommunicating(
                self.device, "0100", f"no ECU answered on protocol {config.protocol}: ignition off or no OBD"
            )
        connection.close()
        if status == obd.OBDStatus.NOT_CONNECTED and not os.path.exists(config.port):
            # The adapter was pulled between our probe and python-OBD's open.
            raise DeviceUnreachable(self.device, "open", f"port {config.port} is gone")
        if status == obd.OBDStatus.NOT_CONNECTED and (
            port_failure.seen or os.path.realpath(config.port) != device_file
        ):
            # Pulled and plugged back during python-OBD's initialisation. The new device file is
            # often the old one (a freed pty number is reused at once), so python-OBD's own word
            # that the port failed is what tells this from an adapter that answers wrongly.
            raise DeviceDisconnected(
                self.device, "ATZ", f"adapter on {config.port} went away during initialisation"
            )
        if status == obd.OBDStatus.NOT_CONNECTED:
            # Our probe had its prompt, python-OBD's reset or ATE0/ATH1/ATL0 did not get OK.
            raise AdapterNotAnswering(
                self.device, "ATZ", f"adapter on {config.port} failed its initialisation"
            )
        if status == obd.OBDStatus.ELM_CONNECTED:
            raise VehicleNotCommunicating(
                self.device, "ATRV", "no voltage on the OBD socket: the adapter is not plugged into a vehicle"
            )
        how = "automatic search" if config.protocol is None else f"protocol {config.protocol}"
        raise VehicleNotCommunicating(self.device, "0100", f"no ECU answered ({how}): ignition off or no OBD")


class ObdSession:
    """One open connection to the vehicle (from ``ObdAdapter.connect``). Methods run in a thread."""

    def __init__(self, connection: obd.OBD, device: str) -> None:
        self._connection = connection
        self.device = device

    @property
    def protocol(self) -> str:
        """The ELM protocol number in use ("6" = ISO 15765-4 CAN 11-bit 500 kbit/s)."""
        return str(self._connection.protocol_id())

    async def _query(self, name: str, wire: str) -> Any:
        import obd

        command = obd.commands[name]
        try:
            # force: the check asks what the standard asks, whatever the ECU's PID bitmaps claim.
            return await asyncio.to_thread(self._connection.query, command, True)
        except (IndexError, ValueError, KeyError, TypeError) as error:
            # python-OBD's parsers index into the answer without checking its length (a lone "43"
            # raises IndexError in 0.7.3): a malformed answer, not our bug.
            raise ObdAnswerUnreadable(
                self.device, wire, f"python-OBD cannot parse the answer: {error!r}"
            ) from error

    def _unanswered(self, response: Any, command: str) -> VehicleNotCommunicating | None:
        import obd

        if self._connection.status() == obd.OBDStatus.NOT_CONNECTED:
            # python-OBD swallows a failing port (it logs, closes and answers nothing): an adapter
            # pulled mid-check must not read as a vehicle that does not communicate.
            raise DeviceDisconnected(self.device, command, "the adapter's port failed during the OBD check")
        lines = [line for message in response.messages for line in message.raw().splitlines()]
        if not response.messages:
            return VehicleNotCommunicating(self.device, command, "no answer from the vehicle")
        message = _no_vehicle_message(lines)
        if message is not None and not any(_from_ecu(m) for m in response.messages):
            return VehicleNotCommunicating(self.device, command, f"adapter says {message!r}")
        return None

    async def status(self) -> ObdStatus:
        response = await self._query("STATUS", "0101")
        if (error := self._unanswered(response, "0101")) is not None:
            raise error
        if response.is_null():
            raise ObdAnswerUnreadable(self.device, "0101", f"cannot decode {_raw(response)!r}")
        return status_from_obd(response.value)

    async def stored_dtcs(self) -> tuple[str, ...]:
        """Service 03: confirmed emission-related DTCs, e.g. ("P0420", "P0133")."""
        response = await self._query("GET_DTC", "03")
        if (error := self._unanswered(response, "03")) is not None:
            raise error
        if response.value is None:
            raise ObdAnswerUnreadable(self.device, "03", f"cannot decode {_raw(response)!r}")
        # python-OBD prints a code's hex digits in lower case ("P0a80"); SAE J2012 writes them upper.
        return tuple(code.upper() for code, _description in response.value)

    async def vin(self) -> str:
        response = await self._query("VIN", "0902")
        if (error := self._unanswered(response, "0902")) is not None and not response.messages:
            raise VinUnreadable(self.device, "0902", error.cause)
        raw = _raw(response)
        if not any(_from_ecu(m) for m in response.messages):
            raise VinUnreadable(self.device, "0902", f"no VIN in the answer {raw!r}")
        try:
            return vin_from_service09(bytes(next(m for m in response.messages if _from_ecu(m)).data))
        except ValueError as error:
            raise VinUnreadable(self.device, "0902", str(error)) from error


class _PortFailureWatch(logging.Handler):
    """Notices python-OBD saying, in this thread, that its port failed ("Device disconnected while
    reading/writing"): python-OBD closes the port and only logs it, its status then reads the same
    as an adapter that answered its init wrongly. Filtered by thread: lanes open adapters at once."""

    _LOGGER = "obd.elm327"

    def __init__(self) -> None:
        super().__init__(logging.CRITICAL)
        self._thread = threading.get_ident()
        self.seen = False

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread and record.getMessage().startswith("Device disconnected"):
            self.seen = True

    def __enter__(self) -> _PortFailureWatch:
        logging.getLogger(self._LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger(self._LOGGER).removeHandler(self)


def _close_opened(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


def _raw(response: Any) -> str:
    return " | ".join(message.raw() for message in response.messages)


__all__ = [
    "MONITOR_NAMES",
    "MonitorStatus",
    "ObdAdapter",
    "ObdConfig",
    "ObdSession",
    "ObdStatus",
    "PromptDecoder",
    "answer_lines",
    "status_from_obd",
    "vin_from_service09",
]

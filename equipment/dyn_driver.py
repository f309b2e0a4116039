"""Chassis dynamometer driver (spec 5): lift, load modes, the driver's aid and live readings.

``ChassisDynamometer(link, profile, timings)`` is an async context manager (it opens and closes the
link). The host runs the test (``station_agent.procedures.asm`` / ``lug_down``); this driver only
makes each of spec 5's moves and checks that the bench took it:

* ``read()``: STATUS, FAULT_CODE, TEST_COUNTER and the live readings (speed, force, power, distance)
  in as few reads as the profile's layout allows (one, for the shipped profile);
* ``read_info()``: base inertia and the parasitic losses at 25 and 40 km/h;
* ``lift_up()`` / ``lift_down()``: command, then wait until READY shows the lift has stopped;
* ``hold_power(kw)`` / ``hold_force(n)`` / ``hold_speed(kmh)``: setpoint first, then COMMAND (spec 5
  order), then wait for MODE_ACTIVE; returns the seconds it took (the control-loop benchmark's
  figure). ``start_*`` does the same without waiting;
* ``release()``, ``abort()``, ``show_aid(speed, pedal)``.

Failures, typed (``equipment.errors``): FAULT at any poll -> ``AbsorberOverheat``,
``SpeedSensorFault``, ``LiftFault`` or ``OverspeedFault`` by FAULT_CODE (after a best-effort RELEASE,
the only command a faulted bench takes; a write refused because the bench is faulted raises the
fault too); a load mode refused (exception 3) otherwise -> ``ModeRefused``; a
write still answered busy (exception 6) after the link's re-sends -> ``LiftBusy``; MODE_ACTIVE or
the lift's READY not shown in time -> ``ModeNotReached`` / ``DeviceTimeout``.

Which writes may be re-sent when their reply is lost (spec 5). Modbus applies a write before it
answers, so a lost reply may hide a write that acted; here a second copy never changes anything, so
every write is re-sent like a read (``write_register(idempotent=True)``) - unlike the brake tester,
whose RESET and test commands must never be sent twice. Exception 6 (busy) is re-sent as always.

| write                          | a second copy would ...                                    |
|--------------------------------|------------------------------------------------------------|
| SETPOINT_POWER / FORCE / SPEED | write the same value                                       |
| AID_SPEED / AID_PEDAL          | show the same prompt                                       |
| CONSTANT_POWER / FORCE / SPEED | take the mode it already holds (no new test: TEST_COUNTER  |
|                                | counts RELEASEs that end a mode)                           |
| RELEASE                        | release nothing (no mode left to end, counter unchanged)   |
| LIFT_UP / LIFT_DOWN            | move nothing (already there), or be refused busy while the |
|                                | first copy moves the lift: waited on through STATUS        |
| ABORT                          | nothing                                                    |
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self

from equipment.dyn_profile import DynProfile, DynQuantity
from equipment.dyn_signals import LIFT_BUSY, MODE_REFUSED, DynCommand, DynFaultCode, DynStatus, PedalPrompt
from equipment.errors import (
    AbsorberOverheat,
    DeviceFault,
    DeviceTimeout,
    EquipmentError,
    LiftBusy,
    LiftFault,
    ModbusExceptionReply,
    ModeNotReached,
    ModeRefused,
    OverspeedFault,
    SpeedSensorFault,
)
from equipment.rbt_driver import ReadBlock, plan_reads
from equipment.register_codec import RegisterKind, decode_int, decode_one, encode_one

DEVICE = "dyn"
Q = DynQuantity

_FAULTS: dict[int, tuple[type[DeviceFault], str]] = {
    DynFaultCode.ABSORBER_OVERHEAT: (AbsorberOverheat, "absorber overheat"),
    DynFaultCode.SPEED_SENSOR: (SpeedSensorFault, "speed sensor"),
    DynFaultCode.LIFT: (LiftFault, "lift"),
    DynFaultCode.OVERSPEED: (OverspeedFault, "overspeed (> 130 km/h)"),
}


class RegisterLink(Protocol):
    """What the driver needs of a transport (``equipment.modbus_link.ModbusLink``)."""

    async def open(self) -> None: ...
    def close(self) -> None: ...
    async def read_registers(self, kind: RegisterKind, address: int, count: int) -> list[int]: ...
    async def write_register(self, address: int, value: int, *, idempotent: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class DynTimings:
    """The driver's waits, in seconds, with a margin over spec 5's figures."""

    mode_s: float = 2.0  # spec: a load mode takes effect within 0.5 s
    lift_s: float = 6.0  # spec: the lift moves for about 3 s
    release_s: float = 2.0
    poll_s: float = 0.05

    def __post_init__(self) -> None:
        for name in ("mode_s", "lift_s", "release_s", "poll_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"DynTimings.{name} must be positive, not {value!r}")


@dataclass(frozen=True, slots=True)
class DynInfo:
    """The machine's constants: roller inertia and its own losses at the two ASM speeds."""

    base_inertia_kg: float
    parasitic_25_kw: float
    parasitic_40_kw: float

    def parasitic_kw(self, speed_kmh: float) -> float:
        """Parasitic loss at ``speed_kmh``: the line through the two measured points, never negative."""
        slope = (self.parasitic_40_kw - self.parasitic_25_kw) / 15.0
        return max(0.0, self.parasitic_25_kw + slope * (speed_kmh - 25.0))


@dataclass(frozen=True, slots=True)
class DynReading:
    status: DynStatus
    fault_code: int
    test_counter: int
    speed_kmh: float
    force_n: float
    power_kw: float
    distance_m: float


_LIVE = (Q.STATUS, Q.FAULT_CODE, Q.TEST_COUNTER, Q.SPEED, Q.FORCE, Q.POWER, Q.DISTANCE)
_INFO = (Q.BASE_INERTIA, Q.PARASITIC_25, Q.PARASITIC_40)


class ChassisDynamometer:
    def __init__(self, link: RegisterLink, profile: DynProfile, timings: DynTimings | None = None) -> None:
        self.link = link
        self.profile = profile
        self.timings = timings or DynTimings()
        self._live = plan_reads([profile[q] for q in _LIVE])
        self._info = plan_reads([profile[q] for q in _INFO])
        self._status = plan_reads([profile[Q.STATUS]])

    async def __aenter__(self) -> Self:
        await self.link.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.link.close()

    # Reading

    async def _read(self, blocks: Sequence[ReadBlock]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for block in blocks:
            words = await self.link.read_registers(block.kind, block.address, block.count)
            for spec in block.specs:
                offset = spec.address - block.address
                out[spec.name] = words[offset : offset + spec.register_count]
        return out

    def _value(self, words: dict[str, list[int]], quantity: DynQuantity) -> float:
        value = decode_one(self.profile[quantity], words[quantity.value])
        assert value is not None  # no DYN register has a "not available" value
        return value

    def _int(self, words: dict[str, list[int]], quantity: DynQuantity) -> int:
        return decode_int(self.profile[quantity], words[quantity.value])

    async def read(self) -> DynReading:
        words = await self._read(self._live)
        return DynReading(
            status=DynStatus(self._int(words, Q.STATUS) & 0x3F),
            fault_code=self._int(words, Q.FAULT_CODE),
            test_counter=self._int(words, Q.TEST_COUNTER),
            speed_kmh=self._value(words, Q.SPEED),
            force_n=self._value(words, Q.FORCE),
            power_kw=self._value(words, Q.POWER),
            distance_m=self._value(words, Q.DISTANCE),
        )

    async def read_status(self) -> DynStatus:
        words = await self._read(self._status)
        return DynStatus(self._int(words, Q.STATUS) & 0x3F)

    async def read_info(self) -> DynInfo:
        words = await self._read(self._info)
        return DynInfo(
            base_inertia_kg=self._value(words, Q.BASE_INERTIA),
            parasitic_25_kw=self._value(words, Q.PARASITIC_25),
            parasitic_40_kw=self._value(words, Q.PARASITIC_40),
        )

    async def check(self, command: str) -> DynReading:
        """One reading; FAULT in it raises the fault's own type."""
        reading = await self.read()
        if DynStatus.FAULT in reading.status:
            raise await self._fault(command, reading.fault_code)
        return reading

    async def _fault(self, command: str, code: int) -> DeviceFault:
        with contextlib.suppress(EquipmentError):
            await self._write(Q.COMMAND, DynCommand.RELEASE, "release")
        kind, meaning = _FAULTS.get(code, (DeviceFault, "unknown"))
        return kind(DEVICE, command, f"dynamometer reports FAULT, code {code} ({meaning})", code)

    # Writing

    async def _write(self, quantity: DynQuantity, value: float, command: str) -> None:
        spec = self.profile[quantity]
        words = encode_one(spec, value)
        try:
            for offset, word in enumerate(words):
                await self.link.write_register(spec.address + offset, word, idempotent=True)
        except ModbusExceptionReply as error:
            if error.code == MODE_REFUSED:
                # A faulted bench refuses every write but RELEASE: then the fault is what to report.
                reading = None
                with contextlib.suppress(EquipmentError):
                    reading = await self.read()
                if reading is not None and DynStatus.FAULT in reading.status:
                    raise await self._fault(command, reading.fault_code) from error
                raise ModeRefused(
                    DEVICE, command, f"refused (exception 3): {error.cause}", error.code
                ) from error
            if error.code == LIFT_BUSY:
                raise LiftBusy(
                    DEVICE, command, f"still busy (exception 6): {error.cause}", error.code
                ) from error
            raise

    async def _wait(
        self, command: str, deadline_s: float, done: Callable[[DynReading], bool], what: str
    ) -> tuple[DynReading, float]:
        """Poll until ``done``; returns the reading and the seconds waited. FAULT raises."""
        start = time.monotonic()
        while True:
            reading = await self.check(command)
            waited = time.monotonic() - start
            if done(reading):
                return reading, waited
            if waited >= deadline_s:
                error = ModeNotReached if command.startswith("constant") else DeviceTimeout
                raise error(
                    DEVICE,
                    command,
                    f"STATUS {int(reading.status):#04x} never showed {what} within {deadline_s:g} s "
                    f"(speed {reading.speed_kmh:g} km/h, power {reading.power_kw:g} kW)",
                )
            await asyncio.sleep(self.timings.poll_s)

    # The moves of spec 5

    async def lift_up(self) -> None:
        await self._lift(DynCommand.LIFT_UP, "lift up", DynStatus.LIFT_UP)

    async def lift_down(self) -> None:
        await self._lift(DynCommand.LIFT_DOWN, "lift down", DynStatus(0))

    async def _lift(self, command: DynCommand, name: str, lift_bit: DynStatus) -> None:
        await self.check(name)
        await self._write(Q.COMMAND, command, name)
        await self._wait(
            name,
            self.timings.lift_s,
            lambda r: DynStatus.READY in r.status and (r.status & DynStatus.LIFT_UP) == lift_bit,
            f"READY with the lift {'up' if lift_bit else 'down'}",
        )

    async def start_power(self, kw: float) -> None:
        await self._start(Q.SETPOINT_POWER, kw, DynCommand.CONSTANT_POWER)

    async def start_force(self, newtons: float) -> None:
        await self._start(Q.SETPOINT_FORCE, newtons, DynCommand.CONSTANT_FORCE)

    async def start_speed(self, kmh: float) -> None:
        await self._start(Q.SETPOINT_SPEED, kmh, DynCommand.CONSTANT_SPEED)

    async def _start(self, setpoint: DynQuantity, value: float, mode: DynCommand) -> None:
        name = mode.name.lower()
        await self._write(setpoint, value, f"{name} setpoint")
        await self._write(Q.COMMAND, mode, name)

    async def wait_mode_active(self, command: str = "constant mode") -> float:
        """Seconds until STATUS shows MODE_ACTIVE."""
        _, waited = await self._wait(
            command, self.timings.mode_s, lambda r: DynStatus.MODE_ACTIVE in r.status, "MODE_ACTIVE"
        )
        return waited

    async def hold_power(self, kw: float) -> float:
        await self.start_power(kw)
        return await self.wait_mode_active("constant_power")

    async def hold_force(self, newtons: float) -> float:
        await self.start_force(newtons)
        return await self.wait_mode_active("constant_force")

    async def hold_speed(self, kmh: float) -> float:
        await self.start_speed(kmh)
        return await self.wait_mode_active("constant_speed")

    async def release(self) -> None:
        await self._write(Q.COMMAND, DynCommand.RELEASE, "release")

    async def abort(self) -> None:
        await self._write(Q.COMMAND, DynCommand.ABORT, "abort")

    async def show_aid(self, speed_kmh: float, pedal: PedalPrompt) -> None:
        await self._write(Q.AID_SPEED, speed_kmh, "aid speed")
        await self._write(Q.AID_PEDAL, pedal, "aid pedal")


__all__ = [
    "ChassisDynamometer",
    "DynInfo",
    "DynReading",
    "DynTimings",
]

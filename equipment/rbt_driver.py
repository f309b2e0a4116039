"""Roller brake tester driver: the test sequence of spec 1.3 for one axle, over any ``ModbusLink``.

``RollerBrakeTester(link, profile, timings)`` is an async context manager (it opens and closes the
link); ``await tester.test_axle(parking)`` runs, for the axle on the rollers:

1. wait for STATUS.AXLE_PRESENT (a stale WEIGHED / TEST_DONE from an earlier run is RESET first;
   with ``again=True`` - the same axle once more, after the link dropped mid-test - the axle is
   still on the rollers, and RESET would send it off: running rollers are stopped with ABORT and
   the axle is weighed again where it stands);
2. WEIGH, wait for WEIGHED, read both wheel loads;
3. SERVICE_BRAKE_TEST, wait for TEST_DONE, read drag, TEST_COUNTER, CURVE_SAMPLES / CURVE_RATE and
   both curves in reads of at most 125 registers that never split a 32-bit value;
4. if ``parking``: PARKING_BRAKE_TEST and the same reads (done = TEST_DONE with a new TEST_COUNTER,
   since TEST_DONE is still set from the service run);
5. RESET, and wait for WEIGHED and TEST_DONE to clear.

Where each quantity lives is the profile's business (``equipment.rbt_profile``); quantities that are
next to each other in the same register kind are read in one request. The maximum force of a run
is the largest sample of its curve (the live force registers are only live); "not available"
(65535, NaN) stays ``None`` all the way up. FAULT at any poll -> ``DeviceFault`` with FAULT_CODE
and the command under way (after a best-effort RESET, so the bench is left clean).

Which COMMAND writes may be re-sent (spec 1.2/1.3). Modbus applies a write before it answers, so
a write whose reply was lost or corrupt (over RTU pymodbus drops a bad CRC, which reads as no
reply) may well have acted. Exception 6 (busy) means the bench refused and is always re-sent.

| COMMAND                 | a second one would ...                        | lost / corrupt reply         |
|-------------------------|-----------------------------------------------|------------------------------|
| RESET                   | send the *next* axle's turn (NEXT_AXLE)       | not re-sent: ``DeviceTimeout`` |
| WEIGH                   | weigh again (harmless)                        | not re-sent: ``DeviceTimeout`` |
| SERVICE / PARKING test  | run a second brake test (TEST_COUNTER + 2)    | not re-sent: ``DeviceTimeout`` |
| ABORT                   | nothing                                       | not re-sent: ``DeviceTimeout`` |

Reads are re-sent ``retries`` times. A link that *dropped* mid-axle is another matter: once the bench
is back, the lane runs the axle again with ``again=True``, which reads STATUS first and never RESETs
the axle off the rollers - a decision made on the bench's state, not a blind re-send.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, Self

from equipment.errors import DeviceFault, DeviceTimeout, EquipmentError, RemoteProtocolError
from equipment.rbt_profile import Quantity, RbtProfile
from equipment.rbt_signals import FAULT_MEANING, Command, Status
from equipment.register_codec import (
    MAX_READ_REGISTERS,
    RegisterKind,
    RegisterSpec,
    decode,
    decode_int,
    decode_one,
    values_per_read,
)

DEVICE = "rbt"
_NOTHING = Status(0)


class RegisterLink(Protocol):
    """What the driver needs of a transport (``equipment.modbus_link.ModbusLink``)."""

    async def open(self) -> None: ...
    def close(self) -> None: ...
    async def read_registers(self, kind: RegisterKind, address: int, count: int) -> list[int]: ...
    async def write_register(self, address: int, value: int) -> None: ...


@dataclass(frozen=True, slots=True)
class RbtTimings:
    """The driver's waits, in seconds. Deadlines carry a margin over spec 1.3's figures."""

    axle_s: float = 60.0  # for the axle to roll onto the rollers
    weigh_s: float = 3.0  # spec: weighed within 2 s
    test_s: float = 15.0  # spec: ~2 s to drag, then at most 10 s of braking
    reset_s: float = 2.0
    poll_s: float = 0.05  # between STATUS reads while waiting

    def __post_init__(self) -> None:
        for name in ("axle_s", "weigh_s", "test_s", "reset_s", "poll_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"RbtTimings.{name} must be positive, not {value!r}")


@dataclass(frozen=True, slots=True)
class WheelLoads:
    left_kg: float | None
    right_kg: float | None


@dataclass(frozen=True, slots=True)
class RollerRun:
    """One roller run, forces in daN."""

    left_max_dan: float | None
    right_max_dan: float | None
    left_drag_dan: float | None
    right_drag_dan: float | None
    slip_left: bool
    slip_right: bool
    sample_rate_hz: int
    left_curve_dan: tuple[float | None, ...]
    right_curve_dan: tuple[float | None, ...]
    test_counter: int


@dataclass(frozen=True, slots=True)
class AxleResult:
    loads: WheelLoads
    service: RollerRun
    parking: RollerRun | None


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request covering neighbouring quantities of one register kind."""

    kind: RegisterKind
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]


def plan_reads(specs: Iterable[RegisterSpec], limit: int = MAX_READ_REGISTERS) -> list[ReadBlock]:
    """Single-valued registers grouped into as few reads as possible, never reading a gap."""
    blocks: list[ReadBlock] = []
    for spec in sorted(specs, key=lambda s: (s.kind, s.address)):
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.kind is spec.kind
            and last.address + last.count == spec.address
            and last.count + spec.register_count <= limit
        ):
            blocks[-1] = ReadBlock(
                last.kind, last.address, last.count + spec.register_count, (*last.specs, spec)
            )
        else:
            blocks.append(ReadBlock(spec.kind, spec.address, spec.register_count, (spec,)))
    return blocks


def curve_chunks(spec: RegisterSpec, samples: int) -> list[tuple[int, int]]:
    """(address, register count) reads for the first ``samples`` values of a curve."""
    per_read = values_per_read(spec)
    return [
        (spec.element_address(first), min(per_read, samples - first) * spec.words)
        for first in range(0, samples, per_read)
    ]


class RollerBrakeTester:
    def __init__(self, link: RegisterLink, profile: RbtProfile, timings: RbtTimings | None = None) -> None:
        self.link = link
        self.profile = profile
        self.timings = timings or RbtTimings()
        p = profile
        self._status_block = plan_reads([p[Quantity.STATUS]])[0]
        self._loads = plan_reads([p[Quantity.LEFT_WHEEL_LOAD], p[Quantity.RIGHT_WHEEL_LOAD]])
        self._after_run = plan_reads(
            [
                p[Quantity.TEST_COUNTER],
                p[Quantity.LEFT_DRAG],
                p[Quantity.RIGHT_DRAG],
                p[Quantity.CURVE_SAMPLES],
                p[Quantity.CURVE_RATE],
            ]
        )

    async def __aenter__(self) -> Self:
        await self.link.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.link.close()

    # Reading

    async def _read_block(self, block: ReadBlock) -> dict[str, list[int]]:
        words = await self.link.read_registers(block.kind, block.address, block.count)
        out: dict[str, list[int]] = {}
        for spec in block.specs:
            offset = spec.address - block.address
            out[spec.name] = words[offset : offset + spec.register_count]
        return out

    async def _read_many(self, blocks: Sequence[ReadBlock]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for block in blocks:
            out.update(await self._read_block(block))
        return out

    async def read_status(self) -> Status:
        words = await self._read_block(self._status_block)
        return Status(decode_int(self.profile[Quantity.STATUS], words[Quantity.STATUS.value]) & 0xFF)

    async def _fault(self, command: str) -> DeviceFault:
        spec = self.profile[Quantity.FAULT_CODE]
        try:
            code: int | None = decode_int(spec, await self.link.read_registers(spec.kind, spec.address, 1))
        except EquipmentError:
            code = None
        with contextlib.suppress(EquipmentError):
            await self._command(Command.RESET)
        meaning = FAULT_MEANING.get(code, "unknown") if code is not None else "FAULT_CODE unreadable"
        return DeviceFault(DEVICE, command, f"bench reports FAULT, code {code} ({meaning})", code)

    async def _command(self, command: Command) -> None:
        await self.link.write_register(self.profile[Quantity.COMMAND].address, command.value)

    async def _wait(self, command: str, deadline_s: float, done: Status, clear: Status = _NOTHING) -> Status:
        """Poll STATUS until every bit of ``done`` is set and every bit of ``clear`` is not."""
        deadline = time.monotonic() + deadline_s
        while True:
            status = await self.read_status()
            if Status.FAULT in status:
                raise await self._fault(command)
            if status & done == done and not status & clear:
                return status
            if time.monotonic() >= deadline:
                raise DeviceTimeout(
                    DEVICE,
                    command,
                    f"STATUS {int(status):#04x} never showed {done!r} within {deadline_s:g} s",
                )
            await asyncio.sleep(self.timings.poll_s)

    # The sequence

    async def test_axle(self, parking: bool, *, again: bool = False) -> AxleResult:
        t = self.timings
        status = await self.read_status()
        if Status.FAULT in status:
            raise await self._fault("weigh")
        if again and Status.AXLE_PRESENT in status:
            if Status.ROLLERS_RUNNING in status:
                await self._command(Command.ABORT)
                await self._wait("abort", t.reset_s, Status.AXLE_PRESENT, clear=Status.ROLLERS_RUNNING)
        elif status & (Status.WEIGHED | Status.TEST_DONE | Status.ROLLERS_RUNNING):
            await self._command(Command.RESET)
            status = Status(0)
        if Status.AXLE_PRESENT not in status:
            await self._wait("weigh", t.axle_s, Status.AXLE_PRESENT)
        await self._command(Command.WEIGH)
        await self._wait("weigh", t.weigh_s, Status.WEIGHED)
        words = await self._read_many(self._loads)
        loads = WheelLoads(
            decode_one(self.profile[Quantity.LEFT_WHEEL_LOAD], words[Quantity.LEFT_WHEEL_LOAD.value]),
            decode_one(self.profile[Quantity.RIGHT_WHEEL_LOAD], words[Quantity.RIGHT_WHEEL_LOAD.value]),
        )
        service = await self._run(Command.SERVICE_BRAKE_TEST, "service brake test", previous_counter=None)
        parking_run = None
        if parking:
            parking_run = await self._run(
                Command.PARKING_BRAKE_TEST, "parking brake test", previous_counter=service.test_counter
            )
        await self._command(Command.RESET)
        await self._wait("reset", t.reset_s, Status(0), clear=Status.WEIGHED | Status.TEST_DONE)
        return AxleResult(loads, service, parking_run)

    async def _run(self, command: Command, name: str, previous_counter: int | None) -> RollerRun:
        await self._command(command)
        deadline = time.monotonic() + self.timings.test_s
        while True:
            status = await self._wait(
                name, max(0.0, deadline - time.monotonic()), Status.TEST_DONE, clear=Status.ROLLERS_RUNNING
            )
            words = await self._read_many(self._after_run)
            counter = decode_int(self.profile[Quantity.TEST_COUNTER], words[Quantity.TEST_COUNTER.value])
            # TEST_DONE may still be the previous run's until the bench has taken the new command.
            if counter != previous_counter:
                break
            if time.monotonic() >= deadline:
                raise DeviceTimeout(DEVICE, name, f"TEST_COUNTER stayed {counter}: the test never completed")
            await asyncio.sleep(self.timings.poll_s)
        samples = decode_int(self.profile[Quantity.CURVE_SAMPLES], words[Quantity.CURVE_SAMPLES.value])
        rate = decode_int(self.profile[Quantity.CURVE_RATE], words[Quantity.CURVE_RATE.value])
        left = await self.read_curve(self.profile[Quantity.CURVE_LEFT], samples, name)
        right = await self.read_curve(self.profile[Quantity.CURVE_RIGHT], samples, name)
        return RollerRun(
            left_max_dan=_max(left),
            right_max_dan=_max(right),
            left_drag_dan=decode_one(self.profile[Quantity.LEFT_DRAG], words[Quantity.LEFT_DRAG.value]),
            right_drag_dan=decode_one(self.profile[Quantity.RIGHT_DRAG], words[Quantity.RIGHT_DRAG.value]),
            slip_left=Status.SLIP_LEFT in status,
            slip_right=Status.SLIP_RIGHT in status,
            sample_rate_hz=rate,
            left_curve_dan=left,
            right_curve_dan=right,
            test_counter=counter,
        )

    async def read_curve(
        self, spec: RegisterSpec, samples: int, name: str = "read curve"
    ) -> tuple[float | None, ...]:
        """The first ``samples`` values of a curve, in reads of at most 125 registers."""
        if samples > spec.length:
            raise RemoteProtocolError(
                DEVICE, name, f"CURVE_SAMPLES is {samples}, but {spec.name} holds at most {spec.length}"
            )
        values: list[float | None] = []
        for address, count in curve_chunks(spec, samples):
            values.extend(decode(spec, await self.link.read_registers(spec.kind, address, count)))
        return tuple(values)


def _max(samples: Sequence[float | None]) -> float | None:
    available = [s for s in samples if s is not None]
    return max(available) if available else None


__all__ = [
    "AxleResult",
    "Command",
    "RbtTimings",
    "ReadBlock",
    "RollerBrakeTester",
    "RollerRun",
    "Status",
    "WheelLoads",
    "curve_chunks",
    "plan_reads",
]

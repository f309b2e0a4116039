"""The roller brake tester as a state machine, sans-I/O: requests in, register words out (spec 1.3).

Theory of operation. ``RbtBench.handle(request, now)`` takes one Modbus request (``ReadRequest`` or
``WriteRequest``) at simulated time ``now`` (seconds, given by the caller: nothing here reads a
clock) and returns what the bench does: ``Answer`` (words for a read), ``Refuse`` (a Modbus
exception code), ``Silence`` (no reply at all) or ``Disconnect`` (the link drops). The server in
``rbt_server`` puts this behind pymodbus; tests drive it directly.

The bench is in one ``Phase``. Commands written to COMMAND move it through ``TRANSITIONS``, the one
table of legal moves; a command not in the table for the current phase is refused with Modbus
exception 3 (illegal value), naming nothing but the code, as a real unit would. Time moves it on
its own (``TIMED``): an axle rolls on, weighing ends, a test ends. STATUS and every reading are
computed from the phase and the axle's ``RollerRunScenario`` and encoded with the device profile
(``equipment.register_codec``), so the register map is the profile's, address for address; an
address that is part of no register is refused with exception 2.

Two rules for this file, as in h11's ``_state.py``: every phase change goes through ``_enter``;
and nothing here does I/O or reads a clock.

Faults (``BenchFault``, or ``parse_fault("exception:6@service/2")``) fire on requests that match:

    exception:CODE   answer the request with Modbus exception CODE (the command is not applied)
    fault:CODE       accept the command, then report FAULT with FAULT_CODE=CODE (only RESET clears it)
    silence          no reply (the request is not applied)
    disconnect       no reply, and the link drops

``@WHAT`` is a command name (reset, weigh, service, parking, abort), ``read`` (any read), ``status``
(reads of STATUS), ``curve`` (reads of a curve) or missing (any request); ``/COUNT`` limits firings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from equipment.rbt_profile import CURVES, Quantity, RbtProfile
from equipment.rbt_signals import Command, Status
from equipment.register_codec import RegisterKind, RegisterSpec, encode_one
from simulators.brake_scenario import AxleScenario, BrakeScenario, RollerRunScenario

# Simulated seconds (spec 1.3: weighing within 2 s; drag valid about 2 s after the rollers start).
ROLL_ON_S = 1.0
WEIGH_S = 1.5
DRAG_S = 2.0
# Modbus exception codes the bench itself uses.
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
# Exception codes a fault may inject (the Modbus standard's).
VALID_EXCEPTION_CODES = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 10, 11})


_COMMAND_LABELS = {
    Command.RESET: "reset",
    Command.WEIGH: "weigh",
    Command.SERVICE_BRAKE_TEST: "service",
    Command.PARKING_BRAKE_TEST: "parking",
    Command.ABORT: "abort",
}


class Phase(StrEnum):
    EMPTY = "empty"  # no axle on the rollers, none coming
    ROLLING_ON = "rolling_on"  # the next axle is on its way
    PRESENT = "present"  # axle on the rollers, nothing measured
    WEIGHING = "weighing"
    WEIGHED = "weighed"
    RUNNING = "running"  # rollers turning, a brake test under way
    DONE = "done"  # test done, curves frozen
    FAULT = "fault"
    # Not a phase the bench stays in: RESET after a measurement sends the axle off the rollers,
    # and the bench resolves this to ROLLING_ON (next axle) or EMPTY.
    NEXT_AXLE = "next_axle"


C, P = Command, Phase
# Every legal command: phase -> command -> next phase. Anything else is refused (exception 3).
TRANSITIONS: dict[Phase, dict[Command, Phase]] = {
    P.EMPTY: {C.RESET: P.EMPTY, C.ABORT: P.EMPTY},
    P.ROLLING_ON: {C.RESET: P.ROLLING_ON, C.ABORT: P.ROLLING_ON},
    P.PRESENT: {C.RESET: P.PRESENT, C.ABORT: P.PRESENT, C.WEIGH: P.WEIGHING},
    P.WEIGHING: {C.RESET: P.PRESENT, C.ABORT: P.PRESENT},
    P.WEIGHED: {
        C.RESET: P.NEXT_AXLE,
        C.ABORT: P.WEIGHED,
        C.WEIGH: P.WEIGHING,
        C.SERVICE_BRAKE_TEST: P.RUNNING,
        C.PARKING_BRAKE_TEST: P.RUNNING,
    },
    P.RUNNING: {C.RESET: P.NEXT_AXLE, C.ABORT: P.WEIGHED},
    P.DONE: {
        C.RESET: P.NEXT_AXLE,
        C.ABORT: P.DONE,
        C.WEIGH: P.WEIGHING,
        C.SERVICE_BRAKE_TEST: P.RUNNING,
        C.PARKING_BRAKE_TEST: P.RUNNING,
    },
    P.FAULT: {C.RESET: P.PRESENT},
}
# Phases that end on their own: phase -> the phase after its deadline.
TIMED: dict[Phase, Phase] = {P.ROLLING_ON: P.PRESENT, P.WEIGHING: P.WEIGHED, P.RUNNING: P.DONE}
del C, P


# --- requests and outcomes -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReadRequest:
    kind: RegisterKind
    address: int
    count: int


@dataclass(frozen=True)
class WriteRequest:
    address: int
    values: tuple[int, ...]


Request = ReadRequest | WriteRequest


@dataclass(frozen=True)
class Answer:
    words: tuple[int, ...] = ()


@dataclass(frozen=True)
class Refuse:
    code: int


@dataclass(frozen=True)
class Silence:
    pass


@dataclass(frozen=True)
class Disconnect:
    pass


Outcome = Answer | Refuse | Silence | Disconnect


# --- faults ---------------------------------------------------------------------------------------


class FaultKind(StrEnum):
    EXCEPTION = "exception"
    FAULT = "fault"
    SILENCE = "silence"
    DISCONNECT = "disconnect"


FAULT_TARGETS = frozenset({*_COMMAND_LABELS.values(), "read", "status", "curve"})


@dataclass
class BenchFault:
    kind: FaultKind
    target: str | None = None  # see FAULT_TARGETS; None matches every request
    code: int | None = None  # Modbus exception code (EXCEPTION) or FAULT_CODE (FAULT)
    count: int | None = None  # firings left; None = every time

    def __post_init__(self) -> None:
        if self.target is not None and self.target not in FAULT_TARGETS:
            raise ValueError(
                f"unknown fault target {self.target!r}; known: {', '.join(sorted(FAULT_TARGETS))}"
            )
        if self.kind is FaultKind.EXCEPTION and self.code not in VALID_EXCEPTION_CODES:
            raise ValueError(
                f"an exception fault needs a Modbus exception code, one of {sorted(VALID_EXCEPTION_CODES)}"
            )
        if self.kind is FaultKind.FAULT and (self.code is None or not 1 <= self.code <= 0xFFFF):
            raise ValueError("a fault needs a FAULT_CODE 1..65535, e.g. fault:2")
        if self.count is not None and self.count < 0:
            raise ValueError("count cannot be negative")


def parse_fault(text: str) -> BenchFault:
    """``KIND[:CODE][@WHAT][/COUNT]``, e.g. ``exception:6@service/2``, ``fault:3@weigh``, ``silence@read``."""
    rest, _, count = text.partition("/")
    rest, _, target = rest.partition("@")
    kind_text, _, code = rest.partition(":")
    try:
        return BenchFault(
            FaultKind(kind_text.strip().lower()),
            target=target.strip().lower() or None,
            code=int(code) if code else None,
            count=int(count) if count else None,
        )
    except ValueError as error:
        raise ValueError(f"bad fault {text!r}: {error} (KIND[:CODE][@WHAT][/COUNT])") from error


# --- the bench ------------------------------------------------------------------------------------


@dataclass
class _Run:
    """The brake test under way or last done on this axle."""

    scenario: RollerRunScenario
    started: float
    left: tuple[float | None, ...] = ()
    right: tuple[float | None, ...] = ()


@dataclass
class RbtBench:
    profile: RbtProfile
    faults: list[BenchFault] = field(default_factory=list)
    phase: Phase = Phase.EMPTY
    test_counter: int = 0
    fault_code: int = 0
    # Every request's label, in order ("read holding 0+4", "write weigh"...): tests count them.
    log: list[str] = field(default_factory=list)
    _queue: deque[BrakeScenario] = field(default_factory=deque)
    _vehicle: BrakeScenario | None = None
    _axle_index: int = -1
    _deadline: float = 0.0
    _weighed: bool = False
    _run: _Run | None = None
    _curves_frozen: bool = False
    _last_command: int = 0

    # Vehicles

    def queue(self, scenarios: Iterable[BrakeScenario], now: float = 0.0) -> None:
        """Vehicles that drive on one after the other, each when the previous one's axles are done."""
        self._queue.extend(scenarios)
        if self.phase is Phase.EMPTY:
            self._next_axle(now)

    def load_vehicle(self, scenario: BrakeScenario, now: float) -> None:
        """This vehicle drives on now (whatever was on the bench leaves it)."""
        self._vehicle = scenario
        self._axle_index = -1
        self._next_axle(now)

    @property
    def axle(self) -> AxleScenario | None:
        if self._vehicle is None or not 0 <= self._axle_index < len(self._vehicle.axles):
            return None
        return self._vehicle.axles[self._axle_index]

    # Time

    def advance(self, now: float) -> None:
        while self.phase in TIMED and now >= self._deadline:
            self._enter(TIMED[self.phase], self._deadline)

    def _enter(self, phase: Phase, now: float) -> None:
        if phase is Phase.NEXT_AXLE:
            self._next_axle(now)
            return
        previous, self.phase = self.phase, phase
        if phase is Phase.ROLLING_ON:
            self._deadline = now + ROLL_ON_S
        elif phase is Phase.PRESENT:
            self._weighed = False
            self._run = None
            self._curves_frozen = False
        elif phase is Phase.WEIGHING:
            self._weighed = False
            self._deadline = now + WEIGH_S
        elif phase is Phase.WEIGHED:
            self._weighed = True
            if previous is Phase.RUNNING:  # aborted: the test never completed
                self._run = None
        elif phase is Phase.RUNNING:
            assert self._run is not None
            self._deadline = now + DRAG_S + self._run.scenario.duration_s
            self._curves_frozen = False
        elif phase is Phase.DONE:
            assert self._run is not None
            self._run.left, self._run.right = self._run.scenario.curves()
            self._curves_frozen = True
            self.test_counter = (self.test_counter + 1) & 0xFFFF

    def _next_axle(self, now: float) -> None:
        self._weighed = False
        self._run = None
        self._curves_frozen = False
        if self._vehicle is not None and self._axle_index + 1 < len(self._vehicle.axles):
            self._axle_index += 1
            self._enter(Phase.ROLLING_ON, now)
            return
        if self._queue:
            self._vehicle = self._queue.popleft()
            self._axle_index = 0
            self._enter(Phase.ROLLING_ON, now)
            return
        self._vehicle, self._axle_index = None, -1
        self.phase = Phase.EMPTY

    # Requests

    def handle(self, request: Request, now: float) -> Outcome:
        self.advance(now)
        label = self._label(request)
        self.log.append(label)
        fault = self._take_fault(request)
        if fault is not None:
            if fault.kind is FaultKind.EXCEPTION:
                assert fault.code is not None
                return Refuse(fault.code)
            if fault.kind is FaultKind.SILENCE:
                return Silence()
            if fault.kind is FaultKind.DISCONNECT:
                return Disconnect()
        if isinstance(request, ReadRequest):
            return self._read(request, now)
        outcome = self._write(request, now)
        if fault is not None and fault.kind is FaultKind.FAULT and isinstance(outcome, Answer):
            assert fault.code is not None
            self.fault_code = fault.code
            self._enter(Phase.FAULT, now)
        return outcome

    def _label(self, request: Request) -> str:
        if isinstance(request, ReadRequest):
            return f"read {request.kind.value} {request.address}+{request.count}"
        command = self._command_of(request)
        return (
            f"write {_COMMAND_LABELS[command]}"
            if command is not None
            else f"write {request.address}={list(request.values)}"
        )

    def _command_of(self, request: WriteRequest) -> Command | None:
        spec = self.profile[Quantity.COMMAND]
        if request.address != spec.address or len(request.values) != 1:
            return None
        try:
            return Command(request.values[0])
        except ValueError:
            return None

    def _targets(self, request: Request) -> set[str]:
        if isinstance(request, WriteRequest):
            command = self._command_of(request)
            return {_COMMAND_LABELS[command]} if command is not None else set()
        targets = {"read"}
        for quantity, spec in self.profile.registers.items():
            if spec.kind is request.kind and _overlaps(spec, request.address, request.count):
                if quantity is Quantity.STATUS:
                    targets.add("status")
                if quantity in CURVES:
                    targets.add("curve")
        return targets

    def _take_fault(self, request: Request) -> BenchFault | None:
        targets: set[str] | None = None
        for fault in self.faults:
            if fault.count == 0:
                continue
            if fault.target is not None:
                targets = self._targets(request) if targets is None else targets
                if fault.target not in targets:
                    continue
            if fault.kind is FaultKind.FAULT and not isinstance(request, WriteRequest):
                continue
            if fault.count is not None:
                fault.count -= 1
            return fault
        return None

    def _write(self, request: WriteRequest, now: float) -> Outcome:
        spec = self.profile[Quantity.COMMAND]
        if request.address != spec.address or len(request.values) != 1:
            return Refuse(ILLEGAL_ADDRESS)
        try:
            command = Command(request.values[0])
        except ValueError:
            return Refuse(ILLEGAL_VALUE)
        next_phase = TRANSITIONS[self.phase].get(command)
        if next_phase is None:
            return Refuse(ILLEGAL_VALUE)
        self._last_command = command.value
        if command is Command.RESET and self.phase is Phase.FAULT:
            self.fault_code = 0
        if next_phase is Phase.RUNNING:
            axle = self.axle
            assert axle is not None  # RUNNING is only reachable with an axle weighed
            scenario = axle.service if command is Command.SERVICE_BRAKE_TEST else axle.parking_run()
            self._run = _Run(scenario, started=now)
        if next_phase is not self.phase:
            self._enter(next_phase, now)
        return Answer()

    # Register image

    def status(self, now: float) -> Status:
        self.advance(now)
        status = Status(0)
        if self.phase is not Phase.FAULT:
            status |= Status.READY
        else:
            status |= Status.FAULT
        if self.phase not in (Phase.EMPTY, Phase.ROLLING_ON):
            status |= Status.AXLE_PRESENT
        if self.phase is Phase.RUNNING:
            status |= Status.ROLLERS_RUNNING
        if self._weighed and self.phase in (Phase.WEIGHED, Phase.RUNNING, Phase.DONE, Phase.FAULT):
            status |= Status.WEIGHED
        if self.phase is Phase.DONE:
            status |= Status.TEST_DONE
            assert self._run is not None
            if self._run.scenario.slip_left:
                status |= Status.SLIP_LEFT
            if self._run.scenario.slip_right:
                status |= Status.SLIP_RIGHT
        return status

    def value(self, quantity: Quantity, now: float) -> float | None:
        """A single-valued quantity in the spec's unit (None: not available)."""
        axle = self.axle
        run = self._run
        match quantity:
            case Quantity.STATUS:
                return float(self.status(now))
            case Quantity.COMMAND:
                return float(self._last_command)
            case Quantity.FAULT_CODE:
                return float(self.fault_code)
            case Quantity.TEST_COUNTER:
                return float(self.test_counter)
            case Quantity.LEFT_WHEEL_LOAD | Quantity.RIGHT_WHEEL_LOAD:
                if not self._weighed or axle is None:
                    return 0.0
                return axle.left_load_kg if quantity is Quantity.LEFT_WHEEL_LOAD else axle.right_load_kg
            case Quantity.LEFT_FORCE | Quantity.RIGHT_FORCE:
                if run is None or self.phase is not Phase.RUNNING:
                    return 0.0
                left = quantity is Quantity.LEFT_FORCE
                if run.scenario.left_sensor_out if left else run.scenario.right_sensor_out:
                    return None
                t = now - run.started - DRAG_S
                side_max = run.scenario.left_max_dan if left else run.scenario.right_max_dan
                return run.scenario.force_at(side_max, t, 0.0 if left else run.scenario.right_lag_s)
            case Quantity.LEFT_DRAG | Quantity.RIGHT_DRAG:
                if run is None or (self.phase is Phase.RUNNING and now - run.started < DRAG_S):
                    return 0.0
                return (
                    run.scenario.left_drag_dan
                    if quantity is Quantity.LEFT_DRAG
                    else run.scenario.right_drag_dan
                )
            case Quantity.CURVE_SAMPLES:
                return float(len(run.left)) if run is not None and self._curves_frozen else 0.0
            case Quantity.CURVE_RATE:
                return float(run.scenario.sample_rate_hz) if run is not None else 100.0
        raise ValueError(f"{quantity.value} is not a single value")

    def _curve_sample(self, quantity: Quantity, index: int) -> float | None:
        run = self._run
        if run is None or not self._curves_frozen:
            return 0.0
        samples = run.left if quantity is Quantity.CURVE_LEFT else run.right
        return samples[index] if index < len(samples) else 0.0

    def _read(self, request: ReadRequest, now: float) -> Outcome:
        self.advance(now)
        words: dict[int, int] = {}
        first, end = request.address, request.address + request.count
        for quantity, spec in self.profile.registers.items():
            if spec.kind is not request.kind or not _overlaps(spec, first, request.count):
                continue
            if quantity in CURVES:
                lo = max(0, (first - spec.address) // spec.words)
                hi = min(spec.length, (end - spec.address + spec.words - 1) // spec.words)
                for index in range(lo, hi):
                    encoded = encode_one(spec, self._curve_sample(quantity, index))
                    for offset, word in enumerate(encoded):
                        words[spec.element_address(index) + offset] = word
            else:
                for offset, word in enumerate(encode_one(spec, self.value(quantity, now))):
                    words[spec.address + offset] = word
        try:
            return Answer(tuple(words[address] for address in range(first, end)))
        except KeyError:
            return Refuse(ILLEGAL_ADDRESS)


def _overlaps(spec: RegisterSpec, address: int, count: int) -> bool:
    return spec.address < address + count and address < spec.end


def register_block_sizes(profile: RbtProfile) -> dict[RegisterKind, int]:
    """Registers from 0 to the last one the profile uses, per kind (what a datastore must hold)."""
    sizes = dict.fromkeys(RegisterKind, 0)
    for spec in profile.registers.values():
        sizes[spec.kind] = max(sizes[spec.kind], spec.end)
    return sizes


__all__ = [
    "TIMED",
    "TRANSITIONS",
    "Answer",
    "BenchFault",
    "Command",
    "Disconnect",
    "FaultKind",
    "Outcome",
    "Phase",
    "RbtBench",
    "ReadRequest",
    "Refuse",
    "Request",
    "Silence",
    "Status",
    "WriteRequest",
    "parse_fault",
    "register_block_sizes",
]

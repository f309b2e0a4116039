"""The chassis dynamometer simulator (spec 5): registers and commands over a ``RollerModel``, on pymodbus.

Theory of operation. ``DynBench.handle(request, now)`` is sans-I/O like the brake tester's bench:
one Modbus request at simulated time ``now`` in, an ``Answer`` / ``Refuse`` / ``Silence`` out. It
first advances the shared ``RollerModel`` (``simulators.vehicle_on_rollers``) to ``now``, so every
reading is the physics' state, encoded with the device profile (``equipment.dyn_profile``), and
every command really acts on the model: a load mode changes the absorber's force, the driver's-aid
registers are what the simulated driver follows. ``DynSimulator`` puts the bench behind a real
pymodbus TCP server (unit id 1), the same boundary as ``rbt_server``.

The rules of spec 5, as the bench keeps them:

* the lift takes ``LIFT_S`` to move; meanwhile every write is refused with exception 6 (busy);
  LIFT_UP is set from the moment the lift starts up until it is fully down again, READY only while
  it stands and no fault is active;
* COMMAND 3-5 are refused (exception 3) while LIFT_UP is set or the rollers stand; LIFT_UP is
  refused likewise while the rollers turn (ours: the spec is silent, a real lift would throw the car);
* MODE_ACTIVE: the model holds its load mode within ±2 % of the setpoint;
* TEST_COUNTER +1 (wrapping) at each RELEASE that ends a load mode; DISTANCE restarts there;
* FAULT: the absorber releases, FAULT_CODE says why, every write but COMMAND=RELEASE is refused
  (exception 3); RELEASE clears the fault once its cause has gone.

Faults (``DynFault``), each firing once ``after_s`` simulated seconds into a load mode (or at once):

    overheat       the absorber overheats (FAULT_CODE 1); its cause goes ``cool_s`` later
    speed_sensor   the speed sensor fails (FAULT_CODE 2): SPEED reads 0; RELEASE clears it once the
                   rollers have stopped
    lift_busy      at the next lift command the lift sticks: it moves ``cool_s`` seconds longer, and
                   every write meanwhile is answered busy
    silence        the next request gets no reply at all
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from equipment.dyn_profile import DynProfile, DynQuantity, load_dyn_profile
from equipment.dyn_signals import LIFT_BUSY, LOAD_MODES, MODE_REFUSED, DynCommand, DynFaultCode, DynStatus
from equipment.register_codec import RegisterKind, RegisterSpec, decode_one, encode_one
from simulators.rbt_bench import Answer, Outcome, ReadRequest, Refuse, Request, Silence, WriteRequest
from simulators.vehicle_on_rollers import LoadMode, Pedal, RollerModel

LIFT_S = 3.0
OVERSPEED_KMH = 130.0
ILLEGAL_ADDRESS = 2
Q = DynQuantity

_WRITE_FUNCTIONS = frozenset({6, 16})
_SETPOINTS = frozenset({Q.SETPOINT_POWER, Q.SETPOINT_FORCE, Q.SETPOINT_SPEED, Q.AID_SPEED, Q.AID_PEDAL})


class DynFaultKind(StrEnum):
    OVERHEAT = "overheat"
    SPEED_SENSOR = "speed_sensor"
    LIFT_BUSY = "lift_busy"
    SILENCE = "silence"


@dataclass
class DynFault:
    kind: DynFaultKind
    after_s: float = 0.0  # simulated seconds into a load mode (lift_busy: at the next lift command)
    cool_s: float = 30.0
    fired: bool = False


def parse_dyn_fault(text: str) -> DynFault:
    """``KIND`` or ``KIND@AFTER_S`` (e.g. ``overheat@12``), as ``tongjian sim dyn --fault`` takes it."""
    kind, _, after = text.partition("@")
    try:
        return DynFault(DynFaultKind(kind), float(after) if after else 0.0)
    except ValueError:
        known = ", ".join(k.value for k in DynFaultKind)
        raise ValueError(f"fault {text!r}: expected KIND or KIND@SECONDS, KIND one of {known}") from None


class DynBench:
    def __init__(self, model: RollerModel, profile: DynProfile, faults: Iterable[DynFault] = ()) -> None:
        self.model = model
        self.profile = profile
        self.faults = list(faults)
        self.fault_code = DynFaultCode.NONE
        self.test_counter = 0
        self.lift_up = True
        self._lift_moving_until: float | None = None
        self._lift_target_up = True
        self._mode_since: float | None = None
        self._fault_cause_until: float | None = None
        self._speed_sensor_dead = False
        self.commands: list[DynCommand] = []
        self._by_address: dict[int, tuple[DynQuantity, RegisterSpec, int]] = {}
        for quantity in DynQuantity:
            spec = profile[quantity]
            for offset in range(spec.register_count):
                self._by_address[spec.address + offset] = (quantity, spec, offset)
        self._pending: dict[DynQuantity, list[int | None]] = {}

    # Time

    def _advance(self, now: float) -> None:
        self.model.advance_to(now)
        if self._lift_moving_until is not None and now >= self._lift_moving_until:
            self._lift_moving_until = None
            self.lift_up = self._lift_target_up
            self.model.rollers_locked = self.lift_up
        if self.fault_code is DynFaultCode.NONE and self.model.speed_kmh > OVERSPEED_KMH:
            self._enter_fault(DynFaultCode.OVERSPEED, None)
        if self._mode_since is not None and self.fault_code is DynFaultCode.NONE:
            for fault in self.faults:
                if fault.fired or now - self._mode_since < fault.after_s:
                    continue
                if fault.kind is DynFaultKind.OVERHEAT:
                    fault.fired = True
                    self._enter_fault(DynFaultCode.ABSORBER_OVERHEAT, now + fault.cool_s)
                elif fault.kind is DynFaultKind.SPEED_SENSOR:
                    fault.fired = True
                    self._speed_sensor_dead = True
                    self._enter_fault(DynFaultCode.SPEED_SENSOR, None)

    def _enter_fault(self, code: DynFaultCode, cause_until: float | None) -> None:
        self.fault_code = code
        self._fault_cause_until = cause_until
        self.model.set_mode(LoadMode.RELEASE)
        self._mode_since = None

    # STATUS and readings

    def status(self, now: float) -> DynStatus:
        status = DynStatus(0)
        moving = self._lift_moving_until is not None
        if self.lift_up or moving:  # a lift on its way down is not down yet
            status |= DynStatus.LIFT_UP
        if not moving and self.fault_code is DynFaultCode.NONE:
            status |= DynStatus.READY
        if self.model.speed_kmh > 0.5:
            status |= DynStatus.ROLLERS_TURNING
        if self.fault_code is DynFaultCode.NONE and self.model.mode_held():
            status |= DynStatus.MODE_ACTIVE
        if self.fault_code is not DynFaultCode.NONE:
            status |= DynStatus.FAULT
        if self.model.speed_kmh > OVERSPEED_KMH:
            status |= DynStatus.OVERSPEED
        return status

    def value_of(self, quantity: DynQuantity, now: float) -> float:
        m = self.model
        speed = 0.0 if self._speed_sensor_dead else m.speed_kmh
        values = {
            Q.STATUS: int(self.status(now)),
            Q.COMMAND: int(self.commands[-1]) if self.commands else 0,
            Q.FAULT_CODE: int(self.fault_code),
            Q.TEST_COUNTER: self.test_counter,
            Q.SETPOINT_POWER: m.setpoint_power_kw,
            Q.SETPOINT_FORCE: m.setpoint_force_n,
            Q.SETPOINT_SPEED: m.setpoint_speed_kmh,
            Q.BASE_INERTIA: m.machine.base_inertia_kg,
            Q.PARASITIC_25: m.machine.parasitic_25_kw,
            Q.PARASITIC_40: m.machine.parasitic_40_kw,
            Q.SPEED: speed,
            Q.FORCE: m.roller_force_n(),
            Q.POWER: m.roller_power_kw(),
            Q.DISTANCE: min(m.distance_m, 65535.0),
            Q.AID_SPEED: m.aid_speed_kmh,
            Q.AID_PEDAL: int(m.aid_pedal),
        }
        return float(values[quantity])

    # Requests

    def handle(self, request: Request, now: float) -> Outcome:
        self._advance(now)
        for fault in self.faults:
            if fault.kind is DynFaultKind.SILENCE and not fault.fired:
                fault.fired = True
                return Silence()
        if isinstance(request, ReadRequest):
            return self._read(request, now)
        return self._write(request, now)

    def _read(self, request: ReadRequest, now: float) -> Outcome:
        if request.kind is not RegisterKind.HOLDING:
            return Refuse(ILLEGAL_ADDRESS)
        words: list[int] = []
        cache: dict[DynQuantity, list[int]] = {}
        for address in range(request.address, request.address + request.count):
            found = self._by_address.get(address)
            if found is None:
                return Refuse(ILLEGAL_ADDRESS)
            quantity, spec, offset = found
            if quantity not in cache:
                cache[quantity] = encode_one(spec, _clamp(spec, self.value_of(quantity, now)))
            words.append(cache[quantity][offset])
        return Answer(tuple(words))

    def _write(self, request: WriteRequest, now: float) -> Outcome:
        if self._lift_moving_until is not None:
            return Refuse(LIFT_BUSY)
        targets = [self._by_address.get(request.address + index) for index in range(len(request.values))]
        # A write touching an unmapped or read-only register is refused whole, before any of it acts.
        if any(t is None or (t[0] is not Q.COMMAND and t[0] not in _SETPOINTS) for t in targets):
            return Refuse(ILLEGAL_ADDRESS)
        for found, word in zip(targets, request.values, strict=True):
            assert found is not None
            quantity, spec, offset = found
            if quantity is Q.COMMAND:
                refused = self._command(word, now)
                if refused is not None:
                    return refused
            elif quantity in _SETPOINTS:
                if self.fault_code is not DynFaultCode.NONE:
                    return Refuse(MODE_REFUSED)
                self._set(quantity, spec, offset, word)
        return Answer()

    def _set(self, quantity: DynQuantity, spec: RegisterSpec, offset: int, word: int) -> None:
        parts = self._pending.setdefault(quantity, [None] * spec.register_count)
        parts[offset] = word
        if any(part is None for part in parts):
            return
        del self._pending[quantity]
        value = decode_one(spec, [p for p in parts if p is not None]) or 0.0
        m = self.model
        if quantity is Q.SETPOINT_POWER:
            m.setpoint_power_kw = value
        elif quantity is Q.SETPOINT_FORCE:
            m.setpoint_force_n = value
        elif quantity is Q.SETPOINT_SPEED:
            m.setpoint_speed_kmh = value
        elif quantity is Q.AID_SPEED:
            m.aid_speed_kmh = value
        else:
            try:
                m.aid_pedal = Pedal(int(value))
            except ValueError:
                m.aid_pedal = Pedal.NONE  # a prompt the display does not have shows nothing

    def _command(self, word: int, now: float) -> Outcome | None:
        try:
            command = DynCommand(word)
        except ValueError:
            return Refuse(MODE_REFUSED)
        if self.fault_code is not DynFaultCode.NONE and command is not DynCommand.RELEASE:
            return Refuse(MODE_REFUSED)
        if command in LOAD_MODES and (self.lift_up or self.model.speed_kmh < 0.5):
            return Refuse(MODE_REFUSED)
        if command is DynCommand.LIFT_UP and not self.lift_up and self.model.speed_kmh > 0.5:
            # Ours (spec 5 is silent): raising the lift under turning wheels would throw the car.
            return Refuse(MODE_REFUSED)
        self.commands.append(command)
        m = self.model
        if command in LOAD_MODES:
            if m.mode is LoadMode.RELEASE:
                self._mode_since = now
            m.set_mode(LoadMode(int(command)))
        elif command in (DynCommand.RELEASE, DynCommand.ABORT):
            if m.mode is not LoadMode.RELEASE:
                self.test_counter = (self.test_counter + 1) & 0xFFFF
            m.release()
            self._mode_since = None
            if command is DynCommand.ABORT:
                m.aid_pedal, m.aid_speed_kmh = Pedal.RELEASE, 0.0
            if self.fault_code is not DynFaultCode.NONE:
                self._clear_fault(now)
        else:
            up = command is DynCommand.LIFT_UP
            if up == self.lift_up:
                return None
            stuck = 0.0
            for fault in self.faults:
                if fault.kind is DynFaultKind.LIFT_BUSY and not fault.fired:
                    fault.fired = True
                    stuck = fault.cool_s
            self._lift_target_up = up
            self._lift_moving_until = now + LIFT_S + stuck
            if up:
                self.lift_up = True
        return None

    def _clear_fault(self, now: float) -> None:
        if self.fault_code is DynFaultCode.SPEED_SENSOR:
            if self.model.speed_kmh > 0.5:
                return  # the sensor is only checked again (and found working) with the rollers at rest
            self._speed_sensor_dead = False
        elif self._fault_cause_until is not None and now < self._fault_cause_until:
            return
        self.fault_code = DynFaultCode.NONE
        self._fault_cause_until = None


def _clamp(spec: RegisterSpec, value: float) -> float:
    low, high = spec.data_type.raw_range
    raw = round(value / spec.scale)
    return min(max(raw, low), high) * spec.scale if spec.data_type.is_integer else value


class DynSimulator:
    """``DynBench`` behind a pymodbus TCP server; ``time_scale`` real seconds per simulated second."""

    def __init__(
        self,
        model: RollerModel | None = None,
        *,
        profile: str | DynProfile = "dyn-default",
        faults: Iterable[DynFault] = (),
        time_scale: float = 1.0,
        unit: int = 1,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.profile = profile if isinstance(profile, DynProfile) else load_dyn_profile(profile)
        self.model = model or RollerModel(time_scale=time_scale)
        self.model.time_scale = time_scale
        self.time_scale = time_scale
        self.unit = unit
        self.bench = DynBench(self.model, self.profile, faults)
        self._origin = time.monotonic() - self.model.t * time_scale
        self.model.origin = self._origin
        self._server: ModbusTcpServer | None = None
        self._drop_replies = 0

    def now(self) -> float:
        return (time.monotonic() - self._origin) / self.time_scale

    def _device(self) -> SimDevice:
        size = max(spec.end for spec in self.profile.registers.values())
        holding = [SimData(0, count=size, values=0, datatype=DataType.REGISTERS)]
        bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
        empty = [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(self.unit, simdata=(bits, list(bits), holding, empty), action=self._action)

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
            return None  # pymodbus reading back what it just wrote, for the reply
        if values is None:
            if function not in (3, 4):
                return ExcCodes.ILLEGAL_FUNCTION
            kind = RegisterKind.HOLDING if function == 3 else RegisterKind.INPUT
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
            case _:
                self._drop_replies += 1
        return None

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if sending and self._drop_replies:
            self._drop_replies -= 1
            return b""
        return data

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        server = ModbusTcpServer(self._device(), address=(host, port), trace_packet=self._trace_packet)
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if not sockets:
            raise OSError(f"the Modbus TCP server did not start on {host}:{port}")
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()

    async def __aenter__(self) -> DynSimulator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


__all__ = ["DynBench", "DynFault", "DynFaultKind", "DynSimulator", "parse_dyn_fault"]

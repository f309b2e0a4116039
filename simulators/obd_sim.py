"""OBD scan tool simulator: an ELM327 adapter plugged into a simulated vehicle, on a pty (spec 6).

The adapter is ``simulators.elm327.Elm327`` (AT commands, protocol search, CAN framing); the vehicle
is an ``ObdScenario``: the engine ECU's answers to the SAE J1979 requests the OBD check makes
(01 00 supported PIDs, 01 01 MIL / DTC count / readiness, 03 stored DTCs, 09 00 and 09 02 VIN).
Scenarios for the cases the rules judge: ``mil_off``, ``mil_on_with_emission_dtcs``,
``readiness_incomplete``, ``vin_mismatch``, ``no_communication``; an adapter that does not answer
at all is the ``silence`` fault of the serial runner (``simulators.serial_device``).

Why our own rather than the ELM327-emulator package: it serves a pty too, but its scenarios are
canned answer tables for a few car models; ours computes each answer from the scenario's fields
(MIL, DTCs, monitors, VIN), so a test states the vehicle it means and nothing else, it shares the
fault injection and pty life cycle of the other benches' simulators, and it adds no dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from simulators.elm327 import Elm327, Elm327RequestError
from simulators.serial_device import Fault, Reply, SerialDeviceSimulator

# SAE J1979 service 01 PID 01 bytes C (supported) and D (incomplete): bit number of each monitor.
SPARK_MONITOR_BITS = {
    "catalyst": 0,
    "heated_catalyst": 1,
    "evaporative_system": 2,
    "secondary_air": 3,
    "oxygen_sensor": 5,
    "oxygen_sensor_heater": 6,
    "egr_vvt": 7,
}
COMPRESSION_MONITOR_BITS = {
    "nmhc_catalyst": 0,
    "nox_scr": 1,
    "boost_pressure": 3,
    "exhaust_gas_sensor": 5,
    "pm_filter": 6,
    "egr_vvt": 7,
}
# Byte B: the continuous monitors, supported in bits 0-2 and incomplete in bits 4-6.
CONTINUOUS_MONITOR_BITS = {"misfire": 0, "fuel_system": 1, "components": 2}

_SPARK_SUPPORTED = ("catalyst", "evaporative_system", "oxygen_sensor", "oxygen_sensor_heater", "egr_vvt")
_COMPRESSION_SUPPORTED = (
    "nmhc_catalyst",
    "nox_scr",
    "boost_pressure",
    "exhaust_gas_sensor",
    "pm_filter",
    "egr_vvt",
)
_DTC_LETTERS = "PCBU"


def encode_dtc(code: str) -> bytes:
    """``"P0420"`` -> ``b"\\x04\\x20"`` (SAE J2012 two-byte form)."""
    if len(code) != 5 or code[0] not in _DTC_LETTERS or code[1] not in "0123":
        raise ValueError(f"not a DTC: {code!r}")
    if code == "P0000":
        raise ValueError("P0000 is 00 00, the padding of a service 03 answer, not a code")
    value = int(code[2:], 16)
    return bytes([(_DTC_LETTERS.index(code[0]) << 6) | (int(code[1]) << 4) | (value >> 8), value & 0xFF])


@dataclass(frozen=True)
class ObdScenario:
    """The vehicle behind the adapter. ``protocol`` None: no ECU answers (no communication)."""

    vin: str | None = "LSVAU2180N2183251"  # None: the ECU does not support 09 02
    mil_on: bool = False
    stored_dtcs: tuple[str, ...] = ()
    compression: bool = False  # diesel: the compression-ignition monitor set
    # name -> (supported, complete); names as in ``inspection.ReadinessMonitor``
    monitors: Mapping[str, tuple[bool, bool]] = field(default_factory=dict)
    protocol: str | None = "6"
    voltage: float = 12.6

    def __post_init__(self) -> None:
        if self.vin is not None and not (len(self.vin) == 17 and self.vin.isascii() and self.vin.isalnum()):
            raise ValueError(f"VIN {self.vin!r}: 17 letters and digits expected")
        for code in self.stored_dtcs:
            encode_dtc(code)
        table = COMPRESSION_MONITOR_BITS if self.compression else SPARK_MONITOR_BITS
        unknown = set(self.monitors) - set(table) - set(CONTINUOUS_MONITOR_BITS)
        if unknown:
            raise ValueError(f"monitors {sorted(unknown)} do not exist for this ignition type")
        object.__setattr__(self, "monitors", MappingProxyType(dict(self.monitors)))

    # --- the scenarios the rules judge ----------------------------------------------------------

    @classmethod
    def mil_off(cls, vin: str = "LSVAU2180N2183251", *, compression: bool = False) -> ObdScenario:
        """MIL off, no DTCs, every supported monitor complete."""
        supported = _COMPRESSION_SUPPORTED if compression else _SPARK_SUPPORTED
        monitors = {name: (True, True) for name in (*CONTINUOUS_MONITOR_BITS, *supported)}
        return cls(vin=vin, compression=compression, monitors=monitors)

    @classmethod
    def mil_on_with_emission_dtcs(
        cls, vin: str = "LSVAU2180N2183251", dtcs: tuple[str, ...] = ("P0420", "P0133")
    ) -> ObdScenario:
        return replace(cls.mil_off(vin), mil_on=True, stored_dtcs=dtcs)

    @classmethod
    def readiness_incomplete(
        cls,
        vin: str = "LSVAU2180N2183251",
        incomplete: tuple[str, ...] = ("catalyst", "evaporative_system", "oxygen_sensor"),
    ) -> ObdScenario:
        base = cls.mil_off(vin)
        monitors = {name: (True, name not in incomplete) for name in base.monitors}
        return replace(base, monitors=monitors)

    @classmethod
    def vin_mismatch(cls, vin: str = "LSVAU2180N2183251") -> ObdScenario:
        """The ECU reports another VIN than the vehicle's (an engine ECU from another car)."""
        other = vin[:-6] + ("000001" if vin[-6:] != "000001" else "000002")
        return cls.mil_off(other)

    @classmethod
    def no_communication(cls) -> ObdScenario:
        return replace(cls.mil_off(), protocol=None)

    # --- the engine ECU's answers ----------------------------------------------------------------

    def answer(self, service: int, data: bytes) -> bytes | None:
        """The ECU's response payload to a request, or None (no answer: the adapter says NO DATA)."""
        pid = data[0] if data else None
        if service == 0x01 and pid == 0x00:
            # Supported: 01 (status), 04, 05, 0C, 0D; not 20 (no further PID ranges).
            return bytes([0x41, 0x00, 0x98, 0x18, 0x00, 0x00])
        if service == 0x01 and pid == 0x01:
            return bytes([0x41, 0x01, *self.status_bytes()])
        if service == 0x03:
            codes = b"".join(encode_dtc(code) for code in self.stored_dtcs)
            return bytes([0x43, len(self.stored_dtcs)]) + codes
        if service == 0x09 and pid == 0x00:
            return bytes([0x49, 0x00, 0x40 if self.vin is not None else 0x00, 0x00, 0x00, 0x00])
        if service == 0x09 and pid == 0x02 and self.vin is not None:
            return bytes([0x49, 0x02, 0x01]) + self.vin.encode("ascii")
        return None

    def status_bytes(self) -> bytes:
        """Service 01 PID 01 bytes A-D (SAE J1979)."""
        a = (0x80 if self.mil_on else 0) | min(len(self.stored_dtcs), 0x7F)
        b = 0x08 if self.compression else 0
        c = d = 0
        table = COMPRESSION_MONITOR_BITS if self.compression else SPARK_MONITOR_BITS
        for name, (supported, complete) in self.monitors.items():
            if name in CONTINUOUS_MONITOR_BITS:
                bit = CONTINUOUS_MONITOR_BITS[name]
                b |= (1 << bit if supported else 0) | (1 << (bit + 4) if supported and not complete else 0)
            else:
                bit = table[name]
                c |= 1 << bit if supported else 0
                d |= 1 << bit if supported and not complete else 0
        return bytes([a, b, c, d])


class _LineDecoder:
    """CR-terminated request lines (LF and NUL ignored, as the ELM327 does)."""

    pending = False  # an unfinished line just waits for its CR, however long

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lines: list[str] = []

    def feed(self, data: bytes) -> None:
        for byte in data:
            if byte == 0x0D:
                self._lines.append(self._buffer.decode("ascii", "replace"))
                self._buffer.clear()
            elif byte not in (0x0A, 0x00):
                self._buffer.append(byte)

    def next_frame(self) -> str | None:
        return self._lines.pop(0) if self._lines else None

    def idle(self) -> None:
        pass


class ObdSimulator(SerialDeviceSimulator):
    """An ELM327 adapter on a pty with ``scenario``'s vehicle behind it."""

    name = "obd"

    def __init__(
        self,
        scenario: ObdScenario | None = None,
        *,
        seed: int = 0,
        time_scale: float = 1.0,
        faults: Iterable[Fault] = (),
    ) -> None:
        super().__init__(time_scale=time_scale, faults=faults)
        self.seed = seed  # the answers are deterministic; kept for the common simulator interface
        self.scenario = scenario or ObdScenario.mil_off()
        self.adapter = self._new_adapter()

    def _new_adapter(self) -> Elm327:
        return Elm327(
            self.scenario.answer, vehicle_protocol=self.scenario.protocol, voltage=self.scenario.voltage
        )

    def use(self, scenario: ObdScenario) -> None:
        """Another vehicle is plugged in (the adapter keeps its settings until the host resets it)."""
        self.scenario = scenario
        adapter = self._new_adapter()
        for setting in ("echo", "linefeeds", "headers", "spaces", "protocol"):
            setattr(adapter, setting, getattr(self.adapter, setting))
        self.adapter = adapter

    def _on_start(self) -> None:
        self.adapter = self._new_adapter()

    @property
    def _codec_errors(self) -> tuple[type[Exception], ...]:
        return (Elm327RequestError,)

    def _new_decoder(self) -> _LineDecoder:
        return _LineDecoder()

    def _command_name(self, frame: str) -> str:
        compact = frame.replace(" ", "").lower()
        return compact if compact.isprintable() and compact else "repeat"

    def _handle(self, frame: str, command: str) -> Reply | None:
        return Reply(self.adapter.handle(frame))

    def _answer_corrupt_request(self, error: Exception) -> bytes | None:
        return None  # lines are not checksummed: every line gets an answer from ``_handle``

    def _corrupt(self, reply: bytes) -> bytes:
        # No checksum on the ELM's lines: corruption shows as a character that is not hex.
        return reply.replace(b"4", b"#", 1) if b"4" in reply else b"#" + reply

    def _reject(self, command: str, code: int) -> bytes:
        return b"?\r\r>"

"""The chassis dynamometer's STATUS bits, COMMAND codes, pedal prompts and FAULT_CODE meanings (spec 5).

Driver and simulator share these, as they share the register codec, so the two cannot drift apart.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class DynStatus(IntFlag):
    READY = 1 << 0
    LIFT_UP = 1 << 1
    ROLLERS_TURNING = 1 << 2
    MODE_ACTIVE = 1 << 3  # holding a load mode within ±2 % of its setpoint
    FAULT = 1 << 4
    OVERSPEED = 1 << 5


class DynCommand(IntEnum):
    RELEASE = 0
    LIFT_UP = 1
    LIFT_DOWN = 2
    CONSTANT_POWER = 3
    CONSTANT_FORCE = 4
    CONSTANT_SPEED = 5
    ABORT = 6


LOAD_MODES = frozenset({DynCommand.CONSTANT_POWER, DynCommand.CONSTANT_FORCE, DynCommand.CONSTANT_SPEED})


class PedalPrompt(IntEnum):
    """AID_PEDAL: what the driver's-aid display asks of the driver."""

    NONE = 0
    HOLD_SPEED = 1
    FULL_THROTTLE = 2
    RELEASE = 3


class DynFaultCode(IntEnum):
    NONE = 0
    ABSORBER_OVERHEAT = 1
    SPEED_SENSOR = 2
    LIFT = 3
    OVERSPEED = 4  # above 130 km/h


# Modbus exception codes of spec 5: 3 = a load mode refused (lift up, rollers standing), 6 = busy lift.
MODE_REFUSED = 3
LIFT_BUSY = 6

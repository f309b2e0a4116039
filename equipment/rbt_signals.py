"""The roller brake tester's STATUS bits, COMMAND codes and FAULT_CODE meanings (spec 1.2).

Every profile keeps these as the spec fixes them (1.4 moves readings, not STATUS or COMMAND), so
the driver and the simulator share one definition rather than two that could drift apart.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag


class Status(IntFlag):
    READY = 1 << 0
    AXLE_PRESENT = 1 << 1
    ROLLERS_RUNNING = 1 << 2
    WEIGHED = 1 << 3
    TEST_DONE = 1 << 4
    FAULT = 1 << 5
    SLIP_LEFT = 1 << 6
    SLIP_RIGHT = 1 << 7


class Command(IntEnum):
    RESET = 0
    WEIGH = 1
    SERVICE_BRAKE_TEST = 2
    PARKING_BRAKE_TEST = 3
    ABORT = 4


FAULT_MEANING = {0: "none", 1: "overload", 2: "roller motor", 3: "force sensor", 4: "scale"}

"""Every error the station agent raises, as one tree (the way httpx's ``_exceptions.py`` draws its own).

StationAgentError
├── LaneError                 the lane refused a request; nothing was changed (PDA: see pda_service)
│   ├── IllegalTransition     event not allowed in the visit's state (e.g. a second completion)
│   ├── UnknownRecord         no visit with that record id in this lane
│   ├── LaneBusy              another vehicle is on the benches
│   ├── BenchUnavailable      a bench the vehicle needs is down (named, with its last error)
│   ├── InvalidRequest        malformed, or beyond the record limits (the message names which)
│   │   ├── InvalidCheck      a submitted check item is malformed (whole submission refused)
│   │   └── BeyondLimits      a count, vehicle, photo or text beyond ``inspection.record_limits``
│   └── SubmitFailed          the completion callback failed; the visit is back in VISUAL
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspection.record_limits import RecordOutOfLimits
    from station_agent.bench_supervisor import BenchStatus
    from station_agent.lane_state import LaneEvent, LaneState


class StationAgentError(Exception):
    """Root of every error ``station_agent`` raises on purpose (the tree is in this module's docstring)."""


class LaneError(StationAgentError):
    """The lane refused a request; nothing was changed."""


class IllegalTransition(LaneError):
    def __init__(self, event: LaneEvent, state: LaneState, record_id: uuid.UUID) -> None:
        super().__init__(f"record {record_id}: {event.value} is not allowed in state {state.value}")
        self.event = event
        self.state = state
        self.record_id = record_id


class UnknownRecord(LaneError):
    def __init__(self, record_id: object) -> None:
        super().__init__(f"no record {record_id} in this lane")
        self.record_id = record_id


class LaneBusy(LaneError):
    def __init__(self, record_id: uuid.UUID, state: LaneState) -> None:
        super().__init__(f"lane busy: record {record_id} is on the benches ({state.value})")
        self.record_id = record_id
        self.state = state


class BenchUnavailable(LaneError):
    def __init__(self, lane: int, down: Sequence[BenchStatus]) -> None:
        benches = "; ".join(status.describe() for status in down)
        super().__init__(f"lane {lane} cannot take a vehicle now: bench {benches}")
        self.down = tuple(down)


class InvalidRequest(LaneError):
    pass


class InvalidCheck(InvalidRequest):
    pass


class BeyondLimits(InvalidRequest):
    """What the hub would refuse: ``path`` and ``reason`` as ``RecordOutOfLimits`` gave them."""

    def __init__(self, error: RecordOutOfLimits) -> None:
        super().__init__(f"beyond the record limits: {error}")
        self.path = error.path
        self.reason = error.reason


class SubmitFailed(LaneError):
    pass

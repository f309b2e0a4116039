"""Every error the station agent raises, as one tree (the way httpx's ``_exceptions.py`` draws its own).

The lane's errors are defined here; the others live beside the code that raises them and take
``StationAgentError`` as their root. Where an error was a ``ValueError`` before, it still is (a
second base), so callers that caught that keep working. Mapped at the edges: the PDA service turns
``LaneError``, ``PhotoError`` and ``web_serving``'s ``SignInDelayed`` into gRPC status codes
(``pda_service``), ``station`` turns ``web_serving``'s ``HttpServerError`` into its own below, the
CLI turns any ``StationAgentError`` into one line on stderr (``tongjian.commands.agent``).

StationAgentError
├── LaneError                   the lane refused a request; nothing was changed
│   ├── IllegalTransition       event not allowed in the visit's state (e.g. a second completion)
│   ├── UnknownRecord           no visit with that record id in this lane
│   ├── LaneBusy                another vehicle is on the benches
│   ├── BenchUnavailable        a bench the vehicle needs is down (named, with its last error)
│   ├── InvalidRequest          malformed, or beyond the record limits (the message names which)
│   │   ├── InvalidCheck        a submitted check item is malformed (whole submission refused)
│   │   └── BeyondLimits        a count, vehicle, photo or text beyond ``inspection.record_limits``
│   └── SubmitFailed            the completion callback failed; the visit is back in VISUAL
├── ProcedureError              a test could not be run as the standard says (procedures)
│   ├── ReadingOutOfRange       a bench reported a value outside its physical range
│   └── _PhaseRestart           internal: an ASM phase starts again (speed out of its window too long)
├── OutboxError                 the outbox (outbox)
│   ├── OutboxUnusable          cannot be opened or written (path, disk, permissions)
│   ├── OutboxFull              at its maximum depth: the hub has not taken records for a while
│   └── RecordIdConflict        a record id already queued with other content
├── UplinkError                 something ended a Submit stream; the uplink reconnects (uplink)
│   ├── HubProtocolError        the hub broke the Submit contract (the hub's fault, not ours)
│   ├── AckTimeout              records waited ack_timeout_s with no Ack
│   ├── StreamEnded             the hub closed the stream
│   ├── ConnectTimeout          no connection within connect_timeout_s (says refused, TLS or timed out)
│   └── HubDown                 a connection attempt failed outright (several hub addresses: the next)
├── _KeyRefusedAck              internal: the hub refuses our current key; pauses the uplink (uplink)
├── HubUnreachable              no answer from the hub, and why (hub_check)
├── SigningKeyRefused           the hub refuses this station's signing key (hub_check)
├── SigningKeyError             the signing key file is unusable (record_signer; also a protos InvalidKey)
├── ForeignRecord               a record of another station handed to this one's signer (record_signer)
├── InspectorDirectoryError     the inspector directory file is bad (inspector_directory)
├── PhotoError                  a photo upload refused (photo_store)
│   ├── PhotoTooLarge           beyond the size limit
│   └── NotAJpeg                not a JPEG
├── InsecureNotAllowed          a plaintext PDA service where TLS is required (pda_service)
├── PdaRefused                  a sign-in, session or lane scope the PDA service refuses; its kind
│                               (RefusalKind) names which, gRPC code or HTTP status by the edge (pda_service)
├── PdaCsrfRefused              a PDA page form without its session's CSRF token: 403, nothing done (pda_web)
├── HttpServerError             the PDA page's HTTP server could not listen or start: address, why (station)
├── LaneConfigError             a lane file is wrong: file, key and reason (lane_config; also a ValueError)
└── ReportError                 the inspection report could not be written (inspection_report)
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


class HttpServerError(StationAgentError):
    """The PDA page's HTTP server could not listen or did not start: address and why
    (``web_serving.asgi_server.HttpServerError``, translated by ``station``)."""

"""One inspection lane: a vehicle's visit from check-in through the benches to a judged record.

Theory of operation
-------------------
Each vehicle that checks in gets a *visit* (its record id is the visit's id) with its own state.
A visit moves through the lane in one fixed order::

    WAITING -> CHECKING_IN -> BRAKE -> HEADLIGHT -> EMISSION -> VISUAL -> COMPLETING -> COMPLETE
                    \\___________\\________\\___________\\_________\\-> ABORTED
                      (a bench or procedure failed, an inspector aborted the visit, or it expired)

The benches are run by one task per visit, and only one visit may be on the benches (CHECKING_IN
to EMISSION) at a time; a visit in VISUAL has left the benches and waits for the inspector to
complete it from the PDA, so the next vehicle may check in meanwhile. Visual checks and photos
are accepted from check-in until completion; a record keeps every check entry (a second result for
an item is a correction and must give a reason), and nothing enters a visit beyond the record
limits every hub applies (``inspection.record_limits``). Completion builds the
``InspectionRecord``, judges it (``inspection.verdicts.judge``) and hands it to ``on_complete``
(the agent: sign, outbox, uplink); if that fails the visit returns to VISUAL, so completing can be
retried. An inspector may abort an open visit (``abort``): its bench run is cancelled and it ends
ABORTED with the reason, never signed. ``state_changes`` follows a visit state by state.

Two rules for this file, as in h11's ``_state.py``:
1. every legal move is in ``TRANSITIONS`` below, and state changes only through ``_fire``, which
   raises ``IllegalTransition`` naming event, state and record for anything else;
2. the benches are reached only through the procedures in ``station_agent.procedures``; this
   file knows the order of things, not registers or frames.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from equipment.errors import EquipmentError
from inspection import (
    AxleBrake,
    EmissionRun,
    InspectionRecord,
    LampMeasurement,
    PhotoRef,
    Vehicle,
    Verdict,
    VisualCheck,
)
from inspection.record_limits import (
    Part,
    RecordOutOfLimits,
    check_count,
    check_photo,
    check_text,
    check_vehicle,
)
from inspection.verdicts.emission_rules import Procedure, required_procedure
from station_agent.clock import Clock, ScaledClock
from station_agent.lane_config import LaneConfig, SerialBenchConfig, TcpTransport
from station_agent.procedures import ProcedureError
from station_agent.procedures.brake import BrakeTester, run_brake_test
from station_agent.procedures.free_acceleration import OpacityMeter, run_free_acceleration
from station_agent.procedures.headlight import HeadlightTester, run_headlight_test
from station_agent.procedures.two_speed_idle import GasAnalyser, run_two_speed_idle

log = logging.getLogger(__name__)


class LaneState(StrEnum):
    WAITING = "waiting"
    CHECKING_IN = "checking_in"
    BRAKE = "brake"
    HEADLIGHT = "headlight"
    EMISSION = "emission"
    VISUAL = "visual"
    COMPLETING = "completing"
    COMPLETE = "complete"
    ABORTED = "aborted"


class LaneEvent(StrEnum):
    CHECK_IN = "check_in"
    CHECKED_IN = "checked_in"
    BRAKE_DONE = "brake_done"
    HEADLIGHT_DONE = "headlight_done"
    EMISSION_DONE = "emission_done"
    SUBMIT_CHECKS = "submit_checks"
    ADD_PHOTO = "add_photo"
    COMPLETE = "complete"
    SUBMITTED = "submitted"
    SUBMIT_FAILED = "submit_failed"
    BENCH_FAILED = "bench_failed"
    EXPIRED = "expired"  # left open (benches done, never completed) for longer than the lane keeps it
    ABORT = "abort"  # an inspector ended the visit (stuck on a bench, vehicle gone); nothing is signed


S, E = LaneState, LaneEvent
# While a visit is open, checks and photos leave its state unchanged, and an inspector may abort it.
_PDA_EVENTS = {E.SUBMIT_CHECKS: None, E.ADD_PHOTO: None}


def _open(state: LaneState, moves: dict[LaneEvent, LaneState]) -> dict[LaneEvent, LaneState]:
    return {**{event: state for event in _PDA_EVENTS}, LaneEvent.ABORT: LaneState.ABORTED, **moves}


# Every legal transition: state -> event -> next state. Anything not here is an IllegalTransition.
TRANSITIONS: dict[LaneState, dict[LaneEvent, LaneState]] = {
    S.WAITING: {E.CHECK_IN: S.CHECKING_IN},
    S.CHECKING_IN: _open(S.CHECKING_IN, {E.CHECKED_IN: S.BRAKE, E.BENCH_FAILED: S.ABORTED}),
    S.BRAKE: _open(S.BRAKE, {E.BRAKE_DONE: S.HEADLIGHT, E.BENCH_FAILED: S.ABORTED}),
    S.HEADLIGHT: _open(S.HEADLIGHT, {E.HEADLIGHT_DONE: S.EMISSION, E.BENCH_FAILED: S.ABORTED}),
    S.EMISSION: _open(S.EMISSION, {E.EMISSION_DONE: S.VISUAL, E.BENCH_FAILED: S.ABORTED}),
    S.VISUAL: _open(S.VISUAL, {E.COMPLETE: S.COMPLETING, E.EXPIRED: S.ABORTED}),
    S.COMPLETING: {E.SUBMITTED: S.COMPLETE, E.SUBMIT_FAILED: S.VISUAL},
    S.COMPLETE: {},
    S.ABORTED: {},
}
del S, E

# States in which a visit occupies the benches.
ON_BENCHES = frozenset({LaneState.CHECKING_IN, LaneState.BRAKE, LaneState.HEADLIGHT, LaneState.EMISSION})
FINAL = frozenset({LaneState.COMPLETE, LaneState.ABORTED})


_ITEM_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
# How long an abort waits for the cancelled bench run to unwind (a driver's own clean-up) before it
# answers anyway: the visit is ABORTED either way.
ABORT_UNWIND_S = 10.0


class LaneError(Exception):
    """The lane refused a request; nothing was changed.

    LaneError
    ├── IllegalTransition   event not allowed in the visit's state (e.g. a second completion)
    ├── UnknownRecord       no visit with that record id in this lane
    ├── LaneBusy            another vehicle is on the benches
    ├── InvalidRequest      malformed, or beyond the record limits (the message names which)
    │   ├── InvalidCheck    a submitted check item is malformed (whole submission refused)
    │   └── BeyondLimits    a count, vehicle, photo or text beyond ``inspection.record_limits``
    └── SubmitFailed        the completion callback failed; the visit is back in VISUAL
    """


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


@dataclass(frozen=True, slots=True)
class StateChange:
    """A visit entered ``state`` at ``at`` (wall clock); ``error`` is set once it is ABORTED."""

    record_id: uuid.UUID
    state: LaneState
    at: datetime
    error: str | None


@dataclass(frozen=True, slots=True)
class VisitView:
    """A snapshot of one visit, for listings (PDA ``ListVehicles``) and tests."""

    record_id: uuid.UUID
    vehicle: Vehicle
    state: LaneState
    started_at: datetime
    error: str | None
    checked_items: tuple[str, ...]
    photo_count: int
    record: InspectionRecord | None  # set once COMPLETE


@dataclass(slots=True)
class _Visit:
    record_id: uuid.UUID
    vehicle: Vehicle
    started_at: datetime
    state: LaneState = LaneState.WAITING
    axles: tuple[AxleBrake, ...] = ()
    lamps: tuple[LampMeasurement, ...] = ()
    emission: EmissionRun | None = None
    checks: list[VisualCheck] = field(default_factory=list)  # every entry, corrections included
    photos: list[PhotoRef] = field(default_factory=list)
    error: str | None = None
    record: InspectionRecord | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    history: list[StateChange] = field(default_factory=list)  # every state entered, in order
    task: asyncio.Task[None] | None = None

    def latest_check(self, item_code: str) -> VisualCheck | None:
        return next((c for c in reversed(self.checks) if c.item_code == item_code), None)

    def view(self) -> VisitView:
        return VisitView(
            record_id=self.record_id,
            vehicle=self.vehicle,
            state=self.state,
            started_at=self.started_at,
            error=self.error,
            checked_items=tuple(dict.fromkeys(c.item_code for c in self.checks)),
            photo_count=len(self.photos),
            record=self.record,
        )


Judge = Callable[[InspectionRecord], Verdict]
OnComplete = Callable[[InspectionRecord], Awaitable[None]]


def _default_judge(record: InspectionRecord) -> Verdict:
    from inspection.verdicts import judge

    return judge(record)


class Lane:
    """The lane sequence over opened bench drivers. Use from one event loop."""

    def __init__(
        self,
        config: LaneConfig,
        *,
        brake: BrakeTester,
        headlight: HeadlightTester,
        gas: GasAnalyser,
        opacity: OpacityMeter,
        on_complete: OnComplete,
        clock: Clock | None = None,
        judge: Judge = _default_judge,
        display: Callable[[str], None] | None = None,
        on_bench_error: Callable[[EquipmentError], None] | None = None,
        history: int = 200,
        open_visit_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self.config = config
        self._brake = brake
        self._headlight = headlight
        self._gas = gas
        self._opacity = opacity
        self._on_complete = on_complete
        self._judge = judge
        self.clock: Clock = clock or ScaledClock(config.procedures.time_scale)
        self._display = display or (lambda text: log.info("lane %d display: %s", config.lane, text))
        self._on_bench_error = on_bench_error
        self._history = history
        self._open_visit_ttl = open_visit_ttl
        self._visits: OrderedDict[uuid.UUID, _Visit] = OrderedDict()
        self._handovers: set[asyncio.Future[InspectionRecord]] = set()

    @property
    def station_id(self) -> str:
        return self.config.station_id

    @property
    def number(self) -> int:
        return self.config.lane

    # --- the state table's one door -------------------------------------------------------------

    @staticmethod
    def _next_state(visit: _Visit, event: LaneEvent) -> LaneState:
        try:
            return TRANSITIONS[visit.state][event]
        except KeyError:
            raise IllegalTransition(event, visit.state, visit.record_id) from None

    def _fire(self, visit: _Visit, event: LaneEvent) -> None:
        new = self._next_state(visit, event)
        if new is not visit.state:
            log.info(
                "lane %d record %s: %s --%s--> %s", self.number, visit.record_id, visit.state, event, new
            )
            visit.state = new
            visit.history.append(StateChange(visit.record_id, new, self.clock.now(), visit.error))
            visit.changed.set()
            visit.changed = asyncio.Event()

    def _visit(self, record_id: uuid.UUID | str) -> _Visit:
        try:
            key = record_id if isinstance(record_id, uuid.UUID) else uuid.UUID(str(record_id))
        except ValueError:
            raise UnknownRecord(record_id) from None
        try:
            return self._visits[key]
        except KeyError:
            raise UnknownRecord(record_id) from None

    # --- queries --------------------------------------------------------------------------------

    @property
    def on_benches(self) -> VisitView | None:
        for visit in self._visits.values():
            if visit.state in ON_BENCHES:
                return visit.view()
        return None

    def visits(self) -> list[VisitView]:
        """Every visit this lane still holds, oldest check-in first (finished ones for a while)."""
        return [visit.view() for visit in self._visits.values()]

    def visit(self, record_id: uuid.UUID | str) -> VisitView:
        return self._visit(record_id).view()

    async def wait_for(self, record_id: uuid.UUID | str, *states: LaneState) -> VisitView:
        """Wait until the visit is in one of ``states`` (or final: then it returns whatever it is)."""
        visit = self._visit(record_id)
        while visit.state not in states and visit.state not in FINAL:
            await visit.changed.wait()
        return visit.view()

    async def state_changes(self, record_id: uuid.UUID | str) -> AsyncIterator[StateChange]:
        """Every state the visit entered since check-in, then each new one as it happens, until the
        visit ends (COMPLETE or ABORTED). Woken by the visit's own event, never by polling."""
        visit = self._visit(record_id)
        seen = 0
        while True:
            while seen < len(visit.history):
                seen += 1
                yield visit.history[seen - 1]
            if visit.state in FINAL:
                return
            await visit.changed.wait()

    # --- check-in and the benches ---------------------------------------------------------------

    async def check_in(self, vehicle: Vehicle) -> uuid.UUID:
        """Open a visit and start the benches for it; returns the record id at once."""
        try:
            check_vehicle(vehicle)  # a vehicle no record could hold would be signed and refused for ever
        except RecordOutOfLimits as error:
            raise BeyondLimits(error) from error
        busy = self.on_benches
        if busy is not None:
            raise LaneBusy(busy.record_id, busy.state)
        visit = _Visit(record_id=uuid.uuid4(), vehicle=vehicle, started_at=self.clock.now())
        self._fire(visit, LaneEvent.CHECK_IN)
        self._visits[visit.record_id] = visit
        self._forget_old()
        visit.task = asyncio.create_task(
            self._run_benches(visit), name=f"lane-{self.number}-{visit.record_id}"
        )
        return visit.record_id

    def _forget_old(self) -> None:
        # A vehicle that drove off without its inspection being completed would otherwise be held
        # (curves, checks, photo references) for as long as the agent runs.
        cutoff = self.clock.now() - self._open_visit_ttl
        for visit in self._visits.values():
            if visit.state is LaneState.VISUAL and visit.started_at < cutoff:
                visit.error = f"not completed within {self._open_visit_ttl}; nothing was signed or sent"
                log.warning("lane %d record %s expired: %s", self.number, visit.record_id, visit.error)
                self._fire(visit, LaneEvent.EXPIRED)
        finished = [rid for rid, v in self._visits.items() if v.state in FINAL]
        for rid in finished[: max(0, len(finished) - self._history)]:
            del self._visits[rid]

    async def _run_benches(self, visit: _Visit) -> None:
        vehicle = visit.vehicle
        try:
            # Checking in: the benches see the same vehicle the record names (identity was
            # validated when the Vehicle was built); nothing to ask the benches yet.
            self._fire(visit, LaneEvent.CHECKED_IN)
            self._display(f"{vehicle.plate}: drive the front axle onto the brake rollers")
            visit.axles = await run_brake_test(self._brake, vehicle)
            self._fire(visit, LaneEvent.BRAKE_DONE)
            self._display(f"{vehicle.plate}: stop at the headlight tester")
            visit.lamps = await run_headlight_test(self._headlight, vehicle)
            self._fire(visit, LaneEvent.HEADLIGHT_DONE)
            visit.emission = await self._emission(vehicle)
            self._fire(visit, LaneEvent.EMISSION_DONE)
            self._display(f"{vehicle.plate}: benches done; inspector to complete the visual checks")
        except (EquipmentError, ProcedureError) as error:
            self._abort(visit, str(error))
            if isinstance(error, EquipmentError) and self._on_bench_error is not None:
                try:
                    self._on_bench_error(error)
                except Exception:
                    # Counting the error must not turn a bench failure into a stuck task.
                    log.exception("lane %d: bench error callback failed", self.number)
        except BaseException as error:
            # A bug or a cancellation must not leave the lane believing the benches are in use.
            self._abort(visit, f"internal error: {error!r}")
            raise

    async def _emission(self, vehicle: Vehicle) -> EmissionRun | None:
        procedures, limit_set = self.config.procedures, self.config.limit_set
        # Which test a fuel takes is the rules' decision, so lane and judge cannot drift apart.
        procedure = required_procedure(vehicle.fuel)
        if procedure is Procedure.TWO_SPEED_IDLE:
            return await run_two_speed_idle(
                self._gas,
                vehicle,
                limit_set=limit_set,
                timings=procedures.two_speed_idle,
                clock=self.clock,
                display=self._display,
            )
        if procedure is Procedure.FREE_ACCELERATION:
            return await run_free_acceleration(
                self._opacity,
                vehicle,
                limit_set=limit_set,
                timings=procedures.free_acceleration,
                clock=self.clock,
                display=self._display,
            )
        return None

    def _abort(self, visit: _Visit, reason: str) -> None:
        if visit.state in ON_BENCHES:
            visit.error = f"{visit.state.value}: {reason}"
            log.warning("lane %d record %s aborted: %s", self.number, visit.record_id, visit.error)
            self._fire(visit, LaneEvent.BENCH_FAILED)

    # --- the inspector's PDA --------------------------------------------------------------------

    def submit_checks(self, record_id: uuid.UUID | str, checks: Sequence[VisualCheck]) -> tuple[str, ...]:
        """Add check entries: all of them or, if one is bad, none. An item already recorded is
        corrected, never replaced: the new entry must give its ``correction_reason`` and the record
        keeps both. Each entry is stamped with the lane's time."""
        visit = self._visit(record_id)
        self._next_state(visit, LaneEvent.SUBMIT_CHECKS)
        if not checks:
            raise InvalidCheck("no items submitted")
        seen: set[str] = set()
        for check in checks:
            _validate_check(check)
            if check.item_code in seen:
                raise InvalidCheck(f"item {check.item_code!r} appears twice in one submission")
            seen.add(check.item_code)
            earlier = visit.latest_check(check.item_code)
            if earlier is not None and not check.correction_reason.strip():
                result = "pass" if earlier.passed else "fail"
                raise InvalidCheck(
                    f"item {check.item_code!r} already has a result ({result} by {earlier.inspector_id}): "
                    "a second result is a correction and needs a reason"
                )
        try:
            check_count(Part.VISUAL_CHECKS, len(visit.checks) + len(checks), "visual_checks")
        except RecordOutOfLimits as error:
            raise BeyondLimits(error) from error
        now = self.clock.now()
        visit.checks.extend(replace(check, recorded_at=now) for check in checks)
        self._fire(visit, LaneEvent.SUBMIT_CHECKS)
        return visit.view().checked_items

    def check_can_add_photo(self, record_id: uuid.UUID | str, item_code: str) -> None:
        """Raise now (UnknownRecord / IllegalTransition / InvalidCheck / BeyondLimits) rather than
        after receiving and storing the photo."""
        visit = self._visit(record_id)
        self._next_state(visit, LaneEvent.ADD_PHOTO)
        _validate_item_code(item_code)
        _within_limits(check_count, Part.PHOTOS, len(visit.photos) + 1, "photos")

    def add_photo(self, record_id: uuid.UUID | str, photo: PhotoRef) -> None:
        visit = self._visit(record_id)
        self._next_state(visit, LaneEvent.ADD_PHOTO)
        _validate_item_code(photo.item_code)
        _within_limits(check_photo, photo.content_type, photo.size_bytes, f"photos[{len(visit.photos)}]")
        if photo not in visit.photos:  # the same photo for the same item, uploaded twice, counts once
            _within_limits(check_count, Part.PHOTOS, len(visit.photos) + 1, "photos")
            visit.photos.append(photo)
        self._fire(visit, LaneEvent.ADD_PHOTO)

    async def abort(self, record_id: uuid.UUID | str, reason: str, *, by: str) -> VisitView:
        """End a visit that is on the benches or waiting for its checks: its bench run is
        cancelled, it ends ABORTED with ``reason`` (and who gave it), and nothing is signed."""
        visit = self._visit(record_id)
        if not reason.strip():
            raise InvalidRequest(f"record {visit.record_id}: an abort needs a reason")
        _within_limits(check_text, reason, "reason")
        state = visit.state
        self._next_state(visit, LaneEvent.ABORT)
        visit.error = f"{state.value}: aborted by {by}: {reason}"
        log.warning("lane %d record %s aborted: %s", self.number, visit.record_id, visit.error)
        # ABORTED before the cancellation lands, so the bench run's own clean-up sees a visit that
        # is already ended and does not overwrite the inspector's reason with "internal error".
        self._fire(visit, LaneEvent.ABORT)
        task = visit.task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=ABORT_UNWIND_S)
        return visit.view()

    async def complete(self, record_id: uuid.UUID | str) -> InspectionRecord:
        """Build, judge and hand over the record. A second completion raises IllegalTransition."""
        visit = self._visit(record_id)
        self._fire(visit, LaneEvent.COMPLETE)
        record = InspectionRecord(
            record_id=visit.record_id,
            station_id=self.config.station_id,
            lane=self.config.lane,
            vehicle=visit.vehicle,
            started_at=visit.started_at,
            finished_at=self.clock.now(),
            axles=visit.axles,
            lamps=visit.lamps,
            emission=visit.emission,
            visual_checks=tuple(visit.checks),
            photos=tuple(visit.photos),
        )
        # The hand-over runs to its end even if our caller is cancelled (a PDA deadline, shutdown):
        # the outbox commit happens in a thread that cannot be called back, so the visit must
        # follow what the hand-over did, not what the caller saw. ``close`` waits for these.
        handover = asyncio.ensure_future(self._hand_over(visit, record))
        self._handovers.add(handover)
        handover.add_done_callback(self._handover_done)
        return await asyncio.shield(handover)

    async def _hand_over(self, visit: _Visit, record: InspectionRecord) -> InspectionRecord:
        try:
            record = replace(record, station_verdict=self._judge(record))
            await self._on_complete(record)
        except BaseException as error:
            # Not handed over: back to VISUAL so the inspector (or the agent) can complete again.
            self._fire(visit, LaneEvent.SUBMIT_FAILED)
            if isinstance(error, Exception):
                raise SubmitFailed(f"record {visit.record_id}: not handed over: {error}") from error
            raise
        visit.record = record
        self._fire(visit, LaneEvent.SUBMITTED)
        self._forget_old()
        return record

    def _handover_done(self, task: asyncio.Future[InspectionRecord]) -> None:
        self._handovers.discard(task)
        # Retrieved here so that a hand-over whose caller left does not end as "never retrieved".
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("lane %d: %s", self.number, error)

    async def close(self) -> None:
        """Stop any bench task still running (its visit ends ABORTED)."""
        tasks = [v.task for v in self._visits.values() if v.task is not None and not v.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Records being handed to the outbox are finished, not cut off: they may be committed already.
        await asyncio.gather(*self._handovers, return_exceptions=True)


def _validate_item_code(code: str) -> None:
    if not _ITEM_CODE.fullmatch(code):
        raise InvalidCheck(
            f"item code {code!r}: use 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )


def _validate_check(check: VisualCheck) -> None:
    _validate_item_code(check.item_code)
    _within_limits(check_text, check.note, f"item {check.item_code!r} note")
    _within_limits(check_text, check.correction_reason, f"item {check.item_code!r} reason")
    if not check.inspector_id:
        raise InvalidCheck(f"item {check.item_code!r}: no inspector")


def _within_limits(check: Callable[..., None], *args: object) -> None:
    """Run one of ``inspection.record_limits``' checks; its refusal becomes the lane's ``BeyondLimits``."""
    try:
        check(*args)
    except RecordOutOfLimits as error:
        raise BeyondLimits(error) from error


@asynccontextmanager
async def open_lane(
    config: LaneConfig,
    on_complete: OnComplete,
    *,
    judge: Judge = _default_judge,
    display: Callable[[str], None] | None = None,
    on_bench_error: Callable[[EquipmentError], None] | None = None,
    open_visit_ttl: timedelta = timedelta(hours=24),
) -> AsyncIterator[Lane]:
    """Open the four benches named in ``config`` and run a ``Lane`` over them; closes all on exit."""
    # Imported here so the state machine above stays importable (and testable) without pyserial or
    # pymodbus installed, e.g. on a hub-only host.
    from equipment.ega_driver import GasAnalyser as EgaDriver
    from equipment.hlt_driver import HeadlightTester as HltDriver
    from equipment.modbus_link import ModbusRtuLink, ModbusTcpLink
    from equipment.opm_driver import OpacityMeter as OpmDriver
    from equipment.rbt_driver import RbtTimings, RollerBrakeTester
    from equipment.rbt_profile import load_profile
    from equipment.serial_link import SerialConfig, SerialLink

    rbt = config.rbt
    link = (
        ModbusTcpLink(rbt.transport.host, rbt.transport.port, unit=rbt.transport.unit, timeout=rbt.timeout_s,
                      retries=rbt.retries)
        if isinstance(rbt.transport, TcpTransport)
        else ModbusRtuLink(rbt.transport.serial_port, baud=rbt.transport.baud, parity=rbt.transport.parity,
                           unit=rbt.transport.unit, timeout=rbt.timeout_s, retries=rbt.retries)
    )  # fmt: skip
    timings = RbtTimings(**dict(rbt.timings))

    async with AsyncExitStack() as stack:

        def serial(bench: SerialBenchConfig, device: str) -> SerialLink:
            serial_link = SerialLink(
                SerialConfig(
                    port=bench.serial_port,
                    baudrate=bench.baud,
                    response_timeout_s=bench.timeout_s,
                    checksum_retries=bench.retries,
                )
            )
            serial_link.open(device)
            stack.callback(serial_link.close)
            return serial_link

        brake = await stack.enter_async_context(RollerBrakeTester(link, load_profile(rbt.profile), timings))
        headlight = HltDriver(serial(config.hlt, "hlt"))
        gas = EgaDriver(serial(config.ega, "ega"))
        opacity = OpmDriver(serial(config.opm, "opm"))
        lane = Lane(
            config,
            brake=brake,
            headlight=headlight,
            gas=gas,
            opacity=opacity,
            on_complete=on_complete,
            judge=judge,
            display=display,
            on_bench_error=on_bench_error,
            open_visit_ttl=open_visit_ttl,
        )
        try:
            yield lane
        finally:
            await lane.close()

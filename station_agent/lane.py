"""One inspection lane: a vehicle's visit from check-in through the benches to a judged record.

Theory of operation
-------------------
Each vehicle that checks in gets a *visit* (its record id is the visit's id). Its state, the table
of legal moves and the one-vehicle-on-the-benches rule are ``station_agent.lane_state``'s (pure,
tested move by move); this module is the async runner that feeds that machine events, and the
wiring from a lane file is ``station_agent.lane_wiring`` (``open_lane``).

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

Benches that go away. The lane knows whether each bench answers (``bench_supervisor``). A check-in
is refused (``BenchUnavailable``, UNAVAILABLE on the PDA) while a bench the vehicle needs is down,
naming it: the vehicle is not on the benches yet, and the inspector can check it in again the
moment the lane status shows the bench back. A bench that drops while a vehicle is on it does not
abort the visit: the step under way (one axle on the rollers, one lamp, the emission procedure) is
run again from its start once the bench is back, for up to ``[benches] wait_s``. Only the link
failing (``DeviceDisconnected`` / ``DeviceUnreachable``) counts as the bench going away; a timeout,
a refusal or a fault is a failed measurement and aborts as before. A reading outside its physical
range (``procedures.reading_limits``) aborts the visit naming bench, quantity and value.

Two rules for this file:
1. a visit's state changes only through ``_fire``, which asks ``LaneStateMachine`` (and so raises
   ``IllegalTransition`` naming event, state and record for anything the table does not allow);
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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from equipment.errors import DeviceDisconnected, DeviceUnreachable, EquipmentError
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
from inspection.limit_sets import LimitSetSchedule, NoLimitSet, limit_set_for, province_of_station
from inspection.measurements import LimitSet, ObdCheck
from inspection.record import InspectionPurpose
from inspection.record_limits import (
    Part,
    RecordOutOfLimits,
    check_count,
    check_photo,
    check_text,
    check_vehicle,
)
from inspection.verdicts.emission_rules import Procedure, required_procedure
from inspection.verdicts.headlight_rules import CHINA_STANDARD_TIME
from inspection.verdicts.obd_rules import obd_check_required
from station_agent.bench_drivers import BrakeTester, HeadlightTester
from station_agent.bench_supervisor import (
    BenchId,
    BenchStatus,
    BenchSupervisor,
)
from station_agent.clock import Clock, ScaledClock
from station_agent.errors import (
    BenchUnavailable,
    BeyondLimits,
    IllegalTransition,
    InvalidCheck,
    InvalidRequest,
    LaneBusy,
    LaneError,
    SubmitFailed,
    UnknownRecord,
)
from station_agent.lane_config import LaneConfig
from station_agent.lane_state import (
    FINAL,
    ON_BENCHES,
    LaneEvent,
    LaneState,
    LaneStateMachine,
    Transition,
)
from station_agent.procedures import ProcedureError
from station_agent.procedures.asm import run_asm
from station_agent.procedures.brake import run_brake_test
from station_agent.procedures.free_acceleration import run_free_acceleration
from station_agent.procedures.headlight import run_headlight_test
from station_agent.procedures.lug_down import run_lug_down
from station_agent.procedures.obd_check import run_obd_check
from station_agent.procedures.reading_limits import check_axle, check_emission, check_lamps
from station_agent.procedures.two_speed_idle import run_two_speed_idle

if TYPE_CHECKING:
    from equipment.dyn_driver import ChassisDynamometer
    from equipment.ega_driver import GasAnalyser
    from equipment.hlt_codec import LampReading
    from equipment.obd_driver import ObdAdapter
    from equipment.opm_driver import OpacityMeter
    from equipment.rbt_driver import AxleResult
    from station_agent.lane_wiring import LaneEquipment

log = logging.getLogger(__name__)


_ITEM_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
# How long an abort waits for the cancelled bench run to unwind (a driver's own clean-up) before it
# answers anyway: the visit is ABORTED either way.
ABORT_UNWIND_S = 10.0


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
    checks: tuple[VisualCheck, ...] = ()  # every entry, corrections included, in the order taken
    history: tuple[StateChange, ...] = ()  # every state entered, in order


@dataclass(slots=True)
class _Visit:
    record_id: uuid.UUID
    vehicle: Vehicle
    started_at: datetime
    machine: LaneStateMachine  # the lane's: it holds this visit's state
    axles: tuple[AxleBrake, ...] = ()
    lamps: tuple[LampMeasurement, ...] = ()
    emission: EmissionRun | None = None
    obd: ObdCheck | None = None
    purpose: InspectionPurpose = InspectionPurpose.UNRECORDED
    laden: bool = False
    checks: list[VisualCheck] = field(default_factory=list)  # every entry, corrections included
    photos: list[PhotoRef] = field(default_factory=list)
    error: str | None = None
    record: InspectionRecord | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    history: list[StateChange] = field(default_factory=list)  # every state entered, in order
    task: asyncio.Task[None] | None = None

    @property
    def state(self) -> LaneState:
        return self.machine.state(self.record_id)

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
            checks=tuple(self.checks),
            history=tuple(self.history),
        )


T = TypeVar("T")
Judge = Callable[[InspectionRecord], Verdict]
OnComplete = Callable[[InspectionRecord], Awaitable[object]]  # what it returns is not used


def default_judge(record: InspectionRecord) -> Verdict:
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
        judge: Judge = default_judge,
        display: Callable[[str], None] | None = None,
        on_bench_error: Callable[[EquipmentError], None] | None = None,
        history: int = 200,
        open_visit_ttl: timedelta = timedelta(hours=24),
        benches: BenchSupervisor | None = None,
        obd: ObdAdapter | None = None,
        limit_sets: LimitSetSchedule | None = None,
        dynamometer: ChassisDynamometer | None = None,
    ) -> None:
        self.config = config
        self.limit_sets = limit_sets  # the province's schedule, when the lane file names one
        # What the procedures run with, read here once (and asserted on by the lane-file tests).
        self.limit_set = config.limit_set
        self.two_speed_idle_timings = config.procedures.two_speed_idle
        self.free_acceleration_timings = config.procedures.free_acceleration
        self.asm_timings = config.procedures.asm
        self.lug_down_timings = config.procedures.lug_down
        self.bench_wait_s = config.benches.wait_s
        self.equipment: LaneEquipment | None = None  # set by open_lane: the links and drivers it built
        # None: every bench is taken to be there (lanes over stand-in drivers in tests).
        self.benches = benches
        if benches is not None:
            benches.is_idle = lambda: self.on_benches is None
        self._brake = brake
        self._headlight = headlight
        self._gas = gas
        self._opacity = opacity
        self._obd = obd  # None: the lane has no OBD scan tool (records of OBD vehicles then lack the check)
        self._dynamometer = dynamometer
        self._on_complete = on_complete
        self._judge = judge
        self.clock: Clock = clock or ScaledClock(config.procedures.time_scale)
        self._display = display or (lambda text: log.info("lane %d display: %s", config.lane, text))
        self._on_bench_error = on_bench_error
        self._history = history
        self._open_visit_ttl = open_visit_ttl
        self._machine = LaneStateMachine()
        self._visits: OrderedDict[uuid.UUID, _Visit] = OrderedDict()
        self._handovers: set[asyncio.Future[InspectionRecord]] = set()

    @property
    def has_dynamometer(self) -> bool:
        """A lane with a dynamometer runs the loaded tests (ASM, lug-down); one without, the fallbacks."""
        return self._dynamometer is not None

    @property
    def station_id(self) -> str:
        return self.config.station_id

    @property
    def number(self) -> int:
        return self.config.lane

    # --- the state machine's one door -----------------------------------------------------------

    def _check(self, visit: _Visit, event: LaneEvent) -> None:
        """Raise ``IllegalTransition`` now if ``event`` is not allowed, before any work is done."""
        self._machine.check(visit.record_id, event)

    def _fire(self, visit: _Visit, event: LaneEvent) -> None:
        self._entered(visit, self._machine.fire(visit.record_id, event))

    def _entered(self, visit: _Visit, move: Transition) -> None:
        if move.changed:
            log.info(
                "lane %d record %s: %s --%s--> %s",
                self.number,
                visit.record_id,
                move.old,
                move.event,
                move.new,
            )
            visit.history.append(StateChange(visit.record_id, move.new, self.clock.now(), visit.error))
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
        record_id = self._machine.on_benches
        return None if record_id is None else self._visits[record_id].view()

    def bench_statuses(self) -> list[BenchStatus]:
        """Each bench, up or down since when and why (all up for a lane without a supervisor)."""
        return [] if self.benches is None else self.benches.statuses()

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

    async def check_in(
        self,
        vehicle: Vehicle,
        *,
        purpose: InspectionPurpose = InspectionPurpose.UNRECORDED,
        laden: bool = False,
    ) -> uuid.UUID:
        """Open a visit and start the benches for it; returns the record id at once.

        ``purpose`` (registration of a new vehicle or periodic) and ``laden`` go on the record: the
        brake rules take their limits from them."""
        try:
            check_vehicle(vehicle)  # a vehicle no record could hold would be signed and refused for ever
        except RecordOutOfLimits as error:
            raise BeyondLimits(error) from error
        procedure = required_procedure(vehicle, dynamometer=self.has_dynamometer)
        if procedure is Procedure.LUG_DOWN and not vehicle.rated_power_kw:
            # Found out now, not after the brakes and lamps: lug-down judges wheel power against it.
            raise InvalidRequest(
                "vehicle.rated_power_kw: a diesel on the dynamometer needs its rated engine power"
            )
        self._machine.ensure_benches_free()
        if self.benches is not None:
            needed = benches_for(vehicle, obd_bench=self._obd is not None, dynamometer=self.has_dynamometer)
            down = [self.benches.status(b) for b in needed if not self.benches.is_up(b)]
            if down:
                raise BenchUnavailable(self.number, down)
        visit = _Visit(
            record_id=uuid.uuid4(),
            vehicle=vehicle,
            started_at=self.clock.now(),
            machine=self._machine,
            purpose=purpose,
            laden=laden,
        )
        self._entered(visit, self._machine.check_in(visit.record_id))
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
        finished = self._machine.finished()
        for rid in finished[: max(0, len(finished) - self._history)]:
            del self._visits[rid]
            self._machine.forget(rid)

    async def _run_benches(self, visit: _Visit) -> None:
        vehicle = visit.vehicle
        try:
            # Checking in: the benches see the same vehicle the record names (identity was
            # validated when the Vehicle was built); nothing to ask the benches yet.
            self._fire(visit, LaneEvent.CHECKED_IN)
            self._display(f"{vehicle.plate}: drive the front axle onto the brake rollers")
            visit.axles = await run_brake_test(_BrakeSteps(self, visit), vehicle)
            for axle in visit.axles:
                check_axle(axle)
            self._fire(visit, LaneEvent.BRAKE_DONE)
            self._display(f"{vehicle.plate}: stop at the headlight tester")
            visit.lamps = await run_headlight_test(_HeadlightSteps(self, visit), vehicle)
            check_lamps(visit.lamps)
            self._fire(visit, LaneEvent.HEADLIGHT_DONE)
            # The OBD check belongs to the emission inspection (GB 18285 / GB 3847) and comes first.
            visit.obd = await self._obd_check(visit)
            visit.emission = await self._emission(visit)
            check_emission(visit.emission)
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

    async def on_bench(self, visit: _Visit, bench: BenchId, step: Callable[[], Awaitable[T]]) -> T:
        """Run one step on ``bench``; if the bench goes away meanwhile, run it again once it is back.

        The step is run from its start (an axle from RESET, a lamp from STAT, a procedure from
        preparing the analyser): a command whose answer was lost with the link is never re-sent
        blindly. Gives up after ``[benches] wait_s`` of the bench being down.
        """
        supervisor = self.benches
        if supervisor is None:
            return await step()
        wait_s = self.bench_wait_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            if not supervisor.is_up(bench):
                self._display(f"{visit.vehicle.plate}: waiting for the {bench.value} bench to come back")
                if not await supervisor.wait_up(bench, deadline - loop.time()):
                    status = supervisor.status(bench)
                    raise DeviceUnreachable(
                        bench.value, "reconnect", f"down for more than {wait_s:g} s: {status.last_error}"
                    )
            try:
                return await step()
            except (DeviceDisconnected, DeviceUnreachable) as error:
                # A loaded test uses two or three benches: the one that went away is the error's.
                if error.device in BenchId.__members__.values():
                    bench = BenchId(error.device)
                supervisor.mark_down(bench, error)
                log.warning(
                    "lane %d record %s: bench %s went away (%s); the step runs again when it is back",
                    self.number,
                    visit.record_id,
                    bench.value,
                    error,
                )

    async def _obd_check(self, visit: _Visit) -> ObdCheck | None:
        vehicle = visit.vehicle
        if not obd_check_required(vehicle):
            return None
        adapter = self._obd
        if adapter is None:
            self._display(f"{vehicle.plate}: the vehicle has OBD but this lane has no scan tool: not checked")
            return None
        return await self.on_bench(
            visit, BenchId.OBD, lambda: run_obd_check(adapter, vehicle, display=self._display)
        )

    def _limit_set(self, visit: _Visit) -> LimitSet:
        """The lane file's fixed set, or the one its schedule gives the station's province today."""
        if self.limit_set is not None:
            return self.limit_set
        assert self.limit_sets is not None  # the lane file has one or the other (LaneConfig)
        on = visit.started_at.astimezone(CHINA_STANDARD_TIME).date()
        try:
            return limit_set_for(province_of_station(self.station_id), on, self.limit_sets)
        except NoLimitSet as error:
            raise ProcedureError("emission", str(error)) from error

    async def _emission(self, visit: _Visit) -> EmissionRun | None:
        vehicle = visit.vehicle
        limit_set = self._limit_set(visit)
        # Which test a fuel takes is the rules' decision, so lane and judge cannot drift apart.
        procedure = required_procedure(vehicle, dynamometer=self.has_dynamometer)
        if procedure is Procedure.TWO_SPEED_IDLE:
            return await self.on_bench(
                visit,
                BenchId.EGA,
                lambda: run_two_speed_idle(
                    self._gas,
                    vehicle,
                    limit_set=limit_set,
                    timings=self.two_speed_idle_timings,
                    clock=self.clock,
                    display=self._display,
                ),
            )
        dynamometer = self._dynamometer
        if procedure is Procedure.ASM and dynamometer is not None:
            return await self.on_bench(
                visit,
                BenchId.DYN,
                lambda: run_asm(
                    dynamometer,
                    self._gas,
                    vehicle,
                    limit_set=limit_set,
                    timings=self.asm_timings,
                    clock=self.clock,
                    display=self._display,
                ),
            )
        if procedure is Procedure.LUG_DOWN and dynamometer is not None:
            return await self.on_bench(
                visit,
                BenchId.DYN,
                lambda: run_lug_down(
                    dynamometer,
                    self._opacity,
                    self._gas,
                    vehicle,
                    limit_set=limit_set,
                    timings=self.lug_down_timings,
                    clock=self.clock,
                    display=self._display,
                ),
            )
        if procedure is Procedure.FREE_ACCELERATION:
            return await self.on_bench(
                visit,
                BenchId.OPM,
                lambda: run_free_acceleration(
                    self._opacity,
                    vehicle,
                    limit_set=limit_set,
                    timings=self.free_acceleration_timings,
                    clock=self.clock,
                    display=self._display,
                ),
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
        self._check(visit, LaneEvent.SUBMIT_CHECKS)
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
        self._check(visit, LaneEvent.ADD_PHOTO)
        _validate_item_code(item_code)
        _within_limits(check_count, Part.PHOTOS, len(visit.photos) + 1, "photos")

    def add_photo(self, record_id: uuid.UUID | str, photo: PhotoRef) -> None:
        visit = self._visit(record_id)
        self._check(visit, LaneEvent.ADD_PHOTO)
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
        self._check(visit, LaneEvent.ABORT)
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
            obd=visit.obd,
            purpose=visit.purpose,
            laden=visit.laden,
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


def benches_for(
    vehicle: Vehicle, *, obd_bench: bool = False, dynamometer: bool = False
) -> tuple[BenchId, ...]:
    """The benches a vehicle goes over: brakes and lamps always, the emission benches of its test, and
    the OBD scan tool (on a lane that has one, ``obd_bench``) when the vehicle has OBD."""
    procedure = required_procedure(vehicle, dynamometer=dynamometer)
    emission: dict[Procedure | None, tuple[BenchId, ...]] = {
        Procedure.TWO_SPEED_IDLE: (BenchId.EGA,),
        Procedure.FREE_ACCELERATION: (BenchId.OPM,),
        Procedure.ASM: (BenchId.DYN, BenchId.EGA),
        Procedure.LUG_DOWN: (BenchId.DYN, BenchId.OPM, BenchId.EGA),
    }
    obd = (BenchId.OBD,) if obd_bench and obd_check_required(vehicle) else ()
    return (BenchId.RBT, BenchId.HLT, *emission.get(procedure, ()), *obd)


class _BrakeSteps:
    """The brake tester as the procedure sees it, one axle a step (run again if the bench drops)."""

    def __init__(self, lane: Lane, visit: _Visit) -> None:
        self._lane, self._visit = lane, visit

    async def test_axle(self, parking: bool, *, again: bool = False) -> AxleResult:
        brake = self._lane._brake
        attempts = 0

        def step() -> Awaitable[AxleResult]:
            # A second attempt is the same axle, still on the rollers: not RESET (that sends it off).
            nonlocal attempts
            attempts += 1
            return brake.test_axle(parking=parking, again=again or attempts > 1)

        return await self._lane.on_bench(self._visit, BenchId.RBT, step)


class _HeadlightSteps:
    """The headlight tester as the procedure sees it, one lamp and beam a step."""

    def __init__(self, lane: Lane, visit: _Visit) -> None:
        self._lane, self._visit = lane, visit

    async def measure(self, side: str, beam: str) -> LampReading:
        tester = self._lane._headlight
        return await self._lane.on_bench(self._visit, BenchId.HLT, lambda: tester.measure(side, beam))


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


# The lane's public surface: the runner, what it reports, and (re-exported so one import serves a
# lane's caller) the states and the errors it raises.
__all__ = [
    "FINAL",
    "ON_BENCHES",
    "BenchUnavailable",
    "BeyondLimits",
    "IllegalTransition",
    "InvalidCheck",
    "InvalidRequest",
    "Lane",
    "LaneBusy",
    "LaneError",
    "LaneEvent",
    "LaneState",
    "StateChange",
    "SubmitFailed",
    "UnknownRecord",
    "VisitView",
    "benches_for",
]

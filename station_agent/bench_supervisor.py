"""Whether each of a lane's benches answers, and getting it back when it does not.

Theory of operation
-------------------
A bench is *up* while it answers, *down* from the first transport failure (the link dropped, the
port vanished, nothing listens) until it answers again. Each bench has one watcher task:

* while the bench is down, the watcher reconnects with bounded exponential backoff (tenacity, from
  ``reconnect_initial_s`` doubling up to ``reconnect_max_s``, for as long as the lane runs): each
  attempt is a STATUS request, and the links reopen their port or connection by themselves on a
  request, so the first answer means the bench is back;
* while the bench is up and the lane has no vehicle on its benches, the watcher asks STATUS every
  ``probe_interval_s``, so a bench that went away between vehicles is seen before the next check-in.
  It never probes during a visit: a probe must not interleave with a procedure's exchanges.

The lane reports what it meets during a visit (``mark_down``), and waits for a bench to come back
(``wait_up``). Every change of state is logged naming lane and bench, and handed to ``on_change``
(the agent's ``tongjian_agent_bench_up`` gauge). Nothing here knows frames or registers: a bench is
a name, a description and a probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from equipment.errors import EquipmentError

log = logging.getLogger(__name__)


class BenchId(StrEnum):
    RBT = "rbt"
    HLT = "hlt"
    EGA = "ega"
    OPM = "opm"
    OBD = "obd"  # optional: only lanes with an [obd] scan tool
    DYN = "dyn"  # optional: only a lane with a chassis dynamometer has it


@dataclass(frozen=True, slots=True)
class BenchStatus:
    """One bench as the lane sees it now."""

    bench: BenchId
    kind: str  # what it is and where: "roller brake tester, Modbus TCP 127.0.0.1:5020"
    up: bool
    since: datetime  # when it last went up or down (lane start, for a bench never seen)
    last_error: str  # the failure that took it down most recently ("" if none yet)

    def describe(self) -> str:
        state = (
            "up" if self.up else f"down since {self.since:%H:%M:%S} ({self.last_error or 'not reached yet'})"
        )
        return f"{self.bench.value} ({self.kind}) is {state}"


@dataclass(frozen=True, slots=True)
class SupervisedBench:
    bench: BenchId
    kind: str
    probe: Callable[[], Awaitable[object]]  # one harmless request (STATUS); raises EquipmentError


@dataclass(frozen=True, slots=True)
class SupervisionPolicy:
    reconnect_initial_s: float = 0.1
    reconnect_max_s: float = 5.0
    probe_interval_s: float = 5.0
    first_probe_s: float = 5.0  # at start, how long the first probe of each bench may take


@dataclass(slots=True)
class _Watched:
    spec: SupervisedBench
    up: bool
    since: datetime
    last_error: str = ""
    came_up: asyncio.Event = field(default_factory=asyncio.Event)
    trouble: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def status(self) -> BenchStatus:
        return BenchStatus(self.spec.bench, self.spec.kind, self.up, self.since, self.last_error)


OnChange = Callable[[BenchStatus], None]


class BenchSupervisor:
    def __init__(
        self,
        lane: int,
        benches: Sequence[SupervisedBench],
        policy: SupervisionPolicy,
        *,
        now: Callable[[], datetime],
        on_change: OnChange | None = None,
    ) -> None:
        self.lane = lane
        self.policy = policy
        self._now = now
        self._on_change = on_change
        self.is_idle: Callable[[], bool] = lambda: True  # set by the lane: no visit on the benches
        started = now()
        self._benches = {b.bench: _Watched(b, up=False, since=started) for b in benches}

    # --- queries --------------------------------------------------------------------------------

    def statuses(self) -> list[BenchStatus]:
        return [w.status() for w in self._benches.values()]

    def status(self, bench: BenchId) -> BenchStatus:
        return self._benches[bench].status()

    def is_up(self, bench: BenchId) -> bool:
        return self._benches[bench].up

    async def wait_up(self, bench: BenchId, timeout_s: float) -> bool:
        """True once ``bench`` is up; False if it stays down for ``timeout_s``."""
        watched = self._benches[bench]
        if watched.up:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, timeout_s)):
                while not watched.up:
                    await watched.came_up.wait()
        return watched.up

    # --- changes --------------------------------------------------------------------------------

    def mark_down(self, bench: BenchId, error: EquipmentError | str) -> None:
        """The lane met a transport failure on ``bench``: down until the watcher gets an answer."""
        watched = self._benches[bench]
        watched.last_error = str(error)
        if watched.up:
            self._set(watched, up=False)
        watched.trouble.set()

    def _set(self, watched: _Watched, *, up: bool, first: bool = False) -> None:
        previous = watched.since
        watched.up = up
        watched.since = self._now()
        spec = watched.spec
        if up and first:
            log.info("lane %d: bench %s (%s) is up", self.lane, spec.bench, spec.kind)
            watched.came_up.set()
        elif up:
            log.info(
                "lane %d: bench %s (%s) is up again after %.1f s down",
                self.lane,
                spec.bench,
                spec.kind,
                (watched.since - previous).total_seconds(),
            )
            watched.came_up.set()
        elif first:
            log.warning(
                "lane %d: bench %s (%s) is not there at start: %s; the lane waits for it",
                self.lane,
                spec.bench,
                spec.kind,
                watched.last_error,
            )
        else:
            log.warning(
                "lane %d: bench %s (%s) is down: %s; reconnecting",
                self.lane,
                spec.bench,
                spec.kind,
                watched.last_error,
            )
            watched.came_up = asyncio.Event()
        if self._on_change is not None:
            try:
                self._on_change(watched.status())
            except Exception:
                # A metric that cannot be set must not stop the lane from noticing its benches.
                log.exception("lane %d: bench state callback failed", self.lane)

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Probe every bench once (a missing bench is only logged: it stays down), then watch them."""

        async def first(watched: _Watched) -> None:
            try:
                async with asyncio.timeout(self.policy.first_probe_s):
                    await watched.spec.probe()
            except (EquipmentError, TimeoutError) as error:
                watched.last_error = str(error) or f"no answer within {self.policy.first_probe_s:g} s"
                self._set(watched, up=False, first=True)
            else:
                self._set(watched, up=True, first=True)

        await asyncio.gather(*(first(w) for w in self._benches.values()))
        for watched in self._benches.values():
            watched.task = asyncio.create_task(
                self._watch(watched), name=f"lane-{self.lane}-{watched.spec.bench}-watch"
            )

    async def close(self) -> None:
        tasks = [w.task for w in self._benches.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, watched: _Watched) -> None:
        while True:
            if watched.up:
                watched.trouble.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.policy.probe_interval_s):
                        await watched.trouble.wait()
                if watched.up and self.is_idle():
                    try:
                        await watched.spec.probe()
                    except EquipmentError as error:
                        self.mark_down(watched.spec.bench, error)
                continue
            await self._reconnect(watched)

    async def _reconnect(self, watched: _Watched) -> None:
        policy = self.policy
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=policy.reconnect_initial_s, max=policy.reconnect_max_s),
            retry=retry_if_exception_type(EquipmentError),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    await watched.spec.probe()
                except EquipmentError as error:
                    watched.last_error = str(error)
                    raise
        self._set(watched, up=True)


__all__ = ["BenchId", "BenchStatus", "BenchSupervisor", "SupervisedBench", "SupervisionPolicy"]

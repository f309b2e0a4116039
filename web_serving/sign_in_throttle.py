"""Slowing down password guessing at a sign-in, per person id and per client address: growing
delays after a few failures, and, if the caller wants one, a lockout. The hub's console (staff
passwords) and the station's PDA service (inspector credentials, over gRPC and the PDA page) use it.

Without it a script tried about 22 credentials a second at the PDA service. Each key (the person id
tried, and the address it came from) keeps a count of recent failed sign-ins:

- the first ``free_failures`` for a person id (``address_free_failures`` for an address, which
  several people may share) cost nothing: people mistype;
- after that every attempt pushes the key's next allowed attempt further out, doubling from
  ``first_delay_s`` up to ``max_delay_s``; an attempt before then is refused unverified with
  ``SignInDelayed``, saying the longer wait of the two keys (retrying after the shorter one would
  be refused again), and does not count;
- with ``lockout_after`` set, that many failures in a row for one person id make ``locked_out``
  true; keeping and lifting the lock is the caller's (the PDA service keeps it in its inspector
  directory until ``tongjian pda unlock``; the console has none: its people are few and known, and
  an administrator re-issues a password rather than lifting a lock). Addresses only ever get
  delays: a lockout by address would lock out a whole shared network.

An attempt counts as a failure from the moment it is admitted, and is taken back if the credential
was right: so a burst of parallel guesses sees the delay its first members earned, instead of all
passing while the slow credential check of the first is still running. A successful sign-in clears
the person id's count; the address only gets its one attempt back, and keeps the delay its
remaining failures earn (a valid credential must not wash another person's guesses clean, nor
charge the next sign-in from that address for its own attempt). Counts are forgotten after
``forget_after_s`` without failures.

The clock is injectable (``clock``: monotonic seconds), so tests need not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from web_serving.errors import WebServingError


class KeyKind(StrEnum):
    """What an attempt is counted against: the person id it tried, or the address it came from."""

    PERSON = "person id"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int = 3  # per person id
    address_free_failures: int = 10  # an address may be shared by several people
    first_delay_s: float = 1.0
    max_delay_s: float = 300.0
    lockout_after: int | None = None  # failures in a row for one person id; None: never locked out
    forget_after_s: float = 900.0
    max_keys: int = 10_000  # beyond this, keys idle longer than forget_after_s are dropped

    def delay_after(self, failures: int, kind: KeyKind = KeyKind.PERSON) -> float:
        """How long a key must wait before its next attempt, after ``failures`` failures."""
        free = self.free_failures if kind is KeyKind.PERSON else self.address_free_failures
        if failures <= free:
            return 0.0
        # capped exponent: 2**(large) would overflow a float long before max_delay_s matters
        return min(self.first_delay_s * 2.0 ** min(failures - free - 1, 62), self.max_delay_s)


class SignInDelayed(WebServingError):
    """Refused before the credential is checked: the ``kind`` key must wait ``retry_after_s``."""

    def __init__(self, kind: KeyKind, retry_after_s: float) -> None:
        where = "for this person id" if kind is KeyKind.PERSON else "from this address"
        super().__init__(f"too many failed sign-ins {where}: retry in {max(1, round(retry_after_s))} s")
        self.kind = kind
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Count:
    failures: int = 0
    last_at: float = 0.0  # when the latest attempt was admitted
    not_before: float = 0.0


class SignInThrottle:
    def __init__(
        self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._counts: dict[tuple[KeyKind, str], _Count] = {}

    def admit(self, person_id: str, address: str) -> None:
        """Raise ``SignInDelayed`` if either key must still wait; else count the attempt as a
        failure until ``succeeded`` takes it back."""
        now = self._clock()
        keyed = [
            (KeyKind.PERSON, self._current((KeyKind.PERSON, person_id), now)),
            (KeyKind.ADDRESS, self._current((KeyKind.ADDRESS, address), now)),
        ]
        kind, wait = max(((kind, count.not_before - now) for kind, count in keyed), key=lambda kw: kw[1])
        if wait > 0:
            raise SignInDelayed(kind, wait)
        for kind, count in keyed:
            count.failures += 1
            count.last_at = now
            count.not_before = now + self.policy.delay_after(count.failures, kind)

    def succeeded(self, person_id: str, address: str) -> None:
        """The credential admitted last for ``person_id`` was right: take its failure back."""
        self._counts.pop((KeyKind.PERSON, person_id), None)
        count = self._counts.get((KeyKind.ADDRESS, address))
        if count is not None:
            count.failures = max(0, count.failures - 1)
            count.not_before = min(
                count.not_before, count.last_at + self.policy.delay_after(count.failures, KeyKind.ADDRESS)
            )

    def failures(self, person_id: str) -> int:
        """Failures in a row for this person id (the attempt just admitted included)."""
        count = self._counts.get((KeyKind.PERSON, person_id))
        if count is None or self._clock() - count.last_at > self.policy.forget_after_s:
            return 0
        return count.failures

    def locked_out(self, person_id: str) -> bool:
        """Whether the policy's ``lockout_after`` failures in a row are reached (never, without one)."""
        lockout_after = self.policy.lockout_after
        return lockout_after is not None and self.failures(person_id) >= lockout_after

    def forget(self, person_id: str) -> None:
        """Start the person id's count afresh (after a lockout is recorded or lifted)."""
        self._counts.pop((KeyKind.PERSON, person_id), None)

    def _current(self, key: tuple[KeyKind, str], now: float) -> _Count:
        count = self._counts.get(key)
        if count is not None and now - count.last_at > self.policy.forget_after_s:
            count = None
        if count is None:
            if len(self._counts) >= self.policy.max_keys:
                self._drop_idle(now)
            count = self._counts[key] = _Count()
        return count

    def _drop_idle(self, now: float) -> None:
        idle = [k for k, c in self._counts.items() if now - c.last_at > self.policy.forget_after_s]
        for key in idle:
            del self._counts[key]

"""Throttling PDA sign-ins, per inspector id and per peer address: growing delays, then a lockout.

Without it a script tried about 22 credentials a second. Each key (the inspector id tried, and the
address it came from) keeps a count of recent failed sign-ins:

- the first ``free_failures`` for an inspector id (``peer_free_failures`` for an address, which
  several inspectors may share) cost nothing: people mistype;
- after that every attempt pushes the key's next allowed attempt further out, doubling from
  ``first_delay_s`` up to ``max_delay_s``; an attempt before then is refused unverified, with the
  time to wait, and does not count;
- ``lockout_after`` failures in a row for one inspector id end in a lockout, which the PDA service
  keeps in the inspector directory until an administrator lifts it (``tongjian pda unlock``).
  Addresses only ever get delays: a lockout by address would lock out a whole shared network.

An attempt counts as a failure from the moment it is admitted, and is taken back if the credential
was right: so a burst of parallel guesses sees the delay its first members earned, instead of all
passing while the slow credential check of the first is still running. Counts are forgotten after
``forget_after_s`` without failures, and a successful sign-in clears the inspector's count (not the
address's: a valid credential must not wash another inspector's guesses clean).

The clock is injectable (``clock``: monotonic seconds), so tests need not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from station_agent.errors import StationAgentError


class KeyKind(StrEnum):
    INSPECTOR = "inspector"
    PEER = "peer"


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int = 3
    peer_free_failures: int = 10
    first_delay_s: float = 1.0
    max_delay_s: float = 300.0
    lockout_after: int = 10  # failures in a row for one inspector id
    forget_after_s: float = 900.0
    max_keys: int = 10_000  # beyond this, keys idle longer than forget_after_s are dropped

    def delay_after(self, failures: int, kind: KeyKind = KeyKind.INSPECTOR) -> float:
        """How long a key must wait before its next attempt, after ``failures`` failures."""
        free = self.free_failures if kind is KeyKind.INSPECTOR else self.peer_free_failures
        if failures <= free:
            return 0.0
        # capped exponent: 2**(large) would overflow a float long before max_delay_s matters
        return min(self.first_delay_s * 2.0 ** min(failures - free - 1, 62), self.max_delay_s)


class TooManyAttempts(StationAgentError):
    """Refused before checking the credential: the key must wait ``retry_after_s``."""

    def __init__(self, kind: KeyKind, retry_after_s: float) -> None:
        super().__init__(
            f"too many failed sign-ins from this {kind.value}: retry in {max(1, round(retry_after_s))} s"
        )
        self.kind = kind
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Count:
    failures: int = 0
    last_at: float = 0.0
    not_before: float = 0.0


class SignInThrottle:
    def __init__(
        self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self._clock = clock
        self._counts: dict[tuple[KeyKind, str], _Count] = {}

    def admit(self, inspector_id: str, peer: str) -> None:
        """Raise ``TooManyAttempts`` if either key must still wait; else count the attempt as a
        failure until ``succeeded`` takes it back."""
        now = self._clock()
        keys = ((KeyKind.INSPECTOR, inspector_id), (KeyKind.PEER, peer))
        counts = [self._current(key, now) for key in keys]
        for (kind, _), count in zip(keys, counts, strict=True):
            if now < count.not_before:
                raise TooManyAttempts(kind, count.not_before - now)
        for (kind, _), count in zip(keys, counts, strict=True):
            count.failures += 1
            count.last_at = now
            count.not_before = now + self.policy.delay_after(count.failures, kind)

    def succeeded(self, inspector_id: str, peer: str) -> None:
        self._counts.pop((KeyKind.INSPECTOR, inspector_id), None)
        count = self._counts.get((KeyKind.PEER, peer))
        if count is not None:
            count.failures = max(0, count.failures - 1)

    def failures(self, inspector_id: str) -> int:
        """Failures in a row for this inspector id (the attempt just admitted included)."""
        count = self._counts.get((KeyKind.INSPECTOR, inspector_id))
        if count is None or self._clock() - count.last_at > self.policy.forget_after_s:
            return 0
        return count.failures

    def locked_out(self, inspector_id: str) -> bool:
        return self.failures(inspector_id) >= self.policy.lockout_after

    def forget(self, inspector_id: str) -> None:
        """Start the inspector's count afresh (after a lockout is recorded or lifted)."""
        self._counts.pop((KeyKind.INSPECTOR, inspector_id), None)

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

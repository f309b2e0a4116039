"""Slowing down password guessing at the console's sign-in: growing delays per person id and per
client address after a few failures.

The same policy as the PDA's (``station_agent.sign_in_throttle``: a few free failures, then a delay
doubling from one second up to five minutes, counts forgotten after a quiet quarter of an hour), but
its own small class: the hub and the station agent share no code outside ``protos``, ``pki`` and
``inspection`` (tests/test_package_structure.py). Without lockouts: the console's people are few
and known, and an administrator re-issues a password rather than lifting a lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import HubError


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    free_failures: int = 3  # per person id; an address gets ``address_free_failures``
    address_free_failures: int = 10
    first_delay_s: float = 1.0
    max_delay_s: float = 300.0
    forget_after_s: float = 900.0

    def delay_after(self, failures: int, free: int) -> float:
        if failures <= free:
            return 0.0
        return min(self.first_delay_s * 2.0 ** min(failures - free - 1, 62), self.max_delay_s)


class SignInDelayed(HubError):
    """Refused before the password is checked: wait ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            f"too many failed sign-ins: retry in {max(1, round(retry_after_s))} s / 登录失败次数过多，请稍后再试"
        )
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class _Count:
    failures: int = 0
    last_at: float = 0.0
    not_before: float = 0.0


class SignInGuard:
    def __init__(
        self, policy: GuardPolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or GuardPolicy()
        self._clock = clock
        self._counts: dict[tuple[str, str], _Count] = {}

    def admit(self, person_id: str, address: str) -> None:
        """Raise ``SignInDelayed`` if either key must wait; else count the attempt as a failure
        until ``succeeded`` takes it back (so parallel guesses see each other's delay)."""
        now = self._clock()
        keys = (
            (("person", person_id), self.policy.free_failures),
            (("address", address), self.policy.address_free_failures),
        )
        counts = [(self._current(key, now), free) for key, free in keys]
        # The longest wait of the two keys: retrying after a shorter one would be refused again.
        wait = max(count.not_before - now for count, _free in counts)
        if wait > 0:
            raise SignInDelayed(wait)
        for count, free in counts:
            count.failures += 1
            count.last_at = now
            count.not_before = now + self.policy.delay_after(count.failures, free)

    def succeeded(self, person_id: str, address: str) -> None:
        self._counts.pop(("person", person_id), None)
        count = self._counts.get(("address", address))
        if count is not None:
            count.failures = max(0, count.failures - 1)
            count.not_before = 0.0

    def _current(self, key: tuple[str, str], now: float) -> _Count:
        count = self._counts.get(key)
        if count is None or now - count.last_at > self.policy.forget_after_s:
            if len(self._counts) > 10_000:
                self._counts = {
                    k: c for k, c in self._counts.items() if now - c.last_at <= self.policy.forget_after_s
                }
            count = self._counts[key] = _Count()
        return count

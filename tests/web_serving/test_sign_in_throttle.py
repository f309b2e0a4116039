"""The sign-in delay policy the hub's console and the station's PDA service share: free failures,
then doubling delays per person id and per address, refusals that name the longer wait, a success
that clears the person but not the address's guesses, an optional lockout, and forgetting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from web_serving.errors import WebServingError
from web_serving.sign_in_throttle import KeyKind, SignInDelayed, SignInThrottle, ThrottlePolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_grow_after_the_free_failures_and_are_capped() -> None:
    policy = ThrottlePolicy(free_failures=3, first_delay_s=1.0, max_delay_s=8.0, address_free_failures=100)
    assert [policy.delay_after(n) for n in range(1, 9)] == [0, 0, 0, 1, 2, 4, 8, 8]
    assert policy.delay_after(10_000) == 8.0
    assert policy.delay_after(100, KeyKind.ADDRESS) == 0.0 and policy.delay_after(101, KeyKind.ADDRESS) == 1.0
    clock = FakeClock()
    throttle = SignInThrottle(policy, clock)
    for _ in range(4):
        throttle.admit("insp-07", "ipv4:10.0.0.5")  # three free, the fourth admitted but now 1 s away
    with pytest.raises(SignInDelayed) as caught:
        throttle.admit("insp-07", "ipv4:10.0.0.5")
    assert caught.value.kind is KeyKind.PERSON and caught.value.retry_after_s == 1.0
    assert isinstance(caught.value, WebServingError)
    assert throttle.failures("insp-07") == 4  # a refused attempt does not count
    clock.now += 1.0
    throttle.admit("insp-07", "ipv4:10.0.0.5")
    with pytest.raises(SignInDelayed, match="for this person id: retry in 2 s"):
        throttle.admit("insp-07", "ipv4:10.0.0.6")  # another address does not help
    throttle.admit("insp-08", "ipv4:10.0.0.5")  # another person from the address: it has its own count


def test_a_refusal_names_the_longer_wait_of_person_and_address() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(ThrottlePolicy(free_failures=1, address_free_failures=3), clock)
    for person in ("a", "b", "c"):  # the address's three free failures
        throttle.admit(person, "shared")
    throttle.admit("p", "shared")  # p's first (free); the address's fourth: 1 s away
    clock.now += 1.0
    throttle.admit("p", "shared")  # p's second: 1 s away; the address's fifth: 2 s away
    clock.now += 0.5
    with pytest.raises(SignInDelayed) as caught:
        throttle.admit("p", "shared")
    # Retrying after the person's 0.5 s would be refused again: the address's 1.5 s is the answer.
    assert caught.value.kind is KeyKind.ADDRESS and caught.value.retry_after_s == 1.5
    assert "from this address: retry in 2 s" in str(caught.value)
    clock.now += 1.5
    throttle.admit("p", "shared")


def test_success_clears_the_person_but_not_the_address_and_old_failures_are_forgotten() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(
        ThrottlePolicy(free_failures=1, address_free_failures=2, forget_after_s=60), clock
    )
    throttle.admit("a", "peer")
    throttle.admit("b", "peer")
    throttle.succeeded("b", "peer")  # b was right: b starts afresh; the address keeps a's failure
    assert throttle.failures("b") == 0
    throttle.admit("c", "peer")
    throttle.admit("d", "peer")  # the address's third failure: it must now wait
    with pytest.raises(SignInDelayed) as caught:
        throttle.admit("e", "peer")
    assert caught.value.kind is KeyKind.ADDRESS
    clock.now += 61
    throttle.admit("e", "peer")  # a minute without failures: forgotten
    assert throttle.failures("a") == 0


def test_a_success_keeps_the_delay_the_addresss_other_failures_earned_and_no_more() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(ThrottlePolicy(address_free_failures=2, first_delay_s=1.0), clock)
    throttle.admit("x", "shared")
    throttle.admit("y", "shared")
    throttle.admit("right", "shared")  # the address's third attempt, 1 s away ...
    throttle.succeeded("right", "shared")  # ... and right: two failures are left, which are free
    throttle.admit("z", "shared")  # so at once; now three failures: 1 s away
    clock.now += 1.0
    throttle.admit("w", "shared")  # four failures: 2 s away
    clock.now += 2.0
    throttle.admit("right", "shared")  # five attempts: 4 s away ...
    throttle.succeeded("right", "shared")  # ... right: four failures are left, which earn 2 s
    with pytest.raises(SignInDelayed) as caught:
        throttle.admit("v", "shared")
    assert caught.value.kind is KeyKind.ADDRESS and caught.value.retry_after_s == 2.0
    clock.now += 2.0
    throttle.admit("v", "shared")


def test_a_lockout_only_when_the_policy_has_one() -> None:
    clock = FakeClock()
    policy = ThrottlePolicy(free_failures=1, first_delay_s=1.0, lockout_after=3)
    locking = SignInThrottle(policy, clock)
    never = SignInThrottle(ThrottlePolicy(free_failures=1, first_delay_s=1.0), clock)
    for attempt in range(1, 6):
        for throttle in (locking, never):
            throttle.admit("p", f"addr-{attempt}")
        assert locking.locked_out("p") is (attempt >= 3)
        assert not never.locked_out("p")
        clock.now += policy.delay_after(attempt)
    locking.forget("p")  # the caller recorded the lockout: the count starts afresh
    assert locking.failures("p") == 0 and not locking.locked_out("p")


def test_idle_keys_are_dropped_beyond_max_keys_and_live_ones_kept() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(ThrottlePolicy(free_failures=0, max_keys=2, forget_after_s=60), clock)
    throttle.admit("old", "addr-old")
    clock.now += 61
    throttle.admit("live", "addr-live")  # drops old's two idle keys on the way in
    assert throttle.failures("live") == 1 and throttle.failures("old") == 0
    assert len(throttle._counts) == 2
    with pytest.raises(SignInDelayed):  # the live person's delay survived the clean-up
        throttle.admit("live", "addr-other")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=40))
def test_delays_only_after_the_free_failures_of_person_or_address(outcomes: list[bool]) -> None:
    """A model of the counts: every admitted attempt counts for the person and the address; a
    success clears the person's count and takes one back from the address's."""
    clock = FakeClock()
    throttle = SignInThrottle(ThrottlePolicy(free_failures=2, address_free_failures=5), clock)
    person = address = 0
    for succeeded in outcomes:
        try:
            throttle.admit("p", "addr")
        except SignInDelayed as refusal:
            assert person > 2 or address > 5
            assert refusal.retry_after_s > 0
            clock.now += refusal.retry_after_s
            throttle.admit("p", "addr")  # once the delay has passed, it is admitted
        person += 1
        address += 1
        if succeeded:
            throttle.succeeded("p", "addr")
            person, address = 0, max(0, address - 1)

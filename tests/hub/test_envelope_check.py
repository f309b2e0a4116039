"""Property tests of the hub's gate: whatever bytes arrive, the check ends in a verified record or
a typed rejection, never another exception; and the per-station token bucket's arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.envelope_check import (
    EnvelopeLimits,
    KnownKey,
    RecordRejected,
    RejectionKind,
    open_envelope,
    verify_envelope,
)
from hub.rate_limit import StationRateLimiter
from protos.envelope import key_id_of, seal

_PRIVATE = Ed25519PrivateKey.generate()
_KEY = KnownKey(key_id_of("50-0001", _PRIVATE.public_key()), "50-0001", _PRIVATE.public_key())
_NOW = datetime(2027, 1, 1, tzinfo=UTC)


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_arbitrary_envelope_bytes_end_in_a_typed_rejection(raw: bytes) -> None:
    try:
        envelope = open_envelope(raw)
        verify_envelope(envelope, {_KEY.key_id: _KEY}, EnvelopeLimits(), _NOW)
    except RecordRejected as rejection:
        assert rejection.reason
        assert isinstance(rejection.kind, RejectionKind)
    else:
        raise AssertionError("random bytes passed as a validly signed record")


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_validly_signed_arbitrary_payloads_are_rejected_as_malformed_or_accepted(payload: bytes) -> None:
    envelope = seal(payload, _KEY.key_id, _PRIVATE)
    try:
        verified = verify_envelope(envelope, {_KEY.key_id: _KEY}, EnvelopeLimits(), _NOW)
    except RecordRejected as rejection:
        assert rejection.kind in {
            RejectionKind.MALFORMED,
            RejectionKind.OUT_OF_RANGE,
            RejectionKind.STATION_MISMATCH,
            RejectionKind.TIME_IN_FUTURE,
        }
    else:
        assert verified.payload == payload


@given(
    st.floats(min_value=0.5, max_value=1000.0),
    st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=60),
)
def test_a_bucket_never_allows_more_than_burst_plus_rate_times_elapsed(
    rate: float, gaps: list[float]
) -> None:
    now = [0.0]
    limiter = StationRateLimiter(rate, clock=lambda: now[0])
    allowed = 0
    for gap in gaps:
        now[0] += gap
        allowed += limiter.allow("50-0001")
    assert allowed <= limiter.burst + rate * now[0] + 1e-9
    assert limiter.allow("50-0002")  # stations have separate buckets


def test_refilled_buckets_are_forgotten_and_busy_ones_kept() -> None:
    now = [0.0]
    limiter = StationRateLimiter(10.0, burst=2, clock=lambda: now[0])
    for index in range(3000):  # stations seen once, long ago
        limiter.allow(f"station-{index}")
    now[0] += 1.0  # every bucket has refilled
    assert limiter.allow("busy") and limiter.allow("busy") and not limiter.allow("busy")
    assert len(limiter) == 1  # only the bucket that is not full is kept
    # Forgetting changes nothing for a station: a refilled bucket and a new one are the same.
    assert limiter.allow("station-7") and limiter.allow("station-7") and not limiter.allow("station-7")

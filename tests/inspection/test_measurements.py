"""``BrakeCurve.extremes``: worked out once per curve and shared by the range check and the brake
rules, it must always be what scanning the samples says, and never make two curves differ."""

from __future__ import annotations

import dataclasses
import pickle

from hypothesis import given
from hypothesis import strategies as st

from inspection import BrakeCurve

samples = st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), max_size=50).map(tuple)


@given(samples, samples)
def test_the_extremes_are_the_smallest_and_largest_sample_of_each_side(
    left: tuple[int, ...], right: tuple[int, ...]
) -> None:
    curve = BrakeCurve(100, left, right)
    expected = (
        min(left, default=None),
        max(left, default=None),
        min(right, default=None),
        max(right, default=None),
    )
    assert tuple(curve.extremes) == expected
    assert tuple(curve.extremes) == expected  # the kept answer is the same answer


@given(samples, samples)
def test_the_kept_extremes_change_neither_equality_nor_hash_nor_pickling(
    left: tuple[int, ...], right: tuple[int, ...]
) -> None:
    worked_out, fresh = BrakeCurve(100, left, right), BrakeCurve(100, left, right)
    _ = worked_out.extremes
    assert worked_out == fresh and hash(worked_out) == hash(fresh)
    assert repr(worked_out) == repr(fresh)
    copied = pickle.loads(pickle.dumps(worked_out))
    assert copied == fresh and copied.extremes == worked_out.extremes


def test_a_replaced_curve_works_out_its_own_extremes() -> None:
    curve = BrakeCurve(100, (0, 5, 9), (1, 2, 3))
    assert curve.extremes.left_max == 9
    changed = dataclasses.replace(curve, left_n=(0, 50, 90))
    assert changed.extremes.left_max == 90 and changed.extremes.left_min == 0

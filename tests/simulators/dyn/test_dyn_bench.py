"""The dynamometer bench's register handling, sans-I/O: any request is answered by the table of spec 5."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from equipment.dyn_profile import DynQuantity, load_dyn_profile
from equipment.register_codec import RegisterKind, decode_one
from simulators.dyn_sim import DynBench, DynFault, parse_dyn_fault
from simulators.rbt_bench import Answer, ReadRequest, Refuse, WriteRequest
from simulators.vehicle_on_rollers import RollerModel

PROFILE = load_dyn_profile("dyn-default")
MAPPED = {a for s in PROFILE.registers.values() for a in range(s.address, s.end)}


@settings(max_examples=200)
@given(st.integers(0, 40), st.integers(1, 20))
def test_any_read_is_words_for_mapped_registers_or_exception_2(address: int, count: int) -> None:
    bench = DynBench(RollerModel(), PROFILE)
    outcome = bench.handle(ReadRequest(RegisterKind.HOLDING, address, count), 1.0)
    if all(a in MAPPED for a in range(address, address + count)):
        assert isinstance(outcome, Answer) and len(outcome.words) == count
        assert all(0 <= w <= 0xFFFF for w in outcome.words)
    else:
        assert outcome == Refuse(2)


@settings(max_examples=200)
@given(st.integers(0, 40), st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=4))
def test_any_write_is_taken_or_refused_with_a_spec_code(address: int, values: list[int]) -> None:
    bench = DynBench(RollerModel(), PROFILE)
    bench.handle(WriteRequest(1, (2,)), 0.0)  # lift down: every later write in 3 s is busy
    outcome = bench.handle(WriteRequest(address, tuple(values)), 5.0)
    assert isinstance(outcome, Answer) or outcome in (Refuse(2), Refuse(3), Refuse(6))


@given(st.floats(min_value=-200_000, max_value=200_000, allow_nan=False))
def test_the_force_register_round_trips_through_the_int32_layout(force: float) -> None:
    bench = DynBench(RollerModel(), PROFILE)
    bench.model.absorber_n = force
    outcome = bench.handle(ReadRequest(RegisterKind.HOLDING, 11, 2), 0.0)
    assert isinstance(outcome, Answer)
    assert decode_one(PROFILE[DynQuantity.FORCE], outcome.words) == round(force)


def test_the_lift_is_busy_while_it_moves() -> None:
    bench = DynBench(RollerModel(), PROFILE)
    assert bench.handle(WriteRequest(1, (2,)), 0.0) == Answer()
    assert bench.handle(WriteRequest(16, (2500,)), 1.0) == Refuse(6)
    assert bench.handle(WriteRequest(16, (2500,)), 3.5) == Answer()
    assert not bench.model.rollers_locked


def test_fault_texts_parse_or_name_what_is_wrong() -> None:
    assert parse_dyn_fault("overheat@12") == DynFault(parse_dyn_fault("overheat").kind, 12.0)
    for bad in ("melt", "overheat@soon"):
        try:
            parse_dyn_fault(bad)
        except ValueError as error:
            assert bad in str(error)
        else:
            raise AssertionError(f"{bad!r} was taken")


def test_a_write_touching_a_read_only_register_is_refused_whole() -> None:
    bench = DynBench(RollerModel(), PROFILE)
    bench.handle(WriteRequest(1, (2,)), 0.0)  # lift down
    # SETPOINT_SPEED (6) then BASE_INERTIA (7, read-only): nothing is written.
    assert bench.handle(WriteRequest(6, (4000, 1)), 5.0) == Refuse(2)
    assert bench.model.setpoint_speed_kmh == 0.0


def test_the_lift_does_not_rise_under_turning_wheels() -> None:
    bench = DynBench(RollerModel(), PROFILE)
    bench.handle(WriteRequest(1, (2,)), 0.0)
    bench.handle(WriteRequest(16, (3000, 2)), 3.5)  # full throttle
    assert bench.handle(WriteRequest(1, (1,)), 8.0) == Refuse(3)
    assert not bench.lift_up and bench.model.speed_kmh > 10

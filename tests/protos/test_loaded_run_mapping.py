"""ASM and lug-down runs through the protobuf contract: lossless, and malformed parts named by path."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspection import Ambient, AsmMode, AsmPhase, AsmRun, LimitSet, LoadedSecond, LugDownPoint, LugDownRun
from protos.record_mapping import MalformedRecord, record_from_bytes, record_to_bytes, record_to_proto
from protos.tongjian.v1 import inspection_pb2 as pb

_finite = st.floats(min_value=0, max_value=1e4, allow_nan=False)
seconds = st.builds(
    LoadedSecond,
    t_s=_finite,
    speed_kmh=_finite,
    power_kw=_finite,
    rpm=_finite,
    hc_ppm=_finite,
    co_pct=_finite,
    co2_pct=_finite,
    o2_pct=_finite,
    no_ppm=_finite,
    k_per_m=st.none() | _finite,
    low_flow=st.booleans(),
    dilution=st.booleans(),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    scan=st.lists(seconds, max_size=5),
    held=st.lists(seconds, max_size=5),
    fast=st.booleans(),
    restarts=st.lists(st.text(max_size=20), max_size=3),
)
def test_loaded_runs_round_trip(scan, held, fast, restarts, make_record) -> None:  # type: ignore[no-untyped-def]
    asm = AsmRun(
        LimitSet.B,
        1450,
        Ambient(21.5, 48.0, 99.8),
        (
            AsmPhase(AsmMode.ASM5025, 9.2, 0.6, fast, tuple(held), tuple(restarts)),
            AsmPhase(AsmMode.ASM2540, 6.7, 1.1, False, tuple(scan)),
        ),
    )
    lug = LugDownRun(
        LimitSet.A, 110.0, tuple(scan), 64.0, 105.0, 3200.0, (LugDownPoint(80, 51.2, tuple(held)),)
    )
    for run in (asm, lug):
        record = replace(make_record(1), emission=run)
        assert record_from_bytes(record_to_bytes(record)) == record


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda m: setattr(m.emission.asm.phases[0], "mode", "asm9999"), "emission.asm.phases[0].mode"),
        (
            lambda m: setattr(m.emission.asm.phases[0].seconds[0], "no_ppm", math.nan),
            "emission.asm.phases[0].seconds[0].no_ppm",
        ),
        (lambda m: m.emission.asm.ClearField("ambient"), "emission.asm.ambient"),
        (
            lambda m: setattr(m.emission.asm.ambient, "pressure_kpa", math.inf),
            "emission.asm.ambient.pressure_kpa",
        ),
    ],
)
def test_a_malformed_asm_run_is_named(mutate, path: str, make_record) -> None:  # type: ignore[no-untyped-def]
    second = LoadedSecond(1, 25, 10, 1600)
    run = AsmRun(
        LimitSet.A, 1450, Ambient(20, 50, 101), (AsmPhase(AsmMode.ASM5025, 9, 0.6, False, (second,)),)
    )
    message = record_to_proto(replace(make_record(1), emission=run))
    mutate(message)
    with pytest.raises(MalformedRecord) as caught:
        record_from_bytes(message.SerializeToString())
    assert caught.value.path == path


def test_a_lug_down_scan_beyond_its_count_is_refused(make_record) -> None:  # type: ignore[no-untyped-def]
    message = record_to_proto(make_record(1))
    message.emission.CopyFrom(pb.Emission(limit_set="a", lug_down=pb.LugDown(scan=[pb.LoadedSecond()] * 601)))
    with pytest.raises(MalformedRecord, match=r"emission\.lug_down\.scan"):
        record_from_bytes(message.SerializeToString())

"""Domain <-> protobuf mapping: lossless round trip, and malformed payloads named by field."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection import (
    AxleBrake,
    Beam,
    BrakeCurve,
    BrakeKind,
    FreeAccelerationRun,
    GasReading,
    InspectionRecord,
    LampMeasurement,
    Outcome,
    PhotoRef,
    Side,
    TwoSpeedIdleRun,
    Verdict,
    VerdictItem,
    VisualCheck,
)
from inspection.measurements import BrakeTest
from protos.record_mapping import (
    MAX_AXLES,
    MAX_CURVE_SAMPLES,
    MAX_GAS_READINGS,
    MAX_K_VALUES,
    MAX_VERDICT_ITEMS,
    MAX_VISUAL_CHECKS,
    MalformedRecord,
    record_from_bytes,
    record_head_from_bytes,
    record_to_bytes,
    record_to_proto,
)
from simulators.fleet import generate_fleet

START = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


def full_record(seed: int = 0) -> InspectionRecord:
    vehicle = generate_fleet(1, seed=seed)[0]
    service = BrakeTest(
        BrakeKind.SERVICE,
        3120.0,
        2980.5,
        80.0,
        None,
        False,
        True,
        BrakeCurve(100, (0, 500, 3120), (0, 480, 2980)),
        test_counter=7,
    )
    parking = BrakeTest(BrakeKind.PARKING, 1500.0, 1400.0, None, None, False, False, None, 8)
    gas = GasReading(0.0, 35, 0.21, 14.6, 0.4, 80, 1.01, 2510, 88.5, low_flow=False, dilution=False)
    return InspectionRecord(
        record_id=uuid.UUID(int=seed + 1),
        station_id="50-0001",
        lane=2,
        vehicle=vehicle,
        started_at=START,
        finished_at=START + timedelta(minutes=9),
        axles=(AxleBrake(1, 520.0, 515.5, service), AxleBrake(2, 410.0, None, service, parking)),
        lamps=(LampMeasurement(Side.LEFT, Beam.HIGH, 21000, 880, -40, 950),),
        emission=TwoSpeedIdleRun("a", (gas,), (replace(gas, rpm=780),)),
        visual_checks=(VisualCheck("C01", True, "", "insp-7"),),
        photos=(PhotoRef("ab" * 32, "image/jpeg", 12345, "C01"),),
        station_verdict=Verdict(
            (VerdictItem("brake.service.total", "GB 7258-2017 7.13.1.1", 71.2, 60.0, "%", Outcome.PASS),)
        ),
    )


def test_round_trip_is_lossless() -> None:
    record = full_record()
    assert record_from_bytes(record_to_bytes(record)) == record
    diesel = replace(record, emission=FreeAccelerationRun("b", (0.41, 0.44, 0.39)), station_verdict=None)
    assert record_from_bytes(record_to_bytes(diesel)) == diesel


def test_serialization_is_deterministic() -> None:
    assert record_to_bytes(full_record(3)) == record_to_bytes(full_record(3))


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda m: setattr(m, "record_id", "not-a-uuid"), "record_id"),
        (lambda m: setattr(m, "station_id", ""), "station_id"),
        (lambda m: setattr(m.vehicle, "vin", "LSGPC54U4BF123456"), "vehicle.vin"),
        (lambda m: setattr(m.vehicle, "plate", "XX"), "vehicle.plate"),
        (lambda m: setattr(m.vehicle, "vehicle_class", 0), "vehicle.vehicle_class"),
        (lambda m: setattr(m.vehicle.registration_date, "month", 13), "vehicle.registration_date"),
        (lambda m: m.axles[0].service.right_curve_n.append(1), "axles[0].service.right_curve_n"),
        (
            lambda m: setattr(m.axles[1].service, "left_max_force_n", float("nan")),
            "axles[1].service.left_max_force_n",
        ),
        (lambda m: setattr(m.photos[0], "sha256", "xyz"), "photos[0].sha256"),
        (lambda m: setattr(m.emission, "limit_set", "c"), "emission.limit_set"),
        (lambda m: m.ClearField("finished_at"), "finished_at"),
        # Bounds and finiteness everywhere, so that no record can stall or poison the hub.
        (lambda m: m.axles.extend([m.axles[0]] * MAX_AXLES), "axles"),
        (lambda m: setattr(m.axles[1], "axle", 1), "axles"),
        (lambda m: m.visual_checks.extend([m.visual_checks[0]] * MAX_VISUAL_CHECKS), "visual_checks"),
        (
            lambda m: m.axles[0].service.left_curve_n.extend([1] * MAX_CURVE_SAMPLES),
            "axles[0].service.left_curve_n",
        ),
        (
            lambda m: m.emission.two_speed_idle.low_idle.extend(
                [m.emission.two_speed_idle.low_idle[0]] * MAX_GAS_READINGS
            ),
            "emission.two_speed_idle.low_idle",
        ),
        (
            lambda m: setattr(m.emission.two_speed_idle.high_idle[0], "co_pct", float("inf")),
            "emission.two_speed_idle.high_idle[0].co_pct",
        ),
        (
            lambda m: m.station_verdict.items.extend([m.station_verdict.items[0]] * MAX_VERDICT_ITEMS),
            "station_verdict.items",
        ),
        (
            lambda m: setattr(m.station_verdict.items[0], "measured", float("nan")),
            "station_verdict.items[0].measured",
        ),
        (lambda m: setattr(m.station_verdict, "overall", 0), "station_verdict.overall"),
        (lambda m: setattr(m.station_verdict.items[0], "outcome", 2), "station_verdict.overall"),
    ],
)
def test_malformed_fields_are_named(mutate, path: str) -> None:  # type: ignore[no-untyped-def]
    message = record_to_proto(full_record())
    mutate(message)
    with pytest.raises(MalformedRecord) as caught:
        record_from_bytes(message.SerializeToString())
    assert caught.value.path == path


def test_free_acceleration_k_values_are_bounded_and_finite() -> None:
    diesel = record_to_proto(replace(full_record(), emission=FreeAccelerationRun("b", (0.41, 0.44, 0.39))))
    for mutate, path in (
        (lambda m: m.emission.free_acceleration.k_per_m.extend([0.4] * MAX_K_VALUES), "emission.free_acceleration.k_per_m"),
        (lambda m: m.emission.free_acceleration.k_per_m.append(float("nan")), "emission.free_acceleration.k_per_m[3]"),
    ):  # fmt: skip
        message = type(diesel)()
        message.CopyFrom(diesel)
        mutate(message)
        with pytest.raises(MalformedRecord) as caught:
            record_from_bytes(message.SerializeToString())
        assert caught.value.path == path


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_only_malformed_record(payload: bytes) -> None:
    with contextlib.suppress(MalformedRecord):
        record_from_bytes(payload)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=1_000_000), st.integers(min_value=0, max_value=4000))
def test_one_byte_flip_never_crashes(seed: int, position: int) -> None:
    payload = bytearray(record_to_bytes(full_record(seed % 50)))
    payload[position % len(payload)] ^= 0xFF
    with contextlib.suppress(MalformedRecord):
        record_from_bytes(bytes(payload))


def test_out_of_range_timestamp_is_malformed() -> None:
    message = record_to_proto(full_record())
    message.finished_at.seconds = 2**62
    with pytest.raises(MalformedRecord) as caught:
        record_from_bytes(message.SerializeToString())
    assert caught.value.path == "finished_at"


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=1_000_000), st.integers(min_value=0, max_value=4000))
def test_the_head_is_the_whole_records_head_and_fails_as_it_does(seed: int, position: int) -> None:
    # The label issuer reads only the head: whatever it accepts, the whole parse must agree on.
    record = full_record(seed % 50)
    head = record_head_from_bytes(record_to_bytes(record))
    assert (head.record_id, head.station_id, head.vehicle, head.started_at, head.finished_at) == (
        record.record_id,
        record.station_id,
        record.vehicle,
        record.started_at,
        record.finished_at,
    )
    payload = bytearray(record_to_bytes(record))
    payload[position % len(payload)] ^= 0xFF
    try:
        head = record_head_from_bytes(bytes(payload))
    except MalformedRecord as head_error:
        with pytest.raises(MalformedRecord):
            record_from_bytes(bytes(payload))
        assert head_error.path.split(".")[0] in {
            "record",
            "record_id",
            "station_id",
            "vehicle",
            "started_at",
            "finished_at",
        }
        return
    with contextlib.suppress(MalformedRecord):  # a broken measurement is not the head's business
        whole = record_from_bytes(bytes(payload))
        assert (whole.vehicle, whole.finished_at) == (head.vehicle, head.finished_at)


@settings(max_examples=300)
@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.one_of(
        st.integers(min_value=0, max_value=999_999_999), st.integers(min_value=-(2**31), max_value=2**31 - 1)
    ),
)
def test_timestamps_read_as_protobuf_reads_them(seconds: int, nanos: int) -> None:
    # The mapping's own conversion (twice as fast) against Timestamp.ToDatetime: the same
    # datetime, or a MalformedRecord where protobuf refuses or cannot represent it.
    from google.protobuf import timestamp_pb2

    from protos.record_mapping import _datetime_from

    timestamp = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    try:
        expected = timestamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        with pytest.raises(MalformedRecord):
            _datetime_from(timestamp, "finished_at")
        return
    assert _datetime_from(timestamp, "finished_at") == expected

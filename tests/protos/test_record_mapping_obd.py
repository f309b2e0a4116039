"""The record's OBD check, inspection purpose, laden flag and the vehicle's OBD / steered axles:
round trip, defaults for records from before they existed, malformed input named by field."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection import VehicleClass
from inspection.measurements import MonitorReadiness, ObdCheck, ReadinessMonitor
from inspection.record import InspectionPurpose
from inspection.record_limits import RecordOutOfLimits, check_record
from protos.record_mapping import MalformedRecord, record_from_bytes, record_to_bytes, record_to_proto
from tests.protos.test_record_mapping import full_record

CHECK = ObdCheck(
    communicated=True,
    protocol="6",
    mil_on=True,
    dtc_count=2,
    stored_dtcs=("P0420", "U0100"),
    readiness=(
        MonitorReadiness(ReadinessMonitor.CATALYST, True, False),
        MonitorReadiness(ReadinessMonitor.MISFIRE, True, True),
    ),
    vin="LSVAU2180N2183251",
)


def test_obd_purpose_laden_and_vehicle_fields_round_trip() -> None:
    base = full_record()
    vehicle = replace(
        base.vehicle, has_obd=True, axle_count=3, steered_axles=(1, 2), vehicle_class=VehicleClass.O3
    )
    record = replace(base, vehicle=vehicle, obd=CHECK, purpose=InspectionPurpose.REGISTRATION, laden=True)
    assert record_from_bytes(record_to_bytes(record)) == record
    silent = replace(record, obd=ObdCheck(communicated=False, vin=None, vin_note="no communication"))
    assert record_from_bytes(record_to_bytes(silent)) == silent


def test_a_record_from_before_these_fields_reads_with_their_defaults_and_keeps_its_bytes() -> None:
    record = full_record()
    message = record_to_proto(record)
    message.ClearField("purpose")  # as written before the field existed
    old_bytes = message.SerializeToString(deterministic=True)
    parsed = record_from_bytes(old_bytes)
    assert (parsed.obd, parsed.purpose, parsed.laden) == (None, InspectionPurpose.UNRECORDED, False)
    assert record_to_bytes(parsed) == old_bytes  # re-encoded, it is the record that was signed
    assert (parsed.vehicle.has_obd, parsed.vehicle.steered_axles) == (False, None)
    assert record_to_proto(parsed).vehicle.SerializeToString(
        deterministic=True
    ) == message.vehicle.SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda m: setattr(m.obd.readiness[0], "monitor", "flux_capacitor"), "obd.readiness[0].monitor"),
        (lambda m: m.obd.stored_dtcs.extend(["P0420"] * 200), "obd.stored_dtcs"),
        (lambda m: m.vehicle.steered_axles.append(9), "vehicle.steered_axles"),
        (lambda m: setattr(m, "purpose", 7), "purpose"),
        (lambda m: setattr(m.vehicle, "vehicle_class", 99), "vehicle.vehicle_class"),
    ],
)
def test_malformed_obd_and_vehicle_fields_are_named(mutate, path: str) -> None:  # type: ignore[no-untyped-def]
    message = record_to_proto(replace(full_record(), obd=CHECK))
    mutate(message)
    with pytest.raises(MalformedRecord) as caught:
        record_from_bytes(message.SerializeToString())
    assert caught.value.path == path


@pytest.mark.parametrize(
    ("check", "path"),
    [
        (replace(CHECK, stored_dtcs=("P0420", "X9999")), "obd.stored_dtcs[1]"),
        (replace(CHECK, dtc_count=200), "obd.dtc_count"),
        (replace(CHECK, vin="V" * 41), "obd.vin"),
    ],
)
def test_the_record_limits_refuse_an_obd_check_no_scan_tool_gives(check: ObdCheck, path: str) -> None:
    with pytest.raises(RecordOutOfLimits) as caught:
        check_record(replace(full_record(), obd=check))
    assert caught.value.path == path


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
def test_one_byte_changed_in_an_obd_record_gives_a_record_or_malformed_record(
    position: int, value: int
) -> None:
    payload = bytearray(record_to_bytes(replace(full_record(), obd=CHECK, laden=True)))
    payload[position % len(payload)] = value
    with contextlib.suppress(MalformedRecord):
        record_from_bytes(bytes(payload))

"""Helpers for the review tests: store records as the ingest path would (row and audit entry, one
transaction), a clock the test moves, and records built for one rule at a time."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.records import RecordRow
from hub.store import HubStore
from hub.verdict import verdict_to_json
from inspection import (
    AxleBrake,
    BrakeCurve,
    BrakeKind,
    Fuel,
    InspectionRecord,
    Vehicle,
    VehicleClass,
    VehicleUse,
    vin_check_digit,
)
from inspection.measurements import BrakeTest
from inspection.verdicts import judge
from protos.record_mapping import record_to_bytes

DAY = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in the stations' UTC+8


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def vin(index: int) -> str:
    body = f"LSVAU2180N{index % 10_000_000:07d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def ramp(samples: int, peak: int) -> tuple[int, ...]:
    return tuple(min(peak, round(peak * 2 * i / samples)) if i < samples - 5 else 0 for i in range(samples))


def record(
    index: int,
    station_id: str = "50-0001",
    *,
    start: datetime = DAY,
    minutes: float = 8,
    counter: int = 0,
    curve: BrakeCurve | None = None,
    **changes: object,
) -> InspectionRecord:
    """A clean record: no rule hits it unless ``changes`` (or counter / curve) say otherwise."""
    vehicle = Vehicle(
        vin=vin(index),
        plate=f"渝B{index % 100_000:05d}",
        registration_province="50",
        vehicle_class=VehicleClass.M1,
        fuel=Fuel.PETROL,
        seats=5,
        use=VehicleUse.NON_OPERATING,
        registration_date=date(2020, 5, 1),
        curb_mass_kg=1350,
        max_total_mass_kg=1800,
        axle_count=1,
        parking_brake_axles=(1,),
    )
    service = BrakeTest(BrakeKind.SERVICE, 2950.0, 2842.0, 40.0, 35.0, False, False, curve, counter)
    base = InspectionRecord(
        record_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tongjian-review-test/{station_id}/{index}"),
        station_id=station_id,
        lane=1,
        vehicle=vehicle,
        started_at=start,
        finished_at=start + timedelta(minutes=minutes),
        axles=(AxleBrake(1, 420.0, 415.0, service),),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]  # keyword values of mixed types


def store_records(
    store: HubStore,
    records: Sequence[InspectionRecord],
    received_at: datetime,
    hub_overall: str = "pass",
    station_overall: str = "pass",
    signing: tuple[str, Ed25519PrivateKey] | None = None,
) -> None:
    """Store ``records`` as rows; signed with ``signing`` (key id, key) so they verify, else with
    a signature of zeros (the review queue does not check signatures; ``hub records`` would)."""
    rows = []
    for item in records:
        payload = record_to_bytes(item)
        if item.station_verdict is not None:  # the column must say what the signed bytes say
            station_overall = item.station_verdict.overall.value
        rows.append(
            RecordRow(
                station_id=item.station_id,
                record_id=str(item.record_id),
                key_id=signing[0] if signing is not None else f"{item.station_id}/test",
                payload=payload,
                payload_sha256=hashlib.sha256(payload).hexdigest(),
                signature=signing[1].sign(payload) if signing is not None else b"\0" * 64,
                received_at=received_at,
                vin=item.vehicle.vin,
                plate=item.vehicle.plate,
                finished_at=item.finished_at,
                station_overall=station_overall,
                hub_overall=hub_overall,
                hub_verdict=verdict_to_json(judge(item)),
                verdict_mismatch=station_overall != hub_overall,
            )
        )
    store.commit_batch(rows)

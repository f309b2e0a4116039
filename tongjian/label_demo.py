"""The e-label part of ``tongjian demo``, with both province hubs running: inspection labels for
the records the Sichuan hub stored, then a Chongqing car's owner applying for an exemption label
at the Sichuan hub, the label rendered as a PNG, read back from the picture, verified offline,
revoked at the issuing hub, and verified again.

Everything goes through the same gRPC calls over mTLS that ``tongjian label`` makes (a person
certificate, as a province's online service or a traffic officer holds).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
import grpc.aio
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from elabel.claims import CHINA_TIME
from elabel.errors import LabelFault
from elabel.picture import render_label, token_from_png
from elabel.trust_cache import HubKey, TrustCache, save_trust_cache
from elabel.verifier import LabelCheck, check_label
from hub.models import Label, Record
from hub.server import HubServer
from hub.vehicle_standing import Standing, StandingBook
from inspection import Fuel, Vehicle, VehicleClass, VehicleUse, vin_check_digit
from inspection.vehicle_register_csv import RegisterRow
from pki.grpc_credentials import channel_credentials
from protos.tongjian.v1 import labels_pb2, labels_pb2_grpc


@dataclass
class LabelDemo:
    inspection_labels: int = 0  # labels the Sichuan hub issued for passed records
    passed_records: int = 0
    exemption: labels_pb2.ExemptionReply | None = None
    recorded_at_registration: bool = False  # the Chongqing hub holds the same label
    png: Path | None = None
    cjk_font: bool = False
    png_round_trip: bool = False
    check: LabelCheck | None = None
    after_revocation: LabelCheck | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.inspection_labels == self.passed_records
            and self.exemption is not None
            and self.exemption.granted
            and self.recorded_at_registration
            and self.png_round_trip
            and self.check is not None
            and self.check.valid
            and self.after_revocation is not None
            and self.after_revocation.faults == (LabelFault.REVOKED,)
        )


def young_car(registration_province: str, plate: str, today: date) -> Vehicle:
    """A private car registered 22 months ago: its year-2 label window is open today."""
    body = "LSVAU2180N2000017"
    return Vehicle(
        vin=body[:8] + vin_check_digit(body) + body[9:],
        plate=plate,
        registration_province=registration_province,
        vehicle_class=VehicleClass.M1,
        fuel=Fuel.PETROL,
        seats=5,
        use=VehicleUse.NON_OPERATING,
        registration_date=today - relativedelta(months=22),
        curb_mass_kg=1320,
        max_total_mass_kg=1750,
        axle_count=2,
    )


async def _wait_for_labels(hub: HubServer, wanted: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        assert hub.labels is not None
        count = await asyncio.to_thread(_count_inspection_labels, hub)
        if count >= wanted or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.2)


def _count_inspection_labels(hub: HubServer) -> int:
    with hub.store.database.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(Label).where(Label.record_seq.is_not(None))) or 0
        )


def _count_passed(hub: HubServer) -> int:
    with hub.store.database.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(Record).where(Record.hub_overall == "pass")) or 0
        )


async def run_label_demo(
    sichuan: HubServer,
    chongqing: HubServer,
    workdir: Path,
    ca_cert: Path,
    person_cert: Path,
    person_key: Path,
) -> LabelDemo:
    result = LabelDemo(passed_records=await asyncio.to_thread(_count_passed, sichuan))
    # The demo's records are minutes old: the issuer labels them at once, but its cursor only
    # settles later (hub.label_book), which the demo does not wait for.
    result.inspection_labels = await _wait_for_labels(sichuan, result.passed_records, timeout_s=20.0)

    today = datetime.now(CHINA_TIME).date()
    car = young_car("50", "渝A6A017", today)
    await asyncio.to_thread(chongqing.store.vehicles.import_rows, [RegisterRow(2, car, "owner-demo")], "50")
    standing = Standing(today + timedelta(days=200), True, 0, 0, False)
    await asyncio.to_thread(StandingBook(chongqing.store.database).set, car.vin, standing)

    credentials = channel_credentials(ca_cert, person_cert, person_key)
    async with grpc.aio.secure_channel(f"localhost:{sichuan.port}", credentials) as channel:
        labels = labels_pb2_grpc.LabelsStub(channel)
        reply = await labels.ApplyExemption(
            labels_pb2.ExemptionApplication(vin=car.vin, plate=car.plate), timeout=15
        )
        result.exemption = reply
        if not reply.granted:
            result.notes.append("refused: " + ", ".join(reply.refusal_reasons))
            return result
        keys = await labels.GetLabelKeys(labels_pb2.LabelKeysRequest(), timeout=10)
        listing = await labels.GetRevocationList(labels_pb2.RevocationListRequest(), timeout=10)
    recorded = await asyncio.to_thread(chongqing.labels.by_vin, car.vin) if chongqing.labels else []
    result.recorded_at_registration = [label.token for label in recorded] == [reply.token]

    stored = sichuan.labels.get(reply.serial) if sichuan.labels else None
    assert stored is not None
    rendered = render_label(reply.token, stored.claims)
    result.png = workdir / f"label-{reply.serial}.png"
    result.png.write_bytes(rendered.png)
    result.cjk_font = rendered.cjk_font
    from_picture = token_from_png(result.png)
    result.png_round_trip = from_picture == reply.token

    cache = TrustCache(
        tuple(HubKey(k.province, k.public_key) for k in keys.keys),
        {listing.province: listing.cose},
        datetime.now(UTC),
    )
    save_trust_cache(cache, workdir / "label-trust.json")
    result.check = check_label(from_picture, cache, datetime.now(UTC), vin=car.vin)

    assert sichuan.labels is not None
    await asyncio.to_thread(sichuan.labels.revoke_label, reply.serial, "demo: revoked at the issuing hub")
    async with grpc.aio.secure_channel(f"localhost:{sichuan.port}", credentials) as channel:
        listing = await labels_pb2_grpc.LabelsStub(channel).GetRevocationList(
            labels_pb2.RevocationListRequest(), timeout=10
        )
    cache = TrustCache(cache.hub_keys, {listing.province: listing.cose}, datetime.now(UTC))
    result.after_revocation = check_label(from_picture, cache, datetime.now(UTC), vin=car.vin)
    return result

"""Fixtures for the hub's tests: a running hub on the parametrized database, an enrolled station,
and a plain grpc.aio client that sends raw envelopes (records and keys come from tests/conftest.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from elabel.claims import LabelClaims, LabelType
from hub.archive_bag import export_bag
from hub.countersign import HubIdentity
from hub.label_book import exemption_serial
from hub.server import HubConfig, HubServer
from protos.envelope import load_private_key, seal
from protos.record_mapping import record_to_bytes
from protos.tongjian.v1 import ingest_pb2
from protos.tongjian.v1 import inspection_pb2 as pb
from tests.federation_rig import National, ProvinceHub, Station
from tests.hub.transfer_rig import TRANSFER_RIG_RECORDS, TransferRig, start_rig

_SUBMIT = ingest_pb2.DESCRIPTOR.services_by_name["StationIngest"].methods_by_name["Submit"]
SUBMIT_METHOD = f"/{_SUBMIT.containing_service.full_name}/{_SUBMIT.name}"


@dataclass
class Outcome:
    acks: list[ingest_pb2.Ack] = field(default_factory=list)
    error: grpc.aio.AioRpcError | None = None


async def _submit(
    target: str | int,
    envelopes: Iterable[bytes | pb.SignedRecord],
    credentials: grpc.ChannelCredentials | None = None,
) -> Outcome:
    """Send envelopes on one Submit stream; every Ack the hub sent, and the error that ended it."""
    address = f"127.0.0.1:{target}" if isinstance(target, int) else target
    raw = [e if isinstance(e, bytes) else e.SerializeToString() for e in envelopes]
    channel = (
        grpc.aio.secure_channel(address, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(address)
    )
    outcome = Outcome()
    async with channel:
        # Written one by one rather than from an iterator: when the hub ends the call early (a
        # rate limit), a write still in progress would otherwise replace the hub's status with
        # INTERNAL on the client side. Here a write that meets a finished call just stops.
        call: Any = channel.stream_stream(SUBMIT_METHOD, response_deserializer=ingest_pb2.Ack.FromString)()

        async def write_all() -> None:
            try:
                for message in raw:
                    await call.write(message)
                await call.done_writing()
            except (asyncio.InvalidStateError, grpc.aio.AioRpcError):
                pass  # the call is over; its status (read below) says why

        writer = asyncio.create_task(write_all())
        try:
            while (ack := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
                outcome.acks.append(ack)
        except grpc.aio.AioRpcError as error:
            outcome.error = error
        finally:
            await writer
    return outcome


@dataclass(frozen=True)
class Enrolled:
    hub: HubServer
    station_id: str
    key_id: str
    private_pem: bytes
    public_pem: bytes

    def seal(self, record: object, key_id: str | None = None) -> pb.SignedRecord:
        """Sign any record with this station's key, whatever station the record names."""
        return seal(record_to_bytes(record), key_id or self.key_id, load_private_key(self.private_pem))  # type: ignore[arg-type]

    def seal_bytes(self, payload: bytes) -> pb.SignedRecord:
        return seal(payload, self.key_id, load_private_key(self.private_pem))


@pytest.fixture
def submit() -> Callable[..., object]:
    """``await submit(port_or_target, envelopes, credentials=None) -> Outcome`` (acks, error)."""
    return _submit


@pytest.fixture
def enrol() -> Callable[..., Enrolled]:
    """``enrol(hub, station_key, valid_from=..., valid_until=...)``: register station and key."""
    return _enrol


@pytest.fixture
def hub_config(database_url: str) -> Callable[..., HubConfig]:
    def make(**options: object) -> HubConfig:
        return HubConfig(database_url=database_url, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def enrolled(hub_config: Callable[..., HubConfig], station_key) -> AsyncIterator[Enrolled]:  # type: ignore[no-untyped-def]
    """A hub with default settings on the parametrized database, the test station enrolled."""
    async with HubServer(hub_config()) as hub:
        yield _enrol(hub, station_key)


def _enrol(hub: HubServer, station_key, **window: object) -> Enrolled:  # type: ignore[no-untyped-def]
    hub.store.register_station(station_key.station_id, province="50")
    public_pem = station_key.public_path.read_bytes()
    key_id = hub.store.add_station_key(station_key.station_id, public_pem, **window)  # type: ignore[arg-type]
    assert key_id == station_key.key_id
    return Enrolled(hub, station_key.station_id, key_id, station_key.private_path.read_bytes(), public_pem)


# ---------------------------------------------------------------- an exported archive (hub.archive_bag)

_RecordFactory = Callable[..., Any]
SICHUAN_STATION = "51-0001"
CHONGQING_STATION = "50-0001"
LOCAL_RECORDS = 3
FORWARDED_RECORDS = 2


@dataclasses.dataclass
class Exported:
    national: National
    chongqing: ProvinceHub
    bag: Path
    vin: str
    sichuan: ProvinceHub


async def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _submit_accepted(submit: Any, hub: ProvinceHub, station: Station, records: list[Any]) -> None:
    outcome = await submit(hub.hub.port, [station.seal(record) for record in records])
    assert outcome.error is None, outcome.error
    assert all(ack.reason == "" for ack in outcome.acks), [ack.reason for ack in outcome.acks]


@pytest.fixture
async def exported(
    databases: Any, tmp_path: Path, make_record: _RecordFactory, submit: Any
) -> AsyncIterator[Exported]:
    """One car of Chongqing (50): three inspections at a Chongqing station, two at a Sichuan one
    (forwarded to Chongqing), exported from the Chongqing hub's database."""
    national = National()
    sichuan = ProvinceHub("51", databases.new("sichuan"), national.public)
    chongqing = ProvinceHub("50", databases.new("chongqing"), national.public)
    await chongqing.start()
    await sichuan.start()
    try:
        national.publish([sichuan, chongqing])
        vehicle = make_record(0).vehicle
        local = [
            dataclasses.replace(make_record(i, station_id=CHONGQING_STATION), vehicle=vehicle)
            for i in range(LOCAL_RECORDS)
        ]
        away = [
            dataclasses.replace(make_record(100 + i, station_id=SICHUAN_STATION), vehicle=vehicle)
            for i in range(FORWARDED_RECORDS)
        ]
        chongqing.register_vehicles(local[:1])
        await _submit_accepted(submit, chongqing, chongqing.enrol_station(CHONGQING_STATION, tmp_path), local)
        await _submit_accepted(submit, sichuan, sichuan.enrol_station(SICHUAN_STATION, tmp_path), away)
        foreign = chongqing.hub.store.foreign_records
        await _wait_until(lambda: foreign.count() == FORWARDED_RECORDS, "forwarded records at Chongqing")
        # An exemption label (the records here are not judged PASS, so the lane labels are not
        # issued): signed with the hub key like any label of a federated hub.
        assert chongqing.hub.labels is not None
        due = date(2026, 5, 1)
        chongqing.hub.labels.store_exemption(
            LabelClaims(
                LabelType.EXEMPTION,
                vehicle.vin,
                vehicle.plate,
                vehicle.vehicle_class,
                due,
                date(2028, 5, 1),
                "50",
                exemption_serial("50", vehicle.vin, due),
                datetime.now(UTC).replace(microsecond=0),
            ),
            due,
        )
        bag = tmp_path / "bag"
        summary = export_bag(
            chongqing.hub.store,
            vehicle.vin.lower(),
            bag,
            HubIdentity("50", chongqing.hub_key),
            datetime.now(UTC),
        )
        assert (summary.local_records, summary.forwarded_records) == (LOCAL_RECORDS, FORWARDED_RECORDS)
        assert summary.labels == 1
        assert not bag.with_name("bag.partial").exists()
        yield Exported(national, chongqing, bag, vehicle.vin, sichuan)
    finally:
        await sichuan.stop()
        await chongqing.stop()


# ---------------------------------------------------------------- archive transfers (tests/hub/transfer_rig.py)


@pytest.fixture
async def transfer_rig(
    databases: Any, tmp_path: Path, make_record: _RecordFactory, submit: Any
) -> AsyncIterator[TransferRig]:
    """Chongqing (50) and Sichuan (51) hubs taking part in archive transfers, and a Chongqing car
    with a few inspections at a Chongqing station."""
    made = await start_rig(databases, tmp_path, make_record, submit, TRANSFER_RIG_RECORDS)
    try:
        yield made
    finally:
        await made.sichuan.stop()
        await made.chongqing.stop()

"""Two province hubs that take part in archive transfers, and a Chongqing car with a file to move
(not a test module: the fixtures in test_archive_transfer.py build on it)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from hub.archive_transfer_client import ArchiveTransferClient
from hub.transfer_driver import TransferSettings
from inspection import InspectionRecord
from tests.federation_rig import National, ProvinceHub, Station

CHONGQING_STATION = "50-0001"
TRANSFER_RIG_RECORDS = 4


def transfer_settings(directory: Path, **changes: Any) -> TransferSettings:
    """Small pieces, messages of a few pieces and frequent confirmations, so a bag of a few
    records takes many of each (and a confirmation falls inside a message)."""
    settings = TransferSettings(
        archive_dir=directory,
        ttl=timedelta(days=30),
        poll_s=0.2,
        retry_s=0.1,
        chunk_bytes=1024,
        message_bytes=3000,
        confirm_bytes=2048,
        fetch_idle_timeout_s=5.0,
    )
    return dataclasses.replace(settings, **changes)


@dataclass
class TransferRig:
    national: National
    chongqing: ProvinceHub
    sichuan: ProvinceHub
    station: Station
    vin: str
    plate: str

    def client(self, hub: ProvinceHub) -> tuple[grpc.aio.Channel, ArchiveTransferClient]:
        channel = grpc.aio.insecure_channel(hub.endpoint)
        return channel, ArchiveTransferClient(channel, timeout_s=30)


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def chongqing_records(make_record: Callable[..., InspectionRecord], count: int) -> list[InspectionRecord]:
    vehicle = make_record(0).vehicle
    return [
        dataclasses.replace(make_record(i, station_id=CHONGQING_STATION), vehicle=vehicle)
        for i in range(count)
    ]


async def start_rig(
    databases: Any, tmp_path: Path, make_record: Any, submit: Any, records: int, *, console: bool = False
) -> TransferRig:
    """The rig; with ``console`` the Sichuan hub serves its staff console too."""
    national = National()
    chongqing = ProvinceHub(
        "50",
        databases.new("chongqing"),
        national.public,
        archive_transfer=transfer_settings(tmp_path / "a50"),
    )
    sichuan = ProvinceHub(
        "51",
        databases.new("sichuan"),
        national.public,
        archive_transfer=transfer_settings(tmp_path / "a51"),
        console_listen="127.0.0.1:0" if console else None,
    )
    await chongqing.start()
    await sichuan.start()
    national.publish([chongqing, sichuan])
    station = chongqing.enrol_station(CHONGQING_STATION, tmp_path)
    local = chongqing_records(make_record, records)
    chongqing.register_vehicles(local[:1])
    outcome = await submit(chongqing.hub.port, [station.seal(record) for record in local])
    assert outcome.error is None and all(ack.reason == "" for ack in outcome.acks)
    vehicle = local[0].vehicle
    return TransferRig(national, chongqing, sichuan, station, vehicle.vin, vehicle.plate)

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


def transfer_settings(directory: Path, **changes: Any) -> TransferSettings:
    """Small chunks and frequent confirmations, so a bag of a few records takes many of each."""
    settings = TransferSettings(
        archive_dir=directory,
        ttl=timedelta(days=30),
        poll_s=0.2,
        retry_s=0.1,
        chunk_bytes=1024,
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

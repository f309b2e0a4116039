"""The demo's archive transfer (异地转籍): a Chongqing car that was inspected in Sichuan moves to
Sichuan. A registry clerk at the Sichuan hub asks for its archive over the clerks' gRPC service
(their registry-clerk certificate, mTLS), the Chongqing hub marks the car transferring and streams
the signed bag hub to hub (peer-hub certificates), the Sichuan hub verifies every item (the
Sichuan station's signatures inside, Chongqing's own countersignatures of them) and imports it;
the clerk checks the car and accepts; Sichuan registers it under a new 川 plate and Chongqing
releases it. Each step's time is kept for the journey the demo prints.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc.aio

from hub.archive_transfer_client import ArchiveTransferClient, TransferCallError
from hub.server import HubServer
from hub.vehicle_register import VehicleStatus
from inspection import Vehicle
from pki.grpc_credentials import channel_credentials


@dataclass
class TransferDemo:
    vin: str
    old_plate: str
    transfer_id: str = ""
    new_plate: str = ""
    files: int = 0
    archive_bytes: int = 0
    steps: list[tuple[datetime, str]] = field(default_factory=list)
    released: bool = False  # Chongqing's register says transferred_out
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.released and bool(self.new_plate)

    def step(self, text: str) -> None:
        self.steps.append((datetime.now(UTC), text))


async def run_transfer_demo(
    sichuan: HubServer,
    chongqing: HubServer,
    car: Vehicle,
    ca_cert: Path,
    clerk_cert: Path,
    clerk_key: Path,
    photo: bytes,
) -> TransferDemo:
    result = TransferDemo(car.vin, car.plate)
    credentials = channel_credentials(ca_cert, clerk_cert, clerk_key)
    try:
        async with grpc.aio.secure_channel(f"localhost:{sichuan.port}", credentials) as channel:
            clerk = ArchiveTransferClient(channel, timeout_s=30)
            status = await clerk.request(car.vin, "50")
            result.transfer_id = status.transfer_id
            result.step(
                f"川 clerk requests the archive of {car.plate}; 渝 hub marks the car transferring and "
                f"exports its signed bag ({status.total_files} files, {status.total_bytes:,} bytes)"
            )
            async for update in clerk.follow(status.transfer_id):
                status = update
            result.files, result.archive_bytes = status.total_files, status.total_bytes
            if status.state != "received":
                result.problem = f"the archive was not received: {status.state} {status.reason}"
                return result
            result.step(
                "川 hub fetched the bag chunk by chunk over the hubs' mTLS link and verified every item: "
                "hashes, 渝's signature, every station signature and countersignature; imported"
            )
            # The car in front of the clerk is the registered one: its stamp and paint are what
            # Chongqing's register recorded, read the way a clerk types them.
            registered = await asyncio.to_thread(chongqing.store.vehicles.get, car.vin)
            engine = (registered.engine_number if registered else None) or "DEMO-ENGINE-0001"
            colour = registered.colour if registered else None
            seen_colour = colour.chinese if colour is not None else "白"
            checked = await clerk.check_identity(
                status.transfer_id, car.vin, engine.lower(), seen_colour, [("front.jpg", photo)]
            )
            if checked.state != "identity_checked":
                result.problem = "identity: " + "; ".join(m.detail for m in checked.mismatches)
                return result
            result.step(
                f"川 clerk checks the car: VIN, engine number {engine} and colour {seen_colour} match "
                "the archive; a photo recorded"
            )
            accepted = await clerk.accept(status.transfer_id)
            result.new_plate = accepted.new_plate
            result.step(f"川 clerk accepts: registered in Sichuan as {accepted.new_plate}")
    except TransferCallError as error:
        result.problem = str(error)
        return result
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        registered = await asyncio.to_thread(chongqing.store.vehicles.get, car.vin)
        if registered is not None and registered.status is VehicleStatus.TRANSFERRED_OUT:
            result.released = True
            result.step(f"渝 hub told: releases the car (transferred out), plate {car.plate} retired")
            break
        await asyncio.sleep(0.05)
    else:
        result.problem = "the Chongqing hub did not release the car"
    return result

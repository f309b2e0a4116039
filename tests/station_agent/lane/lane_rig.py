"""A lane on simulated benches (brake tester on Modbus, three serial benches on ptys), for lane tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from inspection import Fuel, InspectionRecord, Vehicle
from simulators.fleet import generate_fleet
from station_agent.lane import Lane
from station_agent.lane_config import load_lane_config
from station_agent.lane_wiring import open_lane
from tests.conftest import STATION_ID
from tongjian.demo import SimulatedLane

_FLEET = generate_fleet(200, seed=11, as_of=date(2026, 11, 25))


def vehicle_with(fuel: Fuel, index: int = 0) -> Vehicle:
    wanted = Fuel(fuel)
    return [v for v in _FLEET if v.fuel is wanted][index]


@dataclass
class RunningLane:
    lane: Lane
    benches: SimulatedLane
    completed: list[InspectionRecord] = field(default_factory=list)
    vehicles: int = 0

    async def check_in(self, fuel: Fuel = Fuel.PETROL, vehicle: Vehicle | None = None) -> uuid.UUID:
        """Drive the next car in: its scenario goes onto the benches, then it checks in."""
        vehicle = vehicle or vehicle_with(fuel, self.vehicles)
        self.benches.next_vehicle(vehicle, seed=self.vehicles)
        self.vehicles += 1
        return await self.lane.check_in(vehicle)


async def start_lane(
    tmp_path: Path, profile: str = "default", rtu: bool = False
) -> AsyncIterator[RunningLane]:
    benches = SimulatedLane(number=1, profile=profile, rtu=rtu, seed=1, station_id=STATION_ID)
    config_path = await benches.start(tmp_path, pda_listen=None)
    try:
        completed: list[InspectionRecord] = []

        async def on_complete(record: InspectionRecord) -> None:
            completed.append(record)

        async with open_lane(load_lane_config(config_path), on_complete) as lane:
            yield RunningLane(lane, benches, completed)
    finally:
        await benches.stop()


def jpeg(payload: bytes = b"photo") -> bytes:
    """The smallest thing the photo store takes for a JPEG: SOI ... EOI."""
    return b"\xff\xd8\xff\xe0" + payload + b"\xff\xd9"

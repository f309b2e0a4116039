"""Fixtures: a lane running on simulated benches (see lane_rig)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.station_agent.lane.lane_rig import RunningLane, start_lane
from tests.station_agent.lane.pda_rig import pda  # noqa: F401  (the PDA service fixture)


@pytest.fixture
async def running_lane(tmp_path: Path) -> AsyncIterator[RunningLane]:
    """Lane 1 of station 50-0001: default brake profile over Modbus TCP."""
    async for lane in start_lane(tmp_path):
        yield lane


@pytest.fixture(params=[("default", False), ("rbt-f", True)], ids=["default-tcp", "rbt-f-rtu"])
async def any_lane(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunningLane]:
    """The lane on both brake profiles and both Modbus transports."""
    profile, rtu = request.param
    async for lane in start_lane(tmp_path, profile, rtu):
        yield lane

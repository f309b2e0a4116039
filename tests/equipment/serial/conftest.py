"""Fixtures for the serial bench tests: a simulator on a real pty and a SerialLink (pyserial) to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from equipment.serial_link import SerialConfig, SerialLink
from simulators.serial_device import SerialDeviceSimulator

# Short limits: the simulators run at time_scale 0.002-0.01, so replies take a few milliseconds.
FAST_CONFIG = SerialConfig(
    port="unset",
    response_timeout_s=0.3,
    idle_gap_s=0.02,
    checksum_retries=2,
    busy_retries=3,
    busy_retry_wait_s=0.01,
    open_attempts=1,
)

Connect = Callable[..., SerialLink]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(simulator, **config_overrides)``: start the simulator, open a link to its pty."""
    started: list[tuple[SerialDeviceSimulator, SerialLink]] = []

    def _connect(simulator: SerialDeviceSimulator, **overrides: object) -> SerialLink:
        path = simulator.start()
        link = SerialLink(replace(FAST_CONFIG, port=path, **overrides))
        started.append((simulator, link))
        link.open()
        return link

    yield _connect
    for simulator, link in reversed(started):
        link.close()
        simulator.stop()

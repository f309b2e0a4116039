"""Shared fixtures: database URLs (SQLite always, PostgreSQL when given), free ports, station keys,
valid inspection records."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

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
from station_agent.record_signer import RecordSigner
from tongjian.commands.keys import write_key_pair

POSTGRES_URL_VARIABLE = "TONGJIAN_TEST_DATABASE_URL"

# Hypothesis' per-example deadline (200 ms) is a timed assertion: on a loaded 2-core CI machine a
# parser example that takes 0.5 ms alone took 277 ms once and failed the run. Speed is measured in
# benchmarks/, not here.
settings.register_profile("tongjian", deadline=None)
settings.load_profile("tongjian")


@pytest.fixture
def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just handed out (for servers that cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Databases:
    """Fresh, empty databases of one kind: SQLite files, or private PostgreSQL databases created
    inside the server named by TONGJIAN_TEST_DATABASE_URL and dropped afterwards, so tests never
    see each other's rows."""

    def __init__(self, kind: str, directory: Path) -> None:
        self._kind = kind
        self._directory = directory
        self._created: list[str] = []
        self._admin: Any = None
        if kind == "postgresql" and not os.environ.get(POSTGRES_URL_VARIABLE):
            pytest.skip(
                f"PostgreSQL variant: set {POSTGRES_URL_VARIABLE} "
                "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
            )

    def new(self, name: str = "hub") -> str:
        if self._kind == "sqlite":
            return f"sqlite:///{self._directory / f'{name}.sqlite3'}"
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        base = os.environ[POSTGRES_URL_VARIABLE]
        database = f"tongjian_test_{uuid.uuid4().hex[:12]}"
        if self._admin is None:
            self._admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        self._created.append(database)
        return make_url(base).set(database=database).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self._admin is None:
            return
        from sqlalchemy import text

        with self._admin.connect() as connection:
            for database in self._created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Databases]:
    """``databases.new(name)``: as many fresh databases of the parametrized kind as a test needs."""
    made = _Databases(request.param, tmp_path)
    try:
        yield made
    finally:
        made.drop_all()


@pytest.fixture
def database_url(databases: _Databases) -> str:
    """A fresh, empty database: a SQLite file, and a private schema-free PostgreSQL database."""
    return databases.new()


STATION_ID = "50-0001"
# Records finish ten minutes apart from here: early enough that even the thousands some tests make
# lie in the past, since the hub refuses records from the future (hub.envelope_check, trusted time).
_START = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)

RecordFactory = Callable[..., InspectionRecord]


def _vin(index: int) -> str:
    body = f"LFV2A21K0NA{index % 1_000_000:06d}"  # position 9 is a placeholder for the check digit
    return body[:8] + vin_check_digit(body) + body[9:]


@pytest.fixture
def make_record() -> RecordFactory:
    """``make_record(index, station_id=STATION_ID)``: a valid, distinct record per index."""

    def make(index: int, station_id: str = STATION_ID) -> InspectionRecord:
        vehicle = Vehicle(
            vin=_vin(index),
            plate=f"渝A{index % 100_000:05d}",
            registration_province="50",
            vehicle_class=VehicleClass.M1,
            fuel=Fuel.PETROL,
            seats=5,
            use=VehicleUse.NON_OPERATING,
            registration_date=date(2020, 5, 1),
            curb_mass_kg=1350,
            max_total_mass_kg=1800,
            axle_count=2,
        )
        curve = BrakeCurve(100, tuple(range(0, 3000, 60)), tuple(range(0, 2900, 58)))
        service = BrakeTest(BrakeKind.SERVICE, 2950.0, 2842.0, 40.0, 35.0, False, False, curve, index)
        started = _START + timedelta(minutes=10 * index)
        return InspectionRecord(
            record_id=uuid.uuid5(uuid.NAMESPACE_URL, f"tongjian-test/{station_id}/{index}"),
            station_id=station_id,
            lane=1,
            vehicle=vehicle,
            started_at=started,
            finished_at=started + timedelta(minutes=8),
            axles=(AxleBrake(1, 420.0, 415.0, service), AxleBrake(2, 260.0, 255.0, service)),
        )

    return make


@dataclass(frozen=True)
class StationKey:
    station_id: str
    private_path: Path
    public_path: Path
    key_id: str


@pytest.fixture
def station_key(tmp_path: Path) -> StationKey:
    """A key pair written the way ``tongjian keys new`` writes it."""
    private_path, public_path, key_id = write_key_pair(STATION_ID, tmp_path / "keys")
    return StationKey(STATION_ID, private_path, public_path, key_id)


@pytest.fixture
def signer(station_key: StationKey) -> RecordSigner:
    return RecordSigner.from_pem_file(station_key.station_id, station_key.private_path)


# The browser tests' fixtures (Debian's Chromium, a loop thread for servers, screenshots).
from tests.browser_rig import chromium, chromium_endpoint, loop_thread, screens  # noqa: E402, F401

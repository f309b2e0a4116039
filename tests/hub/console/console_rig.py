"""A hub with its staff console on a real port, in a loop thread, with records in its review queue,
a registered vehicle, an issued label, a station with its key, and one person of each role."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.console.roles import StaffRole
from hub.console.staff_directory import StaffDirectory
from hub.review_screening import ReviewConfig
from hub.server import HubConfig, HubServer
from inspection import BrakeCurve
from inspection.vehicle_register_csv import RegisterRow
from inspection.verdicts import judge
from tests.browser_rig import LoopThread
from tests.hub.review_support import ramp, record, store_records

STATION = "50-0001"


@dataclass
class ConsoleHub:
    hub: HubServer
    url: str
    passwords: dict[StaffRole, str]
    vins: list[str]
    key_id: str
    people: dict[StaffRole, str] = field(default_factory=dict)

    def audit(self, kind: str) -> list[Any]:
        return self.hub.store.audit_events(500, kind)


def sign_in(page: Any, hub: ConsoleHub, role: StaffRole) -> None:
    page.goto(hub.url + "/sign-in")
    page.fill("#person_id", hub.people[role])
    page.fill("#password", hub.passwords[role])
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.content())
    assert found is not None
    return found.group(1)


@pytest.fixture(scope="module")
def console_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleHub]:
    directory: Path = tmp_path_factory.mktemp("console-hub")
    thread = LoopThread()
    label_key = Ed25519PrivateKey.generate()
    config = HubConfig(
        database_url=f"sqlite:///{directory / 'hub.sqlite3'}",
        console_listen="127.0.0.1:0",
        label_key=label_key,
        label_settle_s=0.0,
        review=ReviewConfig(sample_rate=0.0),
    )
    hub = HubServer(config)
    thread.run(hub.start())
    try:
        store = hub.store
        station_key = Ed25519PrivateKey.generate()
        pem = station_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        store.register_station(STATION, province="50")
        key_id = store.add_station_key(STATION, pem)
        curve = BrakeCurve(100, ramp(120, 2950), ramp(120, 2842))
        # Too fast to be true (half a minute for a whole visit): each is flagged for review.
        records = [record(i, STATION, minutes=0.5, curve=curve) for i in range(1, 4)]
        records = [dataclasses.replace(r, station_verdict=judge(r)) for r in records]
        store_records(
            store, records, datetime.now(UTC) - timedelta(minutes=30), signing=(key_id, station_key)
        )
        store.vehicles.import_rows(
            [RegisterRow(1, r.vehicle, f"owner-{i}") for i, r in enumerate(records)], "50"
        )
        hub.review.screen_all()
        assert hub.labels is not None
        hub.labels.issue_pending()
        staff = StaffDirectory(store.database)
        people = {
            StaffRole.REVIEWER: "wang.reviewer",
            StaffRole.SENIOR_REVIEWER: "zhao.senior",
            StaffRole.REGISTRY_CLERK: "liu.clerk",
            StaffRole.ADMIN: "chen.admin",
        }
        passwords = {role: staff.issue(person, role) for role, person in people.items()}
        yield ConsoleHub(
            hub,
            f"http://127.0.0.1:{hub.console_port}",
            passwords,
            [r.vehicle.vin for r in records],
            key_id,
            people,
        )
    finally:
        thread.run(hub.stop())
        thread.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at desk size."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()

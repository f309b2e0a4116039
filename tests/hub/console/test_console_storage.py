"""The console's storage on SQLite and PostgreSQL, without a browser: people and their Argon2id
hashes, sessions that expire and end with a re-issued or revoked password, and the dashboard's
queries (the hourly buckets are dialect-specific)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from hub.console.dashboard import read_dashboard
from hub.console.roles import PERMISSIONS, Permission, StaffRole, allowed
from hub.console.sessions import SessionBook
from hub.console.staff_directory import StaffDirectory, StaffDirectoryError
from hub.models import ConsoleStaff
from hub.store import HubStore
from tests.hub.review_support import Clock, record, store_records


@pytest.fixture
def hub_store(database_url: str) -> Iterator[HubStore]:
    store = HubStore(database_url)
    store.migrate()
    try:
        yield store
    finally:
        store.dispose()


def test_a_password_is_kept_only_as_an_argon2id_hash_and_checked_against_it(hub_store: HubStore) -> None:
    staff = StaffDirectory(hub_store.database)
    password = staff.issue("wang.reviewer", StaffRole.REVIEWER, "Wang Fang")
    with hub_store.database.read() as session:
        row = session.get(ConsoleStaff, "wang.reviewer")
        assert row is not None
        assert row.password_hash.startswith("$argon2id$") and password not in row.password_hash
    member = staff.authenticate("wang.reviewer", password)
    assert member is not None and member.role is StaffRole.REVIEWER and member.name == "Wang Fang"
    assert staff.authenticate("wang.reviewer", password + "x") is None
    assert staff.authenticate("nobody", password) is None
    with pytest.raises(StaffDirectoryError, match="person id"):
        staff.issue("-bad id", StaffRole.ADMIN)


def test_sessions_expire_and_end_when_the_password_is_reissued_or_revoked(hub_store: HubStore) -> None:
    staff = StaffDirectory(hub_store.database)
    clock = Clock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    sessions = SessionBook(hub_store.database, timedelta(hours=8), clock)
    password = staff.issue("liu.clerk", StaffRole.REGISTRY_CLERK)
    member = staff.authenticate("liu.clerk", password)
    assert member is not None
    token, session = sessions.open(member)
    found = sessions.find(token)
    assert (
        found is not None
        and found.role is StaffRole.REGISTRY_CLERK
        and found.csrf_token == session.csrf_token
    )
    assert sessions.find(token + "x") is None
    clock.now += timedelta(hours=8)
    assert sessions.find(token) is None  # expired

    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    token, _ = sessions.open(member)
    staff.issue("liu.clerk", StaffRole.ADMIN)  # re-issued (with another role): the old session ends
    assert sessions.find(token) is None
    member = staff.authenticate("liu.clerk", "wrong")
    assert member is None
    again = staff.get("liu.clerk")
    assert again is not None
    token, _ = sessions.open(again)
    assert staff.revoke("liu.clerk")
    assert sessions.find(token) is None
    assert not staff.revoke("liu.clerk")


def test_the_dashboard_counts_pass_rates_anomalies_and_records_per_hour(hub_store: HubStore) -> None:
    now = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    store_records(hub_store, [record(i, "50-0001") for i in range(3)], now - timedelta(hours=2))
    store_records(hub_store, [record(i, "50-0002") for i in range(3, 5)], now - timedelta(minutes=5), "fail")
    store_records(hub_store, [record(9, "50-0002")], now - timedelta(days=3))  # outside the window
    board = read_dashboard(hub_store.database, now)
    rates = {s.station_id: (s.records, s.passed, s.failed) for s in board.stations}
    assert rates == {"50-0001": (3, 3, 0), "50-0002": (3, 1, 2)}
    assert board.total_records == 6
    assert len(board.ingest_by_hour) == 24
    counts = {h.hour: h.records for h in board.ingest_by_hour if h.records}
    assert counts == {datetime(2026, 11, 30, 8, tzinfo=UTC): 3, datetime(2026, 11, 30, 10, tzinfo=UTC): 2}


def test_every_permission_has_roles_and_only_reviewers_review() -> None:
    assert set(PERMISSIONS) == set(Permission)
    assert {r for r in StaffRole if allowed(r, Permission.REVIEW)} == {
        StaffRole.REVIEWER,
        StaffRole.SENIOR_REVIEWER,
    }
    assert {r for r in StaffRole if allowed(r, Permission.STATIONS)} == {StaffRole.ADMIN}

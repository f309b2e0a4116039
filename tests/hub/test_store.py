"""The hub's store on SQLite and PostgreSQL: schema from migrations, station directory, audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from hub.audit import append_audit
from hub.models import Base, Record
from hub.records import ROW_COLUMNS
from hub.store import AuditEntry, HubStore, HubStoreError, InvalidStationKey, UnknownKeyId, UnknownStation


@pytest.fixture
def store(database_url: str) -> Iterator[HubStore]:
    hub_store = HubStore(database_url)
    hub_store.migrate()
    yield hub_store
    hub_store.dispose()


def test_migrations_build_exactly_the_models_schema_and_run_twice(store: HubStore, database_url: str) -> None:
    store.migrate()  # a second run is a no-op
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_the_record_row_is_the_records_table_without_its_sequence_number() -> None:
    # RecordRow and the model are the two declarations of the record shape; this holds them together.
    assert set(ROW_COLUMNS) == set(Record.metadata.tables["records"].columns.keys()) - {"seq"}


class _Abandoned(Exception):
    pass


def test_an_audit_entry_commits_or_rolls_back_with_the_callers_transaction(store: HubStore) -> None:
    with pytest.raises(_Abandoned), store.database.write() as session:
        append_audit(session.connection(), [AuditEntry("note", "rolled back with its unit of work")])
        raise _Abandoned
    assert store.audit_events(kind="note") == []
    with store.database.write() as session:
        append_audit(session.connection(), [AuditEntry("note", "kept")])
    assert [event.detail for event in store.audit_events(kind="note")] == ["kept"]
    assert store.verify_audit_chain().ok


def test_station_directory_rejects_bad_input_with_typed_errors(store: HubStore, station_key) -> None:  # type: ignore[no-untyped-def]
    public_pem = station_key.public_path.read_bytes()
    with pytest.raises(UnknownStation, match="50-0001"):
        store.add_station_key("50-0001", public_pem)
    store.register_station("50-0001", province="50")
    store.register_station("50-0001", province="50")  # idempotent
    with pytest.raises(InvalidStationKey, match="50-0001"):
        store.add_station_key("50-0001", b"not a key")
    with pytest.raises(HubStoreError, match="time zone"):
        store.add_station_key("50-0001", public_pem, valid_from=datetime(2026, 1, 1))
    assert store.add_station_key("50-0001", public_pem) == station_key.key_id
    assert store.add_station_key("50-0001", public_pem) == station_key.key_id
    with pytest.raises(UnknownKeyId, match="50-0001/0000"):
        store.revoke_key("50-0001/0000")
    kinds = [event.kind for event in store.audit_events()]
    assert kinds == ["key_added", "station_registered"]


def test_the_audit_chain_verifies_and_pinpoints_an_edited_row(store: HubStore, database_url: str) -> None:
    store.append_audit(
        [AuditEntry("note", f"event {n}", at=datetime(2026, 1, 1, tzinfo=UTC)) for n in range(5)]
    )
    store.append_audit([AuditEntry("note", "event 5")])
    check = store.verify_audit_chain()
    assert (check.ok, check.rows_checked) == (True, 6)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE audit_events SET detail = 'event x' WHERE seq = 3"))
    finally:
        engine.dispose()
    check = store.verify_audit_chain()
    assert (check.ok, check.first_bad_seq) == (False, 3)
    assert "edited" in check.problem


def test_the_audit_chain_notices_a_deleted_row_and_a_cut_tail(store: HubStore, database_url: str) -> None:
    store.append_audit([AuditEntry("note", f"event {n}") for n in range(4)])
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_events WHERE seq = 4"))
        check = store.verify_audit_chain()
        assert (check.ok, check.first_bad_seq) == (False, 4)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM audit_events WHERE seq = 2"))
        check = store.verify_audit_chain()
        # The removed entry itself is named, not the one that follows the gap.
        assert (check.ok, check.first_bad_seq) == (False, 2)
        assert "missing" in check.problem
    finally:
        engine.dispose()


def test_an_unsupported_database_url_is_refused() -> None:
    with pytest.raises(HubStoreError, match="mysql"):
        HubStore("mysql://localhost/hub")

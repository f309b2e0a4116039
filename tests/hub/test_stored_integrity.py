"""Records stay verified after they are stored: a row edited in the database (plate and verdict)
or deleted is named by ``hub audit verify`` and shown as TAMPERED by every reader instead of its
content; a database from before the audit covered records upgrades (migration 0002) and verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, delete, insert, update

from hub.db import alembic_config
from hub.models import Record
from hub.server import HubServer
from hub.store import HubStore, SchemaNotCurrent
from protos.tongjian.v1 import ingest_pb2
from tongjian.cli import main


def _edit(url: str, record_id: str, **values: object) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(Record).where(Record.record_id == record_id).values(**values))
    engine.dispose()


def _delete(url: str, record_id: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(delete(Record).where(Record.record_id == record_id))
    engine.dispose()


@pytest.fixture
async def stored(hub_config, enrol, submit, make_record, station_key, database_url):  # type: ignore[no-untyped-def]
    """Three records stored through a real hub; yields (database url, record ids)."""
    records = [make_record(i) for i in range(3)]
    async with HubServer(hub_config()) as hub:
        station = enrol(hub, station_key)
        outcome = await submit(hub.port, [station.seal(r) for r in records])
        assert [a.status for a in outcome.acks] == [ingest_pb2.ACK_STATUS_ACCEPTED] * 3
    return database_url, [str(r.record_id) for r in records]


def test_untouched_records_verify_and_the_audit_covers_them(stored, capsys) -> None:  # type: ignore[no-untyped-def]
    url, _ids = stored
    store = HubStore(url)
    try:
        checks = store.check_records(store.list_records())
        check = store.verify_audit_chain()
    finally:
        store.dispose()
    assert all(c.ok for c in checks) and len(checks) == 3
    assert check.ok and check.records_checked == 3


def test_an_edited_plate_and_verdict_are_named_by_audit_verify_and_shown_tampered(stored, capsys) -> None:  # type: ignore[no-untyped-def]
    url, ids = stored
    verdict = {"overall": "pass", "items": []}
    _edit(url, ids[1], plate="渝A99999", hub_overall="pass", hub_verdict=verdict)
    assert main(["hub", "audit", "verify", "--database-url", url]) == 1
    out = capsys.readouterr().out
    assert f"record {ids[1]} of station 50-0001 was edited" in out
    assert main(["hub", "records", "--format", "json", "--database-url", url]) == 0
    rows = {row["record_id"]: row for row in json.loads(capsys.readouterr().out)["records"]}
    assert rows[ids[1]]["verified"] is False
    assert "column plate says '渝A99999'" in rows[ids[1]]["problems"][0]
    assert "plate" not in rows[ids[1]]  # a tampered record's content is not shown
    assert rows[ids[0]]["verified"] is True and rows[ids[0]]["plate"]


def test_a_verdict_edit_alone_is_caught_by_the_audit_commitment(stored, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url, ids = stored
    _edit(url, ids[0], hub_overall="pass", hub_verdict={"overall": "pass", "items": []})
    status = main(["report", ids[0], "--database-url", url, "--out", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert status == 1
    assert "TAMPERED" in captured.out and "audit log" in captured.out
    assert not (tmp_path / "r").exists()  # no report drawn from a tampered record


def test_a_deleted_record_is_named_by_audit_verify(stored, capsys) -> None:  # type: ignore[no-untyped-def]
    url, ids = stored
    _delete(url, ids[2])
    assert main(["hub", "audit", "verify", "--database-url", url]) == 1
    assert f"record {ids[2]} of station 50-0001 was deleted" in capsys.readouterr().out


def test_edited_payload_bytes_fail_the_signature(stored, capsys) -> None:  # type: ignore[no-untyped-def]
    url, ids = stored
    store = HubStore(url)
    try:
        original = store.get_record(ids[0])
        assert original is not None
        _edit(url, ids[0], payload=original.payload.replace(b"50-0001", b"50-0009"))
        (check,) = store.check_records([store.get_record(ids[0])])  # type: ignore[list-item]
    finally:
        store.dispose()
    assert not check.ok
    assert any("signature does not verify" in p for p in check.problems)
    assert any("sha256" in p for p in check.problems)


async def test_a_database_from_revision_0001_upgrades_and_its_records_verify(
    hub_config, enrol, submit, make_record, station_key, database_url, capsys
) -> None:  # type: ignore[no-untyped-def]
    # Records stored by this hub, then the database put back to what 0001 held: no record_stored
    # events, no index (the rows themselves are what a 0001 hub wrote).
    async with HubServer(hub_config()) as hub:
        station = enrol(hub, station_key)
        await submit(hub.port, [station.seal(make_record(i)) for i in range(2)])
    engine = create_engine(database_url)
    with engine.begin() as connection:
        rows = [dict(row._mapping) for row in connection.execute(Record.__table__.select())]
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        connection.exec_driver_sql("DELETE FROM audit_events")
        connection.exec_driver_sql("UPDATE audit_head SET seq = 0, hash = '" + "0" * 64 + "' WHERE id = 1")
        connection.execute(Record.__table__.delete())
        connection.execute(insert(Record.__table__), rows)
    engine.dispose()
    assert main(["hub", "migrate", "--current", "--database-url", database_url]) == 0
    assert "0001" in capsys.readouterr().out
    head = HubStore.head_revision()  # 0002 brought the backfill; later revisions go on top
    with pytest.raises(
        SchemaNotCurrent, match=f"revision 0001, this hub needs {head}: run `tongjian hub migrate`"
    ):
        await HubServer(hub_config(migrate_schema=False)).start()
    assert main(["hub", "migrate", "--database-url", database_url]) == 0
    assert head in capsys.readouterr().out
    assert main(["hub", "audit", "verify", "--database-url", database_url]) == 0
    assert "2 records" in capsys.readouterr().out
    store = HubStore(database_url)
    try:
        assert all(check.ok for check in store.check_records(store.list_records()))
    finally:
        store.dispose()

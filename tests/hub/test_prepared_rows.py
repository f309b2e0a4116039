"""Rows prepared in the check workers (``hub.records.PreparedRow``: digest and verdict JSON made
before the writer) are stored exactly as rows the writer prepares itself: the same column text,
the same audit commitment, and they verify when read back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from hub.envelope_check import EnvelopeLimits, KnownKey
from hub.record_checker import CheckedRecord, CheckRequest, check_one
from hub.record_integrity import canonical_json, stored_row_digest
from hub.records import RecordRow, prepare_row
from hub.store import HubStore
from hub.verdict import VerdictJudge, verdict_to_json
from inspection import Outcome, Verdict, VerdictItem
from protos.envelope import key_id_of, raw_public_key, seal
from protos.record_mapping import record_to_bytes
from simulators.realistic_record import realistic_record

STATION = "50-0001"


def _checked_rows(private: Ed25519PrivateKey, count: int) -> list[CheckedRecord]:
    key_id = key_id_of(STATION, private.public_key())
    keys = {key_id: KnownKey(key_id, STATION, private.public_key())}
    received = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    results = []
    for index in range(count):
        raw = seal(record_to_bytes(realistic_record(index, STATION)), key_id, private).SerializeToString()
        result = check_one(CheckRequest(raw, received, None), keys, EnvelopeLimits(), VerdictJudge(None))
        assert isinstance(result, CheckedRecord)
        results.append(result)
    return results


def _stored(store: HubStore) -> list[tuple[Any, ...]]:
    with store.database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT record_id, CAST(hub_verdict AS TEXT) FROM records ORDER BY record_id")
        ).all()
        details = connection.execute(
            text("SELECT record_id, detail FROM audit_events WHERE kind = 'record_stored' ORDER BY record_id")
        ).all()
    return [tuple(row) for row in rows] + [tuple(row) for row in details]


def test_prepared_rows_store_and_verify_exactly_as_rows_prepared_by_the_writer(databases: Any) -> None:
    private = Ed25519PrivateKey.generate()
    checked = _checked_rows(private, 3)
    stores = [HubStore(databases.new()), HubStore(databases.new())]
    try:
        for store in stores:
            store.migrate()
            store.register_station(STATION)
            store.add_station_key(STATION, raw_public_key(private.public_key()))
        by_worker, by_writer = stores
        by_worker.commit_batch([result.prepared for result in checked])
        by_writer.commit_batch([result.row for result in checked])
        assert _stored(by_worker) == _stored(by_writer)
        read_back = by_worker.list_records(10)
        assert sorted(read_back, key=lambda r: r.record_id) == sorted(
            (result.row for result in checked), key=lambda r: r.record_id
        )
        assert all(check.ok for check in by_worker.check_records(read_back))
    finally:
        for store in stores:
            store.dispose()


_ITEMS = st.lists(
    st.builds(
        VerdictItem,
        code=st.text(min_size=1, max_size=12),
        clause=st.text(max_size=12),
        measured=st.none() | st.floats(allow_nan=True, allow_infinity=True),
        limit=st.none() | st.floats(allow_nan=False, allow_infinity=False),
        unit=st.sampled_from(["", "%", "N", "cd"]),
        outcome=st.sampled_from([Outcome.PASS, Outcome.FAIL, Outcome.CANNOT_JUDGE]),
        note=st.text(max_size=20),
    ),
    max_size=6,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(items=_ITEMS, seconds=st.integers(min_value=0, max_value=10**8))
def test_a_prepared_row_has_the_digest_and_json_the_writer_would_make(
    items: list[VerdictItem], seconds: int
) -> None:
    verdict = verdict_to_json(Verdict(tuple(items))) if items else None
    row = RecordRow(
        station_id=STATION,
        record_id="5f0c4b1e-1111-4a8e-9c55-000000000001",
        key_id="50-0001:abc",
        payload=b"payload",
        payload_sha256=hashlib.sha256(b"payload").hexdigest(),
        signature=b"s" * 64,
        received_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds),
        vin="LFV2A21K0NA000001",
        plate="渝A00001",
        finished_at=datetime(2026, 1, 1, tzinfo=UTC),
        station_overall=None,
        hub_overall=None if verdict is None else verdict["overall"],
        hub_verdict=verdict,
        verdict_mismatch=False,
    )
    prepared = prepare_row(row)
    assert prepared.digest == stored_row_digest(row.columns()) == _digest_as_first_defined(row.columns())
    assert (
        prepared.hub_verdict_json is None
        if verdict is None
        else json.loads(prepared.hub_verdict_json) == verdict
    )


def _digest_as_first_defined(row: dict[str, Any]) -> str:
    """``stored_row_digest`` as migration 0002 backfilled it: one ``json.dumps`` of every column.
    A stored contract (the audit log holds these digests), so it is kept here word for word."""
    canonical = json.dumps(
        {
            "station_id": row["station_id"],
            "record_id": row["record_id"],
            "key_id": row["key_id"],
            "payload_sha256": row["payload_sha256"],
            "signature": bytes(row["signature"]).hex(),
            "received_at": row["received_at"].astimezone(UTC).isoformat(),
            "vin": row["vin"],
            "plate": row["plate"],
            "finished_at": row["finished_at"].astimezone(UTC).isoformat(),
            "station_overall": row["station_overall"],
            "hub_overall": row["hub_overall"],
            "hub_verdict": row["hub_verdict"],
            "verdict_mismatch": bool(row["verdict_mismatch"]),
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(
    texts=st.lists(_TEXT, min_size=6, max_size=6),
    verdict=st.none() | st.dictionaries(_TEXT, st.none() | st.integers() | st.floats() | _TEXT, max_size=5),
    overall=st.none() | st.sampled_from(["PASS", "FAIL"]),
    mismatch=st.booleans(),
)
def test_the_row_digest_is_the_digest_first_defined_for_any_columns(
    texts: list[str], verdict: dict[str, Any] | None, overall: str | None, mismatch: bool
) -> None:
    station, record, key, plate, vin, sha = texts
    columns = {
        "station_id": station, "record_id": record, "key_id": key, "payload_sha256": sha,
        "signature": b"\x00\xff" * 32, "received_at": datetime(2026, 1, 1, tzinfo=UTC),
        "vin": vin, "plate": plate, "finished_at": datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "station_overall": overall, "hub_overall": overall, "hub_verdict": verdict, "verdict_mismatch": mismatch,
    }  # fmt: skip
    expected = _digest_as_first_defined(columns)
    assert stored_row_digest(columns) == expected
    assert stored_row_digest(columns, canonical_json(verdict)) == expected

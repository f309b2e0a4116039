"""The hub's stored verdict is the proto's JSON form; verdicts stored in the old hand-written form
still read back (a row written the old way, on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import HubError
from hub.records import RecordRow
from hub.store import HubStore
from hub.verdict import MalformedStoredVerdict, VerdictJudge, verdict_from_json, verdict_to_json
from inspection import Outcome, Verdict, VerdictItem
from inspection.verdicts import judge
from protos.envelope import load_private_key, seal
from protos.record_mapping import record_to_bytes, verdict_to_proto

VERDICT = Verdict(
    (
        VerdictItem("brake.service.axle1.sum", "GB 7258-2017 7.13.1.1", 62.5, 60.0, "%", Outcome.PASS),
        VerdictItem("visual.tyres", "GB 38900-2020 6.4", None, None, "", Outcome.FAIL, "tread worn"),
    )
)


def _old_form(verdict: Verdict) -> dict[str, Any]:
    """What the ingest service wrote by hand before the verdict JSON came from the proto."""
    return {
        "overall": verdict.overall.value,
        "items": [
            {
                "code": item.code,
                "clause": item.clause,
                "measured": item.measured,
                "limit": item.limit,
                "unit": item.unit,
                "outcome": item.outcome.value,
                "note": item.note,
            }
            for item in verdict.items
        ],
    }


def test_the_stored_verdict_is_the_json_form_of_the_verdict_message() -> None:
    expected = json_format.MessageToDict(verdict_to_proto(VERDICT), preserving_proto_field_name=True)
    assert verdict_to_json(VERDICT) == expected
    assert verdict_from_json(verdict_to_json(VERDICT)) == VERDICT


def test_a_verdict_in_the_old_hand_written_form_still_reads() -> None:
    assert verdict_from_json(_old_form(VERDICT)) == VERDICT


def test_a_malformed_stored_verdict_is_a_hub_error_naming_what_is_wrong() -> None:
    with pytest.raises(MalformedStoredVerdict, match="extra") as raised:
        verdict_from_json({"overall": "OUTCOME_PASS", "items": [], "extra": 1})
    assert isinstance(raised.value, HubError)
    with pytest.raises(MalformedStoredVerdict, match=r"items\[0\]\.outcome"):
        verdict_from_json(
            {"overall": "pass", "items": [{**_old_form(VERDICT)["items"][0], "outcome": "maybe"}]}
        )


def test_a_row_written_the_old_way_verifies_and_reads_back(  # type: ignore[no-untyped-def]
    database_url: str, make_record, station_key
) -> None:
    record = make_record(1)
    hub_verdict = judge(record)
    payload = record_to_bytes(record)
    store = HubStore(database_url)
    try:
        store.migrate()
        store.register_station(record.station_id, "50")
        key_id = store.add_station_key(record.station_id, station_key.public_path.read_bytes())
        signature = seal(payload, key_id, load_private_key(station_key.private_path.read_bytes())).signature
        store.commit_batch(
            [
                RecordRow(
                    station_id=record.station_id,
                    record_id=str(record.record_id),
                    key_id=key_id,
                    payload=payload,
                    payload_sha256=hashlib.sha256(payload).hexdigest(),
                    signature=signature,
                    received_at=datetime.now(UTC),
                    vin=record.vehicle.vin,
                    plate=record.vehicle.plate,
                    finished_at=record.finished_at,
                    station_overall=None,
                    hub_overall=hub_verdict.overall.value,
                    hub_verdict=_old_form(hub_verdict),
                    verdict_mismatch=False,
                )
            ]
        )
        stored = store.get_record(str(record.record_id))
        assert stored is not None and stored.hub_verdict is not None
        assert store.check_records([stored])[0].ok
        assert verdict_from_json(stored.hub_verdict) == hub_verdict
    finally:
        store.dispose()


def test_the_hub_judges_with_the_rules_even_when_the_rules_module_cannot_be_imported_later(  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch, make_record
) -> None:
    # The rules are a dependency of the hub, imported with it: no record is ever stored without
    # a hub verdict because an import failed at the first record (it used to be logged and skipped).
    record = make_record(1)
    monkeypatch.setitem(sys.modules, "inspection.verdicts", None)  # any import of it now fails
    assert VerdictJudge(None)(record) == judge(record)


_TEXT = st.text(max_size=20)
_DOUBLE = st.none() | st.floats(allow_nan=True, allow_infinity=True)


@given(
    st.lists(
        st.builds(VerdictItem, _TEXT, _TEXT, _DOUBLE, _DOUBLE, _TEXT, st.sampled_from(Outcome), _TEXT),
        max_size=8,
    )
)
def test_the_stored_verdict_is_exactly_the_protos_json_form(items: list[VerdictItem]) -> None:
    verdict = Verdict(tuple(items))
    expected = json_format.MessageToDict(verdict_to_proto(verdict), preserving_proto_field_name=True)
    assert verdict_to_json(verdict) == expected

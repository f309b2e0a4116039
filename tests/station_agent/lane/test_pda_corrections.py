"""A finding is never silently replaced: a second result for an item is a correction with a reason,
and the signed record keeps every entry. Before this, inspector 08's "pass" overwrote inspector
07's "fail: worn tyre" and the signed record kept no trace of it."""

from __future__ import annotations

import grpc
import pytest

from protos.record_mapping import record_from_proto, record_to_proto
from protos.tongjian.v1 import lane_pb2
from tests.station_agent.lane.pda_rig import (
    Pda,
    refused,
    visual_record,
)


async def sign_in(pda: Pda, inspector: str) -> str:
    credential = pda.issue(inspector)
    reply = await pda.stub.SignIn(lane_pb2.SignInRequest(inspector_id=inspector, credential=credential))
    return reply.session_token


def submit(pda: Pda, token: str, record_id: str, *entries: lane_pb2.CheckItem) -> object:
    return pda.stub.SubmitChecks(
        lane_pb2.SubmitChecksRequest(session_token=token, record_id=record_id, items=list(entries))
    )


async def test_a_second_result_without_a_reason_is_refused(pda: Pda) -> None:
    record_id = await visual_record(pda)
    await submit(
        pda, pda.token, record_id, lane_pb2.CheckItem(item_code="0102", passed=False, note="worn tyre")
    )
    other = await sign_in(pda, "insp-08")
    error = await refused(submit(pda, other, record_id, lane_pb2.CheckItem(item_code="0102", passed=True)))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "0102" in (error.details() or "") and "reason" in (error.details() or "")


async def test_the_signed_record_keeps_every_entry_and_judges_the_latest(pda: Pda) -> None:
    record_id = await visual_record(pda)
    await submit(
        pda, pda.token, record_id,
        lane_pb2.CheckItem(item_code="0101", passed=True),
        lane_pb2.CheckItem(item_code="0102", passed=False, note="worn tyre"),
    )  # fmt: skip
    other = await sign_in(pda, "insp-08")
    await submit(
        pda, other, record_id,
        lane_pb2.CheckItem(item_code="0102", passed=True, note="tyre replaced", reason="tyre changed on site"),
    )  # fmt: skip
    await pda.stub.Complete(lane_pb2.CompleteRequest(session_token=pda.token, record_id=record_id))
    (record,) = pda.lane.completed
    entries = [
        (c.item_code, c.passed, c.note, c.inspector_id, c.correction_reason) for c in record.visual_checks
    ]
    assert entries == [
        ("0101", True, "", "insp-07", ""),
        ("0102", False, "worn tyre", "insp-07", ""),
        ("0102", True, "tyre replaced", "insp-08", "tyre changed on site"),
    ]
    times = [c.recorded_at for c in record.visual_checks]
    assert all(t is not None and t.tzinfo is not None for t in times) and times == sorted(times)
    # the entries survive the signed bytes exactly
    assert record_from_proto(record_to_proto(record)) == record
    assert record.station_verdict is not None
    visual = {i.code: i for i in record.station_verdict.items if i.code.startswith("visual.")}
    assert sorted(visual) == ["visual.0101", "visual.0102"]  # one verdict item per item: the latest entry
    assert visual["visual.0102"].outcome.value == "pass"
    assert "tyre changed on site" in visual["visual.0102"].note


@pytest.mark.parametrize("reason", ["x" * 501])
async def test_a_reason_beyond_the_text_limit_is_refused(pda: Pda, reason: str) -> None:
    record_id = await visual_record(pda)
    await submit(pda, pda.token, record_id, lane_pb2.CheckItem(item_code="0101", passed=False))
    error = await refused(
        submit(pda, pda.token, record_id, lane_pb2.CheckItem(item_code="0101", passed=True, reason=reason))
    )
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT and "at most 500" in (error.details() or "")


def test_judging_takes_the_latest_entry_per_item_and_old_records_still_parse() -> None:
    from datetime import UTC, datetime

    from inspection import VisualCheck
    from inspection.verdict import Outcome
    from inspection.verdicts import visual_items
    from protos.tongjian.v1 import inspection_pb2

    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    entries = (
        VisualCheck("0102", False, "worn tyre", "insp-07", at),
        VisualCheck("0101", True, "", "insp-07", at),
        VisualCheck("0102", True, "", "insp-08", at, correction_reason="tyre changed on site"),
    )
    judged = visual_items(entries)
    assert [(i.code, i.outcome) for i in judged] == [
        ("visual.0102", Outcome.PASS),
        ("visual.0101", Outcome.PASS),
    ]
    assert "insp-08" in judged[0].note and "tyre changed on site" in judged[0].note

    # A record signed before entries were timed: no recorded_at, no reason; it parses to None / ""
    # and serializes back to the very bytes that were signed.
    old = inspection_pb2.VisualCheck(item_code="0101", passed=True, note="", inspector_id="insp-07")
    from protos.record_mapping import _visual_check_from_proto, _visual_check_to_proto

    parsed = _visual_check_from_proto(old, "visual_checks[0]")
    assert (parsed.recorded_at, parsed.correction_reason) == (None, "")
    assert _visual_check_to_proto(parsed).SerializeToString(deterministic=True) == old.SerializeToString(
        deterministic=True
    )

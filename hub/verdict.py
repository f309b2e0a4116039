"""The hub's own verdict on a record, and that verdict as stored JSON."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from google.protobuf import json_format

from hub.errors import HubError
from inspection import InspectionRecord, Outcome, Verdict, VerdictItem
from inspection.verdicts import judge as judge_by_the_rules
from protos.record_mapping import MalformedRecord, verdict_from_proto, verdict_to_proto
from protos.tongjian.v1 import inspection_pb2 as pb

log = logging.getLogger(__name__)

Judge = Callable[[InspectionRecord], Verdict]


class VerdictJudge:
    """The hub's own verdict, by ``inspection.verdicts.judge`` unless a judge is configured.

    A judge that raises on one record is a bug in the rules, not in the record: that record is
    stored without a hub verdict (``hub_verdict`` NULL) and the failure logged with its traceback.
    """

    def __init__(self, judge: Judge | None) -> None:
        self._judge: Judge = judge if judge is not None else judge_by_the_rules

    def __call__(self, record: InspectionRecord) -> Verdict | None:
        try:
            return self._judge(record)
        except Exception:
            log.exception("judging record %s failed; stored without a hub verdict", record.record_id)
            return None


def verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    """The verdict as stored in ``records.hub_verdict``: the JSON form of ``tongjian.v1.Verdict``
    (field names as in the .proto, enums by name, unset optional values left out).

    Built directly rather than by ``json_format.MessageToDict`` over the proto, which cost as much
    as parsing the record (a four-axle record's verdict has ~80 items); the result is the same
    dict, which ``tests/hub/test_verdict_json.py`` checks against ``MessageToDict`` for any verdict.
    """
    items = []
    for item in verdict.items:
        entry: dict[str, Any] = {}
        # proto3 JSON leaves out strings that are empty and keeps optional doubles that are set
        if item.code:
            entry["code"] = item.code
        if item.clause:
            entry["clause"] = item.clause
        if item.measured is not None:
            entry["measured"] = _json_double(item.measured)
        if item.limit is not None:
            entry["limit"] = _json_double(item.limit)
        if item.unit:
            entry["unit"] = item.unit
        entry["outcome"] = _OUTCOME_NAMES[item.outcome]
        if item.note:
            entry["note"] = item.note
        items.append(entry)
    result: dict[str, Any] = {"overall": _OUTCOME_NAMES[verdict.overall]}
    if items:
        result["items"] = items
    return result


def _json_double(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


# The proto's enum names, as MessageToDict writes them (none of them is the unset value 0).
_OUTCOME_NAMES = {
    outcome: pb.Outcome.Name(
        verdict_to_proto(Verdict((VerdictItem("", "", None, None, "", outcome),))).items[0].outcome
    )
    for outcome in Outcome
}


def verdict_from_json(data: Mapping[str, Any]) -> Verdict:
    """A stored verdict back as a ``Verdict``; reads both the proto JSON form and the hand-written
    form stored before it (``overall`` and ``outcome`` as ``inspection.Outcome`` values)."""
    if data.get("overall") in _OLD_FORM_OUTCOMES:
        return _verdict_from_old_form(data)
    try:
        message = json_format.ParseDict(dict(data), pb.Verdict())
        return verdict_from_proto(message)
    except (json_format.ParseError, MalformedRecord) as error:
        raise MalformedStoredVerdict(f"the hub's stored verdict is malformed: {error}") from error


class MalformedStoredVerdict(HubError):
    """A ``records.hub_verdict`` value that is neither verdict JSON form; the message says where."""


_OLD_FORM_OUTCOMES = frozenset(outcome.value for outcome in Outcome)


def _verdict_from_old_form(data: Mapping[str, Any]) -> Verdict:
    items = []
    for index, item in enumerate(data.get("items", ())):
        path = f"items[{index}]"
        try:
            items.append(
                VerdictItem(
                    code=str(item["code"]),
                    clause=str(item["clause"]),
                    measured=None if item["measured"] is None else float(item["measured"]),
                    limit=None if item["limit"] is None else float(item["limit"]),
                    unit=str(item["unit"]),
                    outcome=_old_form_outcome(item["outcome"], f"{path}.outcome"),
                    note=str(item.get("note", "")),
                )
            )
        except KeyError as error:
            raise MalformedStoredVerdict(
                f"the hub's stored verdict is malformed: {path} has no {error}"
            ) from error
        except (TypeError, ValueError) as error:
            raise MalformedStoredVerdict(f"the hub's stored verdict is malformed: {path}: {error}") from error
    return Verdict(tuple(items))


def _old_form_outcome(value: object, path: str) -> Outcome:
    if value not in _OLD_FORM_OUTCOMES:
        raise MalformedStoredVerdict(
            f"the hub's stored verdict is malformed: {path} is {value!r}, not one of {sorted(_OLD_FORM_OUTCOMES)}"
        )
    return Outcome(value)

"""A stored record stays verified: whoever reads one (``tongjian report``, ``hub records``, exports)
checks it again, and the audit log commits to every stored row.

What a reader checks (``check_stored_record``), each failure named in ``StoredCheck.problems``:

1. the payload bytes hash to the stored ``payload_sha256``;
2. the key id names a key in the directory, of the record's station, and the Ed25519 signature
   verifies over the exact payload bytes;
3. the payload parses, and the columns extracted from it for search and display (record id,
   station, VIN, plate, finish time, station verdict) say what the payload says;
4. the row's digest (``stored_row_digest``: every column, the hub's own verdict included) equals
   the digest the audit log committed to when the hub stored it (the ``record_stored`` event).

(1)-(3) catch an edited payload or edited display columns on their own; (4) also catches an edit
to what is the hub's alone (its verdict, the receive time), which no station signature covers.
An attacker who rewrites the audit event too breaks the hash chain: ``hub audit verify`` walks
the chain and compares every record row with its event, naming edited, deleted and unaudited
records. ``stored_row_digest`` is a stored contract: migration 0002 used it to backfill; changing
it needs a migration that re-commits every row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

from hub.envelope_check import KnownKey
from protos.envelope import signature_valid
from protos.record_mapping import MalformedRecord, record_from_bytes
from protos.tongjian.v1 import inspection_pb2 as pb

RECORD_STORED = "record_stored"  # the audit event kind committing to a stored row
_DIGEST_PREFIX = "row sha256 "


def canonical_json(value: Any) -> str:
    """``value`` as the digest encodes it: keys sorted, no spaces, non-ASCII as itself."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def stored_row_digest(row: Mapping[str, Any] | RowMapping, hub_verdict_json: str | None = None) -> str:
    """sha256 over every column of a stored record row (``records`` table), canonical JSON.

    ``hub_verdict_json``: ``canonical_json(row["hub_verdict"])`` when the caller has made it already
    (the ingest path stores that text in the column): the verdict, ~80 items, is the costliest part
    to encode, and was encoded twice a record. The result is the same digest either way: an object
    with sorted keys and no spaces is its members' encodings joined in key order."""
    received_at: datetime = row["received_at"]
    finished_at: datetime = row["finished_at"]
    members = {
        "station_id": row["station_id"],
        "record_id": row["record_id"],
        "key_id": row["key_id"],
        "payload_sha256": row["payload_sha256"],
        "signature": bytes(row["signature"]).hex(),
        "received_at": received_at.astimezone(UTC).isoformat(),
        "vin": row["vin"],
        "plate": row["plate"],
        "finished_at": finished_at.astimezone(UTC).isoformat(),
        "station_overall": row["station_overall"],
        "hub_overall": row["hub_overall"],
        "verdict_mismatch": bool(row["verdict_mismatch"]),
    }
    encoded = {name: canonical_json(value) for name, value in members.items()}
    encoded["hub_verdict"] = (
        hub_verdict_json if hub_verdict_json is not None else canonical_json(row["hub_verdict"])
    )
    canonical = "{" + ",".join(f"{canonical_json(name)}:{encoded[name]}" for name in sorted(encoded)) + "}"
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def stored_event_detail(digest: str) -> str:
    return f"{_DIGEST_PREFIX}{digest}"


def digest_of_event_detail(detail: str) -> str | None:
    return detail[len(_DIGEST_PREFIX) :] if detail.startswith(_DIGEST_PREFIX) else None


@dataclass(frozen=True, slots=True)
class StoredCheck:
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        return "verified" if self.ok else "TAMPERED: " + "; ".join(self.problems)


def check_stored_record(
    row: Mapping[str, Any], keys: Mapping[str, KnownKey], committed_digest: str | None
) -> StoredCheck:
    """Everything a reader must check before showing a stored record (see the module docstring).

    ``row`` holds the ``records`` columns (``hub.records.RecordRow.columns()``); payload and
    signature as bytes."""
    problems: list[str] = []
    payload = bytes(row["payload"])
    if hashlib.sha256(payload).hexdigest() != row["payload_sha256"]:
        problems.append("the payload bytes do not match their stored sha256")
    key_id = row["key_id"]
    key = keys.get(key_id)
    if key is None:
        problems.append(f"key {key_id!r} is not in the station directory")
    else:
        if key.station_id != row["station_id"]:
            problems.append(f"key {key_id!r} belongs to {key.station_id!r}, not to {row['station_id']!r}")
        envelope = pb.SignedRecord(record=payload, key_id=key_id, signature=bytes(row["signature"]))
        if not signature_valid(envelope, key.public_key):
            problems.append(f"the signature does not verify with key {key_id!r}")
    try:
        record = record_from_bytes(payload)
    except MalformedRecord as error:
        problems.append(f"the payload does not parse ({error})")
    else:
        signed = {
            "record_id": str(record.record_id),
            "station_id": record.station_id,
            "vin": record.vehicle.vin,
            "plate": record.vehicle.plate,
            "finished_at": record.finished_at,
            "station_overall": (
                record.station_verdict.overall.value if record.station_verdict is not None else None
            ),
        }
        for column, value in signed.items():
            if row[column] != value:
                problems.append(f"column {column} says {row[column]!r}, the signed record {value!r}")
    if committed_digest is None:
        problems.append("no audit entry commits to this record (stored outside the hub?)")
    elif committed_digest != stored_row_digest(row):
        problems.append("the row differs from what the audit log committed when it was stored")
    return StoredCheck(tuple(problems))

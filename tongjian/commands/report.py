"""``tongjian report RECORD_ID``: draw the owner's inspection report (PDF and PNG) for one record.

The record comes from a hub database (``--database-url``, default as for ``tongjian hub``), where
its payload is the exact bytes the station signed and the hub's own verdict sits beside it; or from
``--record-file``, a file holding those serialized bytes (no hub verdict then).

A record from the hub is checked again before it is drawn (``hub.record_integrity``); one that
fails is reported as TAMPERED, naming what failed, with exit status 1 and no report.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

from inspection import InspectionRecord, Verdict
from protos.record_mapping import MalformedRecord, record_from_bytes
from tongjian.cli import CommandError


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="draw a record's inspection report (PDF and PNG)")
    report.add_argument("record_id", metavar="RECORD_ID", help="the record's UUID")
    source = report.add_mutually_exclusive_group()
    source.add_argument(
        "--database-url", help="hub database (default: $TONGJIAN_HUB_DATABASE_URL or ./tongjian-hub.sqlite3)"
    )
    source.add_argument("--record-file", type=Path, help="a file with the record's serialized (signed) bytes")
    report.add_argument(
        "--out", type=Path, default=Path("."), help="directory for the PDF and PNG (default .)"
    )
    report.set_defaults(handler=_report)


def _record_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError as error:
        raise CommandError(f"record id {text!r} is not a UUID") from error


def _decode(payload: bytes, where: str) -> InspectionRecord:
    try:
        return record_from_bytes(payload)
    except MalformedRecord as error:
        raise CommandError(f"{where}: {error}") from error


def load_from_file(path: Path, record_id: str) -> InspectionRecord:
    try:
        payload = path.read_bytes()
    except OSError as error:
        raise CommandError(f"{path}: {error.strerror or error}") from error
    record = _decode(payload, str(path))
    if str(record.record_id) != record_id:
        raise CommandError(f"{path} holds record {record.record_id}, not {record_id}")
    return record


class RecordTampered(Exception):
    """The stored record failed its checks (``hub.record_integrity``); the message says which."""


def load_from_hub(url: str, record_id: str) -> tuple[InspectionRecord, Verdict | None]:
    """The record and the hub's verdict, once the stored row has been checked again: bytes against
    their hash, signature and key, the columns against the signed record, the row against the
    audit log. Raises ``RecordTampered`` (what failed) instead of handing out an edited record."""
    from sqlalchemy.exc import SQLAlchemyError

    from hub.store import HubStoreError
    from hub.verdict import MalformedStoredVerdict, verdict_from_json
    from tongjian.commands.hub import database_error, open_store

    store = open_store(url)
    try:
        stored = store.get_record(record_id)
        check = store.check_records([stored])[0] if stored is not None else None
    except (HubStoreError, SQLAlchemyError) as error:
        raise database_error(url, error) from error
    finally:
        store.dispose()
    if stored is None or check is None:
        raise CommandError(f"no record {record_id} in the hub database {url}")
    if not check.ok:
        raise RecordTampered("; ".join(check.problems))
    record = _decode(stored.payload, f"record {record_id} in {url}")
    try:
        hub_verdict = verdict_from_json(stored.hub_verdict) if stored.hub_verdict is not None else None
    except MalformedStoredVerdict as error:
        raise CommandError(f"record {record_id} in {url}: {error}") from error
    return record, hub_verdict


def _report(args: argparse.Namespace) -> int:
    from station_agent.inspection_report import ReportError, render_report

    record_id = _record_id(args.record_id)
    hub_verdict = None
    if args.record_file is not None:
        record = load_from_file(args.record_file, record_id)
    else:
        from tongjian.commands.hub import default_database_url

        try:
            record, hub_verdict = load_from_hub(args.database_url or default_database_url(), record_id)
        except RecordTampered as tampered:
            # No report is drawn from a record that no longer verifies: only what failed.
            print(f"record {record_id} TAMPERED: {tampered}")
            return 1
    try:
        pdf, png = render_report(record, args.out, hub_verdict=hub_verdict)
    except ReportError as error:
        raise CommandError(str(error)) from error
    print(f"report: {pdf}\nimage:  {png}")
    return 0

"""``tongjian hub forwards``: the hub-to-hub outbox, for an operator.

    tongjian hub forwards list [--state pending|parked|delivered] [--vin VIN]
    tongjian hub forwards retry ID [ID ...] | --all     unpark: send again
    tongjian hub forwards counts

A record of another province's vehicle is stored here and queued for its registration province's
hub in the same transaction; ``list`` shows where each one is. Items the registration hub refused
(unknown vehicle, wrong province, a failed check) or that name a province the national trust list
does not know are parked with the reason; ``retry`` sends them again once that is fixed.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tongjian.cli import CommandError

STATES = ("pending", "parked", "delivered")


def register(
    actions: argparse._SubParsersAction,
    with_database: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
    formats: tuple[str, ...],
) -> None:
    forwards = actions.add_parser(
        "forwards", help="records on their way to other provinces' hubs (the hub-to-hub outbox)"
    ).add_subparsers(dest="forwards_action", required=True)
    listing = with_database(forwards.add_parser("list", help="outbox items, newest first"))
    listing.add_argument("--state", choices=STATES, help="only items in this state")
    listing.add_argument("--vin", help="only this vehicle's items")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--format", choices=formats, help="table (terminal), tsv (pipe) or json")
    listing.set_defaults(handler=_list)
    retry = with_database(forwards.add_parser("retry", help="send parked items again"))
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox item ids (see `list`)")
    retry.add_argument("--all", action="store_true", help="every parked item")
    retry.set_defaults(handler=_retry)
    counts = with_database(
        forwards.add_parser("counts", help="how many items are pending, parked, delivered")
    )
    counts.set_defaults(handler=_counts)


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def _list(args: argparse.Namespace) -> int:
    from tongjian.commands.hub import _emit, _open, _output_format

    if not 1 <= args.limit <= 10_000:
        raise CommandError(f"--limit {args.limit}: must be in 1..10000")
    store = _open(args)
    try:
        items = store.outbox.items(args.state, args.limit, args.vin)
    finally:
        store.dispose()
    columns = ["id", "to", "station", "record", "vin", "queued", "attempts", "state", "delivered", "reason"]
    rows: list[dict[str, Any]] = [
        {
            "id": item.id,
            "to": item.to_province,
            "station": item.station_id,
            "record": item.record_id,
            "vin": item.vin,
            "queued": _when(item.created_at),
            "attempts": item.attempts,
            "state": item.state,
            "delivered": _when(item.delivered_at),
            "reason": item.parked_reason,
        }
        for item in items
    ]
    _emit(_output_format(args), "Forwarding outbox", columns, rows)
    return 0


def _retry(args: argparse.Namespace) -> int:
    from tongjian.commands.hub import _open

    if args.all == bool(args.ids):
        raise CommandError("give outbox item ids or --all (not both)")
    store = _open(args)
    try:
        count = store.outbox.retry(None if args.all else args.ids)
    finally:
        store.dispose()
    print(f"{count} parked item(s) will be sent again by the running hub")
    if not args.all and count < len(set(args.ids)):
        print("some of the given ids are not parked (delivered, pending, or unknown)")
        return 1
    return 0


def _counts(args: argparse.Namespace) -> int:
    from tongjian.commands.hub import _open

    store = _open(args)
    try:
        counts = store.outbox.counts()
    finally:
        store.dispose()
    print(f"pending {counts.pending}  parked {counts.parked}  delivered {counts.delivered}")
    return 0

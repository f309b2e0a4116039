"""``tongjian review queue | claim | show | approve | reject | release | escalate | stats``: post-review
for reviewers, over gRPC to the supervising hub's ``tongjian.v1.Review`` service.

Why gRPC with the reviewer's own certificate, not the database: the hub is where the role
(certificate OU: reviewer or senior-reviewer), the person (certificate CN) and the province scope
are decided and where every look and every refusal is audited, once for the CLI and the web
console alike. A CLI with the database URL would be an admin acting in the name of whoever they
typed, with no certificate behind the name. Issue a reviewer's certificate with
``tongjian pki issue --role reviewer NAME``.

Connection: ``--hub HOST:PORT --ca CA.pem --cert NAME.cert.pem --key NAME.key.pem`` or the
environment variables ``TONGJIAN_REVIEW_HUB``, ``_CA``, ``_CERT``, ``_KEY``.
Exit status: 0 done; 1 ``claim`` found nothing to claim; 2 refused or failed (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc

from pki.grpc_credentials import PkiError, channel_credentials
from protos.tongjian.v1 import inspection_pb2 as pb
from protos.tongjian.v1 import review_pb2 as rpb
from protos.tongjian.v1 import review_pb2_grpc
from tongjian.cli import CommandError

_STATES = {
    "queued": rpb.REVIEW_ITEM_STATE_QUEUED,
    "claimed": rpb.REVIEW_ITEM_STATE_CLAIMED,
    "escalated": rpb.REVIEW_ITEM_STATE_ESCALATED,
    "escalated_claimed": rpb.REVIEW_ITEM_STATE_ESCALATED_CLAIMED,
    "approved": rpb.REVIEW_ITEM_STATE_APPROVED,
    "rejected": rpb.REVIEW_ITEM_STATE_REJECTED,
}
_STATE_NAMES = {number: name for name, number in _STATES.items()}
_DECISIONS = {
    "approve": rpb.REVIEW_DECISION_APPROVE,
    "reject": rpb.REVIEW_DECISION_REJECT,
    "release": rpb.REVIEW_DECISION_RELEASE,
    "escalate": rpb.REVIEW_DECISION_ESCALATE,
}
_OUTCOMES = {pb.OUTCOME_PASS: "pass", pb.OUTCOME_FAIL: "fail", pb.OUTCOME_CANNOT_JUDGE: "cannot judge"}
TIMEOUT_S = 30.0


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser("review", help="post-review of inspection records (reviewers)")
    review.add_argument("--hub", metavar="HOST:PORT", help="the supervising hub ($TONGJIAN_REVIEW_HUB)")
    review.add_argument(
        "--ca", type=Path, help="CA certificate of the hub's certificate ($TONGJIAN_REVIEW_CA)"
    )
    review.add_argument("--cert", type=Path, help="your reviewer certificate ($TONGJIAN_REVIEW_CERT)")
    review.add_argument("--key", type=Path, help="its private key ($TONGJIAN_REVIEW_KEY)")
    actions = review.add_subparsers(dest="action", required=True, metavar="ACTION")

    queue = actions.add_parser("queue", help="list items, soonest deadline first (open ones by default)")
    queue.add_argument("--state", action="append", choices=sorted(_STATES), default=[], help="repeatable")
    queue.add_argument("--limit", type=int, default=50)
    queue.set_defaults(handler=_queue)

    actions.add_parser("claim", help="claim the next item (a lease; decide before it lapses)").set_defaults(
        handler=_claim
    )
    show = actions.add_parser("show", help="an item: record, verdicts, curves, photo hashes, reasons")
    show.add_argument("item_id", type=int, metavar="ITEM")
    show.set_defaults(handler=_show)
    for name, help_text in (
        ("approve", "approve a claimed item"),
        ("reject", "reject a claimed item: revokes the record's inspection result"),
        ("escalate", "hand a claimed item to a senior reviewer"),
        ("release", "put a claimed item back, undecided"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("item_id", type=int, metavar="ITEM")
        if name != "release":
            action.add_argument("--reason", required=True, help="why (at most 500 characters)")
        action.set_defaults(handler=_decide, decision=name)
    actions.add_parser("stats", help="items by state, open items by rule, revocations").set_defaults(
        handler=_stats
    )


def _setting(args: argparse.Namespace, name: str) -> Any:
    value = getattr(args, name) or os.environ.get(f"TONGJIAN_REVIEW_{name.upper()}")
    if not value:
        raise CommandError(f"--{name} (or $TONGJIAN_REVIEW_{name.upper()}) is required")
    return value


def _stub(args: argparse.Namespace) -> tuple[grpc.Channel, review_pb2_grpc.ReviewStub]:
    hub = str(_setting(args, "hub"))
    if ":" not in hub:
        raise CommandError(f"--hub {hub}: needs HOST:PORT")
    paths = {name: Path(_setting(args, name)) for name in ("ca", "cert", "key")}
    for name, path in paths.items():
        if not path.is_file():
            raise CommandError(f"--{name} {path}: no such file")
    try:
        credentials = channel_credentials(paths["ca"], paths["cert"], paths["key"])
    except PkiError as error:
        raise CommandError(str(error)) from error
    channel = grpc.secure_channel(hub, credentials)
    return channel, review_pb2_grpc.ReviewStub(channel)


def _call(args: argparse.Namespace, method: str, request: Any) -> Any:
    channel, stub = _stub(args)
    with channel:
        try:
            return getattr(stub, method)(request, timeout=TIMEOUT_S)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]  # a grpc.Call at run time
            details = error.details()  # type: ignore[attr-defined]
            raise CommandError(f"{code.name}: {details}") from error


def _when(stamp: Any) -> str:
    if not stamp.seconds and not stamp.nanos:
        return "-"
    value: datetime = stamp.ToDatetime()
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _line(item: rpb.ReviewItem) -> str:
    rules = ",".join(sorted({r.rule for r in item.reasons}))
    holder = f" by {item.claimed_by}" if item.claimed_by else ""
    return (
        f"{item.id:>6}  {_STATE_NAMES.get(item.state, '?'):<17} {item.station_id:<10} {item.vin}  "
        f"due {_when(item.deadline)}{holder}  [{rules}]"
    )


def _queue(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        raise CommandError(f"--limit must be 1..1000, not {args.limit}")
    reply = _call(
        args, "ListQueue", rpb.ListQueueRequest(states=[_STATES[s] for s in args.state], limit=args.limit)
    )
    for item in reply.items:
        print(_line(item))
    print(f"{len(reply.items)} item(s)")
    return 0


def _claim(args: argparse.Namespace) -> int:
    reply = _call(args, "Claim", rpb.ClaimRequest())
    if not reply.found:
        print("nothing to claim")
        return 1
    print(_line(reply.item))
    print(f"claimed until {_when(reply.item.lease_until)}: tongjian review show {reply.item.id}")
    return 0


def _show(args: argparse.Namespace) -> int:
    reply = _call(args, "Show", rpb.ShowRequest(id=args.item_id))
    item, record = reply.item, reply.record
    print(_line(item))
    print(
        f"record {item.record_id} received {_when(reply.received_at)}{'  REVOKED' if reply.revoked else ''}"
    )
    if reply.HasField("record"):
        print(
            f"  {record.vehicle.plate} {record.vehicle.vin}  station {record.station_id} lane {record.lane}  "
            f"{_when(record.started_at)} .. {_when(record.finished_at)}"
        )
    print(f"  verdict: station {reply.station_overall or '-'}, hub {reply.hub_overall or '-'}")
    for verdict_item in reply.hub_verdict.items:
        measured = f"{verdict_item.measured:g}" if verdict_item.HasField("measured") else "-"
        limit = f"{verdict_item.limit:g}" if verdict_item.HasField("limit") else "-"
        print(
            f"    {_OUTCOMES.get(verdict_item.outcome, '?'):<12} {verdict_item.code}: {measured} "
            f"(limit {limit}) {verdict_item.unit}  {verdict_item.clause}"
        )
    print("  reasons:")
    for reason in item.reasons:
        print(f"    {reason.rule}: {reason.reason}")
    for curve in reply.curves:
        print(
            f"  curve {curve.run}: {curve.samples} samples at {curve.sample_rate_hz} Hz, peaks "
            f"{curve.left_peak_n}/{curve.right_peak_n} N, counter {curve.test_counter}"
            f"{', SLIP' if curve.slip else ''}"
        )
    for photo in reply.photos:
        print(f"  photo {photo.item_code}: sha256 {photo.sha256}")
    if item.decided_by:
        print(f"  decided by {item.decided_by}: {item.decision_reason}")
    return 0


def _decide(args: argparse.Namespace) -> int:
    request = rpb.DecideRequest(
        id=args.item_id, decision=_DECISIONS[args.decision], reason=getattr(args, "reason", "")
    )
    item = _call(args, "Decide", request)
    print(_line(item))
    if args.decision == "reject":
        print(f"record {item.record_id}: inspection result revoked")
    return 0


def _stats(args: argparse.Namespace) -> int:
    reply = _call(args, "Stats", rpb.StatsRequest())
    for state in _STATES:
        print(f"{state:<18} {reply.by_state.get(state, 0)}")
    for rule, count in sorted(reply.open_by_rule.items()):
        print(f"open, {rule:<22} {count}")
    print(f"oldest open item queued {_when(reply.oldest_open_queued_at)}")
    print(f"results revoked    {reply.revoked}")
    return 0

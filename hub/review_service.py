"""``tongjian.v1.Review``: the review queue over gRPC, for the ``tongjian review`` CLI and the web
console that follows.

Callers are people with a client certificate: the role (subject OU: reviewer or senior-reviewer)
is checked by ``hub.access.RoleGate`` before a handler runs; here the common name is the person,
and the hub's province is the reviewer's scope (an item of another province is NOT_FOUND, as if it
did not exist). An event a reviewer's role may not send (a reviewer deciding an escalated item) is
PERMISSION_DENIED and audited like the gate's refusals; an event the item's state does not allow is
FAILED_PRECONDITION. Database work runs in threads; the protobuf messages stay at this edge.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.exc import SQLAlchemyError

from hub.access import audit_refusal, refusal_entry
from hub.review_queue import (
    ClaimExpired,
    InvalidDecisionReason,
    ItemDetail,
    ItemView,
    NotClaimant,
    ReviewItemNotFound,
    ReviewQueue,
)
from hub.review_states import IllegalReviewTransition, ReviewActor, ReviewState
from hub.store import HubStore
from pki.grpc_credentials import CertificateRoleError, peer_common_name, peer_role
from pki.roles import Role
from protos.record_mapping import record_to_proto, verdict_to_proto
from protos.tongjian.v1 import review_pb2 as rpb
from protos.tongjian.v1 import review_pb2_grpc

SERVICE_NAME = rpb.DESCRIPTOR.services_by_name["Review"].full_name

log = logging.getLogger(__name__)

_ACTORS = {Role.REVIEWER: ReviewActor.REVIEWER, Role.SENIOR_REVIEWER: ReviewActor.SENIOR_REVIEWER}
STATE_TO_PROTO = {
    ReviewState.QUEUED: rpb.REVIEW_ITEM_STATE_QUEUED,
    ReviewState.CLAIMED: rpb.REVIEW_ITEM_STATE_CLAIMED,
    ReviewState.ESCALATED: rpb.REVIEW_ITEM_STATE_ESCALATED,
    ReviewState.ESCALATED_CLAIMED: rpb.REVIEW_ITEM_STATE_ESCALATED_CLAIMED,
    ReviewState.APPROVED: rpb.REVIEW_ITEM_STATE_APPROVED,
    ReviewState.REJECTED: rpb.REVIEW_ITEM_STATE_REJECTED,
}
STATE_FROM_PROTO = {number: state for state, number in STATE_TO_PROTO.items()}
MAX_LIST = 1000

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]


class ReviewService(review_pb2_grpc.ReviewServicer):
    def __init__(self, store: HubStore, queue: ReviewQueue, province: str) -> None:
        self._store = store
        self._queue = queue
        self._province = province

    async def ListQueue(self, request: rpb.ListQueueRequest, context: Context) -> rpb.ListQueueReply:
        await self._caller(context)
        try:
            states = [STATE_FROM_PROTO[s] for s in request.states]
        except KeyError:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"states: unknown value in {list(request.states)}"
            )
        limit = request.limit or 50
        if limit > MAX_LIST:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"limit {limit}: at most {MAX_LIST}")
        items = await self._run(context, "ListQueue", self._queue.items, self._province, states, limit)
        return rpb.ListQueueReply(items=[item_to_proto(i) for i in items])

    async def Claim(self, request: rpb.ClaimRequest, context: Context) -> rpb.ClaimReply:
        person, actor = await self._caller(context)
        item = await self._run(context, "Claim", self._queue.claim, person, actor, self._province)
        return rpb.ClaimReply(found=item is not None, item=item_to_proto(item) if item is not None else None)

    async def Show(self, request: rpb.ShowRequest, context: Context) -> rpb.ShowReply:
        person, _actor = await self._caller(context)
        detail = await self._run(context, "Show", self._queue.show, request.id, person, self._province)
        return detail_to_proto(detail)

    async def Decide(self, request: rpb.DecideRequest, context: Context) -> rpb.ReviewItem:
        person, actor = await self._caller(context)
        queue, province = self._queue, self._province
        if request.decision == rpb.REVIEW_DECISION_APPROVE:
            item = await self._run(
                context, "Decide", queue.approve, request.id, person, actor, province, request.reason
            )
        elif request.decision == rpb.REVIEW_DECISION_REJECT:
            item = await self._run(
                context, "Decide", queue.reject, request.id, person, actor, province, request.reason
            )
        elif request.decision == rpb.REVIEW_DECISION_RELEASE:
            item = await self._run(context, "Decide", queue.release, request.id, person, actor, province)
        elif request.decision == rpb.REVIEW_DECISION_ESCALATE:
            item = await self._run(
                context, "Decide", queue.escalate, request.id, person, actor, province, request.reason
            )
        else:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"decision: unknown value {request.decision}"
            )
        return item_to_proto(item)

    async def Stats(self, request: rpb.StatsRequest, context: Context) -> rpb.StatsReply:
        await self._caller(context)
        stats = await self._run(context, "Stats", self._queue.stats, self._province)
        reply = rpb.StatsReply(revoked=stats.revoked)
        reply.by_state.update(stats.by_state)
        reply.open_by_rule.update(stats.by_rule)
        if stats.oldest_open_queued_at is not None:
            reply.oldest_open_queued_at.CopyFrom(_timestamp(stats.oldest_open_queued_at))
        return reply

    # ------------------------------------------------------------------ helpers

    async def _caller(self, context: Context) -> tuple[str, ReviewActor]:
        """The person (certificate CN) and their review role; the gate has admitted the role."""
        person = peer_common_name(context)
        try:
            role = peer_role(context)
        except CertificateRoleError as error:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        actor = _ACTORS.get(role) if role is not None else None
        if person is None or actor is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "the Review service needs a reviewer's client certificate"
            )
        return person, actor

    async def _run(self, context: Context, method: str, call: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(call, *args)
        except ReviewItemNotFound as error:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except IllegalReviewTransition as error:
            if error.by_role:
                await self._refuse(context, method, error)
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        except (NotClaimant, ClaimExpired) as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        except InvalidDecisionReason as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except SQLAlchemyError:
            log.exception("review %s: database error", method)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the hub cannot reach its database; retry")

    async def _refuse(self, context: Context, method: str, error: IllegalReviewTransition) -> NoReturn:
        entry = refusal_entry(
            f"/{SERVICE_NAME}/{method}", peer_common_name(context), error.actor.value, str(error)
        )
        await audit_refusal(self._store.append_audit, entry)
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def item_to_proto(item: ItemView) -> rpb.ReviewItem:
    message = rpb.ReviewItem(
        id=item.id,
        station_id=item.station_id,
        record_id=item.record_id,
        vin=item.vin,
        state=STATE_TO_PROTO[item.state],
        reasons=[rpb.ReviewReason(rule=r.rule, reason=r.reason) for r in item.reasons],
        sampled=item.sampled,
        queued_at=_timestamp(item.queued_at),
        deadline=_timestamp(item.deadline),
        claimed_by=item.claimed_by or "",
        decided_by=item.decided_by or "",
        decision_reason=item.decision_reason or "",
    )
    if item.lease_until is not None:
        message.lease_until.CopyFrom(_timestamp(item.lease_until))
    return message


def detail_to_proto(detail: ItemDetail) -> rpb.ShowReply:
    reply = rpb.ShowReply(
        item=item_to_proto(detail.item),
        station_overall=detail.row.station_overall or "",
        hub_overall=detail.row.hub_overall or "",
        curves=[
            rpb.CurveSummary(
                run=c.run,
                sample_rate_hz=c.sample_rate_hz,
                samples=c.samples,
                left_peak_n=c.left_peak_n,
                right_peak_n=c.right_peak_n,
                slip=c.slip,
                test_counter=c.test_counter,
            )
            for c in detail.curves
        ],
        photos=[rpb.PhotoHash(item_code=code, sha256=sha) for code, sha in detail.photo_hashes],
        revoked=detail.revoked,
        received_at=_timestamp(detail.row.received_at),
    )
    if detail.record is not None:
        reply.record.CopyFrom(record_to_proto(detail.record))
    if detail.hub_verdict is not None:
        reply.hub_verdict.CopyFrom(verdict_to_proto(detail.hub_verdict))
    return reply


def register_review_service(
    server: grpc.aio.Server, store: HubStore, queue: ReviewQueue, province: str
) -> None:
    review_pb2_grpc.add_ReviewServicer_to_server(ReviewService(store, queue, province), server)

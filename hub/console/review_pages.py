"""The post-review pages: the queue, claiming, one item with its record, and the decisions.

Everything goes through ``hub.review_queue.ReviewQueue``, the same object the gRPC ``Review``
service calls, with the signed-in person and the review actor of their role: the state table
(``hub.review_states``), the claim and lease checks and the audit entries are the queue's. A
decision the role may not make (a reviewer deciding an escalated item) is a 403 page, audited.
"""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.access import audit_refusal, refusal_entry
from hub.console.curve_chart import curve_chart_png
from hub.console.roles import Permission, review_actor
from hub.console.sessions import StaffSession
from hub.console.web import Forbidden, checked_form, render, require, run, services_of
from hub.review_queue import (
    ClaimExpired,
    InvalidDecisionReason,
    NotClaimant,
    ReviewError,
    ReviewItemNotFound,
)
from hub.review_states import OPEN_STATES, IllegalReviewTransition, ReviewActor, ReviewState

DECISIONS = {
    "approve": "批准 Approve",
    "reject": "驳回 Reject",
    "escalate": "升级 Escalate",
    "release": "放回 Release",
}
DONE = {"approve": "approved", "reject": "rejected", "escalate": "escalated", "release": "released"}


def _actor(session: StaffSession) -> ReviewActor:
    actor = review_actor(session.role)
    if actor is None:  # the permission table admits reviewers only; this is the belt to its braces
        raise Forbidden(f"role {session.role.value!r} does not review")
    return actor


async def queue_page(request: Request) -> Response:
    session = await require(request, Permission.REVIEW)
    services = services_of(request)
    state = request.query_params.get("state", "")
    states = [ReviewState(state)] if state in {s.value for s in ReviewState} else []
    items = await run(services.review.items, services.province, states, 200)
    stats = await run(services.review.stats, services.province)
    return render(
        request,
        "review_queue.html",
        {
            "items": items,
            "stats": stats,
            "state": state,
            "states": list(ReviewState),
            "open_states": OPEN_STATES,
            "mine": [i for i in items if i.claimed_by == session.person_id],
            "message": request.query_params.get("message", ""),
        },
    )


async def claim(request: Request) -> Response:
    session = await require(request, Permission.REVIEW)
    await checked_form(request, session)
    services = services_of(request)
    item = await run(services.review.claim, session.person_id, _actor(session), services.province)
    if item is None:
        return RedirectResponse("/review?message=nothing+to+claim", status_code=303)
    return RedirectResponse(f"/review/{item.id}", status_code=303)


async def item_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    session = await require(request, Permission.REVIEW)
    services = services_of(request)
    item_id = int(request.path_params["item_id"])
    # ``show`` audits the look itself ("review_opened ... by PERSON"), in its own transaction.
    detail = await run(services.review.show, item_id, session.person_id, services.province)
    # Inline (a data: URL), so the chart is part of the one audited look at the record.
    png = None if detail.record is None else await run(curve_chart_png, detail.record)
    chart = None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    mine = detail.item.claimed_by == session.person_id
    return render(
        request,
        "review_item.html",
        {
            "detail": detail,
            "record": detail.record,
            "item": detail.item,
            "chart": chart,
            "mine": mine,
            "decisions": DECISIONS,
            "error": error,
        },
        status_code=status_code,
    )


async def decide(request: Request) -> Response:
    session = await require(request, Permission.REVIEW)
    form = await checked_form(request, session)
    services = services_of(request)
    queue, province, person, actor = services.review, services.province, session.person_id, _actor(session)
    item_id = int(request.path_params["item_id"])
    decision = str(form.get("decision", ""))
    reason = str(form.get("reason", ""))
    try:
        if decision == "approve":
            await run(queue.approve, item_id, person, actor, province, reason)
        elif decision == "reject":
            await run(queue.reject, item_id, person, actor, province, reason)
        elif decision == "escalate":
            await run(queue.escalate, item_id, person, actor, province, reason)
        elif decision == "release":
            await run(queue.release, item_id, person, actor, province)
        else:
            return await item_page(request, f"unknown decision {decision!r}", 400)
    except IllegalReviewTransition as error:
        if error.by_role:
            entry = refusal_entry(f"console POST {request.url.path}", person, actor.value, str(error))
            await audit_refusal(services.store.append_audit, entry)
            raise Forbidden(str(error)) from error
        return await item_page(request, str(error), 409)
    except (NotClaimant, ClaimExpired) as error:
        return await item_page(request, str(error), 409)
    except InvalidDecisionReason as error:
        return await item_page(request, str(error), 400)
    except ReviewItemNotFound:
        raise
    except ReviewError as error:  # pragma: no cover - every ReviewError above is named
        return await item_page(request, str(error), 409)
    return RedirectResponse(f"/review?message=item+{item_id}:+{DONE[decision]}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/review", queue_page),
        Route("/review/claim", claim, methods=["POST"]),
        Route("/review/{item_id:int}", item_page),
        Route("/review/{item_id:int}/decide", decide, methods=["POST"]),
    ]

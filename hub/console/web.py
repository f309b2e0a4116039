"""What every console page shares: the services it reads, who is signed in, the permission check
(403 page, audited), the CSRF check on forms, audit entries for the records a page shows, and
rendering a template.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from hub.access import audit_refusal, refusal_entry
from hub.audit import AuditEntry
from hub.console import csrf
from hub.console.roles import ROLE_TITLES, Permission, StaffRole, allowed
from hub.console.sessions import SessionBook, StaffSession
from hub.console.staff_directory import StaffDirectory
from hub.errors import HubError
from hub.label_book import LabelRegistry
from hub.review_queue import ReviewQueue
from hub.store import HubStore
from hub.transfer_desk import TransferDesk

SESSION_COOKIE = "tj_console"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConsoleServices:
    """The hub's own objects the pages call (the same ones its gRPC services use)."""

    store: HubStore
    review: ReviewQueue
    labels: LabelRegistry
    province: str
    staff: StaffDirectory
    sessions: SessionBook
    national_key: Ed25519PublicKey | None = None
    transfers: TransferDesk | None = None  # archive transfers, on a federated hub that takes part
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    secure_cookies: bool = False  # True when served over HTTPS (the cookie is then Secure)


class NotSignedIn(HubError):
    """No live session: the page redirects to the sign-in form."""


class Forbidden(HubError):
    """The signed-in role does not hold the page's permission (403)."""


def services_of(request: Request) -> ConsoleServices:
    services: ConsoleServices = request.app.state.services
    return services


async def run(call: Callable[..., T], *args: Any) -> T:
    """Database work off the event loop, as the gRPC services do it."""
    return await asyncio.to_thread(call, *args)


async def signed_in(request: Request) -> StaffSession:
    services = services_of(request)
    session = await run(services.sessions.find, request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise NotSignedIn("sign in first")
    request.state.staff = session
    return session


async def require(request: Request, permission: Permission) -> StaffSession:
    """The session, if its role holds ``permission``; else ``Forbidden``, audited like the gRPC
    gate's refusals (``access_refused``: page, role and person)."""
    session = await signed_in(request)
    if not allowed(session.role, permission):
        why = f"the console page {request.url.path} ({permission.value}) is not open to role {session.role.value!r}"
        entry = refusal_entry(
            f"console {request.method} {request.url.path}", session.person_id, session.role.value, why
        )
        await audit_refusal(services_of(request).store.append_audit, entry)
        raise Forbidden(why)
    return session


async def checked_form(request: Request, session: StaffSession) -> FormData:
    """The posted form, once its CSRF token is the session's (``CsrfRefused`` otherwise)."""
    form = await request.form()
    csrf.check(session.csrf_token, form.get(csrf.FIELD))
    return form


async def audit_view(
    request: Request,
    session: StaffSession,
    what: str,
    *,
    station_id: str | None = None,
    record_id: str | None = None,
    key_id: str | None = None,
) -> None:
    """Who looked at which record, appended to the hub's audit log before the page is sent."""
    entry = AuditEntry(
        "console_viewed",
        f"{what} viewed by {session.person_id} ({session.role.value}) at {request.url.path}",
        station_id=station_id,
        record_id=record_id,
        key_id=key_id,
    )
    await run(services_of(request).store.append_audit, [entry])


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, status_code: int = 200
) -> Response:
    session: StaffSession | None = getattr(request.state, "staff", None)
    values: dict[str, Any] = {
        "staff": session,
        "role_title": ROLE_TITLES.get(session.role) if session is not None else None,
        "csrf_token": session.csrf_token if session is not None else "",
        "can": (lambda p: session is not None and allowed(session.role, Permission(p))),
        "province": services_of(request).province,
        "roles": StaffRole,
    }
    values.update(context or {})
    response = TEMPLATES.TemplateResponse(request, template, values, status_code=status_code)
    # Pages show personal and audited data: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    )
    return response


def fmt_time(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


TEMPLATES.env.filters["when"] = fmt_time

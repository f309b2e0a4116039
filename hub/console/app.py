"""The console's Starlette application: sign-in and sign-out, the pages of the ``*_pages``
modules, and what a refusal looks like (sign-in redirect, 403 page, 404 page).

Sign-in takes a person id and the password the hub issued (``staff_directory``); failures are
counted per person id and per client address with growing delays (``web_serving.sign_in_throttle``,
the PDA's policy without its lockout), so guessing costs time. The sign-in form itself is protected
by a double-submit CSRF token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from hub.console import csrf, dashboard_pages, registry_pages, review_pages, station_pages, transfer_pages
from hub.console.csrf import CsrfRefused
from hub.console.web import (
    SESSION_COOKIE,
    ConsoleServices,
    Forbidden,
    NotSignedIn,
    render,
    run,
    services_of,
)
from hub.errors import UnknownLabel
from hub.review_queue import ReviewItemNotFound
from web_serving.sign_in_throttle import SignInDelayed, SignInThrottle, ThrottlePolicy

# No lockout: the console's people are few and known, and an administrator re-issues a password
# rather than lifting a lock.
CONSOLE_SIGN_IN_POLICY = ThrottlePolicy(lockout_after=None)


def _sign_in_form(request: Request, error: str = "", status_code: int = 200) -> Response:
    token = request.cookies.get(csrf.SIGN_IN_COOKIE) or csrf.new_token()
    response = render(request, "sign_in.html", {"sign_in_csrf": token, "error": error}, status_code)
    response.set_cookie(
        csrf.SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=services_of(request).secure_cookies,
    )
    return response


async def sign_in_page(request: Request) -> Response:
    return _sign_in_form(request)


async def sign_in(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    csrf.check(request.cookies.get(csrf.SIGN_IN_COOKIE), form.get(csrf.FIELD))
    person_id = str(form.get("person_id", "")).strip()
    password = str(form.get("password", ""))
    peer = request.client.host if request.client is not None else "unknown"
    throttle: SignInThrottle = request.app.state.throttle
    try:
        throttle.admit(person_id, peer)
    except SignInDelayed as error:
        return _sign_in_form(request, f"{error} / 登录失败次数过多，请稍后再试", 429)
    member = await run(services.staff.authenticate, person_id, password)
    if member is None:
        return _sign_in_form(request, "wrong person id or password / 用户名或密码错误", 401)
    throttle.succeeded(person_id, peer)
    token, _session = await run(services.sessions.open, member)
    response = RedirectResponse("/review" if member.role.value.endswith("reviewer") else "/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(services.sessions.ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=services.secure_cookies,
    )
    response.delete_cookie(csrf.SIGN_IN_COOKIE)
    return response


async def sign_out(request: Request) -> Response:
    services = services_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await run(services.sessions.find, token)
    if session is not None:
        form = await request.form()
        csrf.check(session.csrf_token, form.get(csrf.FIELD))
        await run(services.sessions.close, token)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/sign-in", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return render(request, "refused.html", {"title": "403 无权访问 Forbidden", "why": str(exc)}, 403)


async def _not_found(request: Request, exc: Exception) -> Response:
    return render(request, "refused.html", {"title": "404 未找到 Not found", "why": str(exc)}, 404)


def console_app(services: ConsoleServices, clock: Callable[[], float] = time.monotonic) -> Starlette:
    routes = [
        Route("/sign-in", sign_in_page),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
        *dashboard_pages.routes(),
        *review_pages.routes(),
        *registry_pages.routes(),
        *station_pages.routes(),
        *transfer_pages.routes(),
        Mount("/static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            NotSignedIn: _not_signed_in,
            Forbidden: _forbidden,
            CsrfRefused: _forbidden,
            ReviewItemNotFound: _not_found,
            UnknownLabel: _not_found,
        },
    )
    app.state.services = services
    app.state.throttle = SignInThrottle(CONSOLE_SIGN_IN_POLICY, clock)
    return app

"""The inspectors' PDA page: the lane service in a handheld's browser, phone-sized.

Sign in with the credential the station issued, check a vehicle in, follow its benches live (a
server-sent event stream of the visit's states, ``Lane.state_changes``), enter the visual checks
item by item (a second result for an item is a correction and needs its reason), take photos with
the device camera (a file input with ``capture``), and complete or abort the visit.

It is a second edge of the same service as the gRPC ``LaneService``: sign-in, its throttle and
lockouts, sessions (the very same tokens), the lane scope of a credential and photo storing are
``PdaService``'s; visits, checks and their rules are the ``Lane``'s. Refusals keep their meaning:
no session sends the page to sign-in, a lane outside the credential is 403, a request the lane
refuses is shown with the lane's own message.

Every form carries a CSRF token: the session's own once signed in, a double-submit cookie on the
sign-in form. Served over HTTPS with the lane service's certificate, or plain HTTP only when the
lane file says ``insecure = true`` (``web_serving.asgi_server``, started by ``station``).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from inspection import VisualCheck
from inspection.record import InspectionPurpose
from inspection.vehicle_fields import VEHICLE_FIELDS, FieldValueError, vehicle_from_texts
from station_agent.errors import StationAgentError
from station_agent.lane import FINAL, LaneError, LaneState, UnknownRecord
from station_agent.pda_service import PdaRefused, PdaService, RefusalKind, Session
from station_agent.photo_store import PhotoError

SESSION_COOKIE = "tj_pda"
SIGN_IN_CSRF_COOKIE = "tj_pda_signin_csrf"
_HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(_HERE / "pda_templates"))

# The checklist the page offers, in the order an inspector walks round a car; any other item code
# can be typed in. Titles only: which codes are valid is the lane's rule (``Lane.submit_checks``).
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("vin-stamp", "车辆识别代号 VIN stamping"),
    ("tyres", "轮胎 Tyres"),
    ("seat-belts", "安全带 Seat belts"),
    ("signal-lamps", "信号灯 Signal lamps"),
    ("chassis-leaks", "底盘渗漏 Chassis leaks"),
)
FIELD_TITLES: Mapping[str, str] = {
    "vin": "车辆识别代号 VIN",
    "plate": "号牌 Plate",
    "registration_province": "登记省份 Province",
    "vehicle_class": "车型 Class",
    "fuel": "燃料 Fuel",
    "registration_date": "注册日期 Registered",
    "seats": "座位数 Seats",
    "curb_mass_kg": "整备质量 Curb mass kg",
    "max_total_mass_kg": "总质量 Max mass kg",
    "parking_brake_axles": "驻车制动轴 Parking axles",
    "lamp_system": "前照灯 Lamps",
}
STATE_TITLES: Mapping[LaneState, str] = {state: state.value for state in LaneState}


class PdaCsrfRefused(StationAgentError):
    """A PDA page form without the right CSRF token: 403, nothing done."""


@dataclass(slots=True)
class _WebSession:
    token: str
    session: Session
    csrf: str


def _check_csrf(expected: str | None, given: object) -> None:
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise PdaCsrfRefused("the form's CSRF token is missing or wrong: reload the page")


class PdaWeb:
    """The page's handlers over one ``PdaService``."""

    def __init__(self, service: PdaService, *, secure_cookies: bool) -> None:
        self.service = service
        self._secure = secure_cookies
        self._csrf: dict[str, str] = {}  # session token -> its CSRF token

    # --- plumbing -------------------------------------------------------------------------------

    async def _signed_in(self, request: Request) -> _WebSession:
        token = request.cookies.get(SESSION_COOKIE, "")
        try:
            session = await self.service.session(token)  # PdaRefused(NO_SESSION) -> sign-in page
        except PdaRefused:
            self._csrf.pop(token, None)
            raise
        csrf = self._csrf.setdefault(token, secrets.token_urlsafe(32))
        return _WebSession(token, session, csrf)

    async def _form(self, request: Request, web: _WebSession) -> FormData:
        form = await request.form(max_part_size=self.service.photos.max_bytes + 1)
        _check_csrf(web.csrf, form.get("csrf"))
        return form

    def _render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        web: _WebSession | None = None,
        status_code: int = 200,
    ) -> Response:
        values = {
            "station_id": self.service.station_id,
            "inspector": web.session.inspector_id if web is not None else None,
            "csrf_token": web.csrf if web is not None else "",
            **context,
        }
        response = TEMPLATES.TemplateResponse(request, template, values, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
        return response

    # --- sign-in --------------------------------------------------------------------------------

    def _sign_in_form(self, request: Request, error: str = "", status_code: int = 200) -> Response:
        token = request.cookies.get(SIGN_IN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = self._render(
            request, "sign_in.html", {"sign_in_csrf": token, "error": error}, None, status_code
        )
        response.set_cookie(SIGN_IN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=self._secure)
        return response

    async def sign_in_page(self, request: Request) -> Response:
        return self._sign_in_form(request)

    async def sign_in(self, request: Request) -> Response:
        form = await request.form()
        _check_csrf(request.cookies.get(SIGN_IN_CSRF_COOKIE), form.get("csrf"))
        peer = f"http:{request.client.host}" if request.client is not None else "http:unknown"
        try:
            token, session = await self.service.sign_in(
                str(form.get("inspector_id", "")).strip(), str(form.get("credential", "")), peer
            )
        except PdaRefused as refusal:
            status = {RefusalKind.THROTTLED: 429, RefusalKind.DIRECTORY: 503}.get(refusal.kind, 401)
            return self._sign_in_form(
                request, str(refusal), 403 if refusal.kind is RefusalKind.LOCKED_OUT else status
            )
        response = RedirectResponse("/", status_code=303)
        max_age = max(1, int((session.expires_at - datetime.now(UTC)).total_seconds()))
        response.set_cookie(
            SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=self._secure
        )
        response.delete_cookie(SIGN_IN_CSRF_COOKIE)
        return response

    async def sign_out(self, request: Request) -> Response:
        web = await self._signed_in(request)
        await self._form(request, web)
        self.service.sign_out(web.token)
        self._csrf.pop(web.token, None)
        response = RedirectResponse("/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # --- lanes and check-in ---------------------------------------------------------------------

    def _lanes_page(
        self, request: Request, web: _WebSession, error: str = "", status_code: int = 200
    ) -> Response:
        lanes = [
            (lane, lane.visits(), lane.bench_statuses())
            for number, lane in sorted(self.service.lanes.items())
            if number in web.session.lanes
        ]
        fields = [
            (spec, FIELD_TITLES.get(spec.attribute, spec.attribute))
            for spec in VEHICLE_FIELDS
            if spec.required or spec.attribute in FIELD_TITLES
        ]
        return self._render(
            request,
            "lanes.html",
            {
                "lanes": lanes,
                "fields": fields,
                "purposes": list(InspectionPurpose),
                "error": error,
                "FINAL": FINAL,
            },
            web,
            status_code,
        )

    async def lanes_page(self, request: Request) -> Response:
        return self._lanes_page(request, await self._signed_in(request))

    async def check_in(self, request: Request) -> Response:
        web = await self._signed_in(request)
        form = await self._form(request, web)
        lane = self.service.lane(int(request.path_params["lane"]), web.session)
        texts: dict[str, str | bool | None] = {}
        for spec in VEHICLE_FIELDS:
            value = form.get(spec.attribute)
            if spec.is_flag:
                texts[spec.attribute] = True if value else None
            elif isinstance(value, str) and value.strip():
                texts[spec.attribute] = value.strip()
        try:
            vehicle = vehicle_from_texts(texts)
            purpose = InspectionPurpose(str(form.get("purpose") or InspectionPurpose.UNRECORDED.value))
        except (FieldValueError, ValueError) as error:
            return self._lanes_page(request, web, str(error), 400)
        try:
            record_id = await lane.check_in(vehicle, purpose=purpose, laden=bool(form.get("laden")))
        except LaneError as error:
            return self._lanes_page(request, web, str(error), 409)
        return RedirectResponse(f"/visits/{record_id}", status_code=303)

    # --- one visit ------------------------------------------------------------------------------

    def _visit_page(
        self, request: Request, web: _WebSession, record_id: str, error: str = "", status_code: int = 200
    ) -> Response:
        lane = self.service.record_lane(record_id, web.session)
        view = lane.visit(record_id)
        entries = view.checks
        latest = {check.item_code: check for check in entries}
        codes = [code for code, _ in CHECKLIST] + [c for c in latest if c not in dict(CHECKLIST)]
        titles = dict(CHECKLIST)
        return self._render(
            request,
            "visit.html",
            {
                "view": view,
                "lane": lane,
                "history": view.history,
                "items": [(code, titles.get(code, code), latest.get(code)) for code in codes],
                "entries": entries,
                "on_benches": view.state not in (LaneState.VISUAL, *FINAL),
                "final": view.state in FINAL,
                "error": error,
                "record": view.record,
            },
            web,
            status_code,
        )

    async def visit_page(self, request: Request) -> Response:
        web = await self._signed_in(request)
        return self._visit_page(request, web, str(request.path_params["record_id"]))

    async def visit_events(self, request: Request) -> Response:
        """The visit's states as server-sent events, each as it happens, until it is final."""
        web = await self._signed_in(request)
        record_id = str(request.path_params["record_id"])
        lane = self.service.record_lane(record_id, web.session)

        async def events() -> AsyncIterator[str]:
            async for change in lane.state_changes(record_id):
                data = {"state": change.state.value, "at": change.at.isoformat(), "error": change.error or ""}
                yield f"data: {json.dumps(data)}\n\n"

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def submit_check(self, request: Request) -> Response:
        web = await self._signed_in(request)
        form = await self._form(request, web)
        record_id = str(request.path_params["record_id"])
        lane = self.service.record_lane(record_id, web.session)
        result = str(form.get("result", ""))
        if result not in ("pass", "fail"):
            return self._visit_page(request, web, record_id, "choose pass or fail / 请选择合格或不合格", 400)
        check = VisualCheck(
            item_code=str(form.get("item_code", "")).strip(),
            passed=result == "pass",
            note=str(form.get("note", "")).strip(),
            inspector_id=web.session.inspector_id,
            correction_reason=str(form.get("reason", "")).strip(),
        )
        try:
            lane.submit_checks(record_id, [check])
        except LaneError as error:
            return self._visit_page(request, web, record_id, str(error), 409)
        return RedirectResponse(f"/visits/{record_id}#checks", status_code=303)

    async def upload_photo(self, request: Request) -> Response:
        web = await self._signed_in(request)
        form = await self._form(request, web)
        record_id = str(request.path_params["record_id"])
        upload = form.get("photo")
        if not isinstance(upload, UploadFile):
            return self._visit_page(request, web, record_id, "no photo chosen / 未选择照片", 400)
        data = await upload.read(self.service.photos.max_bytes + 1)
        try:
            await self.service.add_photo(web.session, record_id, str(form.get("item_code", "")), data)
        except (LaneError, PhotoError) as error:
            return self._visit_page(request, web, record_id, str(error), 400)
        return RedirectResponse(f"/visits/{record_id}#photos", status_code=303)

    async def complete(self, request: Request) -> Response:
        web = await self._signed_in(request)
        await self._form(request, web)
        record_id = str(request.path_params["record_id"])
        lane = self.service.record_lane(record_id, web.session)
        try:
            await lane.complete(record_id)
        except LaneError as error:
            return self._visit_page(request, web, record_id, str(error), 409)
        return RedirectResponse(f"/visits/{record_id}", status_code=303)

    async def abort(self, request: Request) -> Response:
        web = await self._signed_in(request)
        form = await self._form(request, web)
        record_id = str(request.path_params["record_id"])
        lane = self.service.record_lane(record_id, web.session)
        try:
            await lane.abort(record_id, str(form.get("reason", "")), by=web.session.inspector_id)
        except LaneError as error:
            return self._visit_page(request, web, record_id, str(error), 409)
        return RedirectResponse(f"/visits/{record_id}", status_code=303)

    # --- refusals -------------------------------------------------------------------------------

    async def refused(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, PdaRefused) and exc.kind is RefusalKind.NO_SESSION:
            return RedirectResponse("/sign-in", status_code=303)
        if isinstance(exc, UnknownRecord) or (
            isinstance(exc, PdaRefused) and exc.kind is RefusalKind.NO_SUCH_LANE
        ):
            status = 404
        elif isinstance(exc, PdaRefused) and exc.kind is RefusalKind.DIRECTORY:
            status = 503
        else:
            status = 403
        return self._render(request, "refused.html", {"status": status, "why": str(exc)}, None, status)


def pda_app(service: PdaService, *, secure_cookies: bool = True) -> Starlette:
    web = PdaWeb(service, secure_cookies=secure_cookies)
    routes = [
        Route("/sign-in", web.sign_in_page),
        Route("/sign-in", web.sign_in, methods=["POST"]),
        Route("/sign-out", web.sign_out, methods=["POST"]),
        Route("/", web.lanes_page),
        Route("/lanes/{lane:int}/check-in", web.check_in, methods=["POST"]),
        Route("/visits/{record_id}", web.visit_page),
        Route("/visits/{record_id}/events", web.visit_events),
        Route("/visits/{record_id}/checks", web.submit_check, methods=["POST"]),
        Route("/visits/{record_id}/photos", web.upload_photo, methods=["POST"]),
        Route("/visits/{record_id}/complete", web.complete, methods=["POST"]),
        Route("/visits/{record_id}/abort", web.abort, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(_HERE / "pda_static")), name="static"),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={PdaRefused: web.refused, PdaCsrfRefused: web.refused, UnknownRecord: web.refused},
    )

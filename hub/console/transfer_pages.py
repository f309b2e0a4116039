"""Archive transfers (异地转籍) for registry clerks: transfers in and out with their progress, a
request for another province's archive, the identity-check form (what the clerk reads off the car,
and photos of it), accept and refuse.

Every action goes through ``hub.transfer_desk.TransferDesk``, the same object the gRPC
``ArchiveTransfer`` service calls, with the signed-in clerk as the person; its refusals are shown
with its own message. A hub that takes part in no transfers (no federation, no archive directory)
says so. Each look at a transfer is audited.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.console.roles import Permission
from hub.console.sessions import StaffSession
from hub.console.web import audit_view, checked_form, render, require, services_of
from hub.transfer_book import End, TransferView
from hub.transfer_desk import MAX_PHOTO_BYTES, DeskRefusal, DeskRefused, IdentityPhoto, TransferDesk

STATE_TITLES = {
    "requested": "已申请 Requested",
    "sending": "传输中 Sending",
    "received": "已接收 Received",
    "identity_checked": "已查验 Identity checked",
    "accepted": "已接收转入 Accepted",
    "refused": "已拒绝 Refused",
    "expired": "已过期 Expired",
}
_STATUS = {DeskRefusal.INVALID: 400, DeskRefusal.NOT_FOUND: 404, DeskRefusal.PRECONDITION: 409}


def _desk(request: Request) -> TransferDesk | None:
    return services_of(request).transfers


def progress(view: TransferView) -> int:
    """Per cent of the bag's bytes confirmed (100 once received)."""
    if view.total_bytes <= 0:
        return 0
    return min(100, round(100 * view.confirmed_bytes / view.total_bytes))


async def list_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    await require(request, Permission.TRANSFERS)
    desk = _desk(request)
    views = [] if desk is None else await desk.transfers()
    return render(
        request,
        "transfers.html",
        {
            "enabled": desk is not None,
            "incoming": [v for v in views if v.end is End.DESTINATION],
            "outgoing": [v for v in views if v.end is End.SOURCE],
            "titles": STATE_TITLES,
            "progress": progress,
            "error": error,
        },
        status_code,
    )


async def request_transfer(request: Request) -> Response:
    session = await require(request, Permission.TRANSFERS)
    form = await checked_form(request, session)
    desk = _desk(request)
    if desk is None:
        return await list_page(request, "this hub takes part in no archive transfers", 409)
    try:
        view = await desk.request(
            str(form.get("vin", "")).strip().upper(),
            str(form.get("from_province", "")).strip(),
            session.person_id,
        )
    except DeskRefused as refused:
        return await list_page(request, str(refused), _STATUS[refused.kind])
    return RedirectResponse(f"/transfers/{view.transfer_id}", status_code=303)


async def transfer_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    session = await require(request, Permission.TRANSFERS)
    desk = _desk(request)
    if desk is None:
        return await list_page(request, "this hub takes part in no archive transfers", 404)
    try:
        view = await desk.view(str(request.path_params["transfer_id"]))
    except DeskRefused as refused:
        return await list_page(request, str(refused), _STATUS[refused.kind])
    await audit_view(request, session, f"archive transfer {view.transfer_id} of {view.vin}")
    identity = view.identity or {}
    return render(
        request,
        "transfer.html",
        {
            "view": view,
            "titles": STATE_TITLES,
            "percent": progress(view),
            "identity": identity,
            "destination": view.end is End.DESTINATION,
            "archived": view.archive_vehicle or {},
            "error": error,
            "max_photo_mb": MAX_PHOTO_BYTES // (1024 * 1024),
        },
        status_code,
    )


async def _act(request: Request, session: StaffSession, action: str) -> Response:
    form = await checked_form(request, session)
    desk = _desk(request)
    transfer_id = str(request.path_params["transfer_id"])
    if desk is None:
        return await list_page(request, "this hub takes part in no archive transfers", 404)
    try:
        if action == "identity":
            photos = [
                IdentityPhoto(upload.filename or "photo.jpg", await upload.read(MAX_PHOTO_BYTES + 1))
                for upload in form.getlist("photos")
                if isinstance(upload, UploadFile) and upload.filename
            ]
            await desk.check_identity(
                transfer_id,
                session.person_id,
                str(form.get("vin", "")),
                str(form.get("engine_number", "")),
                str(form.get("colour", "")),
                photos,
            )
        elif action == "accept":
            await desk.accept(transfer_id, session.person_id)
        else:
            await desk.refuse(transfer_id, str(form.get("reason", "")))
    except DeskRefused as refused:
        return await transfer_page(request, str(refused), _STATUS[refused.kind])
    return RedirectResponse(f"/transfers/{transfer_id}", status_code=303)


async def check_identity(request: Request) -> Response:
    return await _act(request, await require(request, Permission.TRANSFERS), "identity")


async def accept(request: Request) -> Response:
    return await _act(request, await require(request, Permission.TRANSFERS), "accept")


async def refuse(request: Request) -> Response:
    return await _act(request, await require(request, Permission.TRANSFERS), "refuse")


def routes() -> list[Route]:
    return [
        Route("/transfers", list_page),
        Route("/transfers/request", request_transfer, methods=["POST"]),
        Route("/transfers/{transfer_id}", transfer_page),
        Route("/transfers/{transfer_id}/identity", check_identity, methods=["POST"]),
        Route("/transfers/{transfer_id}/accept", accept, methods=["POST"]),
        Route("/transfers/{transfer_id}/refuse", refuse, methods=["POST"]),
    ]

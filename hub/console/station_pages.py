"""Stations and their record-signing keys (administrators): the directory as ``tongjian hub
stations list`` and ``hub keys list`` show it, and revoking a key (``StationDirectory.revoke_key``,
which audits it and bumps the directory version that peers and the key cache follow)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.console.roles import Permission
from hub.console.web import audit_view, checked_form, render, require, run, services_of
from hub.errors import HubError


async def stations_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    session = await require(request, Permission.STATIONS)
    store = services_of(request).store
    stations = await run(store.stations)
    keys = await run(store.keys)
    now = services_of(request).clock()
    await audit_view(request, session, f"station directory ({len(stations)} stations, {len(keys)} keys)")
    by_station: dict[str, list[tuple[object, str]]] = {}
    for key in keys:
        by_station.setdefault(key.station_id, []).append((key, key.status(now)))
    return render(
        request,
        "stations.html",
        {"stations": stations, "keys": by_station, "error": error},
        status_code=status_code,
    )


async def revoke_key(request: Request) -> Response:
    session = await require(request, Permission.REVOKE_KEY)
    form = await checked_form(request, session)
    store = services_of(request).store
    key_id = str(form.get("key_id", ""))
    try:
        await run(store.revoke_key, key_id)
    except HubError as error:
        return await stations_page(request, str(error), 409)
    return RedirectResponse("/stations", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/stations", stations_page),
        Route("/stations/keys/revoke", revoke_key, methods=["POST"]),
    ]

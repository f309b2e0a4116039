"""The register's pages: a vehicle by VIN or plate (its register entry and archive state, its
inspections here and in other provinces, its labels), and a label with its QR code and revocation.

The readers are the hub's own: ``VehicleRegister``, ``hub.vehicle_history`` (each record checked
again, as ``tongjian hub vehicles history`` does), ``LabelRegistry`` (whose ``revoke_label`` audits
the revocation in its transaction). Each page that shows a vehicle or a label is audited.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from elabel.picture import render_label
from hub.console.roles import Permission
from hub.console.web import audit_view, checked_form, render, require, run, services_of
from hub.label_book import StoredLabel
from hub.vehicle_history import HistoryEntry, forwarded_history, local_history, merge_histories
from hub.vehicle_register import RegisteredVehicle
from inspection import InvalidIdentifier, validate_vin
from inspection.record_limits import MAX_TEXT_CHARS

STATUS_TITLES = {
    "active": "在册 Active",
    "transferring": "转出中 Transferring",
    "transferred_out": "已转出 Transferred out",
}


@dataclass(frozen=True, slots=True)
class VehicleFile:
    vin: str
    registered: RegisteredVehicle | None
    history: list[HistoryEntry]
    labels: list[StoredLabel]


async def search_page(request: Request) -> Response:
    session = await require(request, Permission.VEHICLES)
    services = services_of(request)
    query = request.query_params.get("q", "").strip()
    matches: list[RegisteredVehicle] = []
    error = ""
    if query:
        try:
            vin = validate_vin(query.upper())
        except InvalidIdentifier:
            matches = await run(services.store.vehicles.find_by_plate, query)
            if not matches:
                error = (
                    f"no vehicle with plate {query!r} in this province's register (a VIN is 17 characters)"
                )
        else:
            return RedirectResponse(f"/vehicles/{vin}", status_code=303)
        if len(matches) == 1:
            return RedirectResponse(f"/vehicles/{matches[0].vehicle.vin}", status_code=303)
        if matches:
            await audit_view(request, session, f"vehicle search {query!r} ({len(matches)} vehicles)")
    return render(request, "vehicle_search.html", {"query": query, "matches": matches, "error": error})


def _vehicle_file(request: Request, vin: str) -> VehicleFile:
    services = services_of(request)
    store = services.store
    history = merge_histories(
        local_history(store, vin, services.province), forwarded_history(store, vin, services.national_key)
    )
    return VehicleFile(vin, store.vehicles.get(vin), history, services.labels.by_vin(vin))


async def vehicle_page(request: Request) -> Response:
    session = await require(request, Permission.VEHICLES)
    try:
        vin = validate_vin(str(request.path_params["vin"]).upper())
    except InvalidIdentifier as error:
        return render(request, "vehicle_search.html", {"query": "", "matches": [], "error": str(error)}, 400)
    found = await run(_vehicle_file, request, vin)
    await audit_view(
        request, session, f"vehicle {vin} ({len(found.history)} inspections, {len(found.labels)} labels)"
    )
    return render(request, "vehicle.html", {"file": found, "status_titles": STATUS_TITLES})


async def label_lookup(request: Request) -> Response:
    await require(request, Permission.LABELS)
    serial = request.query_params.get("serial", "").strip()
    if serial:
        return RedirectResponse(f"/labels/{serial}", status_code=303)
    return render(request, "label_lookup.html", {})


async def label_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    session = await require(request, Permission.LABELS)
    services = services_of(request)
    serial = str(request.path_params["serial"])
    stored = await run(services.labels.get, serial)
    if stored is None:
        return render(
            request,
            "label_lookup.html",
            {"error": f"no label with serial {serial!r} was issued by this hub"},
            404,
        )
    picture = await run(render_label, stored.token, stored.claims)
    await audit_view(request, session, f"label {serial} of {stored.claims.vin}")
    return render(
        request,
        "label.html",
        {
            "label": stored,
            "claims": stored.claims,
            "picture": "data:image/png;base64," + base64.b64encode(picture.png).decode("ascii"),
            "error": error,
        },
        status_code=status_code,
    )


async def revoke_label(request: Request) -> Response:
    session = await require(request, Permission.REVOKE_LABEL)
    form = await checked_form(request, session)
    services = services_of(request)
    serial = str(request.path_params["serial"])
    reason = str(form.get("reason", "")).strip()
    if not reason or len(reason) > MAX_TEXT_CHARS:
        return await label_page(request, f"a revocation needs a reason of 1-{MAX_TEXT_CHARS} characters", 400)
    if await run(services.labels.get, serial) is None:
        return await label_page(request)
    await run(services.labels.revoke_label, serial, f"{reason} (by {session.person_id})")
    return RedirectResponse(f"/labels/{serial}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/vehicles", search_page),
        Route("/vehicles/{vin}", vehicle_page),
        Route("/labels", label_lookup),
        Route("/labels/{serial}", label_page),
        Route("/labels/{serial}/revoke", revoke_label, methods=["POST"]),
    ]

"""The dashboard: per-station pass rates, anomaly counts and records received per hour
(``hub.console.dashboard``), open to every staff role, and the review queue's figures for reviewers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.console.dashboard import read_dashboard
from hub.console.roles import Permission
from hub.console.web import render, require, run, services_of


async def dashboard_page(request: Request) -> Response:
    await require(request, Permission.DASHBOARD)
    services = services_of(request)
    board = await run(read_dashboard, services.store.database, services.clock())
    return render(request, "dashboard.html", {"board": board})


def routes() -> list[Route]:
    return [Route("/", dashboard_page)]

"""The PDA page in Debian's Chromium at phone size (390 x 844): a whole visit on a lane over
simulated benches, from sign-in to the judged record, through the same PdaService and Lane as the
gRPC PDA; and its refusals (no session, CSRF)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inspection import Fuel, Vehicle
from inspection.vehicle_fields import VEHICLE_FIELDS, vehicle_from_texts
from station_agent.inspector_directory import InspectorDirectory
from station_agent.lane import LaneState
from station_agent.pda_service import PdaService
from station_agent.pda_web import FIELD_TITLES, pda_app
from station_agent.photo_store import PhotoStore
from tests.browser_rig import PHONE, LoopThread, Screens
from tests.station_agent.lane.lane_rig import RunningLane, jpeg, start_lane, vehicle_with
from web_serving.asgi_server import AsgiServer

INSPECTOR = "insp-07"
STATION = "50-0001"


@dataclass
class PdaPage:
    url: str
    credential: str
    lane: RunningLane
    thread: LoopThread


@pytest.fixture
def pda_page(tmp_path: Path, loop_thread: LoopThread) -> Iterator[PdaPage]:
    lanes = start_lane(tmp_path)
    running = loop_thread.run(anext(lanes))
    directory = InspectorDirectory(tmp_path / "inspectors.sqlite3")
    credential = directory.issue(INSPECTOR, name="Li Wei", station_id=STATION, lanes=[1])

    async def serve() -> AsgiServer:
        service = PdaService(running.lane, directory, PhotoStore(tmp_path / "photos", max_bytes=100_000))
        server = AsgiServer(pda_app(service, secure_cookies=False), "127.0.0.1", 0, what="PDA page")
        await server.start()
        return server

    server = loop_thread.run(serve())
    try:
        yield PdaPage(f"http://127.0.0.1:{server.port}", credential, running, loop_thread)
    finally:
        loop_thread.run(server.stop())
        loop_thread.run(lanes.aclose())


@pytest.fixture
def phone(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()


def _shown_texts(vehicle: Vehicle) -> dict[str, str | bool | None]:
    """What an inspector types for ``vehicle``: the fields the check-in form shows."""
    texts: dict[str, str | bool | None] = {}
    for spec in VEHICLE_FIELDS:
        if not (spec.required or spec.attribute in FIELD_TITLES):
            continue
        value = getattr(vehicle, spec.attribute)
        if spec.is_flag:
            texts[spec.attribute] = True if value else None
        elif value is not None and value != ():
            texts[spec.attribute] = spec.format(value)
    return texts


def _check_in(page: Any, texts: dict[str, str | bool | None]) -> None:
    for spec in VEHICLE_FIELDS:
        selector = f"#f-1-{spec.attribute}"
        if spec.attribute not in texts or page.locator(selector).count() == 0:
            continue
        if spec.choices is not None:
            page.select_option(selector, str(texts[spec.attribute]))
        else:
            page.fill(selector, str(texts[spec.attribute]))
    page.click("button:has-text('Check in')")


def _record_item(page: Any, code: str, result: str, note: str = "", reason: str | None = None) -> None:
    form = page.locator(f"form[data-item='{code}']")
    form.locator(f"input[name=result][value={result}]").check()
    form.locator("input[name=note]").fill(note)
    if reason is not None:
        form.locator("input[name=reason]").fill(reason)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_a_whole_visit_on_the_pda_page_at_phone_size(pda_page: PdaPage, phone: Any, screens: Screens) -> None:
    page = phone
    page.goto(pda_page.url + "/")
    assert page.url.endswith("/sign-in")
    screens.shot(page, "pda-sign-in")
    page.fill("#inspector_id", INSPECTOR)
    page.fill("#credential", "wrong-credential")
    page.click("button:has-text('Sign in')")
    assert "wrong inspector id or credential" in page.inner_text("p.error")
    page.fill("#inspector_id", INSPECTOR)
    page.fill("#credential", pda_page.credential)
    page.click("button:has-text('Sign in')")
    assert "Lane 1" in page.inner_text("h1")

    texts = _shown_texts(vehicle_with(Fuel.ELECTRIC))
    vehicle = vehicle_from_texts(texts)

    async def drive_in() -> None:  # the simulated benches get the car that is checked in
        pda_page.lane.benches.next_vehicle(vehicle, seed=0)

    pda_page.thread.run(drive_in())
    if not page.is_visible("#f-1-vin"):  # the form is open while the lane has no vehicles
        page.click("summary:has-text('Check a vehicle in')")
    screens.shot(page, "pda-check-in")
    _check_in(page, texts)
    assert "/visits/" in page.url
    record_id = page.url.rsplit("/", 1)[1]
    assert vehicle.plate in page.inner_text("h1")
    # Live: the page follows the benches by server-sent events and reloads once they are done.
    page.wait_for_selector("#live[data-settled]", timeout=30_000)
    assert page.inner_text("#state") == "visual"
    steps = page.inner_text("#steps")
    assert "brake" in steps and "visual" in steps
    screens.shot(page, "pda-benches-done")

    for code in ("vin-stamp", "seat-belts", "signal-lamps", "chassis-leaks"):
        _record_item(page, code, "pass")
    _record_item(page, "tyres", "fail", "front left tread below 1.6 mm")
    # A second result is a correction: without a reason the lane refuses it, with one it is kept.
    _record_item(page, "tyres", "pass", "", reason="")
    assert "needs a reason" in page.inner_text("p.error")
    _record_item(page, "tyres", "pass", "re-measured: 1.8 mm", reason="measured the wrong tyre")
    screens.shot(page, "pda-visual-checks")

    page.select_option("#photo-item", "tyres")
    page.set_input_files(
        "#photo", files=[{"name": "tyre.jpg", "mimeType": "image/jpeg", "buffer": jpeg(b"tyre")}]
    )
    page.click("button:has-text('Upload')")
    assert "Photos (1)" in page.inner_text("#photos h2")
    page.set_input_files(
        "#photo", files=[{"name": "x.png", "mimeType": "image/png", "buffer": b"\x89PNG not"}]
    )
    page.click("button:has-text('Upload')")
    assert "not a JPEG" in page.inner_text("p.error")

    page.click("button:has-text('Complete')")
    assert "Result" in page.inner_text("#result")
    screens.shot(page, "pda-complete")

    view = pda_page.lane.lane.visit(record_id)
    assert view.state is LaneState.COMPLETE
    (record,) = pda_page.lane.completed
    tyres = [c for c in record.visual_checks if c.item_code == "tyres"]
    assert [(c.passed, c.correction_reason) for c in tyres] == [
        (False, ""),
        (True, "measured the wrong tyre"),
    ]
    assert all(c.inspector_id == INSPECTOR for c in record.visual_checks)
    assert [p.item_code for p in record.photos] == ["tyres"]
    assert record.vehicle == vehicle


def test_the_pda_page_refuses_without_a_session_and_without_the_csrf_token(
    pda_page: PdaPage, phone: Any
) -> None:
    page = phone
    assert page.request.post(pda_page.url + "/lanes/1/check-in", form={}, max_redirects=0).status == 303
    page.goto(pda_page.url + "/sign-in")
    page.fill("#inspector_id", INSPECTOR)
    page.fill("#credential", pda_page.credential)
    page.click("button:has-text('Sign in')")
    response = page.request.post(pda_page.url + "/lanes/1/check-in", form={"csrf": "forged", "vin": "X"})
    assert response.status == 403
    assert pda_page.lane.lane.visits() == []  # nothing checked in

"""An archive transfer worked by a registry clerk in the staff console, in Debian's Chromium: a
Chongqing car's archive requested at the Sichuan hub, followed to RECEIVED, the identity check with
a photo (first with a VIN that does not match, named), then accepted under a new Sichuan plate;
and a role that may not move vehicles is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.console.roles import StaffRole
from hub.console.staff_directory import StaffDirectory
from hub.vehicle_register import VehicleStatus
from tests.browser_rig import LoopThread, Screens
from tests.conftest import _Databases
from tests.hub.transfer_rig import TransferRig, start_rig, wait_until

PHOTO = {"name": "front.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff\xe0 the car \xff\xd9"}


@pytest.fixture
def transfer_console(
    tmp_path: Path, loop_thread: LoopThread, make_record: Any, submit: Any
) -> Iterator[tuple[TransferRig, str, dict[StaffRole, str]]]:
    databases = _Databases("sqlite", tmp_path)
    rig = loop_thread.run(start_rig(databases, tmp_path, make_record, submit, 2, console=True))
    try:
        staff = StaffDirectory(rig.sichuan.hub.store.database)
        passwords = {
            StaffRole.REGISTRY_CLERK: staff.issue("wang.clerk", StaffRole.REGISTRY_CLERK),
            StaffRole.REVIEWER: staff.issue("li.reviewer", StaffRole.REVIEWER),
        }
        yield rig, f"http://127.0.0.1:{rig.sichuan.hub.console_port}", passwords
    finally:
        loop_thread.run(rig.sichuan.stop())
        loop_thread.run(rig.chongqing.stop())


def _sign_in(page: Any, url: str, person: str, password: str) -> None:
    page.goto(url + "/sign-in")
    page.fill("#person_id", person)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")


def test_a_clerk_requests_checks_and_accepts_a_transfer(
    transfer_console: tuple[TransferRig, str, dict[StaffRole, str]],
    chromium: Any,
    screens: Screens,
    loop_thread: LoopThread,
) -> None:
    rig, url, passwords = transfer_console
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _sign_in(page, url, "li.reviewer", passwords[StaffRole.REVIEWER])
        assert page.goto(url + "/transfers").status == 403  # type: ignore[union-attr]

        _sign_in(page, url, "wang.clerk", passwords[StaffRole.REGISTRY_CLERK])
        page.goto(url + "/transfers")
        page.fill("#vin", rig.vin)
        page.fill("#from_province", "50")
        page.click("button:has-text('Request')")
        assert "/transfers/" in page.url
        transfer_id = page.url.rsplit("/", 1)[1]
        book = rig.sichuan.hub.transfer_desk.book  # type: ignore[union-attr]
        loop_thread.run(wait_until(lambda: book.get(transfer_id).state.value == "received", "received"))
        page.reload()
        assert "Received" in page.inner_text("h1")
        assert "100%" in page.inner_text("main")
        screens.shot(page, "console-transfer-received")

        # The car in front of the clerk has another VIN: recorded and named, not accepted.
        page.fill("#id-vin", "LSVAU218XN2183294")
        page.fill("#id-engine", "EA888-123456")
        page.fill("#id-colour", "white")
        page.set_input_files("#id-photos", files=[PHOTO])
        page.click("button:has-text('Record the check')")
        assert "vin:" in page.inner_text("li.fail")
        assert page.locator("button:has-text('Accept')").count() == 0

        page.fill("#id-vin", rig.vin.lower())
        page.fill("#id-engine", "EA888-123456")
        page.fill("#id-colour", "white")
        page.set_input_files("#id-photos", files=[PHOTO])
        page.click("button:has-text('Record the check')")
        assert "Identity checked" in page.inner_text("h1")
        screens.shot(page, "console-transfer-identity-checked")
        page.click("button:has-text('Accept')")
        assert "Accepted" in page.inner_text("h1")
        screens.shot(page, "console-transfer-accepted")
        page.goto(url + "/transfers")
        screens.shot(page, "console-transfers")

        registered = rig.sichuan.hub.store.vehicles.get(rig.vin)
        assert registered is not None and registered.status is VehicleStatus.ACTIVE
        assert book.get(transfer_id).new_plate == registered.vehicle.plate
        assert book.get(transfer_id).identity["clerk"] == "wang.clerk"  # type: ignore[index]
        loop_thread.run(
            wait_until(
                lambda: rig.chongqing.hub.store.vehicles.get(rig.vin).status is VehicleStatus.TRANSFERRED_OUT,  # type: ignore[union-attr]
                "released at the source",
            )
        )
    finally:
        context.close()

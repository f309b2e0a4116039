"""The staff console in Debian's Chromium: sign-in, a review item worked end to end, escalation to
a senior reviewer, vehicles and labels for a clerk, stations for an admin, role refusals and CSRF.

One hub (SQLite) serves every test of this module; each test takes its own queue items. The
console's storage on PostgreSQL is covered without a browser (test_console_storage.py).
"""

from __future__ import annotations

import re
from typing import Any

from hub.console.roles import StaffRole
from hub.review_states import ReviewState
from tests.browser_rig import Screens
from tests.hub.console.console_rig import ConsoleHub, csrf_of, sign_in


def _item_id(page: Any) -> int:
    found = re.search(r"/review/(\d+)$", page.url)
    assert found is not None, page.url
    return int(found.group(1))


def test_a_reviewer_signs_in_claims_an_item_sees_its_record_and_rejects_it(
    console_hub: ConsoleHub, page: Any, screens: Screens
) -> None:
    page.goto(console_hub.url + "/")
    assert page.url.endswith("/sign-in")  # not signed in: sent to the form
    screens.shot(page, "console-sign-in")
    page.fill("#person_id", console_hub.people[StaffRole.REVIEWER])
    page.fill("#password", "not the password")
    page.click("button:has-text('Sign in')")
    assert "wrong person id or password" in page.inner_text("p.error")

    sign_in(page, console_hub, StaffRole.REVIEWER)
    assert page.url.endswith("/review")
    assert "复核队列 Review queue" in page.inner_text("h1")
    assert page.locator("table tr").count() >= 4  # header and the three flagged records
    screens.shot(page, "console-review-queue")

    page.click("button:has-text('Claim next item')")
    item_id = _item_id(page)
    body = page.inner_text("main")
    assert "too_fast" in body  # the anomaly reason
    assert "brake.service.axle1" in body  # the verdict items
    chart = page.locator("img.chart")
    assert chart.count() == 1
    assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 300  # a real PNG
    screens.shot(page, "console-review-item")

    # A decision without a reason is refused by the queue's rule, and the page says so.
    page.click("button[value=approve]")
    assert "needs a reason" in page.inner_text("p.error")
    page.fill("#reason", "visit far too short for the benches it claims")
    page.click("button[value=reject]")
    assert page.url.endswith(f"/review?message=item+{item_id}:+rejected")
    assert f"item {item_id}: rejected" in page.inner_text("p.msg")

    item = next(i for i in console_hub.hub.review.items("50", [ReviewState.REJECTED], 50) if i.id == item_id)
    assert item.decided_by == console_hub.people[StaffRole.REVIEWER]
    opened = [e.detail for e in console_hub.audit("review_opened")]
    assert any(f"item {item_id}: record opened by wang.reviewer" in d for d in opened)
    # The rejection's effects ran as for a gRPC decision: the record's label is revoked.
    revoked = console_hub.audit("label_revoked")
    assert revoked, "rejecting a passed record revokes its label"


def test_an_escalated_item_is_decided_by_a_senior_reviewer_and_refused_to_a_reviewer(
    console_hub: ConsoleHub, chromium: Any, screens: Screens
) -> None:
    reviewer = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    senior = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        sign_in(reviewer, console_hub, StaffRole.REVIEWER)
        reviewer.click("button:has-text('Claim next item')")
        item_id = _item_id(reviewer)
        reviewer.fill("#reason", "brake curves look copied; a senior should decide")
        reviewer.click("button[value=escalate]")
        assert f"item {item_id}: escalated" in reviewer.inner_text("p.msg")

        sign_in(senior, console_hub, StaffRole.SENIOR_REVIEWER)
        senior.click("button:has-text('Claim next item')")
        assert _item_id(senior) == item_id  # escalated items first for a senior reviewer
        assert "escalated_claimed" in senior.inner_text("h1")
        screens.shot(senior, "console-review-escalated")

        # The reviewer forges the senior's decision form: the role rule refuses it (403, audited).
        response = reviewer.request.post(
            f"{console_hub.url}/review/{item_id}/decide",
            form={"csrf": csrf_of(reviewer), "decision": "approve", "reason": "fine"},
        )
        assert response.status == 403
        assert any(
            f"/review/{item_id}/decide" in e.detail and "wang.reviewer" in e.detail
            for e in console_hub.audit("access_refused")
        )

        senior.fill("#reason", "curves differ on closer look; result stands")
        senior.click("button[value=approve]")
        assert f"item {item_id}: approved" in senior.inner_text("p.msg")
    finally:
        reviewer.context.close()
        senior.context.close()


def test_roles_see_their_pages_and_get_403_for_the_others(
    console_hub: ConsoleHub, chromium: Any, screens: Screens
) -> None:
    clerk = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    try:
        sign_in(clerk, console_hub, StaffRole.REGISTRY_CLERK)
        assert "概览 Dashboard" in clerk.inner_text("h1")
        assert "50-0001" in clerk.inner_text("main")
        screens.shot(clerk, "console-dashboard")

        response = clerk.goto(console_hub.url + "/review")
        assert response is not None and response.status == 403
        assert "403" in clerk.inner_text("h1")
        screens.shot(clerk, "console-403")
        assert clerk.goto(console_hub.url + "/stations").status == 403  # type: ignore[union-attr]

        vin = console_hub.vins[2]
        clerk.goto(console_hub.url + "/vehicles")
        clerk.fill("#q", vin)
        clerk.click("button:has-text('Search')")
        assert clerk.url.endswith(f"/vehicles/{vin}")
        body = clerk.inner_text("main")
        assert "在册 Active" in body  # archive state from the register
        assert "50-0001" in body and "是 yes" in body  # the inspection, re-verified
        screens.shot(clerk, "console-vehicle")
        assert any(vin in e.detail and "liu.clerk" in e.detail for e in console_hub.audit("console_viewed"))

        clerk.click("td a[href^='/labels/']")
        assert clerk.locator("img[alt*='QR']").count() == 1
        assert clerk.evaluate("document.querySelector(\"img[alt*='QR']\").naturalWidth") > 100
        screens.shot(clerk, "console-label")
        clerk.fill("#reason", "plate reported stolen")
        clerk.click("button:has-text('Revoke')")
        assert "plate reported stolen (by liu.clerk)" in clerk.inner_text("main")

        sign_in(admin, console_hub, StaffRole.ADMIN)
        admin.goto(console_hub.url + "/stations")
        assert console_hub.key_id in admin.inner_text("main")
        screens.shot(admin, "console-stations")
        assert admin.goto(console_hub.url + "/review").status == 403  # type: ignore[union-attr]
        refusals = [e.detail for e in console_hub.audit("access_refused")]
        assert any("liu.clerk" in d and "/review" in d for d in refusals)
        assert any("chen.admin" in d and "/review" in d for d in refusals)
    finally:
        clerk.context.close()
        admin.context.close()


def test_forms_without_the_sessions_csrf_token_are_refused(console_hub: ConsoleHub, page: Any) -> None:
    sign_in(page, console_hub, StaffRole.REVIEWER)
    before = {i.id: i.state for i in console_hub.hub.review.items("50", [], 50)}
    # The page's own form with its token changed, as a forged cross-site form would arrive.
    page.goto(console_hub.url + "/review")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')")
    with page.expect_response(lambda r: r.url.endswith("/review/claim")) as answer:
        page.click("button:has-text('Claim next item')")
    assert answer.value.status == 403
    assert "CSRF" in page.inner_text("main")
    # No token at all.
    assert page.request.post(console_hub.url + "/review/claim", form={}).status == 403
    assert {i.id: i.state for i in console_hub.hub.review.items("50", [], 50)} == before  # nothing claimed
    # The sign-in form's double-submit token: a post without the cookie's token is refused too.
    fresh = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    try:
        response = fresh.request.post(
            console_hub.url + "/sign-in",
            form={"person_id": "wang.reviewer", "password": console_hub.passwords[StaffRole.REVIEWER]},
        )
        assert response.status == 403
    finally:
        fresh.context.close()

"""The follow-up results pages in real headless Chromium: the summary, what needs attention, one appointment."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from ivr.store import keys
from ivr.store.followups import FollowupStore

from .test_admin_browser import admin, log_in  # noqa: F401
from .test_followup_pages import GOOD


def test_results_page_links_each_appointment_to_its_page(page: Page, live_server, admin, redis_conn):
    store = FollowupStore(redis_conn)
    api_key = store.new_api_key("scheduler")
    client = live_server.app.test_client()
    body = [GOOD, {**GOOD, "name": "Cy Park", "phone": "+12025550113"}]
    resp = client.post("/api/appointments", json=body, headers={"Authorization": f"Bearer {api_key}"})
    assert resp.status_code == 200
    maria = next(r.id for r in store.list() if r.name == "Maria Lopez")
    cy = next(r.id for r in store.list() if r.name == "Cy Park")
    store.record_answer(maria, "identity", "confirmed")
    store.record_answer(maria, "rating", "5")
    store.complete(maria, "reached")
    store.note(maria, "finished", attempt=1, outcome="reached")
    redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format(cy),
                    mapping={"status": "blocked", "blocked_reason": "the Twilio account is suspended"})

    log_in(page, live_server.url, "/admin/followups")
    expect(page.locator("#followup-chart rect.bar")).to_have_count(18)  # every state, "time zones disagree" too
    expect(page.locator("#attention .count")).to_have_text("1")
    expect(page.locator(f'#attention li[data-appointment="{cy}"]')).to_contain_text(
        "Blocked: the Twilio account is suspended — resumes by itself once fixed")
    row = page.locator(f'tr[data-appointment="{maria}"]')
    expect(row.locator("td.state")).to_have_text("Reached and confirmed")
    expect(row.locator("td.answers")).to_have_text("Confirmed who they are; Rated the visit 5 of 5")

    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(f"/admin/followups/{maria}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up for Maria Lopez")
    expect(page.locator("#state")).to_have_text("Reached and confirmed")
    expect(page.locator('tr[data-event="finished"] td.what')).to_have_text("Attempt 1: finished: Reached and confirmed")
    expect(page.locator("#number")).to_have_text(re.compile(r"0123$"))
    page.get_by_role("link", name="← Follow-up calls").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Follow-up calls")

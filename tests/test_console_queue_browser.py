"""Working the callback queue in real headless Chromium: take next, outcomes, two staff at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from ivr.staff.passwords import hash_password
from ivr.store.audit import AuditLog
from ivr.store.callback_types import Status
from ivr.store.callbacks import CallbackQueue
from ivr.store.users import UserStore
from ivr.store.voicemails import Voicemail, VoicemailStatus, VoicemailStore


PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(redis_conn) -> UserStore:
    users = UserStore(redis_conn)
    users.add("nina", "nurse", hash_password(PASSWORD), phone="+12025550177", display_name="Nina Patel")
    users.add("nora", "nurse", hash_password(PASSWORD), display_name="Nora Diaz")
    users.add("bill", "billing", hash_password(PASSWORD), display_name="Bill Jones")
    return users


@pytest.fixture
def queue(redis_conn) -> CallbackQueue:
    return CallbackQueue(redis_conn)


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + "/console")


def test_take_next_shows_the_number_and_no_answer_schedules_a_retry(page, live_server, staff, queue, redis_conn):
    older = queue.request("nurse", "+13055550147", "es", requested_at=1_000.0).callback
    urgent = queue.request("nurse", "+12025550188", "en", urgent=True, urgent_reason="chest pain").callback
    log_in(page, live_server.url, "nina")

    rows = page.locator("section.queue[data-department=nurse] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Urgent: chest pain")
    body = page.content()
    assert "+13055550147" not in body and "3055550147" not in body  # masked until claimed
    expect(rows.nth(1)).to_contain_text("0147")

    page.get_by_role("button", name="Take next").click()
    expect(page).to_have_url(live_server.url + f"/console/callbacks/{urgent.id}")  # urgent first
    expect(page.locator("#phone")).to_have_text("+12025550188")
    expect(page.locator("#status")).to_contain_text("claimed by you")

    page.get_by_label("No answer").check()
    page.get_by_label("Note (optional)").fill("rang 8 times")
    page.get_by_role("button", name="Save outcome").click()
    expect(page).to_have_url(live_server.url + "/console")
    # Urgent and not reached: tried again within minutes, at any hour, and kept in sight at the top.
    expect(page.get_by_role("status")).to_contain_text("this urgent callback will be tried again at")
    expect(page.locator("section.queue[data-department=nurse] table.waiting tbody tr")).to_have_count(1)
    not_reached = page.locator("section.queue[data-department=nurse] table.not-reached tbody tr")
    expect(not_reached).to_have_count(1)
    expect(not_reached.first).to_contain_text("chest pain")
    expect(page.locator("section.queue[data-department=nurse] .figures")).to_contain_text("1 retry scheduled")

    after = queue.get(urgent.id)
    assert after.status is Status.SCHEDULED and after.attempts == 1
    assert queue.get(older.id).status is Status.WAITING
    actions = [(e.action, e.target) for e in reversed(AuditLog(redis_conn).for_actor("nina"))]
    assert ("claim", urgent.id) in actions
    assert ("view_callback", urgent.id) in actions
    assert ("outcome", urgent.id) in actions


def test_two_staff_never_get_the_same_patient(browser: Browser, live_server, staff, queue):
    only = queue.request("nurse", "+13055550147", "en").callback
    nina, nora = browser.new_context().new_page(), browser.new_context().new_page()
    log_in(nina, live_server.url, "nina")
    log_in(nora, live_server.url, "nora")
    expect(nora.locator("section.queue[data-department=nurse] tbody tr")).to_have_count(1)

    nina.get_by_role("button", name="Take next").click()
    nora.get_by_role("button", name="Take next").click()

    expect(nina.locator("#phone")).to_have_text("+13055550147")
    expect(nora.get_by_role("status")).to_contain_text("Nobody is waiting")
    # Nora opening Nina's callback sees it masked and cannot act on it.
    nora.goto(live_server.url + f"/console/callbacks/{only.id}")
    expect(nora.locator("#phone")).not_to_contain_text("3055550147")
    expect(nora.locator("#status")).to_contain_text("claimed by nina")
    expect(nora.get_by_role("button", name="Save outcome")).to_have_count(0)

    # Nina gives it back; now Nora gets it.
    nina.get_by_role("button", name="Give back to the queue").click()
    nora.goto(live_server.url + "/console")
    nora.get_by_role("button", name="Take next").click()
    expect(nora.locator("#phone")).to_have_text("+13055550147")
    nina.context.close()
    nora.context.close()


def test_reached_patient_counts_as_completed_within_target(page, live_server, staff, queue):
    queue.request("nurse", "+13055550147", "en")
    log_in(page, live_server.url, "nina")
    page.get_by_role("button", name="Take next").click()
    expect(page.locator("#phone")).to_have_text("+13055550147")
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("taken by nina")
    expect(history.nth(1)).to_contain_text("asked for a callback")
    page.get_by_label("Reached the patient").check()
    page.get_by_role("button", name="Save outcome").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: reached the patient.")
    chart = page.locator("figure", has_text="Nurse line")
    expect(chart.locator("rect title", has_text="Completed within target")).to_have_text("Completed within target: 1")
    expect(chart.locator("rect title", has_text="Waiting now")).to_have_text("Waiting now: 0")


def test_staff_cannot_open_callbacks_of_other_departments(page, live_server, staff, queue):
    nurse_cb = queue.request("nurse", "+13055550147", "en").callback
    log_in(page, live_server.url, "bill")
    expect(page.locator("section.queue")).to_have_count(1)  # billing only
    response = page.goto(live_server.url + f"/console/callbacks/{nurse_cb.id}")
    assert response.status == 403
    assert "3055550147" not in page.content()


def test_call_patient_without_twilio_credentials_says_what_is_missing(page, live_server, staff, queue):
    queue.request("nurse", "+13055550147", "en")
    log_in(page, live_server.url, "nina")
    page.get_by_role("button", name="Take next").click()
    page.get_by_role("button", name="Call patient").click()
    # A call that cannot be placed is an error, not a notice: the error box says what is switched off and
    # who can fix it, in words (the setting's name is for the Setup page and the log, not for a nurse).
    alert = page.get_by_role("alert").filter(has_text="No call was placed")
    expect(alert).to_contain_text("calls to patients are switched off until the clinic's Twilio account is connected")
    expect(alert).to_contain_text("Ask an administrator")
    expect(alert).not_to_contain_text(re.compile("TWILIO_|IVR_"))


def test_a_message_with_no_transcript_says_why_in_the_queue(page, live_server, staff, queue, redis_conn):
    """Staff must know to listen: a message no engine can transcribe is not 'not transcribed yet'."""
    store = VoicemailStore(redis_conn)
    for sid, phone, lang, status in [
        ("RE" + "a" * 32, "+13055550147", "es", VoicemailStatus.NO_ENGINE),
        ("RE" + "b" * 32, "+12025550188", "en", VoicemailStatus.RECEIVED),
        ("RE" + "c" * 32, "+12025550199", "en", VoicemailStatus.NO_SPEECH),
    ]:
        store.receive(Voicemail(sid, caller=phone, department="nurse", lang=lang, status=status))
        cb = queue.request("nurse", phone, lang, source="voicemail", reason_recording_sid=sid).callback
        store.link_callback(sid, cb.id)
    log_in(page, live_server.url, "nina")

    rows = page.locator("section.queue[data-department=nurse] tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Message left in a language without a transcriber: listen to it")
    expect(rows.nth(1)).to_contain_text("Message left; not yet transcribed")
    expect(rows.nth(2)).to_contain_text("No message: the caller said nothing")
    # A row opens the callback for reading, the number still hidden.
    rows.nth(2).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "2025550199" not in page.content()


def test_the_queue_page_fits_a_phone(page, live_server, staff, queue):
    """No sideways scrolling at 390 px: the chart scales down with the screen."""
    queue.request("nurse", "+13055550147", "en")
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server.url, "nina")
    expect(page.locator("section.queue[data-department=nurse] tbody tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()

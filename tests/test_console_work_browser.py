"""The callback desk in real headless Chromium: the idle warning, drafts across an idle logout, live call
status, a 390 px phone, and axe-core's accessibility rules."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ivr.staff.passwords import hash_password
from ivr.store.callback_types import Outcome, RetryPolicy, Status
from ivr.store.callbacks import CallbackQueue
from ivr.store.outbound import OutboundCalls
from ivr.store.users import UserStore
from ivr.store.voicemails import Voicemail, VoicemailStatus
from ivr.workers.callbacks import new_attempt_key

PASSWORD = "correct horse battery staple"
PATIENT = "+13055550147"
SID = "CA" + "e" * 32
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


@pytest.fixture
def staff(redis_conn) -> UserStore:
    users = UserStore(redis_conn)
    users.add("nina", "nurse", hash_password(PASSWORD), phone="+12025550177", display_name="Nina Patel")
    users.add("ada", "admin", hash_password(PASSWORD), display_name="Ada Admin")
    return users


@pytest.fixture
def queue(redis_conn) -> CallbackQueue:
    return CallbackQueue(redis_conn)


def log_in(page: Page, username: str = "nina") -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def take_one(page: Page, base: str) -> str:
    page.goto(base + "/login")
    log_in(page)
    expect(page).to_have_url(base + "/console")
    page.get_by_role("button", name="Take next").click()
    expect(page).to_have_url(re.compile(r"/console/callbacks/\w+$"))
    return page.url


def test_the_idle_warning_counts_down_and_stay_keeps_the_session(page, start_server, staff):
    server = start_server(real_time=True, STAFF_IDLE_MINUTES=0.1)  # 6 s; the warning 1.5 s before
    page.goto(server.url + "/login")
    log_in(page)
    expect(page).to_have_url(server.url + "/console")
    warning = page.get_by_role("alertdialog")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=8000)
    expect(warning).to_contain_text("You will be logged out in")
    expect(page.locator("#idle-countdown")).to_have_text(re.compile(r"^0:0[0-2]$"))
    expect(page.get_by_role("button", name="Stay logged in")).to_be_focused()
    page.get_by_role("button", name="Stay logged in").click()
    expect(warning).to_be_hidden()
    page.wait_for_timeout(3000)  # past the first deadline: still here, still logged in
    expect(page).to_have_url(server.url + "/console")
    assert page.evaluate("fetch('/console/session').then(r => r.status)") == 200
    # Left alone, it warns again, then goes to the login page, which comes back here.
    expect(page).to_have_url(server.url + "/login?next=%2Fconsole", timeout=10000)
    expect(page.get_by_role("status")).to_contain_text("You were logged off after 0.1 minutes without activity")
    log_in(page)
    expect(page).to_have_url(server.url + "/console")


def test_an_outcome_typed_before_an_idle_logout_is_back_after_login_and_saves(page, start_server, staff, queue):
    # 12 s: taking the callback and typing must come before the logout even on a busy test machine (at 6 s a
    # run with the other test process transcribing was logged out before the draft was kept).
    server = start_server(real_time=True, STAFF_IDLE_MINUTES=0.2)
    cb = queue.request("nurse", PATIENT, "en").callback
    here = take_one(page, server.url)
    page.get_by_label("Reached the patient").check()
    page.get_by_label("Note (optional)").fill("Told her to take 2 tablets; call back Friday")
    expect(page.locator("#draft-state")).to_contain_text("Draft kept at")
    # No more activity: warned, then logged out, on the login page that leads back here.
    expect(page).to_have_url(re.compile(r"/login\?next="), timeout=20000)
    expect(page.get_by_role("status")).to_contain_text("You were logged off")
    log_in(page)
    expect(page).to_have_url(here)
    expect(page.locator("#draft-restored")).to_be_visible()
    expect(page.get_by_label("Reached the patient")).to_be_checked()
    expect(page.get_by_label("Note (optional)")).to_have_value("Told her to take 2 tablets; call back Friday")
    page.get_by_role("button", name="Save outcome").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: reached the patient.")
    done = queue.get(cb.id)
    assert done.status is Status.DONE and done.note == "Told her to take 2 tablets; call back Friday"


def test_the_call_status_changes_on_the_page_as_twilio_reports(page, live_server, staff, queue, redis_conn):
    cb = queue.request("nurse", PATIENT, "en").callback
    take_one(page, live_server.url)
    outbound = OutboundCalls(redis_conn)
    key = new_attempt_key()
    outbound.claim_dial(cb.id, key, "nina")
    page.goto(live_server.url + f"/console/callbacks/{cb.id}?call={key}")
    status = page.locator("#call-status")
    expect(status).to_contain_text("Calling your phone…")
    outbound.record_call(cb.id, key, SID)
    outbound.note_status(cb.id, key, SID, "ringing")
    expect(status).to_contain_text("Your phone is ringing.")
    outbound.note_status(cb.id, key, SID, "in-progress")
    expect(status).to_contain_text("You answered")
    outbound.note_patient_result(cb.id, key, "busy", "0")
    expect(status).to_contain_text("The patient's line was busy.")
    expect(status).to_have_attribute("data-active", "")


def _busy_callback(app_redis, queue: CallbackQueue, sealer) -> str:
    """A claimed voicemail callback with a long transcript and history: the widest the page gets."""
    from ivr.store.voicemails import VoicemailStore

    rec = "RE" + "f" * 32
    words = "Pharmacy-on-Main-Street-refill-request-for-hydrochlorothiazide-twenty-five-milligrams " * 3
    VoicemailStore(app_redis).receive(Voicemail(
        rec, caller=PATIENT, department="nurse", lang="en", status=VoicemailStatus.TRANSCRIBED, duration=42,
        transcript=sealer.seal_text(words + " call me at 3 0 5, 5 5 5, 0 1 4 7", f"transcript:{rec}"),
        engine="whisper", confidence=0.8, urgent=True, urgent_reason=sealer.seal_text("chest pain", f"urgent:{rec}")))
    cb = queue.request("nurse", PATIENT, "en", source="voicemail", reason_recording_sid=rec, urgent=True,
                       urgent_reason="chest pain").callback
    VoicemailStore(app_redis).link_callback(rec, cb.id)
    queue.request("on_call_nurse", PATIENT, "en")  # an earlier contact: the number's history has rows
    old = queue.claim_next(["on_call_nurse"], "nina")
    queue.finish(old.id, "nina", Outcome.LEFT_MESSAGE, "rang 8 times, left a message asking her to call the line")
    return cb.id


def _axe(page: Page) -> list:
    from axe_playwright_python import sync_playwright as axe  # in the test extra: a missing one fails
    results = axe.Axe().run(page)
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in results.response["violations"]]


@pytest.mark.parametrize("size", [PHONE, DESK], ids=["390px", "1280px"])
def test_callback_page_fits_a_phone_and_passes_axe(page, live_server, staff, queue, redis_conn, size):
    from ivr.protection.sealing import Sealer

    from .conftest import DATA_KEY

    _busy_callback(redis_conn, queue, Sealer.from_settings(DATA_KEY, "unused"))
    page.set_viewport_size(size)
    take_one(page, live_server.url)
    page.get_by_label("Note (optional)").fill("x")
    expect(page.locator("table.history tbody tr").first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"], f"the callback page is {width} px wide on a {size['width']} px screen"
    assert _axe(page) == []
    # The idle warning too, shown.
    page.evaluate("document.getElementById('idle-warning').hidden = false")
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    assert _axe(page) == []


@pytest.mark.parametrize("size", [PHONE, DESK], ids=["390px", "1280px"])
def test_supervisor_view_fits_a_phone_and_passes_axe(page, live_server, staff, queue, size):
    queue.request("nurse", PATIENT, "en")
    queue.request("nurse", "+12025550188", "en")
    done = queue.claim_next(["nurse"], "nina")
    queue.finish(done.id, "nina", Outcome.REACHED)
    queue.claim_next(["nurse"], "nina")
    queue.request("on_call_nurse", "+12025550177", "en", urgent=True, urgent_reason="chest pain")
    unreached = queue.claim_next(["on_call_nurse"], "nora")
    queue.finish(unreached.id, "nora", Outcome.NO_ANSWER, retry=RetryPolicy.for_clinic(live_server.app.extensions["ivr"].runtime.clinic))
    page.set_viewport_size(size)
    page.goto(live_server.url + "/login")
    log_in(page, "ada")
    page.get_by_role("link", name="Supervisor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Callback desk")
    expect(page.locator("#holdings tbody tr")).to_have_count(1)
    expect(page.locator("#not-reached tbody tr")).to_have_count(1)
    expect(page.locator("#people tr[data-staff=nina]")).to_contain_text("1")
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    assert _axe(page) == []


@pytest.mark.parametrize("size", [PHONE, DESK], ids=["390px", "1280px"])
def test_urgent_callbacks_not_reached_fit_a_phone_and_pass_axe_in_the_console(page, live_server, staff, queue, size):
    queue.request("nurse", PATIENT, "en", urgent=True, urgent_reason="chest pain")
    queue.request("nurse", "+12025550188", "en")
    unreached = queue.claim_next(["nurse"], "nora")
    queue.finish(unreached.id, "nora", Outcome.NO_ANSWER, retry=RetryPolicy.for_clinic(live_server.app.extensions["ivr"].runtime.clinic))
    page.set_viewport_size(size)
    page.goto(live_server.url + "/login")
    log_in(page)
    expect(page.locator("table.not-reached tbody tr")).to_have_count(1)
    expect(page.locator("table.not-reached")).to_contain_text("chest pain")
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    assert _axe(page) == []


def test_read_only_callback_and_the_base_layout_fit_a_phone(page, live_server, staff, queue):
    cb = queue.request("nurse", PATIENT, "en").callback
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + f"/console/callbacks/{cb.id}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    log_in(page)
    expect(page).to_have_url(live_server.url + f"/console/callbacks/{cb.id}")
    expect(page.locator("#read-only")).to_be_visible()
    expect(page.locator("#phone")).to_have_text("(•••) •••-0147")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert _axe(page) == []

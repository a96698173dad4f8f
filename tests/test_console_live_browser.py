"""The live console in real headless Chromium: new callbacks appear without a reload, urgent ones alert.

Notification and audio are stubbed in the page (``add_init_script``) so the test
can see the alert hook fire; the page's own CSP still applies (live.js is a
static file, no inline script).
"""

from __future__ import annotations

import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from ivr.telephony.simulator import PhoneCall
from ivr.staff.passwords import hash_password
from ivr.store.callbacks import CallbackQueue
from ivr.store.users import UserStore

from .conftest import TOKEN
from .test_callback_calls import to_nurse_offer

PASSWORD = "correct horse battery staple"

STUBS = """
window.__notes = [];
window.__played = 0;
window.Notification = function (title, options) { window.__notes.push({title: title, body: (options || {}).body || ""}); };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
HTMLMediaElement.prototype.play = function () { window.__played += 1; return Promise.resolve(); };
"""


@pytest.fixture
def nina(redis_conn) -> str:
    UserStore(redis_conn).add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    return "nina"


def log_in(page: Page, base: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(base + "/console")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")


def test_an_urgent_callback_appears_within_2_s_and_alerts(page, live_server, nina, redis_conn):
    page.add_init_script(STUBS)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server.url)
    rows = page.locator("section.queue[data-department=nurse] tbody tr")
    expect(rows).to_have_count(0)
    title = page.title()

    started = time.monotonic()
    cb = CallbackQueue(redis_conn).request(
        "nurse", "+12025550188", "en", source="voicemail", urgent=True, urgent_reason="chest pain"
    ).callback
    expect(rows).to_have_count(1, timeout=2000)
    assert time.monotonic() - started < 2.0
    expect(rows.first).to_contain_text("Urgent: chest pain")
    expect(page).to_have_title("(1) Urgent \u2014 " + title, timeout=2000)
    expect(page.locator("#live")).to_have_attribute("data-last-alert", cb.id)
    notes = page.evaluate("window.__notes")
    assert len(notes) == 1 and "Nurse line" in notes[0]["body"]
    assert "0188" not in notes[0]["body"] and "chest" not in notes[0]["body"]
    assert page.evaluate("window.__played") == 1
    expect(page.locator("#live-announce")).to_have_text(re.compile("New urgent callback in Nurse line"))

    # A normal one: shown, no alert; the urgent one is claimed elsewhere: the title count goes.
    CallbackQueue(redis_conn).request("nurse", "+13055550147", "es")
    expect(rows).to_have_count(2, timeout=2000)
    CallbackQueue(redis_conn).claim_next(["nurse"], "nora")
    expect(rows).to_have_count(1, timeout=2000)
    expect(page).to_have_title(title)
    assert len(page.evaluate("window.__notes")) == 1

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_a_callback_from_a_signed_twilio_webhook_shows_up_live(page, live_server, nina):
    page.add_init_script(STUBS)
    log_in(page, live_server.url)
    rows = page.locator("section.queue[data-department=nurse] tbody tr")
    expect(rows).to_have_count(0)
    call = PhoneCall(_http(live_server.url), live_server.url, TOKEN, caller="+12025550123", called="+12025550199")
    to_nurse_offer(call)
    call.press("1")  # keep my place: call me back
    call.press("1")  # this number
    started = time.monotonic()
    assert call.record(seconds=6).waiting == "ended"  # stored when the caller hears the confirmation
    expect(rows).to_have_count(1, timeout=2000)
    assert time.monotonic() - started < 3.0
    expect(rows.first).to_contain_text("0123")
    assert "2025550123" not in page.content()


def test_without_a_stream_the_console_polls(page, start_server, nina, redis_conn):
    server = start_server(LIVE_MAX_STREAMS=0)  # every stream refused: the page falls back to fetching
    page.add_init_script(STUBS)
    page.goto(server.url + "/login")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#live-state")).to_have_attribute("data-state", "polling")
    CallbackQueue(redis_conn).request("nurse", "+12025550188", "en")
    expect(page.locator("section.queue[data-department=nurse] tbody tr")).to_have_count(1, timeout=12_000)


def _http(base: str):
    import requests

    session = requests.Session()

    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        resp = session.post(url, data=data, headers=headers, timeout=10)
        return resp.status_code, resp.text

    return post

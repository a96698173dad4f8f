"""The staff console in real headless Chromium: log in, see your queues, log out, time out."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from ivr.staff.passwords import hash_password


PASSWORD = "correct horse battery staple"


@pytest.fixture
def nurse(redis_conn) -> str:
    from ivr.store.users import UserStore

    UserStore(redis_conn).add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    return "nina"


def log_in(page: Page, username: str = "nina", password: str = PASSWORD) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_log_in_see_name_and_departments_then_log_out(page, live_server, nurse):
    page.goto(live_server.url + "/login")
    expect(page).to_have_title(re.compile("Log in"))
    log_in(page)
    expect(page).to_have_url(live_server.url + "/console")
    expect(page.locator("header")).to_contain_text("Nina Patel")
    expect(page.locator("header")).to_contain_text("nurse")
    expect(page.locator("header")).to_contain_text("Riverside Family Clinic")
    expect(page.locator("section.queue h2")).to_have_text([re.compile("^Nurse line"), re.compile("^On-call nurse")])

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(live_server.url + "/login")
    expect(page.get_by_role("status")).to_have_text("You have logged out.")
    page.goto(live_server.url + "/console")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_wrong_password_shows_the_error_and_stays_on_the_login_page(page, live_server, nurse):
    page.goto(live_server.url + "/login")
    log_in(page, password="this is not the password")
    expect(page.get_by_role("alert")).to_have_text("Unknown username or wrong password.")
    expect(page).to_have_url(live_server.url + "/login")
    expect(page.get_by_label("Username")).to_have_value("nina")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def test_a_page_that_needs_login_goes_to_login_and_comes_back(page, live_server, nurse):
    page.goto(live_server.url + "/console")
    expect(page).to_have_url(live_server.url + "/login?next=/console")
    log_in(page)
    expect(page).to_have_url(live_server.url + "/console")
    expect(page.get_by_role("heading", level=1)).to_have_text("Callback queues")


def test_idle_session_times_out_on_the_next_navigation(page, start_server, nurse):
    server = start_server(real_time=True, STAFF_IDLE_MINUTES=0.02)  # 1.2 seconds
    page.goto(server.url + "/login")
    log_in(page)
    expect(page).to_have_url(server.url + "/console")
    time.sleep(1.5)
    page.reload()
    expect(page).to_have_url(server.url + "/login?next=/console")
    expect(page.get_by_role("status")).to_contain_text("You were logged off after 0.02 minutes without activity")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)

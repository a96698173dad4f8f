"""Prompts that cannot lie, in real headless Chromium: hours changed on the hours page are heard in
the after-hours prompt in Try-it, and Try-it speaks a prompt saved a second earlier."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ivr.clinic.prompts import load_prompts

from .test_admin_browser import admin, log_in  # noqa: F401  (admin: a fixture)


def _call_until_after_hours(page: Page) -> None:
    """Try-it with the clinic closed, on to the after-hours menu (through a language choice, if any)."""
    log = page.locator("#tryit-log")
    page.get_by_label("Clinic is").select_option("closed")
    page.get_by_role("button", name="Call").click()
    expect(log.locator("li").first).to_be_visible()
    if "We are closed now." not in log.inner_text():
        page.get_by_role("button", name="Stay silent").click()  # silence keeps English
    expect(log).to_contain_text("We are closed now.")


def test_hours_changed_on_the_hours_page_are_heard_in_the_after_hours_prompt(page, start_server, config_copy, admin):  # noqa: F811
    config, prompts = config_copy
    server = start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    log = page.locator("#tryit-log")
    # The test clock says Tuesday 10 AM: "closed" is heard as at 5 PM, when the clinic closes.
    log_in(page, server.url, "/admin/flows/main")
    _call_until_after_hours(page)
    expect(log).to_contain_text("We are closed now. We open again tomorrow, Wednesday, at 8 AM.")
    expect(log).to_contain_text("the next time the clinic is closed")
    page.get_by_role("button", name="Hang up").click()

    page.goto(server.url + "/admin/hours")
    page.get_by_label("Wednesday").fill("09:30-17:00")
    page.get_by_role("button", name="Save hours and holidays").click()
    expect(page.locator(".flash-info")).to_contain_text("Hours and holidays saved")

    page.goto(server.url + "/admin/flows/main")
    _call_until_after_hours(page)
    expect(log).to_contain_text("We are closed now. We open again tomorrow, Wednesday, at 9:30 AM.")
    expect(log).not_to_contain_text("at 8 AM")


def test_try_it_speaks_a_prompt_saved_a_second_earlier(page, start_server, config_copy, admin):  # noqa: F811
    config, prompts = config_copy
    server = start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    clinic = server.app.extensions["ivr"].runtime.clinic
    before = load_prompts(prompts).text("en", "welcome", {"clinic_name": clinic.name})
    log = page.locator("#tryit-log")
    log_in(page, server.url, "/admin/flows/main")
    page.get_by_role("button", name="Call").click()
    expect(log).to_contain_text(before)  # this web process has read the prompts
    page.get_by_role("button", name="Hang up").click()

    page.goto(server.url + "/admin/prompts/welcome")
    page.get_by_label("Text in English (en)").fill("Hello from {clinic_name}, with words saved just now.")
    page.get_by_role("button", name="Save texts").click()
    expect(page.locator(".flash-info")).to_contain_text("Saved in the draft of flow main (en)")

    page.wait_for_timeout(1000)
    page.goto(server.url + "/admin/flows/main")
    page.get_by_role("button", name="Call").click()
    expect(log).to_contain_text(f"Hello from {clinic.name}, with words saved just now.")
    expect(log).not_to_contain_text(before)

"""What the admin pages refuse or spell out, in real headless Chromium: a misspelled placeholder and one the
prompt's uses cannot fill are refused with the names that prompt can use (the file is untouched), and a
calendar with a multi-day closure and a timed event is previewed day by day in clinic time, then imported."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_admin_browser import admin, log_in  # noqa: F401  (admin: a fixture)

CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//closures//EN\r\n"
    "BEGIN:VEVENT\r\nUID:w\r\nDTSTART;VALUE=DATE:20271227\r\nDTEND;VALUE=DATE:20271230\r\nSUMMARY:Winter closure\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:p\r\nDTSTART:20271215T170000Z\r\nDTEND:20271215T220000Z\r\nSUMMARY:Staff party\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_a_placeholder_no_call_can_fill_is_refused_with_the_usable_ones(page, start_server, config_copy, admin):  # noqa: F811
    config, prompts = config_copy
    server = start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    before = (prompts / "en" / "prompts.yaml").read_text()
    log_in(page, server.url, "/admin/prompts/welcome")
    box = page.get_by_label(re.compile(r"^Text in English \(en\)"))
    for wrong in ("Thank you for calling {clinc_name}.", "Thank you for calling. The wait is {minutes}."):
        box.fill(wrong)
        page.get_by_role("button", name="Save texts").click()
        error = page.locator("#text_en-error")  # beside its box, which keeps what was typed
        expect(error).to_contain_text("English: {")
        expect(error).to_contain_text("{clinic_name}")  # the names this prompt can use
        expect(error).to_contain_text("{next_open}")
        expect(box).to_have_value(wrong)
        expect(box).to_have_attribute("aria-describedby", "text_en-error")
        assert (prompts / "en" / "prompts.yaml").read_text() == before
    box.fill("Thank you for calling {clinic_name}. {hours_today}")
    page.get_by_role("button", name="Save texts").click()
    expect(page.locator(".flash-info")).to_contain_text("Saved in the draft of flow main (en)")
    assert (prompts / "en" / "prompts.yaml").read_text() == before  # heard once flow main is published


def test_a_multi_day_closure_and_a_timed_event_are_previewed_in_clinic_time_and_imported(
        page, start_server, config_copy, admin, tmp_path):  # noqa: F811
    config, prompts = config_copy
    server = start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    log_in(page, server.url, "/admin/hours")
    ics = tmp_path / "closures.ics"
    ics.write_text(CALENDAR)
    page.get_by_label("Calendar file (.ics)").set_input_files(str(ics))
    page.get_by_role("button", name="Read calendar").click()
    # 17:00-22:00 UTC is 12:00-17:00 in New York: the afternoon of Wednesday 15 Dec 2027 is taken.
    expect(page.locator("ul.to-add li")).to_have_text([
        re.compile(r"^2027-12-15 Staff party: closed from 12:00 .*12:00–17:00 clinic time.*open 08:00-12:00"),
        "2027-12-27 Winter closure (day 1 of 3)",
        "2027-12-28 Winter closure (day 2 of 3)",
        "2027-12-29 Winter closure (day 3 of 3)",
    ])
    page.get_by_role("button", name="Add 4 holidays").click()
    expect(page.locator(".flash-info")).to_contain_text("4 holidays added")
    text = (config / "clinic.yaml").read_text()
    assert '{date: 2027-12-15, name: "Staff party", hours: ["08:00-12:00"]}' in text
    for day in (27, 28, 29):
        assert f"date: 2027-12-{day}, name: \"Winter closure (day {day - 26} of 3)\"" in text

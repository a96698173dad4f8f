"""Administration in real headless Chromium: edit, validate as you type, publish, call, roll back;
the picture and the try-it phone; recordings, hours, a calendar import and the emergency switch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ivr.flows import yaml_lines
from ivr.telephony.simulator import PhoneCall, requests_transport
from ivr.staff.passwords import hash_password
from ivr.store.users import UserStore

from .conftest import TOKEN
from .test_admin import BILLING, FOUR_TO_BILLING, ICS, MAIN, ON_CALL, PASSWORD, wav_bytes

BROKEN = FOUR_TO_BILLING.replace("{digit: 4, next: to_billing}", "{digit: 4, next: to_nowhere}")
BROKEN_LINE = BROKEN.splitlines().index("      - {digit: 4, next: to_nowhere}") + 1


@pytest.fixture
def admin(redis_conn) -> str:
    UserStore(redis_conn).add("ada", "admin", hash_password(PASSWORD), display_name="Ada Admin")
    return "ada"


def log_in(page: Page, url: str, then: str) -> None:
    page.goto(url + "/login?next=" + then)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(url + then)


def key_4(url: str) -> str:
    """A signed call (as Twilio makes it) to the served app: key 4 at the main menu. The number dialled, or ""."""
    call = PhoneCall(requests_transport(), url, TOKEN)
    call.start()
    turn = call.press("4")
    return turn.dial_number if turn.waiting == "dial" else ""


def test_text_typed_before_the_editor_script_arrives_is_still_checked(page, live_server, admin):
    """On a slow connection the admin can type before flow-editor.js has run: that text is checked too."""
    url = live_server.url
    held = []
    page.route("**/static/admin/flow-editor.js*", lambda route: held.append(route))
    log_in(page, url, "/admin/flows/main/yaml")
    page.get_by_label("Flow YAML").fill(BROKEN)
    page.wait_for_timeout(600)  # longer than the editor's 400 ms pause after typing
    assert held, "the editor script was requested"
    held[0].continue_()
    expect(page.locator(f'#issues li[data-line="{BROKEN_LINE}"]')).to_contain_text("unknown node 'to_nowhere'")


def test_edit_with_an_error_is_refused_fix_publish_call_and_roll_back(page, live_server, admin):
    url = live_server.url
    log_in(page, url, "/admin/flows/main/yaml")
    editor = page.get_by_label("Flow YAML")
    expect(editor).to_have_value(MAIN)
    expect(page.locator("#picture svg g.node[data-node]")).to_have_count(len(yaml_lines.load(MAIN)["nodes"]))

    editor.fill(BROKEN)
    problem = page.locator(f'#issues li[data-line="{BROKEN_LINE}"]')
    expect(problem).to_contain_text("unknown node 'to_nowhere'")
    expect(page.locator(f'#gutter .ln.has-error[data-line="{BROKEN_LINE}"]')).to_be_visible()
    expect(page.locator("#check-state")).to_have_text(re.compile("problem"))
    # The picture follows the edit: the new arrow ends at a "missing" box.
    expect(page.locator('#picture g.node.kind-missing[data-node="to_nowhere"]')).to_have_count(1)
    expect(page.locator('#picture g.edge[data-from="main_menu"][data-to="to_nowhere"] text')).to_have_text("key 4")

    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash-error")).to_contain_text("Not published: the draft has 1 problem")
    expect(editor).to_have_value(BROKEN)  # kept as a draft
    expect(page.locator(f'#issues li[data-line="{BROKEN_LINE}"]')).to_be_visible()
    assert key_4(url) == ""  # still the old menu

    editor.fill(FOUR_TO_BILLING)
    expect(page.locator("#check-state")).to_have_text("Valid.")
    expect(page.locator("#issues li")).to_have_count(0)
    page.get_by_label("Note for the history (optional)").fill("key 4 for billing")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash-info")).to_contain_text("Version 2 is live")
    expect(page.locator("tr.live")).to_contain_text("key 4 for billing")
    assert key_4(url) == BILLING

    page.get_by_role("link", name="Changes").first.click()
    expect(page.locator("pre.diff .add")).to_contain_text(["+      - {digit: 4, next: to_billing}"])
    page.go_back()

    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Roll back to 1").click()  # asks first; "Cancel" changes nothing
    assert asked and "live again" in asked[0]
    assert key_4(url) == BILLING
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Roll back to 1").click()
    expect(page.locator(".flash-info")).to_contain_text("version 1 is live again as version 3")
    expect(page.locator("tr.live")).to_contain_text("rollback to version 1")
    assert key_4(url) == ""  # the old menu again


def test_try_it_phone_plays_the_draft(page, live_server, admin):
    log_in(page, live_server.url, "/admin/flows/main/yaml")
    page.get_by_label("Flow YAML").fill(FOUR_TO_BILLING)  # a draft, not published
    expect(page.locator("#check-state")).to_have_text("Valid.")
    log = page.locator("#tryit-log")
    page.get_by_role("button", name="Call").click()
    expect(log).to_contain_text("Thank you for calling Riverside Family Clinic.")
    expect(log).to_contain_text("Para español, oprima 9.")
    page.locator('#tryit .key[data-key="9"]').click()  # Spanish
    expect(log).to_contain_text("Para citas, oprima 1")
    page.locator('#tryit .key[data-key="4"]').click()  # only the draft has key 4
    expect(log).to_contain_text("Would ring Billing (+12025550102)")
    page.get_by_role("button", name="No answer").click()
    expect(log).to_contain_text("que le devolvamos la llamada")  # the callback offer, in Spanish
    page.get_by_role("button", name="Stay silent").click()
    expect(log).to_contain_text("Perdón, no escuché nada.")
    page.get_by_role("button", name="Hang up").click()

    page.get_by_label("Clinic is").select_option("closed")
    page.get_by_role("button", name="Call").click()
    expect(log).to_contain_text("We are closed now.")
    page.get_by_label("Say", exact=True).fill("I need the nurse")
    page.get_by_role("button", name="Say it").click()
    expect(log).to_contain_text("Would ring On-call nurse")
    page.get_by_role("button", name="No answer").click()
    page.get_by_role("button", name="Leave a message").click()
    expect(log).to_contain_text("Call ended (voicemail:nurse)")
    assert key_4(live_server.url) == ""  # trying a draft changes nothing live


def test_recording_upload_hours_and_calendar_import(page, start_server, config_copy, admin, tmp_path):
    config, prompts = config_copy
    server = start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    log_in(page, server.url, "/admin/prompts/welcome")
    good, bad = tmp_path / "welcome.wav", tmp_path / "notes.wav"
    good.write_bytes(wav_bytes())
    bad.write_bytes(b"these are my notes, not a recording")
    page.get_by_label("Upload a recording (en)").set_input_files(str(good))
    page.locator('fieldset[data-lang="en"]').get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".flash-info")).to_contain_text("Recording saved (1.5 seconds")
    audio = page.locator('fieldset[data-lang="en"] audio')
    assert page.evaluate("src => fetch(src).then(r => r.headers.get('content-type'))", audio.get_attribute("src")) == "audio/wav"
    page.get_by_label("Upload a recording (es)").set_input_files(str(bad))
    page.locator('fieldset[data-lang="es"]').get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".flash-error")).to_contain_text("Recording not used: this is not a WAV recording")
    expect(page.locator('fieldset[data-lang="es"] audio')).to_have_count(0)

    page.goto(server.url + "/admin/hours")
    page.get_by_label("Saturday").fill("")
    page.get_by_label("Tuesday").fill("08:00-12:00, 13:00-17:00")
    page.get_by_role("button", name="Save hours and holidays").click()
    expect(page.locator(".flash-info")).to_contain_text("Hours and holidays saved")
    expect(page.get_by_label("Tuesday")).to_have_value("08:00-12:00, 13:00-17:00")
    text = (config / "clinic.yaml").read_text()
    assert '  tuesday: ["08:00-12:00", "13:00-17:00"]' in text and "  saturday: []" in text

    ics = tmp_path / "holidays.ics"
    ics.write_text(ICS)
    page.get_by_label("Calendar file (.ics)").set_input_files(str(ics))
    page.get_by_role("button", name="Read calendar").click()
    expect(page.locator("ul.to-add li")).to_have_text(["2027-11-25 Thanksgiving Day"])
    expect(page.locator(".import-preview")).to_contain_text("Already holidays (skipped): 2026-12-25 Christmas Day")
    expect(page.locator("ul.problems")).to_contain_text("Staff meeting: not an all-day event")
    page.get_by_role("button", name="Add 1 holidays").click()
    expect(page.locator(".flash-info")).to_contain_text("1 holidays added")
    expect(page.locator('tr[data-date="2027-11-25"] input[type=text]').first).to_have_value("Thanksgiving Day")


def test_emergency_switch_sends_calls_to_on_call_and_non_admins_are_refused(page, live_server, admin, redis_conn):
    url = live_server.url
    UserStore(redis_conn).add("nina", "nurse", hash_password(PASSWORD))
    log_in(page, url, "/admin/emergency")
    page.get_by_label("Message in English (en)").fill("The clinic is closed because of a power cut.")
    page.get_by_label("Send calls to").select_option("on_call_nurse")
    page.once("dialog", lambda d: d.dismiss())
    page.get_by_role("button", name="Turn on: clinic closed").click()  # asks first; "Cancel" changes nothing
    page.wait_for_timeout(500)  # time for a form that was sent anyway to arrive
    assert PhoneCall(requests_transport(), url, TOKEN).start().said[0] == "Thank you for calling Riverside Family Clinic."
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Turn on: clinic closed").click()
    expect(page.locator(".emergency-banner")).to_contain_text("Emergency closed switch is ON")
    turn = PhoneCall(requests_transport(), url, TOKEN).start()
    assert turn.said[0] == "The clinic is closed because of a power cut."
    assert turn.dial_number == ON_CALL
    page.get_by_role("button", name="Turn off").click()
    expect(page.locator(".emergency-banner")).to_have_count(0)
    assert PhoneCall(requests_transport(), url, TOKEN).start().said[0] == "Thank you for calling Riverside Family Clinic."

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)
    resp = page.goto(url + "/admin/flows/main")
    assert resp.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")


def test_the_flow_editor_never_traps_the_keyboard_and_an_issue_goes_to_its_line(page, live_server, admin):
    log_in(page, live_server.url, "/admin/flows/main/yaml")
    editor = page.locator("#flow-text")
    editor.fill(BROKEN)
    issue = page.locator(f'#issues li[data-line="{BROKEN_LINE}"]')
    expect(issue).to_be_visible()
    # The issue's "Line N" is a button: keyboard or click, it selects that line in the text box.
    issue.get_by_role("button", name=f"Line {BROKEN_LINE}").click()
    selected = page.evaluate("(() => { const t = document.getElementById('flow-text');"
                             " return t.value.slice(t.selectionStart, t.selectionEnd); })()")
    assert selected == "      - {digit: 4, next: to_nowhere}"
    assert page.evaluate("document.activeElement.id") == "flow-text"
    # Tab indents; Esc then Tab leaves the box (WCAG 2.1.2).
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "flow-text"
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") != "flow-text"
    # The picture can be reached and scrolled from the keyboard.
    assert page.locator("#picture").get_attribute("tabindex") == "0"

"""Desks and the "add a department" wizard in real headless Chromium, by keyboard only: from a fresh
install an admin adds a Pharmacy desk, adds "press 4 for pharmacy refills" with English and Spanish
prompts, publishes, and a signed call pressing 4 rings the pharmacy; axe-core finds nothing at 1366 and
390 px. And the refusals: a desk in use is not removed, a bad or premium-rate number is not saved."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from playwright.sync_api import Locator, Page, expect

from ivr.telephony.simulator import PhoneCall, requests_transport

from .conftest import TOKEN
from .test_admin import PASSWORD
from .test_admin_a11y_browser import WIDTHS, _axe_violations
from .test_admin_browser import admin  # noqa: F401
from .test_department_wizard import FORM, MENU_EN, MENU_ES
from .test_desks import dialled

PHARMACY = "+12025550105"


def tab_to(page: Page, target: Locator, limit: int = 200) -> None:
    """Press Tab until ``target`` has the focus (it must be reachable by keyboard)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{target} was not reached with Tab")


def type_into(page: Page, target: Locator, text: str) -> None:
    tab_to(page, target)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def keyboard_log_in(page: Page, url: str, then: str) -> None:
    page.goto(url + "/login?next=" + then)
    type_into(page, page.get_by_label("Username"), "ada")
    type_into(page, page.get_by_label("Password"), PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(url + then)


def no_axe_violations(page: Page) -> None:
    size = page.viewport_size
    for width in WIDTHS.values():
        page.set_viewport_size(width)
        found = _axe_violations(page)
        assert not found, f"{page.url} at {width['width']} px: " + "\n".join(found)
        if width["width"] <= 400:
            assert page.evaluate("document.documentElement.scrollWidth") <= width["width"], f"{page.url} scrolls sideways"
    page.set_viewport_size(size)


def press_4(url: str) -> tuple[str, ET.Element]:
    """A signed call to the served app (as Twilio makes it): the menu's words, and the TwiML after key 4, parsed."""
    call = PhoneCall(requests_transport(), url, TOKEN)
    first = call.start()
    return first.text, ET.fromstring(call.press("4").twiml[-1])


def test_fresh_install_to_press_4_for_the_pharmacy_by_keyboard(page: Page, start_server, config_copy, admin):  # noqa: F811
    config, prompts = config_copy
    server = start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    url = server.url
    keyboard_log_in(page, url, "/admin")
    tab_to(page, page.get_by_role("link", name="Desks", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Desks", exact=True)).to_be_visible()
    no_axe_violations(page)

    form = page.locator("#add-desk")
    type_into(page, form.get_by_label("Name (what staff and the editor show)"), "Pharmacy")
    type_into(page, form.get_by_label("Phone number"), "(202) 555-0105")
    tab_to(page, form.get_by_label("Nurses"))
    page.keyboard.press("Space")
    tab_to(page, form.get_by_role("button", name="Add the desk"))
    page.keyboard.press("Enter")
    expect(page.locator(".flash-info")).to_contain_text("Desk Pharmacy added")
    expect(page.locator('tr[data-desk="pharmacy"]')).to_contain_text("+1 202-555-0105")

    tab_to(page, page.get_by_role("link", name="Add a department to the main menu"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Add a department to the menu of flow main")).to_be_visible()
    no_axe_violations(page)
    type_into(page, page.get_by_label("What callers choose it for"), FORM["department"])
    desk = page.get_by_label("Desk", exact=True)
    tab_to(page, desk)
    page.keyboard.type("Pharmacy")  # a closed select picks the option typed
    expect(desk).to_have_value("pharmacy")
    expect(page.get_by_label("Key", exact=True)).to_have_value("4")  # the first free key, suggested
    type_into(page, page.get_by_label("Words callers may say instead, in English (separated by commas; optional)"),
              FORM["keywords_en"])
    type_into(page, page.get_by_label("Words callers may say instead, in Español (separated by commas; optional)"),
              FORM["keywords_es"])
    for lang, language, menu in (("en", "English", MENU_EN), ("es", "Español", MENU_ES)):
        box = page.get_by_role("group", name=f"What callers hear in {language}")
        type_into(page, box.get_by_label("The menu's words, with the new choice"), menu)
        type_into(page, box.get_by_label("While the call is put through"), FORM[f"connecting_{lang}"])
        type_into(page, box.get_by_label("Voicemail greeting, when nobody can answer"), FORM[f"voicemail_{lang}"])
    tab_to(page, page.get_by_role("button", name="Add to the draft"))
    page.keyboard.press("Enter")

    # The visual editor on the draft: the new steps are in the picture, and it can be published.
    expect(page.locator(".flash-info")).to_contain_text("Pharmacy refills is in the draft as key 4 of main_menu")
    for step in ("to_pharmacy", "pharmacy_callback_offer", "pharmacy_hold", "pharmacy_voicemail"):
        expect(page.locator(f'#picture g.node[data-node="{step}"]')).to_have_count(1)
    expect(page.locator('#picture g.edge[data-from="main_menu"][data-to="to_pharmacy"]')).to_have_count(1)
    expect(page.locator("#check-state")).to_contain_text("Valid")
    page.wait_for_load_state("networkidle")
    no_axe_violations(page)
    words, twiml = press_4(url)
    assert "pharmacy" not in words and dialled(twiml) is None  # nothing is heard before it is published

    tab_to(page, page.get_by_role("button", name="Publish"))
    page.keyboard.press("Enter")
    expect(page.locator(".flash-info")).to_contain_text("Version 2 is live")
    words, twiml = press_4(url)
    assert "For pharmacy refills, press 4." in words
    assert dialled(twiml) == PHARMACY
    assert "Connecting you to the pharmacy. Please hold." in [s.text for s in twiml.iter("Say")]


def test_a_desk_in_use_is_not_removed_and_a_bad_number_is_not_saved(page: Page, start_server, config_copy, admin):  # noqa: F811
    config, prompts = config_copy
    server = start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    path = config / "clinic.yaml"
    before = path.read_bytes()
    keyboard_log_in(page, server.url, "/admin/desks/billing")
    tab_to(page, page.get_by_role("button", name="Remove Billing"))
    page.keyboard.press("Enter")
    refusal = page.locator(".flashes-error")
    expect(refusal).to_contain_text("Not removed: Billing is still in use")
    expect(page.get_by_role("link", name="flow main, step to_billing")).to_be_visible()
    no_axe_violations(page)
    assert path.read_bytes() == before

    for typed, reason in (("+1 900 555 0123", "is a premium-rate number"), ("555 01", "is not a valid phone number")):
        number = page.get_by_label("Phone number")
        type_into(page, number, typed)
        tab_to(page, page.get_by_role("button", name="Save the desk"))
        page.keyboard.press("Enter")
        expect(page.locator("#number-error")).to_contain_text(reason)
        expect(page.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Phone number")).to_have_value(typed)
        assert path.read_bytes() == before
    no_axe_violations(page)

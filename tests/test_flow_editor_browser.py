"""The visual flow editor in real headless Chromium: a clinic manager builds the main menu of issue 2 from an
empty flow with the forms alone (nothing typed in YAML), publishes it, gives it a number, and a call signed
as Twilio signs it follows it; then one choice's target changes by its form and the YAML view shows that
one line changed. Also: the same walk with the keyboard only."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ivr.flows import yaml_lines
from ivr.telephony.simulator import PhoneCall, requests_transport

from .conftest import TOKEN
from .test_admin import BILLING, NURSE
from .test_admin_browser import admin, log_in  # noqa: F401

LINE = "+12025550188"  # the number the new flow answers
DESKS = {"scheduling": "connecting_scheduling", "billing": "connecting_billing", "nurse": "connecting_nurse",
         "front_desk": "connecting_front_desk"}
MENU = [  # key, English words, Spanish words, where it goes
    ("1", "appointment, schedule", "cita, citas", "to_scheduling"),
    ("2", "bill, billing, payment", "factura, pago", "to_billing"),
    ("3", "nurse, prescription", "enfermera, receta", "to_nurse"),
    ("0", "front desk, person", "recepción, persona", "to_front_desk"),
]


def add_step(page: Page, kind: str, name: str, after: str = "") -> None:
    page.get_by_label("What it does").select_option(kind)
    page.get_by_label("Name (lower-case letters, digits and _)").fill(name)
    if after:
        page.get_by_label("Comes after (optional)").select_option(after)
    page.get_by_role("button", name="Add step").click()
    expect(page.get_by_role("heading", level=2, name=re.compile(f"^Step {name}:"))).to_be_visible()


def save_step(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Save step").click()
    expect(page.locator(".flash-info")).to_contain_text("changed")


def call_and_press(url: str, key: str) -> str:
    """A signed call to the new flow's number: the number dialled after pressing ``key``, or ""."""
    call = PhoneCall(requests_transport(), url, TOKEN, called=LINE)
    first = call.start()
    assert "Thank you for calling" in first.text and "emergency" in first.text
    turn = call.press(key)
    return turn.dial_number if turn.waiting == "dial" else ""


@pytest.fixture
def server(start_server, config_copy):
    config, prompts = config_copy
    return start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))


def test_build_the_main_menu_from_an_empty_flow_publish_call_and_change_a_choice(page, server, admin):  # noqa: F811
    url = server.url
    log_in(page, url, "/admin/flows")
    page.get_by_role("link", name="New flow").click()
    page.get_by_label("Name (lower-case letters, digits and _, e.g. spanish_line)").fill("clinic_menu")
    page.get_by_label("An empty flow").check()
    page.get_by_role("button", name="Create the draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Flow clinic_menu")

    # The greeting: the first step, so calls start there.
    add_step(page, "say", "greeting")
    page.locator("#f-prompts-1").select_option("welcome")
    save_step(page)
    page.locator("#f-prompts-2").select_option("emergency_notice")
    save_step(page)
    expect(page.locator('#step-list li[data-node="greeting"]')).to_contain_text("first step")

    add_step(page, "voicemail", "messages")
    page.get_by_label("Department (queue) (needed)").select_option("front_desk")
    page.get_by_label("What the caller hears (needed)").select_option("voicemail_front_desk")
    save_step(page)
    for desk, prompt in DESKS.items():
        add_step(page, "transfer", f"to_{desk}")
        page.get_by_label("Desk", exact=True).select_option(desk)
        page.get_by_label("What the caller hears").select_option(prompt)
        page.get_by_label("If nobody answers, go to").select_option("messages")
        save_step(page)

    add_step(page, "menu", "main_menu", after="greeting.next")
    page.get_by_label("What the caller hears (needed)").select_option("main_menu")
    page.get_by_label("If the caller does not choose, go to").select_option("to_front_desk")
    page.locator("#step-fields > details.more > summary").click()  # "More settings"
    page.get_by_label("Said before giving up").select_option("menu_failure")
    for n in range(1, len(MENU) + 1):
        page.get_by_role("button", name="Add a choice").click()
        expect(page.locator("fieldset.choice")).to_have_count(n)
    for i, (key, english, spanish, target) in enumerate(MENU):
        page.locator(f"#o-{i}-digit").select_option(key)
        page.locator(f"#o-{i}-kw-en").fill(english)
        page.locator(f"#o-{i}-kw-es").fill(spanish)
        page.locator(f"#o-{i}-next").select_option(target)
    save_step(page)
    expect(page.locator("#check-state")).to_have_text("Valid: it can be published.")
    # The picture shows every step and each choice's arrow, labelled by its key.
    expect(page.locator("#picture g.node[data-node]")).to_have_count(7)
    expect(page.locator('#picture g.edge[data-from="main_menu"][data-to="to_billing"] text')).to_have_text("key 2")

    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash-info")).to_contain_text("Version 1 is live")

    # The YAML view shows what the forms wrote; nobody typed any of it.
    page.get_by_role("link", name="YAML view (advanced)").click()
    text = page.get_by_label("Flow YAML").input_value()
    data = yaml_lines.load(text)
    assert data["start"] == "greeting" and data["nodes"]["greeting"]["next"] == "main_menu"
    assert data["nodes"]["main_menu"]["options"][1] == {
        "digit": 2, "keywords": {"en": ["bill", "billing", "payment"], "es": ["factura", "pago"]}, "next": "to_billing"}

    # Give the flow its number.
    page.get_by_role("link", name="Flows", exact=True).click()
    page.get_by_role("link", name="Which flow answers which number").click()
    page.get_by_label("Number 1 (new)").fill(LINE)
    page.get_by_label("answered by").select_option("clinic_menu")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-info")).to_contain_text("Saved")
    assert call_and_press(url, "2") == BILLING

    # Key 0 now goes to the nurse: changed in its form; the YAML view shows that one line changed.
    page.goto(url + "/admin/flows/clinic_menu?node=main_menu")
    page.locator("#o-3-next").select_option("to_nurse")
    save_step(page)
    page.get_by_role("link", name="YAML view (advanced)").click()
    after = page.get_by_label("Flow YAML").input_value()
    changed = [(a, b) for a, b in zip(text.splitlines(), after.splitlines()) if a != b]
    assert changed == [("        next: to_front_desk", "        next: to_nurse")]
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash-info")).to_contain_text("Version 2 is live")
    assert call_and_press(url, "0") == NURSE
    assert call_and_press(url, "2") == BILLING


def tab_to(page: Page, selector: str, limit: int = 400) -> None:
    """Press Tab until the element matching ``selector`` has the focus (the keyboard is the only input)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_the_visual_editor_works_with_the_keyboard_alone(page, server, admin):  # noqa: F811
    """Open a step from the list, change where a choice goes, save, and see it; no mouse, no YAML."""
    log_in(page, server.url, "/admin/flows/main")
    tab_to(page, '#step-list a[href*="node=after_hours_menu"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2, name=re.compile("^Step after_hours_menu:"))).to_be_visible()
    tab_to(page, "#o-1-next")
    before = page.locator("#o-1-next").input_value()
    page.keyboard.press("Home")  # first option ("— not set —"), then down to the first step's name
    page.keyboard.press("ArrowDown")
    chosen = page.locator("#o-1-next").input_value()
    assert chosen != before
    tab_to(page, 'button[value="save"]')
    page.keyboard.press("Enter")
    expect(page.locator(".flash-info")).to_contain_text("Step after_hours_menu changed")
    expect(page.locator("#o-1-next")).to_have_value(chosen)
    # The picture's boxes are links reached by Tab too, each to its step's form.
    tab_to(page, '#picture a[href*="node=greeting"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2, name=re.compile("^Step greeting:"))).to_be_visible()


def test_dragging_an_arrow_onto_another_step_retargets_it_and_the_yaml_follows(page, server, admin):  # noqa: F811
    page.set_viewport_size({"width": 2560, "height": 2400})
    log_in(page, server.url, "/admin/flows/main")
    # The picture's box scrolls; open it to the picture's size so the arrow and the step it is dragged
    # onto are in sight at once (a person scrolls the box while dragging; a test's mouse cannot).
    page.evaluate("document.querySelectorAll('.picture-box').forEach((box) => { box.style.maxHeight = 'none'; })")
    key_2 = page.locator('#picture g.edge[data-from="main_menu"][data-field="options[1].next"]')
    expect(key_2).to_have_attribute("data-to", "to_billing")
    picture = page.locator("#picture")
    target = page.locator('#picture g.node[data-node="to_nurse"]')
    label = key_2.locator("text")
    target.scroll_into_view_if_needed()
    label.scroll_into_view_if_needed()  # the box scrolls sideways to the arrow; the step stays in sight
    start, end = label.bounding_box(), target.bounding_box()
    assert start and end and picture.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    with page.expect_navigation():
        page.mouse.up()
    expect(page.locator(".flash-info")).to_contain_text("Step main_menu (choice 2) now goes to to_nurse")
    expect(page.locator('#picture g.edge[data-from="main_menu"][data-field="options[1].next"]')).to_have_attribute(
        "data-to", "to_nurse")
    page.get_by_role("link", name="YAML view (advanced)").click()
    text = page.get_by_label("Flow YAML").input_value()
    assert yaml_lines.load(text)["nodes"]["main_menu"]["options"][1]["next"] == "to_nurse"

"""The flow editor's new parts in real Chromium, with the keyboard alone: "Add a choice" leaves the focus
in the new choice with its key suggested, a new prompt is made from the step's form in both languages side
by side (a misspelled placeholder shown beside its box), and Undo takes back the last edit; axe-core finds
nothing at 1366 and 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ivr.flows import yaml_lines
from ivr.store.flows import FlowStore

from .test_admin_a11y_browser import _axe_violations
from .test_admin_browser import admin, log_in  # noqa: F401
from .test_flow_editor_browser import tab_to


@pytest.fixture
def server(start_server, config_copy):
    config, prompts = config_copy
    return start_server(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))


def _no_axe_problems(page: Page) -> None:
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert _axe_violations(page) == [], f"at {width} px"


def test_a_new_choice_a_new_prompt_and_undo_with_the_keyboard_alone(page, server, admin, redis_conn):  # noqa: F811
    log_in(page, server.url, "/admin/flows/main")
    tab_to(page, '#step-list a[href*="node=main_menu"]')
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2, name=re.compile("^Step main_menu:"))).to_be_visible()
    count = page.locator("fieldset.choice").count()

    # "Add a choice": the new choice has the focus, with the first free key.
    tab_to(page, 'button[value="add_option"]')
    page.keyboard.press("Enter")
    expect(page.locator("fieldset.choice")).to_have_count(count + 1)
    new_key = page.locator(f"#o-{count}-digit")
    expect(new_key).to_be_focused()
    expect(new_key).to_have_value("4")
    _no_axe_problems(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    tab_to(page, f"#o-{count}-next")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")
    tab_to(page, 'button[value="save"]')
    page.keyboard.press("Enter")
    expect(page.locator(".flash-info")).to_contain_text("Step main_menu changed")

    # A new prompt for the menu, in English and Spanish side by side.
    tab_to(page, "#new-prompt > summary")
    page.keyboard.press("Enter")
    tab_to(page, "#np-use")
    page.keyboard.press("End")  # the last of the step's prompt fields...
    tab_to(page, "#np-id")
    page.keyboard.press("Control+a")
    page.keyboard.type("pharmacy_offer")
    tab_to(page, "#np-text-en")
    page.keyboard.type("For pharmacy refills at {clinc_name}, press 4.")
    tab_to(page, "#np-text-es")
    page.keyboard.type("Para recetas, oprima 4.")
    expect(page.locator("#np-text-en")).to_be_in_viewport()
    expect(page.locator("#np-text-es")).to_be_in_viewport()  # side by side at 1366 px
    tab_to(page, '#new-prompt button[type="submit"]')
    page.keyboard.press("Enter")
    # Refused beside its box, what was typed kept, the focus on the box to correct.
    error = page.locator("#np-text-en-error")
    expect(error).to_contain_text("English: {clinc_name} is not a value a call can fill in")
    expect(page.locator("#np-text-en")).to_be_focused()
    expect(page.locator("#np-text-es")).to_have_value("Para recetas, oprima 4.")
    _no_axe_problems(page)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.keyboard.press("Control+a")
    page.keyboard.type("For pharmacy refills at {clinic_name}, press 4.")
    tab_to(page, '#new-prompt button[type="submit"]')
    page.keyboard.press("Enter")
    expect(page.locator(".flash-info")).to_contain_text("New prompt pharmacy_offer saved and used by step main_menu")
    store = FlowStore(redis_conn)
    assert store.draft_prompts("main")["es"] == {"pharmacy_offer": "Para recetas, oprima 4."}
    node = yaml_lines.load(store.draft("main").text)["nodes"]["main_menu"]
    assert "pharmacy_offer" in [node.get(f) for f in node if "prompt" in f] + list(node.get("intro") or [])

    # Undo: the step as it was before the prompt was put in it.
    tab_to(page, 'form.undo button')
    page.keyboard.press("Enter")
    expect(page.locator(".flash-info")).to_contain_text("Undone")
    node = yaml_lines.load(store.draft("main").text)["nodes"]["main_menu"]
    assert "pharmacy_offer" not in str(node)
    expect(page.locator("fieldset.choice")).to_have_count(count + 1)  # the choice added before stays

"""A placeholder is valid in a prompt only where every use of the prompt fills it in.

{minutes} only in a callback offer, {first_name} only in the follow-up flow, {hours_today},
{next_open} and {clinic_name} anywhere: refused on save in the prompt page with the ones that
prompt can use, and reported by flow validation on the node that plays it.
"""

from __future__ import annotations

import textwrap

import pytest

from ivr.clinic.settings import load_clinic
from ivr.flows import Environment, FlowInvalid, load_flow
from ivr.clinic.prompts import PromptCatalog, load_prompts
from ivr.clinic.runtime import environment

from .conftest import ROOT
from .test_admin import csrf, logged_in, users  # noqa: F401  (users: a fixture)

CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")


def _save(admin, prompt_id: str, text: str) -> str:
    path = f"/admin/prompts/{prompt_id}"
    resp = admin.post(path, data={"csrf_token": csrf(admin, path), "text_en": text, "text_es": ""}, follow_redirects=True)
    return resp.get_data(as_text=True)


def test_the_prompt_page_refuses_a_placeholder_the_prompts_uses_cannot_fill(make_app, config_copy, users):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    before = (prompts / "en" / "prompts.yaml").read_text()

    page = _save(admin, "main_menu", "The wait is {minutes}. For appointments, press 1.")
    assert "Not saved: English: {minutes} cannot be filled in here: this prompt is played by node &#39;main_menu&#39; " \
           "(a menu) in flow &#39;main&#39;; it can use {clinic_name}, {hours_today}, {hours_week}, {next_open}" in page
    page = _save(admin, "welcome", "Hello {first_name}, thank you for calling {clinic_name}.")
    assert "{first_name} cannot be filled in here" in page
    page = _save(admin, "callback_confirmed", "You are number {position}. We call at {clinic_number}.")
    assert "{clinic_number} cannot be filled in here" in page
    assert (prompts / "en" / "prompts.yaml").read_text() == before  # nothing written

    # Where the use fills them in, the same placeholders are fine.
    assert "Saved in the draft of flow" in _save(admin, "callback_offer", "The wait is about {minutes}. Press 1 for a call back.")
    assert "Saved in the draft of flow" in _save(admin, "followup_feeling", "{first_name}, how do you feel? Press 1 if better.")
    assert "Saved in the draft of flow" in _save(admin, "main_menu", "{hours_today} For appointments, press 1. {next_open}")
    # A typo is refused with the ones this prompt can use.
    assert "{clinc_name} is not a value a call can fill in (this prompt can use {clinic_name}, {hours_today}, " \
           "{hours_week}, {next_open})" in _save(admin, "welcome", "Welcome to {clinc_name}.")


def test_the_prompt_page_lists_what_the_prompt_can_say_and_where_it_is_played(make_app, users):  # noqa: F811
    admin = logged_in(make_app())
    page = admin.get("/admin/prompts/callback_offer").get_data(as_text=True)
    assert "callback offer" in page and "<code>{minutes}</code>" in page and "<code>{next_open}</code>" in page
    page = admin.get("/admin/prompts/main_menu").get_data(as_text=True)
    assert "<code>{hours_today}</code>" in page and "<code>{minutes}</code>" not in page


def _env(changes: dict[str, str], followup_values: bool = True) -> Environment:
    shipped = load_prompts(ROOT / "prompts")
    texts = {lang: {**ids, **(changes if lang == "en" else {})} for lang, ids in shipped.texts.items()}
    env = environment(CLINIC, PromptCatalog(texts, shipped.audio))
    if not followup_values:
        env = Environment(env.prompts, env.desks, env.departments, env.languages, env.placeholders, {})
    return env


def test_flow_validation_reports_a_prompt_its_node_cannot_fill_on_that_node():
    text = (ROOT / "config" / "flows" / "main.yaml").read_text()
    load_flow(text, "main.yaml", _env({}))  # the shipped prompts are fine

    with pytest.raises(FlowInvalid) as err:
        load_flow(text, "main.yaml", _env({"main_menu": "About {minutes} to wait. Press 1."}))
    issues = [i for i in err.value.issues if i.node == "main_menu"]
    assert len(issues) == 1, err.value.issues
    assert "prompt 'main_menu' (en) says {minutes}, which this node cannot fill in" in issues[0].message
    assert "{next_open}" in issues[0].message
    line = text.splitlines().index("    prompt: main_menu", text.splitlines().index("  main_menu:")) + 1
    assert issues[0].line == line

    # {minutes} in the callback offer is what the callback node fills in.
    load_flow(text, "main.yaml", _env({"callback_offer": "About {minutes}. Press 1 for a call back."}))


def test_first_name_is_valid_only_in_the_follow_up_flow():
    followup = (ROOT / "config" / "flows" / "followup.yaml").read_text()
    load_flow(followup, "followup.yaml", _env({}))
    with pytest.raises(FlowInvalid, match=r"says \{first_name\}, which this node cannot fill in"):
        load_flow(followup, "followup.yaml", _env({}, followup_values=False))
    flow = textwrap.dedent("""\
        name: other
        start: hello
        languages: [en, es]
        nodes:
          hello: {type: hangup, prompt: followup_identity}
        """)
    with pytest.raises(FlowInvalid, match=r"node 'hello': prompt 'followup_identity' \(en\) says \{first_name\}"):
        load_flow(flow, "other.yaml", _env({}))


def test_a_prompts_file_edited_by_hand_keeps_the_flow_from_going_live_with_braces(config_copy):
    from ivr.clinic.runtime import check_all

    config, prompts = config_copy
    path = prompts / "en" / "prompts.yaml"
    old = "voicemail_thanks: Thank you. We saved your message"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, "voicemail_thanks: Thank you {first_name}. We saved your message"))
    _clinic, _prompts, report = check_all(config, prompts)
    assert "main" not in report.flows
    assert any(i.node and "voicemail_thanks" in i.message and "{first_name}" in i.message for i in report.issues)

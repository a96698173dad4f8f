"""The "add a department to the main menu" wizard (no browser): one form makes the desk, its prompts in
each language, the transfer with a callback offer, hold and voicemail, and the menu choice, as one draft;
callers hear nothing of it until it is published; bad input is refused with nothing written."""

from __future__ import annotations

import pytest

from ivr.clinic.settings import load_clinic
from ivr.flows import yaml_lines
from ivr.telephony.simulator import PhoneCall
from ivr.store.audit import AuditLog

from .conftest import TOKEN, flask_transport
from .test_admin import csrf, logged_in, users  # noqa: F401
from .test_desks import dialled

PHARMACY = "+12025550105"
MENU_EN = ("For appointments, press 1. For billing, press 2. For a nurse, press 3. For pharmacy refills, press 4. "
           "For the front desk, press 0, or stay on the line.")
MENU_ES = ("Para citas, oprima 1. Para facturas, oprima 2. Para una enfermera, oprima 3. Para recetas de la farmacia, "
           "oprima 4. Para la recepción, oprima 0, o espere en la línea.")
FORM = {
    "department": "pharmacy refills", "desk": "new", "desk_name": "Pharmacy", "number": "+1 202 555 0105",
    "role_nurse": "1", "menu": "main_menu", "digit": "4",
    "keywords_en": "pharmacy, prescription refill", "keywords_es": "farmacia",
    "menu_text_en": MENU_EN, "menu_text_es": MENU_ES,
    "connecting_en": "Connecting you to the pharmacy. Please hold.",
    "connecting_es": "Le comunico con la farmacia. Por favor espere.",
    "voicemail_en": "Nobody in the pharmacy can take your call right now. After the tone, please say your name, "
                    "your phone number and the medicine you need. Then press the pound key.",
    "voicemail_es": "Nadie en la farmacia puede atender su llamada ahora. Después del tono, diga su nombre, su número "
                    "de teléfono y la medicina que necesita. Luego oprima la tecla numeral.",
}
WIZARD = "/admin/flows/main/add-department"


@pytest.fixture
def wizard_app(make_app, config_copy, users):  # noqa: F811
    config, prompts = config_copy
    return make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts)), config, prompts


def _call(app, *keys: str, lang_key: str = ""):
    call = PhoneCall(flask_transport(app), "http://localhost", TOKEN)
    first = call.start()
    turn = first
    if lang_key:
        turn = call.press(lang_key)
    for key in keys:
        turn = call.press(key)
    return first, turn


def test_the_wizard_makes_one_draft_callers_hear_nothing_of_it_until_it_is_published(wizard_app, redis_conn):
    app, config, prompts = wizard_app
    svc = app.extensions["ivr"]
    admin = logged_in(app)
    prompts_before = {p: p.read_text() for p in prompts.glob("*/prompts.yaml")}
    page = admin.get(WIZARD).get_data(as_text=True)
    assert '<option value="4" selected>' in page  # the first free key is suggested
    resp = admin.post(WIZARD, data={"csrf_token": csrf(admin, WIZARD), **FORM})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.headers["Location"].endswith("/admin/flows/main?node=to_pharmacy")
    assert load_clinic(config / "clinic.yaml").desks["pharmacy"].number == PHARMACY

    draft = svc.flow_versions.draft("main")
    assert draft is not None and draft.issues == [], draft.issues
    nodes = yaml_lines.load(draft.text)["nodes"]
    assert nodes["to_pharmacy"] == {"type": "transfer", "desk": "pharmacy", "prompt": "connecting_pharmacy",
                                    "on_long_wait": "pharmacy_callback_offer", "on_no_answer": "pharmacy_callback_offer"}
    assert nodes["pharmacy_callback_offer"]["department"] == "pharmacy"
    assert [o.get("next") for o in nodes["pharmacy_callback_offer"]["options"]] == [None, "pharmacy_hold", "pharmacy_voicemail"]
    assert nodes["pharmacy_voicemail"] == {"type": "voicemail", "department": "pharmacy", "prompt": "voicemail_pharmacy"}
    four = [o for o in nodes["main_menu"]["options"] if o.get("digit") == 4]
    assert four == [{"digit": 4, "keywords": {"en": ["pharmacy", "prescription refill"], "es": ["farmacia"]},
                     "next": "to_pharmacy"}]
    # Only new lines in the flow text: the rest of the draft is the live text as it was.
    live = svc.flow_versions.text(svc.flow_versions.live_version("main"))
    assert all(line in draft.text.splitlines() for line in live.splitlines())

    # Before publishing: no prompt file changed, the menu does not say 4, and 4 is not a choice.
    assert {p: p.read_text() for p in prompts.glob("*/prompts.yaml")} == prompts_before
    first, turn = _call(app, "4")
    assert "pharmacy" not in first.text
    assert dialled_or_none(turn) is None and "not one of the choices" in turn.text

    resp = admin.post("/admin/flows/main/save", data={"csrf_token": csrf(admin, "/admin/flows/main"),
                                                      "text": draft.text, "action": "publish"})
    assert resp.status_code == 302
    first, turn = _call(app, "4")
    assert "For pharmacy refills, press 4." in first.text
    assert "Connecting you to the pharmacy." in turn.text and dialled_or_none(turn) == PHARMACY
    # In Spanish (9 at the menu), with the Spanish words.
    call = PhoneCall(flask_transport(app), "http://localhost", TOKEN)
    call.start()
    assert "Para recetas de la farmacia, oprima 4." in call.press("9").text
    turn = call.press("4")
    assert "Le comunico con la farmacia." in turn.text and dialled_or_none(turn) == PHARMACY
    entry = next(e for e in AuditLog(redis_conn).recent(limit=50) if e.action == "department_add")
    assert "key 4 in main_menu -> to_pharmacy" in entry.detail


def dialled_or_none(turn) -> str | None:
    import xml.etree.ElementTree as ET

    return dialled(ET.fromstring(turn.twiml[-1]))


@pytest.mark.parametrize("change,field,words", [
    ({"number": "+1 900 555 0123"}, "number", "is a premium-rate number"),
    ({"number": "555"}, "number", "is not a valid phone number"),
    ({"digit": "1"}, "digit", "Key 1 is already a choice in that menu"),
    ({"menu_text_es": "Para citas, oprima 1."}, "menu_text_es", "Español: the menu&#39;s words do not mention key 4"),
    ({"voicemail_es": ""}, "voicemail_es", "Español: write the voicemail greeting"),
    ({"desk_name": "Billing"}, "desk_name", "There is already a desk named Billing"),
    ({"keywords_en": "pharmacy, refill"}, "keywords_en", "English: “refill” already chooses another option of this menu"),
    ({"connecting_en": "Connecting you to {clinc_name}."}, "connecting_en", "{clinc_name}"),
    ({"menu_text_en": MENU_EN + " The wait is {minutes}."}, "menu_text_en", "{minutes}"),
])
def test_bad_input_is_refused_next_to_its_field_and_nothing_is_written(wizard_app, change, field, words):
    app, config, prompts = wizard_app
    svc = app.extensions["ivr"]
    admin = logged_in(app)
    before = (config / "clinic.yaml").read_bytes()
    resp = admin.post(WIZARD, data={"csrf_token": csrf(admin, WIZARD), **FORM, **change})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert words in page
    if field:
        assert f'id="{field}-error"' in page
    assert 'value="pharmacy refills"' in page  # what was typed is shown again
    assert (config / "clinic.yaml").read_bytes() == before
    assert svc.flow_versions.draft("main") is None
    assert svc.flow_versions.draft_prompts("main") == {}

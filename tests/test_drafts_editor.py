"""The visual editor's step forms: desks and prompts by the names people use, a new prompt made from a
step's form (every language side by side, checked as on the Prompts page, a recording where the clinic
has them), a new choice opened with its key suggested, and undo of the last edit in the draft."""

from __future__ import annotations

from unittest.mock import ANY

import html
import io
import re

from ivr.flows import yaml_lines
from ivr.store.flows import FlowStore

from .test_admin import csrf, logged_in, users, wav_bytes  # noqa: F401  (users: a fixture)
from .test_flow_editing import _form


def _node(redis_conn, node: str) -> dict:
    return yaml_lines.load(FlowStore(redis_conn).draft("main").text)["nodes"][node]


def _base(page: str) -> str:
    return re.search(r'name="base" value="([0-9a-f]+)"', page).group(1)


def test_desks_and_prompts_are_listed_by_their_names(make_app, users):  # noqa: F811
    admin = logged_in(make_app())
    page = html.unescape(admin.get("/admin/flows/main?node=to_billing").get_data(as_text=True))
    assert '<option value="billing" selected>Billing</option>' in page
    assert '<option value="on_call_nurse">On-call nurse</option>' in page and '<option value="nurse">Nurse line</option>' in page
    assert re.search(r'<option value="connecting_billing" selected>“[^”]+” \(connecting_billing\)</option>', page)


def test_a_new_choice_gets_a_free_key_and_is_opened(make_app, users, redis_conn):  # noqa: F811
    app = make_app()
    admin = logged_in(app)
    form = _form(admin, "/admin/flows/main?node=main_menu", "step-fields")
    count = int(form["o.count"][0])
    form["action"] = ["add_option"]
    from werkzeug.datastructures import MultiDict

    resp = admin.post("/admin/flows/main/steps/main_menu", data=MultiDict([(k, v) for k, vs in form.items() for v in vs]))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"?node=main_menu&choice={count}#choice-{count}")
    options = _node(redis_conn, "main_menu")["options"]
    taken = {str(o.get("digit")) for o in options[:-1]}
    assert options[-1] == {"digit": 4} and "4" not in taken  # 1, 2, 3 and 0 are taken (9: Spanish)
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'id="choice-{count}" data-opened' in page


def test_undo_gives_back_the_draft_before_its_last_edit(make_app, users, redis_conn):  # noqa: F811
    app = make_app()
    admin = logged_in(app)
    page = admin.get("/admin/flows/main").get_data(as_text=True)
    assert "Undo the last change" not in page
    admin.post("/admin/flows/main/steps/to_billing", data={"csrf_token": csrf(admin, "/admin/flows/main"), "base": _base(page),
                                                          "action": "rename", "new_name": "to_accounts"})
    text = FlowStore(redis_conn).draft("main").text
    assert "to_accounts" in text
    page = admin.get("/admin/flows/main").get_data(as_text=True)
    resp = admin.post("/admin/flows/main/undo", data={"csrf_token": csrf(admin, "/admin/flows/main"), "base": _base(page)},
                      follow_redirects=True)
    assert "Undone: the draft is as it was before its last change." in html.unescape(resp.get_data(as_text=True))
    draft = FlowStore(redis_conn).draft("main")
    assert "to_accounts" not in draft.text and "to_billing:" in draft.text and draft.undo is None
    assert "Undo the last change" not in resp.get_data(as_text=True)  # once
    # An Undo from a page made before someone else's change changes nothing.
    stale = _base(page)
    resp = admin.post("/admin/flows/main/undo", data={"csrf_token": csrf(admin, "/admin/flows/main"), "base": stale},
                      follow_redirects=True)
    assert "Nothing to undo" in html.unescape(resp.get_data(as_text=True))


def test_a_new_prompt_from_a_steps_form_in_every_language(make_app, config_copy, users, redis_conn):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    page = html.unescape(admin.get("/admin/flows/main?node=to_billing").get_data(as_text=True))
    assert 'id="np-id" name="prompt_id" value="to_billing"' in page  # a free name suggested
    assert 'for="np-text-en">Text in English' in page and 'for="np-text-es">Text in Español' in page
    assert 'id="np-audio-en"' not in page  # this clinic has no recordings: no upload
    form = {"csrf_token": csrf(admin, "/admin/flows/main"), "base": _base(page), "use_for": "prompt",
            "prompt_id": "billing_hello", "text_en": "Connecting you to {clinc_name} billing.",
            "text_es": "Le comunicamos con facturación."}
    resp = admin.post("/admin/flows/main/steps/to_billing/prompt", data=form)
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 422
    assert ('aria-invalid="true" aria-describedby="np-text-en-error">Connecting you to {clinc_name} billing.</textarea>'
            in page)
    assert '<p class="field-error" id="np-text-en-error">English: {clinc_name} is not a value a call can fill in' in page
    assert "Le comunicamos con facturación." in page  # the other language as typed
    assert FlowStore(redis_conn).draft_prompts("main") == {}

    form["text_en"] = "Connecting you to {clinic_name} billing."
    resp = admin.post("/admin/flows/main/steps/to_billing/prompt", data=form, follow_redirects=True)
    assert "New prompt billing_hello saved and used by step to_billing" in html.unescape(resp.get_data(as_text=True))
    assert FlowStore(redis_conn).draft_prompts("main") == {"en": {"billing_hello": "Connecting you to {clinic_name} billing."},
                                                           "es": {"billing_hello": "Le comunicamos con facturación."}}
    assert _node(redis_conn, "to_billing")["prompt"] == "billing_hello"
    # The name is taken now.
    resp = admin.post("/admin/flows/main/steps/to_billing/prompt", data=dict(form, base=_base(resp.get_data(as_text=True))))
    assert "there is already a prompt called billing_hello" in html.unescape(resp.get_data(as_text=True))


def test_where_the_clinic_has_recordings_a_new_prompt_takes_one(make_app, config_copy, users, redis_conn):  # noqa: F811
    config, prompts = config_copy
    (prompts / "en" / "audio").mkdir(exist_ok=True)
    (prompts / "en" / "audio" / "welcome.wav").write_bytes(wav_bytes())
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    page = admin.get("/admin/flows/main?node=to_billing").get_data(as_text=True)
    assert 'id="np-audio-en"' in page and 'id="np-audio-es"' in page
    resp = admin.post("/admin/flows/main/steps/to_billing/prompt", content_type="multipart/form-data", data={
        "csrf_token": csrf(admin, "/admin/flows/main"), "base": _base(page), "use_for": "prompt", "prompt_id": "billing_hello",
        "text_en": "Connecting you to billing.", "text_es": "Le comunicamos con facturación.",
        "audio_en": (io.BytesIO(wav_bytes(2.0)), "billing.wav")})
    assert resp.status_code == 302
    assert FlowStore(redis_conn).draft_recordings("main") == {"en": {"billing_hello": ANY}}  # heard once main is published
    assert not (prompts / "en" / "audio" / "billing_hello.wav").exists()
    assert _node(redis_conn, "to_billing")["prompt"] == "billing_hello"

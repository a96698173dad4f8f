"""The visual editor's changes to a flow: only the touched lines change (comments and order kept), and its
pages and forms work on the draft (real Redis, the app's own validator, signed calls after publishing)."""

from __future__ import annotations

import difflib
import re

import pytest

from ivr.flows.editing import EditError, FlowEdit
from ivr.flows import yaml_lines
from ivr.store.flows import FlowStore, version_of

from .conftest import ROOT
from .test_admin import csrf, logged_in, users  # noqa: F401  (fixtures)

FLOWS = sorted((ROOT / "config" / "flows").glob("*.yaml")) + sorted((ROOT / "ivr" / "flows" / "templates").glob("*.yaml"))
MAIN = (ROOT / "config" / "flows" / "main.yaml").read_text()


def changed_lines(a: str, b: str) -> list[str]:
    return [d for d in difflib.ndiff(a.splitlines(), b.splitlines()) if d[:1] in "+-"]


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_opening_and_saving_a_flow_changes_nothing(path):
    text = path.read_text()
    assert FlowEdit(text).text() == text


def test_changing_one_target_changes_one_line_and_keeps_every_comment():
    edit = FlowEdit(MAIN)
    options = [dict(o) for o in edit.node("main_menu")["options"]]
    options[1]["next"] = "to_nurse"  # key 2: billing -> nurse
    edit.set_fields("main_menu", {"options": options})
    new = edit.text()
    assert changed_lines(MAIN, new) == ["-         next: to_billing", "+         next: to_nurse"]
    assert [ln for ln in new.splitlines() if "#" in ln] == [ln for ln in MAIN.splitlines() if "#" in ln]


def test_a_short_option_stays_on_its_line_and_a_new_one_follows_its_style():
    edit = FlowEdit(MAIN)
    rows = [dict(o) for o in edit.node("scheduling_callback_offer")["options"]]
    rows[1]["next"] = "scheduling_voicemail"
    rows.append({"digit": 0, "next": "to_front_desk"})
    edit.set_fields("scheduling_callback_offer", {"options": rows})
    diff = changed_lines(MAIN, edit.text())
    assert len(diff) == 3, diff
    assert diff[1].endswith("- {digit: 2, next: scheduling_voicemail, keywords: {en: [hold, wait], es: [esperar, espero]}}")
    assert diff[2].endswith("- {digit: 0, next: to_front_desk}")


def test_removing_a_step_removes_the_arrows_to_it_and_renaming_follows_them():
    edit = FlowEdit(MAIN)
    touched = edit.remove_node("to_billing")
    assert touched == ["main_menu"]
    data = yaml_lines.load(edit.text())
    assert "to_billing" not in data["nodes"]
    assert "next" not in data["nodes"]["main_menu"]["options"][1]

    edit = FlowEdit(MAIN)
    edit.rename_node("main_menu", "daytime_menu")
    data = yaml_lines.load(edit.text())
    assert data["nodes"]["check_hours"]["open"] == "daytime_menu"
    assert list(data["nodes"]).index("daytime_menu") == list(yaml_lines.load(MAIN)["nodes"]).index("main_menu")
    with pytest.raises(EditError, match="already exists"):
        edit.rename_node("daytime_menu", "to_nurse")
    with pytest.raises(EditError, match="cannot name a step"):
        edit.add_node("Main Menu", "say")


def test_the_first_step_of_an_empty_flow_is_where_calls_start_and_nodes_stay_in_block_style():
    edit = FlowEdit("name: new_line\nlanguages: [en, es]\nnodes: {}\n")
    edit.add_node("greeting", "say", {"prompts": ["welcome"]})
    data = yaml_lines.load(edit.text())
    assert data["start"] == "greeting"
    assert "  greeting:\n    type: say\n    prompts: [welcome]\n" in edit.text()


def test_a_draft_that_does_not_parse_is_refused_with_its_line():
    with pytest.raises(EditError, match=r"does not parse \(line \d+\)"):
        FlowEdit("name: x\nnodes: [\n")


# The pages -------------------------------------------------------------------


def _form(client, path: str, form_id: str) -> dict:
    """The fields of a form on a page as a browser would send them (selected options, checked boxes)."""
    page = client.get(path).get_data(as_text=True)
    start = page.index(f'id="{form_id}"')
    body = page[start: page.index("</form>", start)]
    import html as h
    data: dict[str, list[str]] = {}
    for m in re.finditer(r'<input type="(hidden|text|number)"[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', body):
        data.setdefault(m.group(2), []).append(h.unescape(m.group(3)))
    for m in re.finditer(r'<input type="checkbox"[^>]*name="([^"]+)"([^>]*)>', body):
        if "checked" in m.group(2):
            data.setdefault(m.group(1), []).append("on")
    for m in re.finditer(r'<select id="[^"]*" name="([^"]+)">(.*?)</select>', body, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(2))
        data.setdefault(m.group(1), []).append(chosen.group(1) if chosen else "")
    data["csrf_token"] = [csrf(client, path)]
    return data


def test_a_step_form_changes_the_draft_and_a_stale_form_changes_nothing(app, redis_conn, users):  # noqa: F811
    client = logged_in(app)
    page = client.get("/admin/flows/main?node=main_menu")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'lang="es"' in body and "Spoken words in Español" in body
    form = _form(client, "/admin/flows/main?node=main_menu", "step-fields")
    assert form["o.1.next"] == ["to_billing"]
    form["o.1.next"] = ["to_nurse"]
    form["action"] = ["save"]
    resp = client.post("/admin/flows/main/steps/main_menu", data=form)
    assert resp.status_code == 302
    draft = FlowStore(redis_conn).draft("main")
    assert changed_lines(MAIN, draft.text) == ["-         next: to_billing", "+         next: to_nurse"]
    # Billing can no longer be reached: the validator says so, on those steps.
    assert "to_billing" in {i["node"] for i in draft.issues}
    assert all(i["message"].startswith("unreachable") for i in draft.issues), draft.issues

    # The same (now stale) form again: refused, the draft is untouched.
    form["o.1.next"] = ["to_front_desk"]
    client.post("/admin/flows/main/steps/main_menu", data=form)
    assert FlowStore(redis_conn).draft("main").text == draft.text
    assert "changed by someone else" in client.get("/admin/flows/main").get_data(as_text=True)


def test_adding_a_step_after_another_and_problems_shown_on_the_step(app, redis_conn, users):  # noqa: F811
    client = logged_in(app)
    base = version_of(MAIN)
    token = csrf(client, "/admin/flows/main")
    client.post("/admin/flows/main/steps/to_on_call_nurse", data={
        "csrf_token": token, "base": base, "action": "remove"})
    draft = FlowStore(redis_conn).draft("main")
    assert "to_on_call_nurse" not in yaml_lines.load(draft.text)["nodes"]
    nodes_with_problems = {i["node"] for i in draft.issues}
    assert "after_hours_menu" in nodes_with_problems
    page = client.get("/admin/flows/main?node=after_hours_menu").get_data(as_text=True)
    assert 'class="issues step-issues"' in page
    assert re.search(r'<li data-node="after_hours_menu" class="has-problems">', page)
    # The picture marks it too, and every box links to its form.
    assert re.search(r'data-node="after_hours_menu"', page)
    assert 'href="/admin/flows/main?node=after_hours_menu#step"' in page

    client.post("/admin/flows/main/steps", data={
        "csrf_token": token, "base": version_of(draft.text), "kind": "transfer", "new_name": "on_call",
        "connect": "after_hours_menu.on_failure"})
    data = yaml_lines.load(FlowStore(redis_conn).draft("main").text)
    assert data["nodes"]["on_call"] == {"type": "transfer"}
    assert data["nodes"]["after_hours_menu"]["on_failure"] == "on_call"


def test_new_flows_from_a_template_or_a_copy_and_bad_names_refused(app, redis_conn, users):  # noqa: F811
    client = logged_in(app)
    token = csrf(client, "/admin/new-flow")
    page = client.get("/admin/new-flow").get_data(as_text=True)
    assert "Template: nurse line" in page and "A copy of flow main" in page
    for bad in ("Nurse Line", "main", ""):
        resp = client.post("/admin/new-flow", data={"csrf_token": token, "name": bad, "start": "empty"})
        assert resp.status_code == 422, bad
    resp = client.post("/admin/new-flow", data={"csrf_token": token, "name": "nurse_direct", "start": "template:nurse_line"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/flows/nurse_direct")
    draft = FlowStore(redis_conn).draft("nurse_direct")
    data = yaml_lines.load(draft.text)
    assert data["name"] == "nurse_direct" and draft.issues == []
    assert draft.text.startswith("# A direct nurse line")  # the template's comments come along
    assert "nurse_direct" in client.get("/admin/flows").get_data(as_text=True)
    assert client.get("/admin/flows/nurse_direct").status_code == 200
    # A copy is the live text under a new name.
    client.post("/admin/new-flow", data={"csrf_token": token, "name": "main_copy", "start": "copy:main"})
    copy = FlowStore(redis_conn).draft("main_copy")
    assert copy.text.replace("name: main_copy", "name: main") == MAIN and copy.issues == []
    # Discarding a never-published flow's draft removes it.
    client.post("/admin/flows/main_copy/discard", data={"csrf_token": token})
    assert client.get("/admin/flows/main_copy").status_code == 404


def test_numbers_go_only_to_live_flows_and_the_rest_of_clinic_yaml_is_kept(make_app, config_copy, redis_conn, users):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    client = logged_in(app)
    token = csrf(client, "/admin/numbers")
    before = (config / "clinic.yaml").read_text()
    # A flow with only a draft, a malformed number and a duplicate are refused; nothing is written.
    client.post("/admin/new-flow", data={"csrf_token": token, "name": "nurse_direct", "start": "template:nurse_line"})
    for numbers, flows in ((["+12025550188"], ["nurse_direct"]), (["555"], ["main"]),
                           (["+12025550188", "(202) 555-0188"], ["main", "main"])):
        client.post("/admin/numbers", data={"csrf_token": token, "default_flow": "main", "number": numbers, "flow": flows})
        assert (config / "clinic.yaml").read_text() == before, numbers
    # Publish it, then give it a number keyed the way people write it.
    text = FlowStore(redis_conn).draft("nurse_direct").text
    client.post("/admin/flows/nurse_direct/save", data={"csrf_token": token, "text": text, "action": "publish"})
    resp = client.post("/admin/numbers", data={"csrf_token": token, "default_flow": "main",
                                               "number": ["(202) 555-0188", ""], "flow": ["nurse_direct", "main"]})
    assert resp.status_code == 302
    after = (config / "clinic.yaml").read_text()
    assert 'flows_by_number:\n  "+12025550188": nurse_direct\n' in after
    assert after.replace('flows_by_number:\n  "+12025550188": nurse_direct\n', "flows_by_number: {}\n") == before
    from ivr.clinic.settings import load_clinic
    assert load_clinic(config / "clinic.yaml").flow_for("+12025550188") == "nurse_direct"


def test_the_flows_own_settings_change_in_the_draft(app, redis_conn, users):  # noqa: F811
    client = logged_in(app)
    token = csrf(client, "/admin/flows/main")
    form = {"csrf_token": token, "base": version_of(MAIN), "description": "Daytime menu",
            "languages": ["en"], "default_language": "es"}
    client.post("/admin/flows/main/settings", data=form)  # the first language must be one of them
    assert FlowStore(redis_conn).draft("main") is None
    form["default_language"] = "en"
    client.post("/admin/flows/main/settings", data=form)
    draft = FlowStore(redis_conn).draft("main")
    data = yaml_lines.load(draft.text)
    assert (data["description"], data["languages"], data["default_language"]) == ("Daytime menu", ["en"], "en")
    assert len(changed_lines(MAIN, draft.text)) == 4  # description and languages, each one line


@pytest.mark.parametrize("flow", ["main", "followup"])
def test_saving_any_steps_form_unchanged_changes_nothing(app, redis_conn, users, flow):  # noqa: F811
    """Every field of every step's form reads back what it shows: a form saved as shown leaves the text as it was."""
    client = logged_in(app)
    text = (ROOT / "config" / "flows" / f"{flow}.yaml").read_text()
    for node in yaml_lines.load(text)["nodes"]:
        form = _form(client, f"/admin/flows/{flow}?node={node}", "step-fields")
        form["action"] = ["save"]
        assert client.post(f"/admin/flows/{flow}/steps/{node}", data=form).status_code == 302
        draft = FlowStore(redis_conn).draft(flow)
        assert draft.text == text, (node, changed_lines(text, draft.text))


def test_an_arrow_pointed_at_another_step_changes_only_that_line():
    edit = FlowEdit(MAIN)
    edit.set_target("main_menu", "options[1].next", "to_nurse")
    edit.set_target("main_menu", "on_failure", "to_nurse")
    assert changed_lines(MAIN, edit.text()) == [
        "-         next: to_billing", "+         next: to_nurse",
        "-     on_failure: to_front_desk", "+     on_failure: to_nurse"]
    for field, target in (("options[40].next", "to_nurse"), ("prompt", "to_nurse"), ("on_failure", "nowhere")):
        with pytest.raises(EditError):
            FlowEdit(MAIN).set_target("main_menu", field, target)


def test_a_flow_too_big_to_draw_says_so_instead_of_running_graphviz_for_long():
    from ivr.admin.picture import MAX_STEPS, flow_svg

    steps = "\n".join(f"  s{i}:\n    type: goto\n    next: s{i + 1}" for i in range(MAX_STEPS + 1))
    svg = flow_svg(f"name: x\nstart: s0\nlanguages: [en]\nnodes:\n{steps}\n")
    assert "No picture" in svg and f"more than {MAX_STEPS}" in svg


MALFORMED = """name: main
start: a
languages: [en, es]
nodes:
  a:
    type: menu
    prompt: [not, a, string]
    options: 5
    timeout: soon
  b: just text
  c:
    type: teleport
    next: a
  d:
    type: menu
    prompt: main_menu
    options:
      - {digit: [1, 2], keywords: {en: nurse, es: [1, {x: y}]}, next: [a]}
      - plain
    on_failure: {x: 1}
  e:
    type: say
"""


@pytest.mark.parametrize("node", ["a", "b", "c", "d", "e"])
def test_a_draft_in_any_shape_opens_in_the_visual_editor_and_its_forms_answer_without_a_500(
        app, redis_conn, users, node):  # noqa: F811
    client = logged_in(app)
    token = csrf(client, "/admin/flows/main")
    client.post("/admin/flows/main/save", data={"csrf_token": token, "text": MALFORMED, "action": "draft"})
    page = client.get(f"/admin/flows/main?node={node}")
    assert page.status_code in (200, 404), page.status_code  # "b" is not a step with settings
    assert client.get("/admin/flows/main").status_code == 200
    base = version_of(MALFORMED)
    for action in ("save", "add_option", "start", "rename", "remove"):
        resp = client.post(f"/admin/flows/main/steps/{node}", data={
            "csrf_token": token, "base": base, "action": action, "new_name": f"{node}_x", "o.count": "2",
            "o.0.digit": "1", "o.0.keywords.en": "nurse", "f.timeout": "7"})
        assert resp.status_code in (302, 400), (action, resp.status_code)
        base = version_of(FlowStore(redis_conn).draft("main").text)
        node = node if action != "rename" or resp.status_code != 302 else f"{node}_x"
    resp = client.post(f"/admin/flows/main/steps/{node}/reconnect",
                       data={"csrf_token": token, "base": base, "field": "options[0].next", "target": "e"})
    assert resp.status_code == 302

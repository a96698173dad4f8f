"""Prompts are versioned with the flows: an edit goes into a flow's draft, Try-it plays it, callers hear it
only when that flow is published (together with the flow's own changes), a rollback brings the old text back,
and the diff shows both (real Redis, signed webhooks)."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

import yaml

from ivr.store.audit import AuditLog
from ivr.store.flows import FlowStore

from .test_admin import FOUR_TO_BILLING, _phone, csrf, logged_in, users, wav_bytes  # noqa: F401  (users: a fixture)

OFFER_4 = "For appointments, press 1. For billing, press 2. For pharmacy refills, press 4."


def _save_prompt(admin, prompt_id: str, text: str, lang: str = "en", **extra) -> str:
    path = f"/admin/prompts/{prompt_id}"
    data = {"csrf_token": csrf(admin, path), f"text_{lang}": text, **extra}
    return html.unescape(admin.post(path, data=data, follow_redirects=True).get_data(as_text=True))


def _publish(admin, redis_conn, name: str = "main", text: str | None = None) -> str:
    draft = FlowStore(redis_conn).draft(name)
    body = text if text is not None else draft.text
    resp = admin.post(f"/admin/flows/{name}/save", data={"csrf_token": csrf(admin, f"/admin/flows/{name}"),
                                                        "text": body, "action": "publish"}, follow_redirects=True)
    return html.unescape(resp.get_data(as_text=True))


def _menu_words(app) -> str:
    return _phone(app).start().text


def test_a_prompt_edit_is_not_heard_before_publish_and_is_undone_by_rollback(make_app, config_copy, users, redis_conn):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    store = FlowStore(redis_conn)
    before_file = (prompts / "en" / "prompts.yaml").read_text()
    first = store.history("main")[0].n

    page = _save_prompt(admin, "main_menu", OFFER_4)
    assert "Saved in the draft of flow main (en)" in page
    # Callers still hear the live menu: the draft's menu has no option 4 yet.
    assert OFFER_4 not in _menu_words(app)
    assert (prompts / "en" / "prompts.yaml").read_text() == before_file
    # Try-it plays the draft, with the new prompt.
    token = csrf(admin, "/admin/flows/main")
    tried = admin.post("/admin/flows/main/try", json={"text": store.draft("main").text, "action": {}},
                       headers={"X-CSRFToken": token}).get_json()
    assert OFFER_4 in " ".join(h.get("text", "") for h in tried["heard"])
    # The editor says the prompt goes live with the next publish.
    editor = html.unescape(admin.get("/admin/flows/main").get_data(as_text=True))
    assert "Prompts that go live with this publish" in editor and OFFER_4 in editor
    yaml_view = html.unescape(admin.get("/admin/flows/main/yaml").get_data(as_text=True))
    assert "Prompts that go live with this publish" in yaml_view and OFFER_4 in yaml_view

    # Publish: the menu's option 4 and the prompt that offers it go live together.
    page = _publish(admin, redis_conn, text=FOUR_TO_BILLING)
    assert "is live, with the prompts main_menu (en)" in page
    assert OFFER_4 in _menu_words(app)
    call = _phone(app)
    call.start()
    assert call.press("4").dial_number == "+12025550102"  # billing: the menu has the option the prompt offers
    old, new = yaml.safe_load(before_file), yaml.safe_load((prompts / "en" / "prompts.yaml").read_text())
    assert {k for k in old if old[k] != new[k]} == {"main_menu"} and set(old) == set(new)  # only that prompt
    assert store.draft("main") is None and store.draft_prompts("main") == {}
    published = store.history("main")[0].n
    audit = [e for e in AuditLog(redis_conn).for_actor("ada") if e.action == "prompt_edit"]
    assert audit[0].detail.startswith("live with flow main; was: ")

    # The diff shows the steps and the prompt.
    diff = html.unescape(admin.get(f"/admin/flows/main/diff?a={first}&b={published}").get_data(as_text=True))
    assert "{digit: 4, next: to_billing}" in diff and OFFER_4 in diff and "main_menu" in diff

    # Rollback restores the flow and the prompt it played.
    token = csrf(admin, "/admin/flows/main")
    page = html.unescape(admin.post(f"/admin/flows/main/rollback/{first}", data={"csrf_token": token},
                                    follow_redirects=True).get_data(as_text=True))
    assert "with its prompts main_menu (en)" in page
    assert OFFER_4 not in _menu_words(app)
    call = _phone(app)
    call.start()
    assert call.press("4").dial_number != "+12025550102"
    assert yaml.safe_load((prompts / "en" / "prompts.yaml").read_text()) == old  # the texts as they were


def test_a_prompt_saved_in_one_web_process_is_listed_and_heard_by_another_at_once(make_app, config_copy, users, redis_conn):  # noqa: F811
    """Two app instances on one Redis and one prompts folder; the second never serves a call in between."""
    config, prompts = config_copy
    one = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=3600)
    two = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=3600)
    admin_one, admin_two = logged_in(one), logged_in(two)
    _menu_words(two)  # process two has served a call: its prompts are loaded

    assert "Saved in the draft of flow main" in _save_prompt(admin_one, "pharmacy_intro", "Connecting you to the pharmacy.")
    for _ in range(3):  # every page load of the other process lists it
        form = html.unescape(admin_two.get("/admin/flows/main?node=main_menu").get_data(as_text=True))
        assert "“Connecting you to the pharmacy.” (pharmacy_intro)" in form
    _publish(admin_one, redis_conn)
    for _ in range(3):
        prompts_page = html.unescape(admin_two.get("/admin/prompts").get_data(as_text=True))
        assert "pharmacy_intro" in prompts_page
    for _ in range(3):  # published: the draft is gone, the other process's own prompts have it
        form = html.unescape(admin_two.get("/admin/flows/main?node=main_menu").get_data(as_text=True))
        assert "“Connecting you to the pharmacy.” (pharmacy_intro)" in form
    assert two.extensions["ivr"].runtime.prompts.text("en", "pharmacy_intro") == "Connecting you to the pharmacy."
    # Hours saved in one process: the other's settings have them at its next page, and the version moved.
    settings_before = FlowStore(redis_conn).generations()[1]
    form = {f"hours_{d}": "08:00-17:00" for d in ("monday", "wednesday", "thursday", "friday")}
    admin_one.post("/admin/hours", data={"csrf_token": csrf(admin_one, "/admin/hours"), "holiday_count": "0",
                                         "hours_tuesday": "13:00-17:00", **form})
    assert FlowStore(redis_conn).generations()[1] > settings_before
    admin_two.get("/admin/flows")
    assert two.extensions["ivr"].runtime.clinic.hours["tuesday"] == ["13:00-17:00"]


def test_the_diff_shows_the_hours_and_numbers_that_changed_between_versions(make_app, config_copy, users, redis_conn):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    _save_prompt(admin, "welcome", "Welcome to {clinic_name}.")
    _publish(admin, redis_conn)
    first = FlowStore(redis_conn).history("main")[0].n
    form = {f"hours_{d}": "08:00-17:00" for d in ("monday", "wednesday", "thursday", "friday")}
    admin.post("/admin/hours", data={"csrf_token": csrf(admin, "/admin/hours"), "holiday_count": "0",
                                     "holiday_date_0": "2027-08-02", "holiday_name_0": "Staff day",
                                     "hours_tuesday": "1pm-5pm", **form})
    _publish(admin, redis_conn, text=FOUR_TO_BILLING)
    second = FlowStore(redis_conn).history("main")[0].n
    diff = html.unescape(admin.get(f"/admin/flows/main/diff?a={first}&b={second}").get_data(as_text=True))
    assert "Tuesday: 08:00-17:00 → 13:00-17:00" in diff and "Holiday added: 2027-08-02 Staff day" in diff
    assert "Holiday removed: 2026-11-26 Thanksgiving Day" in diff  # the form above listed only the new one


def test_hours_saved_in_a_flows_draft_go_live_when_it_is_published(make_app, config_copy, users, redis_conn):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    before = (config / "clinic.yaml").read_text()
    form = {f"hours_{d}": "08:00-17:00" for d in ("monday", "wednesday", "thursday", "friday")}
    resp = admin.post("/admin/hours", data={"csrf_token": csrf(admin, "/admin/hours"), "holiday_count": "0",
                                            "hours_tuesday": "1pm-5pm", "action": "draft", "flow": "main", **form},
                      follow_redirects=True)
    assert "Hours and holidays saved in the draft of flow main" in html.unescape(resp.get_data(as_text=True))
    assert (config / "clinic.yaml").read_text() == before
    assert "We are closed now." not in _menu_words(app)  # Tuesday 10:00: open, as the live hours say
    token = csrf(admin, "/admin/flows/main")
    tried = admin.post("/admin/flows/main/try", json={"text": FlowStore(redis_conn).draft("main").text, "action": {}},
                       headers={"X-CSRFToken": token}).get_json()
    assert "We are closed now." in " ".join(h.get("text", "") for h in tried["heard"])  # Try-it: the draft's hours
    assert "go live with this publish" in admin.get("/admin/flows/main").get_data(as_text=True)

    page = _publish(admin, redis_conn)
    assert "with the draft's hours and holidays" in page
    assert 'tuesday: ["13:00-17:00"]' in (config / "clinic.yaml").read_text()
    assert "We are closed now." in _menu_words(app)
    assert FlowStore(redis_conn).draft_hours("main") is None


def test_a_new_flow_gets_its_number_in_its_draft_and_answers_it_once_published(make_app, config_copy, users, redis_conn):  # noqa: F811
    from ivr.telephony.simulator import PhoneCall

    from .conftest import TOKEN, flask_transport

    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    admin.post("/admin/new-flow", data={"csrf_token": csrf(admin, "/admin/new-flow"), "name": "second", "start": "copy:main"})
    second = FOUR_TO_BILLING.replace("name: main", "name: second", 1)
    assert "name: second" in second

    def press_4(called: str) -> str:
        call = PhoneCall(flask_transport(app), "http://localhost", TOKEN, called=called)
        call.start()
        turn = call.press("4")
        return turn.dial_number if turn.waiting == "dial" else ""

    page = html.unescape(admin.get("/admin/numbers").get_data(as_text=True))
    assert '<option value="second">second (not published yet)</option>' in page
    before = (config / "clinic.yaml").read_text()
    resp = admin.post("/admin/numbers", data={"csrf_token": csrf(admin, "/admin/numbers"), "default_flow": "main",
                                              "number": "+12025550188", "flow": "second", "action": "draft",
                                              "draft_flow": "second"}, follow_redirects=True)
    assert "Saved in the draft of flow second" in html.unescape(resp.get_data(as_text=True))
    assert (config / "clinic.yaml").read_text() == before
    assert press_4("+12025550188") != "+12025550102"  # the main flow answers it still
    # "Save now" cannot give a number to a flow that is not published.
    resp = admin.post("/admin/numbers", data={"csrf_token": csrf(admin, "/admin/numbers"), "default_flow": "main",
                                              "number": "+12025550188", "flow": "second", "action": "now"}, follow_redirects=True)
    assert "flow second is not a published flow (publish it first)" in html.unescape(resp.get_data(as_text=True))

    page = _publish(admin, redis_conn, name="second", text=second)
    assert "with the draft's phone numbers" in page
    assert press_4("+12025550188") == "+12025550102"  # the new flow, published with its number
    assert press_4("+12025550199") != "+12025550102"  # the main number still hears main


def test_rollback_brings_back_the_hours_and_numbers_published_with_the_version(make_app, config_copy, users, redis_conn):  # noqa: F811
    from ivr.clinic.settings import load_clinic
    from ivr.telephony.simulator import PhoneCall

    from .conftest import TOKEN, flask_transport

    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    store = FlowStore(redis_conn)
    first = store.history("main")[0].n
    original = (config / "clinic.yaml").read_text()

    def call(called: str, digit: str = "4") -> tuple[str, str]:
        """(what the call hears first, the number pressing ``digit`` rings or "")."""
        phone = PhoneCall(flask_transport(app), "http://localhost", TOKEN, called=called)
        heard = " ".join(phone.start().said)
        turn = phone.press(digit)
        return heard, turn.dial_number if turn.waiting == "dial" else ""

    # A second flow answers its own number; then main is published with new hours and that number.
    admin.post("/admin/new-flow", data={"csrf_token": csrf(admin, "/admin/new-flow"), "name": "second", "start": "copy:main"})
    admin.post("/admin/numbers", data={"csrf_token": csrf(admin, "/admin/numbers"), "default_flow": "main",
                                       "number": "+12025550188", "flow": "second", "action": "draft", "draft_flow": "second"})
    _publish(admin, redis_conn, name="second", text=FOUR_TO_BILLING.replace("name: main", "name: second", 1))
    assert call("+12025550188")[1] == "+12025550102"  # second: 4 rings billing
    live_then = load_clinic(config / "clinic.yaml")
    week = {f"hours_{d}": "08:00-17:00" for d in ("monday", "wednesday", "thursday", "friday")}
    admin.post("/admin/hours", data={"csrf_token": csrf(admin, "/admin/hours"), "holiday_count": "0", "hours_tuesday": "1pm-5pm",
                                     "holiday_date_0": "2027-08-02", "holiday_name_0": "Staff day", "action": "draft",
                                     "flow": "main", **week})
    admin.post("/admin/numbers", data={"csrf_token": csrf(admin, "/admin/numbers"), "default_flow": "main",
                                       "number": "+12025550188", "flow": "main", "action": "draft", "draft_flow": "main"})
    assert "with the draft's hours and holidays, with the draft's phone numbers" in _publish(admin, redis_conn)
    for called in ("+12025550199", "+12025550188"):  # Tuesday 10:00: closed by the new hours, main answers both
        heard, rung = call(called)
        assert "We are closed now." in heard and rung != "+12025550102"

    token = csrf(admin, "/admin/flows/main")
    page = html.unescape(admin.post(f"/admin/flows/main/rollback/{first}", data={"csrf_token": token},
                                    follow_redirects=True).get_data(as_text=True))
    assert f"version {first} is live again" in page and "with its hours and holidays, with its phone numbers" in page
    assert "Tuesday: 13:00-17:00 → 08:00-17:00" in page and "Holiday removed: 2027-08-02 Staff day" in page
    assert "Holiday added: 2026-11-26 Thanksgiving Day" in page
    assert "Number +12025550188: main → second" in page
    heard, rung = call("+12025550199", "1")
    assert "We are closed now." not in heard and rung  # the old hours: open, and 1 rings a desk
    assert call("+12025550188")[1] == "+12025550102"  # the number is second's again
    restored = load_clinic(config / "clinic.yaml")
    for part in ("hours", "holidays", "default_flow", "flows_by_number"):
        assert getattr(restored, part) == getattr(live_then, part), part
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert [line for line in (config / "clinic.yaml").read_text().splitlines() if line.lstrip().startswith("#")] == comments
    now = (config / "clinic.yaml").read_text()
    # A rollback with nothing to bring back changes neither hours nor numbers.
    latest = store.history("main")[0].n
    page = html.unescape(admin.post(f"/admin/flows/main/rollback/{latest}", data={"csrf_token": token},
                                    follow_redirects=True).get_data(as_text=True))
    assert "with its hours" not in page and "with its phone numbers" not in page and "Changed back" not in page
    assert (config / "clinic.yaml").read_text() == now


def test_a_recording_is_heard_only_once_its_flow_is_published_and_a_rollback_takes_it_back(make_app, config_copy, users, redis_conn):  # noqa: F811
    import io

    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    store = FlowStore(redis_conn)
    first = store.history("main")[0].n
    live = prompts / "en" / "audio" / "welcome.wav"

    def upload(data: bytes) -> str:
        resp = admin.post("/admin/prompts/en/welcome/audio", content_type="multipart/form-data", follow_redirects=True, data={
            "csrf_token": csrf(admin, "/admin/prompts/welcome"), "flow": "main", "audio": (io.BytesIO(data), "welcome.wav")})
        return html.unescape(resp.get_data(as_text=True))

    def first_heard():
        heard = _phone(app).start().heard[0]
        return heard.kind, heard.text

    def rollback(n: int) -> str:
        token = csrf(admin, "/admin/flows/main")
        return html.unescape(admin.post(f"/admin/flows/main/rollback/{n}", data={"csrf_token": token},
                                        follow_redirects=True).get_data(as_text=True))

    page = upload(wav_bytes(1.5))
    assert "Recording saved (1.5 seconds, converted for the phone) in the draft of flow main" in page
    assert "a new recording" in page and 'aria-label="Draft recording in en"' in page
    assert first_heard()[0] == "say" and not live.exists()  # callers: the text, as before
    kept = store.draft_recordings("main")["en"]["welcome"]
    assert app.test_client().get(f"/voice/audio/en/kept/{kept}").status_code == 404  # not served to calls
    drafted = admin.get("/admin/prompts/en/welcome/audio?flow=main")  # the manager hears the draft's recording
    assert drafted.status_code == 200 and drafted.data[:4] == b"RIFF"
    draft_bytes = drafted.data
    drafted.close()
    token = csrf(admin, "/admin/flows/main")
    tried = admin.post("/admin/flows/main/try", json={"text": store.draft("main").text, "action": {}},
                       headers={"X-CSRFToken": token}).get_json()
    assert tried["heard"][0]["prompt"] == "welcome" and tried["heard"][0]["recorded"] is True  # Try-it plays the draft
    assert "welcome</a> (en): a new recording" in html.unescape(admin.get("/admin/flows/main").get_data(as_text=True))

    page = _publish(admin, redis_conn)
    assert "is live, with the recordings welcome (en)" in page
    kind, url = first_heard()
    assert kind == "play" and urlsplit(url).path == "/voice/audio/en/welcome.wav"
    assert live.read_bytes() == draft_bytes
    with_one = store.history("main")[0].n

    upload(wav_bytes(2.5))  # a second recording waits for the next publish too
    assert live.read_bytes() == draft_bytes and first_heard() == ("play", url)
    assert "with the recordings welcome (en)" in _publish(admin, redis_conn)
    second_bytes = live.read_bytes()
    assert second_bytes != draft_bytes
    # The new recording has a new URL: Twilio caches audio by URL (for the hour the route allows), so under the
    # old one it would go on playing the first recording.
    kind, second_url = first_heard()
    assert kind == "play" and second_url != url and urlsplit(second_url).path == urlsplit(url).path
    with app.test_client().get(urlsplit(second_url).path + "?" + urlsplit(second_url).query) as served:
        assert served.status_code == 200 and served.data == second_bytes

    diff = html.unescape(admin.get(f"/admin/flows/main/diff?a={first}&b={with_one}").get_data(as_text=True))
    assert "Recording of welcome (en): recorded" in diff
    page = rollback(with_one)
    assert "with its recordings welcome (en)" in page
    assert live.read_bytes() == draft_bytes and first_heard()[1] != second_url
    page = rollback(first)
    assert "with its recordings welcome (en)" in page
    assert not live.exists() and first_heard()[0] == "say"  # the version before any recording: the text is spoken
    audit = [e.detail for e in AuditLog(redis_conn).for_actor("ada") if e.action == "prompt_audio"]
    assert any(d.startswith("in the draft of flow main; welcome.wav: 1.5 s") for d in audit)
    assert any(d == "live with flow main: recording taken away, the text is spoken" for d in audit)

"""Administration without a browser: flow versions in Redis, calls across publishes, the emergency
switch, access control, prompt recordings, hours and calendar import (real Redis, signed webhooks)."""

from __future__ import annotations

import html
import io
import re
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from ivr.admin import audio  # noqa: F401  (imports pydub quietly: it uses the deprecated audioop)
from pydub.generators import Sine  # noqa: E402

from ivr.staff.passwords import hash_password
from ivr.store.audit import AuditLog
from ivr.store.flows import FlowStore, version_of
from ivr.store.users import UserStore

from .conftest import ROOT, flask_transport

PASSWORD = "correct horse battery staple"
MAIN = (ROOT / "config" / "flows" / "main.yaml").read_text()
# Key 4 in the main menu: billing in one version, the nurse in another.
FOUR_TO_BILLING = MAIN.replace(
    "    failure_prompt: menu_failure\n    on_failure: to_front_desk",
    "      - {digit: 4, next: to_billing}\n    failure_prompt: menu_failure\n    on_failure: to_front_desk",
)
FOUR_TO_NURSE = FOUR_TO_BILLING.replace("{digit: 4, next: to_billing}", "{digit: 4, next: to_nurse}")
BILLING, NURSE, ON_CALL = "+12025550102", "+12025550103", "+12025550104"


def csrf(client, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def users(redis_conn):
    store = UserStore(redis_conn)
    store.add("ada", "admin", hash_password(PASSWORD), display_name="Ada Admin")
    store.add("nina", "nurse", hash_password(PASSWORD))
    return store


def logged_in(app, name: str = "ada"):
    client = app.test_client()
    resp = client.post("/login", data={"csrf_token": csrf(client, "/login"), "username": name, "password": PASSWORD})
    assert resp.status_code == 302
    return client


def press_4(phone) -> str:
    """A new call to the main menu (open hours), English, key 4: the number dialled, or "" if none."""
    call = phone()
    call.start()
    turn = call.press("4")
    return turn.dial_number if turn.waiting == "dial" else ""


# The store ------------------------------------------------------------------


def test_publish_rollback_history_and_drafts(redis_conn):
    store = FlowStore(redis_conn)
    v1 = store.publish("main", MAIN, "ada", note="first")
    v2 = store.publish("main", FOUR_TO_BILLING, "bob")
    assert (v1.n, v2.n) == (1, 2)
    assert store.live_version("main") == version_of(FOUR_TO_BILLING) == v2.version
    assert store.text(v1.version) == MAIN
    g = store.generation()

    again = store.publish("main", store.text(v1.version), "ada", note="rollback to version 1")
    assert again.n == 3 and again.version == v1.version
    assert store.live_version("main") == v1.version
    assert store.generation() == g + 1
    assert [(v.n, v.who) for v in store.history("main")] == [(3, "ada"), (2, "bob"), (1, "ada")]

    store.save_draft("main", "name: main\n", "ada", [{"line": 1, "node": None, "message": "start missing"}])
    draft = store.draft("main")
    assert draft.text == "name: main\n" and draft.issues[0]["line"] == 1
    store.discard_draft("main")
    assert store.draft("main") is None


def test_a_file_content_is_published_once_however_many_processes_start(redis_conn, make_app):
    make_app()
    make_app()
    store = FlowStore(redis_conn)
    history = store.history("main")
    assert len(history) == 1
    assert history[0].who == "file:config/flows/main.yaml"
    assert store.live_version("main") == version_of(MAIN)


def test_every_process_sees_a_publish_within_two_seconds(make_app, redis_conn):
    first, second = make_app(), make_app()  # two web processes: separate runtimes, one Redis
    phone_second = lambda: _phone(second)  # noqa: E731
    assert press_4(phone_second) == ""  # key 4 is not an option yet
    FlowStore(redis_conn).publish("main", FOUR_TO_BILLING, "ada")
    published = time.monotonic()
    while press_4(phone_second) != BILLING:
        assert time.monotonic() - published < 2.6, "the other process did not see the publish in time"
        time.sleep(0.1)
    assert press_4(lambda: _phone(first)) == BILLING


def _phone(app):
    from ivr.telephony.simulator import PhoneCall

    from .conftest import TOKEN

    return PhoneCall(flask_transport(app), "http://localhost", TOKEN)


def test_a_call_in_progress_finishes_on_its_version_even_in_a_process_that_never_loaded_it(make_app, redis_conn):
    store = FlowStore(redis_conn)
    first = make_app()
    store.publish("main", FOUR_TO_BILLING, "ada")
    first.extensions["ivr"].runtime.sync_flows()
    call = _phone(first)
    call.start()  # at the main menu of the version where 4 is billing

    store.publish("main", FOUR_TO_NURSE, "ada")
    later = make_app()  # started after: loads only the new live version
    assert version_of(FOUR_TO_BILLING) not in later.extensions["ivr"].runtime.flows._versions
    call.transport = flask_transport(later)
    assert call.press("4").dial_number == BILLING
    assert press_4(lambda: _phone(later)) == NURSE


# The emergency switch ----------------------------------------------------------


def test_emergency_switch_on_sends_every_call_to_the_message_and_on_call(make_app, users, phone, redis_conn):
    app = make_app()
    admin = logged_in(app)
    resp = admin.post("/admin/emergency", data={
        "csrf_token": csrf(admin, "/admin/emergency"), "action": "on", "desk": "on_call_nurse",
        "message_en": "A storm closed the clinic today.", "message_es": "Una tormenta cerró la clínica hoy.",
    })
    assert resp.status_code == 302
    turn = _phone(app).start()
    assert turn.said == ["A storm closed the clinic today.", "Una tormenta cerró la clínica hoy."]
    assert turn.waiting == "dial" and turn.dial_number == ON_CALL
    root = ET.fromstring(turn.twiml[-1])
    assert root.find("Dial").get("action") == "/voice/fallback/voicemail"
    # The console shows it too.
    nurse = logged_in(app, "nina")
    assert "Emergency closed switch is ON" in nurse.get("/console").get_data(as_text=True)
    assert [e.action for e in AuditLog(redis_conn).for_actor("ada")][0] == "emergency_on"

    admin.post("/admin/emergency", data={"csrf_token": csrf(admin, "/admin/emergency"), "action": "off", "desk": "on_call_nurse"})
    assert _phone(app).start().said[0] == "Thank you for calling Riverside Family Clinic."


# Access ------------------------------------------------------------------------

ADMIN_PAGES = ["/admin", "/admin/flows", "/admin/flows/main", "/admin/flows/main/yaml", "/admin/new-flow", "/admin/numbers", "/admin/prompts", "/admin/hours", "/admin/emergency",
               "/admin/prompts/welcome"]


def test_only_admins_reach_the_admin_pages(app, users, redis_conn):
    anonymous = app.test_client()
    for path in ADMIN_PAGES:
        resp = anonymous.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path
    nurse = logged_in(app, "nina")
    for path in ADMIN_PAGES:
        assert nurse.get(path).status_code == 403, path
    token = csrf(nurse, "/console")
    assert nurse.post("/admin/flows/main/rollback/1", data={"csrf_token": token}).status_code == 403
    assert nurse.post("/admin/flows/main/check", json={"text": MAIN}, headers={"X-CSRFToken": token}).status_code == 403
    assert "Administration" not in nurse.get("/console").get_data(as_text=True)
    admin = logged_in(app)
    for path in ADMIN_PAGES:
        assert admin.get(path).status_code == 200, path
    assert "Administration" in admin.get("/console").get_data(as_text=True)


def test_admin_posts_need_a_csrf_token(app, users, redis_conn):
    admin = logged_in(app)
    assert admin.post("/admin/flows/main/save", data={"text": FOUR_TO_BILLING, "action": "publish"}).status_code == 400
    assert admin.post("/admin/flows/main/check", json={"text": MAIN}).status_code == 400
    assert admin.post("/admin/emergency", data={"action": "on", "desk": "nurse"}).status_code == 400
    assert FlowStore(redis_conn).live_version("main") == version_of(MAIN)
    ok = admin.post("/admin/flows/main/check", json={"text": MAIN}, headers={"X-CSRFToken": csrf(admin, "/admin/flows/main")})
    assert ok.status_code == 200 and ok.get_json()["ok"] is True


def test_publish_refuses_an_invalid_draft_keeps_it_and_audits_views(app, users, redis_conn):
    admin = logged_in(app)
    broken = FOUR_TO_BILLING.replace("{digit: 4, next: to_billing}", "{digit: 4, next: to_nowhere}")
    resp = admin.post("/admin/flows/main/save", data={"csrf_token": csrf(admin, "/admin/flows/main"), "text": broken, "action": "publish"})
    assert resp.status_code == 302
    store = FlowStore(redis_conn)
    assert store.live_version("main") == version_of(MAIN)
    line = broken.splitlines().index("      - {digit: 4, next: to_nowhere}") + 1
    assert store.draft("main").issues[0]["line"] == line
    page = admin.get("/admin/flows/main/yaml").get_data(as_text=True)
    item = re.search(rf'<li data-line="{line}">(.*?)</li>', page).group(1)
    shown = html.unescape(re.sub(r"<[^>]+>", "", item))  # "Line N" is a button that goes to the line
    assert shown == f"Line {line}: node 'main_menu': options[5].next names an unknown node 'to_nowhere'"
    admin.get("/admin/flows/main/versions/1")
    actions = [e.action for e in AuditLog(redis_conn).for_actor("ada")]
    assert "flow_publish_refused" in actions and "view_flow_version" in actions


# Prompts ----------------------------------------------------------------------


def wav_bytes(seconds: float = 1.5, gain: float = -30.0, fmt: str = "wav") -> bytes:
    out = io.BytesIO()
    Sine(440).to_audio_segment(duration=int(seconds * 1000)).apply_gain(gain).export(out, format=fmt)
    return out.getvalue()


def test_prompt_text_edit_rewrites_only_that_prompt_and_audits_the_old_text(make_app, config_copy, users, redis_conn, phone):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    before = (prompts / "en" / "prompts.yaml").read_text()
    admin.post("/admin/prompts/welcome", data={"csrf_token": csrf(admin, "/admin/prompts/welcome"),
                                              "text_en": "Welcome to {clinic_name}.", "text_es": ""})
    assert (prompts / "en" / "prompts.yaml").read_text() == before  # in the draft of flow main until it is published
    admin.post("/admin/flows/main/save", data={"csrf_token": csrf(admin, "/admin/flows/main"),
                                              "text": FlowStore(redis_conn).draft("main").text, "action": "publish"})
    after = (prompts / "en" / "prompts.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert changed == [("welcome: Thank you for calling {clinic_name}.", 'welcome: "Welcome to {clinic_name}."')]
    assert _phone(app).start().said[0] == "Welcome to Riverside Family Clinic."
    entry = AuditLog(redis_conn).for_actor("ada")[0]
    assert entry.action == "flow_publish"
    entry = next(e for e in AuditLog(redis_conn).for_actor("ada") if e.action == "prompt_edit")
    assert entry.detail == "live with flow main; was: Thank you for calling {clinic_name}."


def test_a_misspelled_placeholder_is_refused_with_the_ones_a_call_can_fill(make_app, config_copy, users, phone):
    """Callers would hear "{clinc_name}" read out: the prompt is not saved, and the page says what is valid."""
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    before = (prompts / "en" / "prompts.yaml").read_text()
    for text in ("Welcome to {clinc_name}.", "Welcome to {clinic_name."):
        resp = admin.post("/admin/prompts/welcome", data={"csrf_token": csrf(admin, "/admin/prompts/welcome"),
                                                         "text_en": text, "text_es": ""}, follow_redirects=True)
        page = resp.get_data(as_text=True)
        assert "Not saved" in page
        assert (prompts / "en" / "prompts.yaml").read_text() == before
    assert "{clinc_name} is not a value a call can fill in" in admin.post(
        "/admin/prompts/welcome", data={"csrf_token": csrf(admin, "/admin/prompts/welcome"), "text_en": "Hi {clinc_name}"},
        follow_redirects=True).get_data(as_text=True)
    assert _phone(app).start().said[0] == "Thank you for calling Riverside Family Clinic."


def test_a_prompts_file_edited_by_hand_with_an_unknown_placeholder_names_its_line(config_copy):
    from ivr.clinic.prompts import PromptError, load_prompts

    _config, prompts = config_copy
    path = prompts / "en" / "prompts.yaml"
    path.write_text(path.read_text() + "\nflu_shots: Flu shots at {clinic_nmae} this week.\n")
    with pytest.raises(PromptError, match=r"prompts.yaml:\d+: prompt 'flu_shots': \{clinic_nmae\} is not a value"):
        load_prompts(prompts)


def test_missing_translations_are_listed(make_app, config_copy, users):
    config, prompts = config_copy
    (prompts / "en" / "prompts.yaml").write_text((prompts / "en" / "prompts.yaml").read_text() + "\nflu_shots: Flu shots are here.\n")
    admin = logged_in(make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts)))
    page = admin.get("/admin/prompts").get_data(as_text=True)
    assert re.search(r'data-missing="es">Missing in es: flu_shots<', page)


def test_uploaded_recording_is_converted_normalised_and_played(make_app, config_copy, users, redis_conn, phone):
    from pydub import AudioSegment

    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    token = csrf(admin, "/admin/prompts/welcome")
    stereo = Sine(440).to_audio_segment(duration=1500).apply_gain(-35).set_channels(2).set_frame_rate(44100)
    data = io.BytesIO()
    stereo.export(data, format="mp3")
    resp = admin.post("/admin/prompts/en/welcome/audio", data={"csrf_token": token, "audio": (io.BytesIO(data.getvalue()), "hello.mp3")},
                      content_type="multipart/form-data")
    assert resp.status_code == 302
    assert _phone(app).start().heard[0].kind == "say"  # in the flow's draft: heard once it is published
    from ivr.store.flows import FlowStore
    admin.post("/admin/flows/main/save", data={"csrf_token": csrf(admin, "/admin/flows/main"), "action": "publish",
                                               "text": FlowStore(redis_conn).draft("main").text})
    saved = AudioSegment.from_file(io.BytesIO((prompts / "en" / "audio" / "welcome.wav").read_bytes()), format="wav")
    assert (saved.channels, saved.frame_rate, saved.sample_width) == (1, 8000, 2)
    assert -21.5 < saved.dBFS < -18.5  # evened out from -38 dBFS
    played = admin.get("/admin/prompts/en/welcome/audio")
    assert played.status_code == 200 and played.data[:4] == b"RIFF"
    played.close()
    heard = _phone(app).start().heard
    assert heard[0].kind == "play" and urlsplit(heard[0].text).path == "/voice/audio/en/welcome.wav"

    for payload, name, reason in [
        (b"GIF89a not audio", "x.wav", "not a WAV recording"),
        (b"", "x.wav", "empty"),
        (wav_bytes(gain=-200), "quiet.wav", "silent"),
        (wav_bytes(seconds=121), "long.wav", "121 seconds"),
        (wav_bytes(), "x.ogg", "only WAV and MP3"),
    ]:
        resp = admin.post("/admin/prompts/es/welcome/audio", data={"csrf_token": token, "audio": (io.BytesIO(payload), name)},
                          content_type="multipart/form-data", follow_redirects=True)
        assert reason in resp.get_data(as_text=True), name
    assert not (prompts / "es" / "audio").exists()


# Hours ----------------------------------------------------------------------------

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//holidays//EN\r\n"
    "BEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20271125\r\nSUMMARY:Thanksgiving Day\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:b\r\nDTSTART;VALUE=DATE:20261225\r\nSUMMARY:Christmas Day\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:c\r\nDTSTART:20271126T150000Z\r\nSUMMARY:Staff meeting\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n"
)


def test_hours_edit_keeps_the_rest_of_clinic_yaml_and_refuses_bad_hours(make_app, config_copy, users, phone, clock):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    before = (config / "clinic.yaml").read_text()
    form = {f"hours_{d}": "08:00-17:00" for d in ("monday", "wednesday", "thursday", "friday")}
    form.update(csrf_token=csrf(admin, "/admin/hours"), hours_tuesday="13:00-17:00", holiday_count="0")
    bad = dict(form, hours_tuesday="17:00-13:00")
    resp = admin.post("/admin/hours", data=bad)
    assert resp.status_code == 422 and "ends before it starts" in resp.get_data(as_text=True)
    assert (config / "clinic.yaml").read_text() == before
    assert admin.post("/admin/hours", data=form).status_code == 302
    after = (config / "clinic.yaml").read_text()
    assert after.split("hours:")[0] == before.split("hours:")[0]
    assert after.split("# Desks the menus")[1] == before.split("# Desks the menus")[1]
    # Tuesday 10:00 is now closed: the after-hours menu answers.
    call = _phone(app)
    assert "We are closed now." in call.start().text


def test_holiday_calendar_import_previews_skips_duplicates_and_reports_bad_events(make_app, config_copy, users):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    admin = logged_in(app)
    token = csrf(admin, "/admin/hours")
    page = admin.post("/admin/hours/import", data={"csrf_token": token, "calendar": (io.BytesIO(ICS.encode()), "us.ics")},
                      content_type="multipart/form-data").get_data(as_text=True)
    assert "<li>2027-11-25 Thanksgiving Day</li>" in page
    assert "Already holidays (skipped): 2026-12-25 Christmas Day" in page
    assert "Staff meeting: not an all-day event" in page
    assert "2027-11-25" not in (config / "clinic.yaml").read_text()
    payload = re.search(r'name="dates" value="([^"]+)"', page).group(1).replace("&#34;", '"').replace("&quot;", '"')
    admin.post("/admin/hours/import", data={"csrf_token": token, "confirm": "1", "dates": payload})
    text = (config / "clinic.yaml").read_text()
    assert '- {date: 2027-11-25, name: "Thanksgiving Day"}' in text
    assert text.count("2026-12-25") == 1


def test_a_multi_day_closure_imports_every_day_and_the_preview_says_so():
    import datetime as dt

    from ivr.admin.calendar_import import read

    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20271224\r\nDTEND;VALUE=DATE:20271227\r\nSUMMARY:Winter closure\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20280101\r\nDURATION:P2D\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:3\r\nDTSTART;VALUE=DATE:20280601\r\nDTEND;VALUE=DATE:20280901\r\nSUMMARY:Summer\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()
    preview = read(ics, existing={dt.date(2027, 12, 25)})
    assert preview.new == [
        (dt.date(2027, 12, 24), "Winter closure (day 1 of 3)"), (dt.date(2027, 12, 26), "Winter closure (day 3 of 3)"),
        (dt.date(2028, 1, 1), "New Year (day 1 of 2)"), (dt.date(2028, 1, 2), "New Year (day 2 of 2)"),
    ]
    assert preview.duplicates == [(dt.date(2027, 12, 25), "Winter closure (day 2 of 3)")]
    assert preview.problems == ["Summer: lasts 92 days (more than 31): add it by hand if the clinic is really closed that long"]


def test_try_it_speaks_a_prompt_saved_a_moment_ago(make_app, config_copy, users):
    """Try-it plays what a real call would play now, even in a process no call has reached since."""
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=3600)
    admin = logged_in(app)
    token = csrf(admin, "/admin/prompts/welcome")
    text = (config / "flows" / "main.yaml").read_text()

    def first_words() -> str:
        resp = admin.post("/admin/flows/main/try", json={"text": text, "action": {}}, headers={"X-CSRFToken": token})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return " ".join(h.get("text", "") for h in resp.get_json()["heard"])

    assert "Thank you for calling Riverside Family Clinic." in first_words()
    admin.post("/admin/prompts/welcome", data={"csrf_token": token, "text_en": "Welcome to {clinic_name}.", "text_es": ""})
    assert "Welcome to Riverside Family Clinic." in first_words()  # the draft's prompt, before it is published

"""Webhooks under attack and under failure: forged signatures, replays, outages, bad input.

Whatever goes wrong, a real caller gets valid TwiML that reaches a person or
voicemail; a forged request gets 403 and changes nothing.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import xml.etree.ElementTree as ET

import pytest
from twilio.request_validator import RequestValidator

from ivr.clinic.settings import load_clinic
from ivr.operations.redis_server import EmbeddedRedis

from .conftest import ROOT, TOKEN

FRONT_DESK = load_clinic(ROOT / "config" / "clinic.yaml").desk_numbers()["front_desk"]


def twilio_params(**extra: str) -> dict[str, str]:
    params = {
        "AccountSid": "AC" + "1" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": "CA" + "a" * 32,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "From": "+12025550123",
        "To": "+12025550199",
        "Caller": "+12025550123",
        "Called": "+12025550199",
    }
    params.update(extra)
    return params


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def post(client, path: str, params: dict[str, str], signature: str | None = None, base: str = "http://localhost", **kw):
    headers = kw.pop("headers", {})
    if signature is None:
        signature = sign(base + path, params)
    if signature:
        headers["X-Twilio-Signature"] = signature
    return client.post(path, data=params, headers=headers, base_url=kw.pop("base_url", base), **kw)


def assert_reaches_a_person(resp) -> ET.Element:
    """200, valid TwiML, an apology and a Dial to the front desk whose failure leads to voicemail."""
    assert resp.status_code == 200
    assert resp.mimetype == "text/xml"
    root = ET.fromstring(resp.get_data(as_text=True))
    assert root.tag == "Response"
    dial = root.find("Dial")
    assert dial is not None and dial.text == FRONT_DESK
    assert dial.get("action") == "/voice/fallback/voicemail"
    assert "sorry" in (root.find("Say").text or "").lower()
    return root


# Signatures ---------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["missing", "wrong token", "tampered digits", "other url", "garbage"],
)
def test_forged_or_unsigned_webhooks_are_refused_and_change_nothing(client, redis_conn, case):
    params = twilio_params(Digits="1")
    signature = {
        "missing": "",
        "wrong token": sign("http://localhost/voice/incoming", params, token="not-the-token"),
        "tampered digits": sign("http://localhost/voice/incoming", {**params, "Digits": "9"}),
        "other url": sign("http://localhost/voice/step?s=1", params),
        "garbage": "!!not base64!!",
    }[case]
    resp = post(client, "/voice/incoming", params, signature=signature)
    assert resp.status_code == 403
    assert b"X-Twilio-Signature" in resp.data
    assert redis_conn.keys("ivr:call:*") == []


def test_every_twilio_endpoint_requires_a_signature(client):
    for path in ["/voice/incoming", "/voice/step?s=1", "/voice/fallback", "/voice/fallback/voicemail",
                 "/voice/fallback/done", "/voice/status", "/voice/recording"]:
        assert post(client, path, twilio_params(), signature="").status_code == 403, path


def test_public_url_is_what_signatures_are_checked_against(make_app):
    """Behind a proxy that rewrites scheme and host, IVR_PUBLIC_URL names the URL Twilio called."""
    client = make_app(PUBLIC_URL="https://phones.clinic.example").test_client()
    params = twilio_params()
    good = sign("https://phones.clinic.example/voice/incoming", params)
    assert post(client, "/voice/incoming", params, signature=good).status_code == 200
    local = sign("http://localhost/voice/incoming", params)
    assert post(client, "/voice/incoming", params, signature=local).status_code == 403


def test_trusted_proxy_headers_give_the_url_twilio_signed(make_app):
    params = twilio_params()
    good = sign("https://clinic.example/voice/incoming", params)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "clinic.example", "X-Forwarded-For": "54.1.2.3"}

    behind_proxy = make_app(TRUSTED_PROXIES=1).test_client()
    resp = post(behind_proxy, "/voice/incoming", params, signature=good, headers=dict(forwarded))
    assert resp.status_code == 200

    # Without the setting the same headers are not trusted (anyone could send them).
    direct = make_app(TRUSTED_PROXIES=0).test_client()
    resp = post(direct, "/voice/incoming", params, signature=good, headers=dict(forwarded))
    assert resp.status_code == 403


def test_twilio_port_variant_of_the_url_is_accepted(make_app):
    """Twilio sometimes signs https URLs with :443; both forms must pass."""
    client = make_app(PUBLIC_URL="https://phones.clinic.example").test_client()
    params = twilio_params()
    with_port = sign("https://phones.clinic.example:443/voice/incoming", params)
    assert post(client, "/voice/incoming", params, signature=with_port).status_code == 200


# Replays --------------------------------------------------------------------


def test_replayed_webhooks_get_the_same_answer_and_change_nothing(client, redis_conn):
    start = twilio_params()
    first = post(client, "/voice/incoming", start).get_data(as_text=True)
    spanish = twilio_params(CallStatus="in-progress", Digits="9")
    menu = post(client, "/voice/step?s=1", spanish).get_data(as_text=True)
    state_after = json.loads(redis_conn.hget("ivr:call:CA" + "a" * 32, "state"))

    # Twilio retries both requests (e.g. after a timeout): identical answers, same state.
    assert post(client, "/voice/incoming", start).get_data(as_text=True) == first
    assert post(client, "/voice/step?s=1", spanish).get_data(as_text=True) == menu
    # A replay of the first step with another key does not take that other choice either.
    english = twilio_params(CallStatus="in-progress", Digits="1")
    assert post(client, "/voice/step?s=1", english).get_data(as_text=True) == menu
    assert json.loads(redis_conn.hget("ivr:call:CA" + "a" * 32, "state")) == state_after

    # And the call goes on from where it was.
    nurse = post(client, "/voice/step?s=2", twilio_params(CallStatus="in-progress", Digits="3"))
    root = ET.fromstring(nurse.data)
    assert root.find("Dial") is not None
    assert "enfermería" in root.find("Say").text


def test_concurrent_duplicates_advance_the_call_once(app, redis_conn):
    post(app.test_client(), "/voice/incoming", twilio_params())
    params = twilio_params(CallStatus="in-progress", Digits="1")
    bodies: list[bytes] = []

    def send():
        bodies.append(post(app.test_client(), "/voice/step?s=1", params).data)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(bodies)) == 1
    state = json.loads(redis_conn.hget("ivr:call:CA" + "a" * 32, "state"))
    assert state["seq"] == 2
    assert state["path"].count("main_menu") == 1


def test_state_expires_after_the_configured_time(make_app, redis_conn):
    client = make_app(CALL_STATE_TTL=120).test_client()
    post(client, "/voice/incoming", twilio_params())
    assert 0 < redis_conn.ttl("ivr:call:CA" + "a" * 32) <= 120


# Failures -------------------------------------------------------------------


def test_redis_unreachable_still_reaches_a_person_then_voicemail(make_app, tmp_path):
    client = make_app(REDIS_URL=f"unix://{tmp_path}/no-such.sock").test_client()
    assert_reaches_a_person(post(client, "/voice/incoming", twilio_params()))

    # The front desk does not answer: the caller can leave a message.
    resp = post(client, "/voice/fallback/voicemail", twilio_params(DialCallStatus="no-answer"))
    root = ET.fromstring(resp.data)
    record = root.find("Record")
    assert record is not None and record.get("action") == "/voice/fallback/done"
    assert root.find("Hangup") is not None
    done = ET.fromstring(post(client, "/voice/fallback/done", twilio_params(RecordingSid="RE" + "1" * 32)).data)
    said = done.find("Say").text
    # The message could not be kept (Redis is gone): no promise of a call back, but what to do.
    assert "call you back" not in said and "recorded" in said and "call again" in said


def test_redis_dying_mid_call_still_reaches_a_person(make_app, tmp_path):
    server = EmbeddedRedis(tmp_path / "dying-redis", appendonly=False).start()
    try:
        client = make_app(REDIS_URL=server.url).test_client()
        post(client, "/voice/incoming", twilio_params())
        server.kill()
        assert_reaches_a_person(post(client, "/voice/step?s=1", twilio_params(Digits="1")))
    finally:
        server.stop()


def test_answered_fallback_call_just_ends(client):
    root = ET.fromstring(post(client, "/voice/fallback/voicemail", twilio_params(DialCallStatus="completed")).data)
    assert [child.tag for child in root] == ["Hangup"]


def test_twilio_fallback_url_serves_static_safe_twiml(client):
    assert_reaches_a_person(post(client, "/voice/fallback", twilio_params(ErrorCode="11200")))


def test_corrupt_call_state_reaches_a_person(client, redis_conn):
    post(client, "/voice/incoming", twilio_params())
    redis_conn.hset("ivr:call:CA" + "a" * 32, "state", "{not json")
    assert_reaches_a_person(post(client, "/voice/step?s=1", twilio_params(Digits="1")))


def test_state_from_a_node_that_no_longer_exists_reaches_a_person(client, redis_conn):
    post(client, "/voice/incoming", twilio_params())
    key = "ivr:call:CA" + "a" * 32
    state = json.loads(redis_conn.hget(key, "state"))
    state["node"] = "removed_node"
    redis_conn.hset(key, "state", json.dumps(state))
    assert_reaches_a_person(post(client, "/voice/step?s=1", twilio_params(Digits="1")))


@pytest.mark.parametrize(
    "path, params",
    [
        ("/voice/incoming", {"From": "+12025550123"}),  # no CallSid
        ("/voice/step", twilio_params(Digits="1")),  # no sequence number
        ("/voice/step?s=abc", twilio_params(Digits="1")),
        ("/voice/step?s=0", twilio_params(Digits="1")),
        ("/voice/step?s=7", twilio_params(Digits="1")),  # a call this app never saw
    ],
)
def test_malformed_webhooks_still_reach_a_person(client, path, params):
    assert_reaches_a_person(post(client, path, params))


def test_odd_field_values_do_not_break_the_menu(client):
    post(client, "/voice/incoming", twilio_params())
    resp = post(client, "/voice/step?s=1", twilio_params(SpeechResult="", Confidence="not-a-number", Digits=""))
    assert resp.status_code == 200
    assert ET.fromstring(resp.data).find("Dial") is not None  # heard as silence: "or stay on the line"


def test_out_of_order_old_request_repeats_the_latest_answer(client, redis_conn):
    post(client, "/voice/incoming", twilio_params())
    post(client, "/voice/step?s=1", twilio_params(Digits="1"))
    latest = post(client, "/voice/step?s=2", twilio_params(Digits="2")).data
    redis_conn.hdel("ivr:call:CA" + "a" * 32, "r:1")  # the stored answer to request 1 expired
    assert post(client, "/voice/step?s=1", twilio_params(Digits="3")).data == latest


# Flows change under a running system ----------------------------------------


def test_invalid_flow_edit_never_goes_live_and_valid_edit_does(make_app, config_copy, phone):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    from .conftest import flask_transport

    def new_call():
        call = phone()
        call.transport = flask_transport(app)
        return call

    in_progress = new_call()
    in_progress.start()

    flow_file = config / "flows" / "main.yaml"
    original = flow_file.read_text()
    flow_file.write_text(original.replace("next: to_billing", "next: to_nowhere"))
    turn = new_call().start()
    assert "Thank you for calling Riverside Family Clinic." in turn.said
    health = app.test_client().get("/healthz").get_json()
    assert any("to_nowhere" in issue for issue in health["flow_issues"])

    # A valid edit (a new greeting prompt) goes live for new calls.
    (prompts / "en" / "prompts.yaml").write_text(
        (prompts / "en" / "prompts.yaml").read_text() + "\nholiday_greeting: Happy holidays from {clinic_name}.\n"
    )
    (prompts / "es" / "prompts.yaml").write_text(
        (prompts / "es" / "prompts.yaml").read_text() + "\nholiday_greeting: Felices fiestas de {clinic_name}.\n"
    )
    flow_file.write_text(original.replace("prompts: [welcome]", "prompts: [holiday_greeting]"))
    turn = new_call().start()
    assert turn.said[0] == "Happy holidays from Riverside Family Clinic."
    assert "flow_issues" not in app.test_client().get("/healthz").get_json()

    # The call that started before the edits still finishes on its own version.
    assert in_progress.press("2").dial_number == load_clinic(config / "clinic.yaml").desk_numbers()["billing"]


def test_broken_clinic_settings_edit_keeps_the_last_good_ones(make_app, config_copy, phone, caplog):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    (config / "clinic.yaml").write_text((config / "clinic.yaml").read_text().replace("America/New_York", "Mars/Olympus"))
    from .conftest import flask_transport

    call = phone()
    call.transport = flask_transport(app)
    with caplog.at_level(logging.ERROR):
        assert "Thank you for calling Riverside Family Clinic." in call.start().said
    assert any("Mars/Olympus" in r.getMessage() for r in caplog.records)


# Health, audio, callbacks ---------------------------------------------------


def test_healthz_reports_redis_workers_and_flows(client, make_app, tmp_path):
    ok = client.get("/healthz")
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["redis"] == "ok" and body["flows"] == ["followup", "main"]
    assert body["workers"] == 0 and body["status"] == "degraded"  # no RQ worker in this test

    down = make_app(REDIS_URL=f"unix://{tmp_path}/none.sock").test_client().get("/healthz")
    assert down.status_code == 503
    assert down.get_json()["status"] == "down"


def test_recorded_prompt_is_played_instead_of_text(make_app, config_copy, phone):
    config, prompts = config_copy
    audio = prompts / "en" / "audio"
    audio.mkdir()
    (audio / "welcome.mp3").write_bytes(b"ID3\x03\x00fake-mp3-frames")
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    from .conftest import flask_transport

    call = phone()
    call.transport = flask_transport(app)
    turn = call.start()
    plays = [h.text for h in turn.heard if h.kind == "play"]
    assert [p.split("?v=")[0] for p in plays] == ["http://localhost/voice/audio/en/welcome.mp3"]
    assert "Thank you for calling" not in turn.text
    client = app.test_client()
    with client.get(plays[0].removeprefix("http://localhost")) as resp:
        assert resp.data == b"ID3\x03\x00fake-mp3-frames"
    assert client.get("/voice/audio/en/../../config/clinic.yaml").status_code == 404
    assert client.get("/voice/audio/en/prompts.yaml").status_code == 404


def test_recording_callback_is_kept_once(client, app):
    params = twilio_params(RecordingSid="RE" + "b" * 32, RecordingUrl="https://api.twilio.com/x", RecordingStatus="completed", RecordingDuration="9")
    for _ in range(3):  # Twilio may deliver a callback more than once
        assert post(client, "/voice/recording?department=nurse&lang=en", params).status_code == 204
    svc = app.extensions["ivr"]
    assert [vm.recording_sid for vm in svc.voicemails.recent()] == ["RE" + "b" * 32]
    assert len(svc.speech_queue.job_ids) == 1
    assert svc.callbacks.waiting_count("nurse") == 1


def test_logs_never_contain_the_callers_number(phone, caplog, make_app, tmp_path):
    caller = "+13055550147"
    with caplog.at_level(logging.DEBUG):
        call = phone(caller=caller)
        call.start()
        call.press("3")
        call.dial_result("no-answer")
        call.press("1")  # keep my place: call me back
        call.press("1")  # at the number ending in 0147
        assert "you are number 1" in call.record(seconds=5).text
        call.hang_up()
        # and on the failure path too
        broken = make_app(REDIS_URL=f"unix://{tmp_path}/none.sock").test_client()
        post(broken, "/voice/incoming", twilio_params(From=caller, Caller=caller))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records  # the calls were logged...
    assert caller not in text and caller[1:] not in text  # ...without the number


def test_numbers_in_exception_tracebacks_are_masked():
    from ivr.protection.logging_setup import MaskingFormatter

    try:
        raise ValueError("'+13055550147' is not a valid phone number")
    except ValueError:
        record = logging.LogRecord("ivr", logging.ERROR, __file__, 1, "webhook failed", None, sys.exc_info())
    text = MaskingFormatter("%(message)s").format(record)
    assert "ValueError" in text and "0147" in text
    assert "3055550147" not in text

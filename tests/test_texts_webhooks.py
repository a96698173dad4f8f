"""Texts coming back (ivr.texts.webhooks): a patient's replies and Twilio's delivery reports, signed as Twilio
signs them, and what the nurse sees on the callback's page; the places that ask for texts (a callback kept, a
voicemail kept, an unanswered attempt). Real Redis, the app's own webhooks, TwiML parsed as XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from rq import Queue
from rq.job import Job
from twilio.request_validator import RequestValidator

from ivr.staff.passwords import hash_password
from ivr.store.audit import AuditLog
from ivr.store.callback_types import Status
from ivr.store.followups import FollowupStore
from ivr.store.texts import TextStore
from ivr.texts import wording
from ivr.workers import DEFAULT_QUEUE
from ivr.workers import texts as jobs

from .conftest import TOKEN
from .test_callback_calls import to_nurse_offer
from .test_texts import (  # noqa: F401 - fixtures
    PATIENT, PUBLIC, SERVICE, job_context, lookups, messages, messages_created, now, sent, twilio_env,
)

OTHER = "+12025550124"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def app(make_app):
    return make_app(PUBLIC_URL=PUBLIC, TWILIO_MESSAGING_SERVICE_SID=SERVICE)


@pytest.fixture
def web(app):
    return app.test_client()


@pytest.fixture
def svc(app):
    return app.extensions["ivr"]


def signed_post(web, path: str, data: dict[str, str], token: str = TOKEN):
    signature = RequestValidator(token).compute_signature(PUBLIC + path, data)
    return web.post(path, data=data, headers={"X-Twilio-Signature": signature})


_sids = iter(range(1, 10**6))


def inbound(body: str, phone: str = PATIENT, **extra: str) -> dict[str, str]:
    """A text as Twilio posts it to the Messaging Service's inbound webhook."""
    sid = f"SM{next(_sids):032x}"
    return {"ToCountry": "US", "ToState": "DC", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "WASHINGTON",
            "FromZip": "20001", "SmsSid": sid, "FromState": "DC", "SmsStatus": "received", "FromCity": "WASHINGTON",
            "Body": body, "FromCountry": "US", "To": "+12025550199", "MessagingServiceSid": SERVICE,
            "ToZip": "20001", "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": phone,
            "ApiVersion": "2010-04-01", **extra}


def status_report(message_sid: str, status: str, **extra: str) -> dict[str, str]:
    """A delivery report as Twilio posts it to a message's StatusCallback."""
    return {"SmsSid": message_sid, "SmsStatus": status, "MessageStatus": status, "To": PATIENT,
            "MessagingServiceSid": SERVICE, "MessageSid": message_sid, "AccountSid": "AC" + "0" * 32,
            "From": "+12025550199", "ApiVersion": "2010-04-01", **extra}


def empty_twiml(resp) -> None:
    assert resp.status_code == 200 and resp.mimetype == "text/xml"
    root = ET.fromstring(resp.get_data(as_text=True))
    assert root.tag == "Response" and list(root) == []


def answers(redis_conn) -> list[tuple]:
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    return [Job.fetch(j, connection=redis_conn).args for j in queue.job_ids if j.startswith("text-answer-")]


def text_lines(svc, callback_id: str) -> list[dict]:
    return TextStore(svc.redis, svc.sealer).log(callback_id)


@pytest.fixture
def waiting(svc):
    return svc.callbacks.request("nurse", PATIENT, "en").callback


# Signatures ------------------------------------------------------------------------------------------


def test_unsigned_or_wrongly_signed_texts_are_refused(web, svc, waiting):
    form = inbound("call me after 3")
    assert web.post("/sms/incoming", data=form).status_code == 403
    assert signed_post(web, "/sms/incoming", form, token="another-token-0123456789abcdef").status_code == 403
    assert signed_post(web, "/sms/status", status_report("SM" + "1" * 32, "delivered"),
                       token="another-token-0123456789abcdef").status_code == 403
    assert text_lines(svc, waiting.id) == []


# STOP, START, HELP --------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, lang", [
    ("STOP", "en"), ("stop.", "en"), ("Unsubscribe", "en"), ("Please, no more texts!", "en"),
    ("don't text me again", "en"),
    ("ALTO", "es"), ("Baja", "es"), ("CANCELAR", "es"), ("PARAR", "es"), ("No más mensajes por favor", "es"),
    ("ya no me manden mensajes", "es"), ("no me manden mensajes", "es"), ("Por favor no me manden más textos", "es"),
])
def test_stop_in_either_language_or_in_their_own_words_stops_texts_and_follow_up_calls(
    web, svc, redis_conn, waiting, body, lang
):
    empty_twiml(signed_post(web, "/sms/incoming", inbound(body)))

    assert TextStore(redis_conn).opted_out(PATIENT)
    assert FollowupStore(redis_conn).opted_out(PATIENT)  # the voice do-not-call list: one list
    [line] = text_lines(svc, waiting.id)
    assert line["kind"] == "opted_out"
    [(answer, _, said_lang, callback_id)] = answers(redis_conn)
    assert (answer, said_lang, callback_id) == (wording.STOPPED, lang, waiting.id)
    assert svc.callbacks.get(waiting.id).status is Status.WAITING  # the callback itself stays


def test_when_twilio_answered_the_stop_itself_nothing_more_is_sent(web, redis_conn, waiting):
    empty_twiml(signed_post(web, "/sms/incoming", inbound("STOP", OptOutType="STOP")))
    assert TextStore(redis_conn).opted_out(PATIENT)
    assert answers(redis_conn) == []


def test_start_takes_off_only_an_opt_out_made_by_text(web, redis_conn, waiting):
    signed_post(web, "/sms/incoming", inbound("STOP"))
    signed_post(web, "/sms/incoming", inbound("START"))
    assert not TextStore(redis_conn).opted_out(PATIENT)

    FollowupStore(redis_conn).opt_out(OTHER, source="followup_call")  # pressed 9 on a follow-up call
    signed_post(web, "/sms/incoming", inbound("START", phone=OTHER))
    assert FollowupStore(redis_conn).opted_out(OTHER)  # what was said on a call stands
    assert [a[0] for a in answers(redis_conn)] == [wording.STOPPED, wording.STARTED, wording.STARTED]


def test_help_is_answered_in_the_patients_language(web, redis_conn, svc):
    svc.callbacks.request("nurse", PATIENT, "es")
    signed_post(web, "/sms/incoming", inbound("help"))
    signed_post(web, "/sms/incoming", inbound("AYUDA", phone=OTHER))
    assert [(a[0], a[2]) for a in answers(redis_conn)] == [(wording.HELP, "en"), (wording.HELP, "es")]
    assert not TextStore(redis_conn).opted_out(PATIENT)


def test_the_answer_job_sends_the_confirmation_twilio_accepts(
    web, redis_conn, waiting, job_context, twilio_env, prism, sent
):
    signed_post(web, "/sms/incoming", inbound("ALTO"))
    [args] = answers(redis_conn)
    assert jobs.send_answer(*args) == "sent"
    assert jobs.send_answer(*args) == "already_sent"  # a retried job
    assert messages(sent) == [{
        "To": PATIENT, "MessagingServiceSid": SERVICE, "StatusCallback": f"{PUBLIC}/sms/status",
        "Body": "Ya no recibirá mensajes ni llamadas de seguimiento de Riverside Family Clinic. "
                "Responda START para recibir mensajes otra vez.",
    }]
    assert messages_created(prism, twilio_env) == 1


# Replies and cancel --------------------------------------------------------------------------------------


def test_a_reply_lands_on_that_patients_callback_as_a_note(web, svc, redis_conn, waiting):
    other = svc.callbacks.request("nurse", OTHER, "es").callback

    empty_twiml(signed_post(web, "/sms/incoming", inbound("ya no, llámenme después de las 3", phone=OTHER)))
    empty_twiml(signed_post(web, "/sms/incoming", inbound("call me after 3")))

    [(kind, reply)] = [(x["kind"], x["reply"]) for x in text_lines(svc, other.id)]
    assert (kind, reply) == ("reply", "ya no, llámenme después de las 3")
    assert [x["reply"] for x in text_lines(svc, waiting.id)] == ["call me after 3"]
    assert answers(redis_conn) == []  # a note is not answered
    raw = b" ".join(redis_conn.dump(k) or b"" for k in redis_conn.keys("ivr:texts:*"))
    assert b"after 3" not in raw  # sealed at rest, like transcripts
    for entry in AuditLog(redis_conn).recent():
        assert "after 3" not in entry.detail and "5550123" not in entry.detail


def test_a_reply_after_the_callback_closed_lands_on_the_one_last_texted(web, svc, redis_conn, waiting):
    TextStore(redis_conn).sent(waiting.id, PATIENT, wording.CONFIRM_CALLBACK, waiting.id, "SM" + "2" * 32, "queued")
    assert svc.callbacks.cancel(waiting.id, PATIENT)
    signed_post(web, "/sms/incoming", inbound("thanks, all sorted"))
    assert text_lines(svc, waiting.id)[0]["reply"] == "thanks, all sorted"


def test_the_same_webhook_twice_is_one_note(web, svc, waiting):
    form = inbound("call me after 3")
    signed_post(web, "/sms/incoming", form)
    signed_post(web, "/sms/incoming", form)
    assert len(text_lines(svc, waiting.id)) == 1


@pytest.mark.parametrize("body, lang", [("cancel", "en"), ("Cancel my callback", "en"), ("cancela la llamada", "es")])
def test_cancel_closes_the_callback_and_is_confirmed(web, svc, redis_conn, waiting, body, lang):
    empty_twiml(signed_post(web, "/sms/incoming", inbound(body)))

    closed = svc.callbacks.get(waiting.id)
    assert (closed.status, closed.note) == (Status.CLOSED, "cancelled by the patient by text")
    assert svc.callbacks.open_for(PATIENT) is None
    assert [line["kind"] for line in text_lines(svc, waiting.id)] == ["cancelled", "reply"]
    assert answers(redis_conn) == [(wording.CANCELLED, answers(redis_conn)[0][1], lang, waiting.id)]
    assert not TextStore(redis_conn).opted_out(PATIENT)


def test_cancel_taken_by_twilio_as_an_opt_out_closes_the_callback_and_stops_texts(web, svc, redis_conn, waiting):
    """CANCEL is one of Twilio's default opt-out words: it has answered, and the patient is opted out."""
    signed_post(web, "/sms/incoming", inbound("CANCEL", OptOutType="STOP"))
    assert svc.callbacks.get(waiting.id).status is Status.CLOSED
    assert TextStore(redis_conn).opted_out(PATIENT)
    assert answers(redis_conn) == []


def test_cancel_with_nothing_in_line_says_so(web, redis_conn):
    signed_post(web, "/sms/incoming", inbound("cancel"))
    assert [a[0] for a in answers(redis_conn)] == [wording.NOTHING_TO_CANCEL]


# Delivery status on the console ---------------------------------------------------------------------------


@pytest.fixture
def nurse(app, svc):
    svc.users.add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": "nina", "password": PASSWORD}).status_code == 302
    return client


def texts_section(client, callback_id: str) -> list[str]:
    html = client.get(f"/console/callbacks/{callback_id}").get_data(as_text=True)
    found = re.search(r'<section aria-labelledby="texts-title".*?</section>', html, re.S)
    if not found:
        return []
    return [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>(.*?)</li>", found.group(0), re.S)]


def test_delivery_status_is_shown_on_the_callback_in_words(web, svc, redis_conn, nurse, waiting):
    sid, failed_sid = "SM" + "3" * 32, "SM" + "4" * 32
    store = TextStore(redis_conn)
    store.sent(waiting.id, PATIENT, wording.CONFIRM_CALLBACK, waiting.id, sid, "queued")
    assert texts_section(nurse, waiting.id)[0].endswith("Texted that we will call back: on its way.")

    for status in ("sent", "delivered", "sent"):  # reports may come out of order: delivered stands
        assert signed_post(web, "/sms/status", status_report(sid, status)).status_code == 204
    assert texts_section(nurse, waiting.id)[0].endswith("Texted that we will call back: delivered.")

    store.sent(waiting.id, PATIENT, wording.MISSED_CALLBACK, "1", failed_sid, "queued")
    signed_post(web, "/sms/status", status_report(failed_sid, "undelivered", ErrorCode="30006"))
    signed_post(web, "/sms/incoming", inbound("call me after 3"))
    lines = texts_section(nurse, waiting.id)
    assert lines[0].endswith("The patient texted: “call me after 3”")
    assert lines[1].endswith("Texted that we tried to call, and when we will try again: not delivered: the phone "
                             "did not take it (the number cannot take texts (a landline?)).")
    assert [e.action for e in AuditLog(redis_conn).for_target(waiting.id)].count("text_status") == 2


def test_a_text_not_sent_says_why_on_the_callback(nurse, svc, redis_conn, waiting):
    TextStore(redis_conn).note(waiting.id, "not_sent", purpose=wording.CONFIRM_CALLBACK, reason="landline")
    assert texts_section(nurse, waiting.id)[0].endswith("No text that we will call back: the number is a landline.")


def test_no_texts_no_section(nurse, waiting):
    assert texts_section(nurse, waiting.id) == []


def test_a_report_that_comes_before_the_job_noted_its_text_still_counts(web, svc, redis_conn, nurse, waiting):
    sid = "SM" + "5" * 32
    assert signed_post(web, "/sms/status", status_report(sid, "delivered")).status_code == 204
    assert all(e.action != "text_status" for e in AuditLog(redis_conn).recent())  # no text of ours yet
    TextStore(redis_conn).sent(waiting.id, PATIENT, wording.CONFIRM_CALLBACK, waiting.id, sid, "queued")
    assert texts_section(nurse, waiting.id)[0].endswith("Texted that we will call back: delivered.")


# What asks for texts ---------------------------------------------------------------------------------------


def queued_texts(redis_conn) -> list[tuple]:
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    return [Job.fetch(j, connection=redis_conn).args for j in queue.job_ids if j.startswith("text-")]


def test_a_callback_kept_on_the_phone_asks_for_a_confirmation_text(phone, redis_conn, svc):
    """With texts set up, the caller is asked whether the phone is a mobile (keypad only) once the number is
    confirmed; their answer is the number type when the carrier lookup cannot tell."""
    call = phone(caller=PATIENT, base_url=PUBLIC)
    to_nurse_offer(call)
    call.press("1")
    ask = call.press("1")
    assert ask.said[-1] == ("If this is a mobile phone and you would like a text with the time of your call back, "
                            "press 1. If not, press 2.")
    gather = ET.fromstring(ask.twiml[-1]).find("Gather")
    assert gather.get("input") == "dtmf"
    assert "After the tone" in call.press("1").text
    assert "you are number 1" in call.record_nothing().text
    [cb_id] = [a[2] for a in queued_texts(redis_conn)]
    assert queued_texts(redis_conn) == [(wording.CONFIRM_CALLBACK, "callback", cb_id, "", 0)]
    assert svc.callbacks.get(cb_id).phone == PATIENT
    assert TextStore(redis_conn).line_type(PATIENT) == ("mobile", "keypad")


@pytest.mark.parametrize("key, expected", [("2", ("declined", "keypad")), ("", ("", ""))])
def test_no_or_silence_on_the_keypad_is_kept_and_the_call_goes_on(phone, redis_conn, key, expected):
    call = phone(caller=PATIENT, base_url=PUBLIC)
    to_nurse_offer(call)
    call.press("1"), call.press("1")
    assert "After the tone" in (call.press(key) if key else call.silence()).text
    assert "you are number 1" in call.record_nothing().text
    assert TextStore(redis_conn).line_type(PATIENT) == expected


def test_a_caller_who_said_no_on_the_keypad_gets_no_text(phone, redis_conn, job_context, twilio_env, now, sent):
    call = phone(caller=PATIENT, base_url=PUBLIC)
    to_nurse_offer(call, language="es")
    call.press("1"), call.press("1")
    assert "Después del tono" in call.press("2").text
    call.record_nothing()
    [args] = queued_texts(redis_conn)
    assert jobs.send_text(*args) == "declined"
    assert messages(sent) == []


def test_no_text_is_queued_while_texts_are_off(make_app, redis_conn):
    from .conftest import flask_transport
    from ivr.telephony.simulator import PhoneCall

    off = make_app(PUBLIC_URL=PUBLIC)
    call = PhoneCall(flask_transport(off), PUBLIC, TOKEN, caller=PATIENT, called="+12025550199")
    to_nurse_offer(call)
    call.press("1"), call.press("1")
    assert "you are number 1" in call.record_nothing().text
    assert queued_texts(redis_conn) == []


def test_a_kept_voicemail_asks_for_its_confirmation_text(app, svc, redis_conn):
    from ivr.workers import voicemail

    with app.test_request_context():
        vm, _ = voicemail.receive({"RecordingSid": "RE" + "6" * 32, "CallSid": "CA" + "6" * 32, "RecordingDuration": "9"},
                                  {"department": "nurse", "lang": "es"}, PATIENT, svc.voicemails, svc.callbacks,
                                  svc.speech_queue, svc.runtime.clinic)
    assert queued_texts(redis_conn) == [(wording.CONFIRM_VOICEMAIL, "callback", vm.callback_id, "RE" + "6" * 32, 0)]


def test_an_unanswered_attempt_asks_for_the_missed_callback_text(nurse, svc, redis_conn, waiting):
    page = nurse.get("/console").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert nurse.post("/console/take", data={"csrf_token": token}).status_code == 302
    resp = nurse.post(f"/console/callbacks/{waiting.id}/outcome", data={"csrf_token": token, "outcome": "no_answer"})
    assert resp.status_code == 302
    assert queued_texts(redis_conn) == [(wording.MISSED_CALLBACK, "callback", waiting.id, "1", 0)]


def test_a_text_that_cannot_be_queued_never_fails_the_call(phone, redis_conn, svc, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("Redis went away just now")

    monkeypatch.setattr(jobs, "enqueue", broken)
    call = phone(caller=PATIENT, base_url=PUBLIC)
    to_nurse_offer(call)
    call.press("1"), call.press("1"), call.press("1")
    assert "you are number 1" in call.record_nothing().text  # the caller hears the confirmation all the same
    assert svc.callbacks.open_for(PATIENT) is not None
    assert "could not be queued" in caplog.text and "5550123" not in caplog.text


def test_a_picture_without_words_is_noted_as_such(web, svc, waiting):
    signed_post(web, "/sms/incoming", inbound("", NumMedia="1", MediaContentType0="image/jpeg",
                                              MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1"))
    assert text_lines(svc, waiting.id)[0]["reply"] == "(a picture or other attachment: not kept here)"


def test_redis_round_trips_of_the_texts_webhooks(web, svc, waiting):
    """What a reply and a delivery report cost (measured, printed with -s)."""
    from benches.webhook_cost import commands_sent

    sid = "SM" + "7" * 32
    TextStore(svc.redis).sent(waiting.id, PATIENT, wording.CONFIRM_CALLBACK, waiting.id, sid, "queued")
    reply, _ = commands_sent(lambda: signed_post(web, "/sms/incoming", inbound("call me after 3")))
    report, _ = commands_sent(lambda: signed_post(web, "/sms/status", status_report(sid, "delivered")))
    print(f"Redis round trips: a reply {reply}, a delivery report {report}")
    assert reply <= 12 and report <= 3


# The logs -----------------------------------------------------------------------------------------------


def test_no_body_reply_or_full_number_in_any_log_line_across_a_send_a_report_and_replies(
    web, svc, redis_conn, waiting, job_context, twilio_env, now, sent, caplog
):
    """A text sent by the job, Twilio's delivery reports, the patient's reply and STOP, and the answer to it,
    all with logs captured at the production level (IVR_LOG_LEVEL's default, INFO), as they reach the log
    (numbers pass the masking filter of ivr.protection.logging_setup first: no full number gets past it)."""
    import logging

    caplog.set_level(logging.INFO)
    TextStore(redis_conn).set_line_type(PATIENT, "mobile", "keypad")
    assert jobs.send_text(wording.CONFIRM_CALLBACK, "callback", waiting.id) == "sent"
    [sid] = [line["sid"] for line in text_lines(svc, waiting.id) if line.get("sid")]
    for status in ("sent", "undelivered"):
        assert signed_post(web, "/sms/status", status_report(sid, status, ErrorCode="30003")).status_code == 204
    empty_twiml(signed_post(web, "/sms/incoming", inbound("my daughter has a fever, call me after 3")))
    empty_twiml(signed_post(web, "/sms/incoming", inbound("STOP")))
    [args] = answers(redis_conn)
    assert jobs.send_answer(*args) == "sent"

    bodies = [m["Body"] for m in messages(sent)]
    assert len(bodies) == 2  # the confirmation and the answer to STOP
    logged = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert logged, "nothing was logged: the check would prove nothing"
    for line in logged:
        for secret in bodies + ["fever", "after 3", "5550123", PATIENT]:
            assert secret not in line, (secret, line)

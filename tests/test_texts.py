"""Texts to patients (ivr.texts, ivr.workers.texts): the requests Twilio's API accepts, and the rules.

Every Messages request goes to the Prism mock server serving Twilio's own OpenAPI description
(tests/data/twilio/twilio_api_v2010.json), which answers 422 to anything the description does not allow;
the carrier lookup goes to a second Prism serving Twilio's Lookup v2 description. Requests are counted
from Prism's log per (fake, unique) account SID. Jobs run in this process against the real test Redis,
or in a real RQ worker process where noted.
"""

from __future__ import annotations

import contextlib

import datetime as dt
import logging
import re
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from twilio.http.http_client import TwilioHttpClient

from ivr import texts
from ivr.telephony import twilio_rest
from ivr.clinic.settings import load_clinic
from ivr.followups.appointments import Appointment
from ivr.protection.sealing import Sealer
from ivr.store.audit import AuditLog
from ivr.store.callback_types import Outcome, RetryPolicy
from ivr.store.callbacks import CallbackQueue
from ivr.store.followups import FollowupStore
from ivr.store.texts import TextStore
from ivr.texts import wording
from ivr.workers import DEFAULT_QUEUE, context
from ivr.workers import texts as jobs

from . import prism as prism_module
from .conftest import DATA_KEY, ROOT
from .prism import new_account_sid

CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")
NY = ZoneInfo("America/New_York")
PATIENT = "+12025550123"  # Washington, DC: the clinic's own zone
SEATTLE = "+12065550123"  # a number whose area is three hours behind the clinic
PUBLIC = "https://phones.clinic.example"
SERVICE = "MG" + "0123456789abcdef" * 2
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=NY)
LOOKUPS_SPEC = ROOT / "tests" / "data" / "twilio" / "twilio_lookups_v2.json"


# Fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def lookups(tmp_path_factory):
    """Prism serving Twilio's Lookup v2 description (the carrier lookup)."""
    folder = tmp_path_factory.mktemp("prism-lookups")
    server = prism_module.start(LOOKUPS_SPEC, folder / "prism.log")
    yield server
    prism_module.stop(server)


@pytest.fixture
def twilio_env(monkeypatch, prism, lookups) -> str:
    """A worker's environment: fake credentials, Prism as Twilio, a Messaging Service. The account SID."""
    account_sid = new_account_sid()
    for name, value in worker_env(None, prism, lookups, account_sid).items():
        if name != "REDIS_URL":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("IVR_TWILIO_API_BASE_URL", raising=False)
    monkeypatch.delenv("TWILIO_MESSAGING_SERVICE_SID", raising=False)
    return account_sid


def worker_env(redis_server, prism, lookups, account_sid: str) -> dict[str, str]:
    found = {
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": "fake-auth-token",
        "TWILIO_API_BASE_URL": prism.base_url,
        "TWILIO_LOOKUPS_BASE_URL": lookups.base_url,
        "IVR_PUBLIC_URL": PUBLIC,
        "IVR_TWILIO_MESSAGING_SERVICE_SID": SERVICE,
    }
    if redis_server is not None:
        found["REDIS_URL"] = redis_server.url
    return found


@pytest.fixture
def job_context(monkeypatch, redis_conn) -> None:
    monkeypatch.setattr(context, "get", lambda: context.JobContext(
        redis=redis_conn, clinic=CLINIC, data_dir="unused", sealer=Sealer.from_settings(DATA_KEY, "unused")))


class Clock:
    def __init__(self) -> None:
        self.when = TUESDAY_10

    def __call__(self) -> dt.datetime:
        return self.when


@pytest.fixture
def now(monkeypatch) -> Clock:
    """The jobs' clock (Tuesday 24 November 2026, 10:00 in the clinic)."""
    clock = Clock()
    monkeypatch.setattr(jobs, "_now", clock)
    return clock


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """Every REST request the jobs make, as twilio-python sends it (it still goes to Prism)."""
    seen: list[dict] = []

    class Spy(TwilioHttpClient):
        def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                    allow_redirects=False):
            seen.append({"method": method, "url": url, "params": params, "data": data})
            return super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=allow_redirects)

    monkeypatch.setattr(twilio_rest, "TwilioHttpClient", Spy)
    return seen


def messages_created(prism, account_sid: str) -> int:
    prism.sync()
    pattern = re.compile(rf"\[HTTP SERVER\] post /2010-04-01/Accounts/{account_sid}/Messages\.json .*Request received")
    return len(pattern.findall(prism.log()))


def messages(sent: list[dict]) -> list[dict]:
    return [r["data"] for r in sent if r["url"].endswith("/Messages.json")]


def callback(redis_conn, phone: str = PATIENT, lang: str = "en", mobile: bool = True, department: str = "nurse"):
    """A patient waiting for a callback who said on the keypad that the number is a mobile phone."""
    cb = CallbackQueue(redis_conn).request(department, phone, lang).callback
    if mobile:
        TextStore(redis_conn).set_line_type(phone, "mobile", "keypad")
    return cb


def lines(redis_conn, callback_id: str) -> list[dict]:
    return TextStore(redis_conn, Sealer.from_settings(DATA_KEY, "unused")).log(callback_id)


# The requests Twilio's API accepts -----------------------------------------------------------------


def test_confirmation_text_is_the_request_twilio_accepts(redis_conn, job_context, twilio_env, prism, lookups, now, sent):
    cb = callback(redis_conn)

    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "sent"

    lookup, _ = sent
    # The carrier lookup first (Prism's example says nothing of the line type: the keypad's choice stands).
    assert lookup["method"] == "GET" and lookup["url"].startswith(f"{lookups.base_url}/v2/PhoneNumbers/")
    assert lookup["params"] == {"Fields": "line_type_intelligence"}
    assert messages(sent) == [{
        "To": PATIENT,
        "MessagingServiceSid": SERVICE,
        # An empty queue: one callback at 5 minutes, rounded up to the quarter hour, in plain words.
        "Body": "Riverside Family Clinic will call you back today, about 10:15 AM, from 202-555-0199. "
                "Reply STOP to stop texts.",
        "StatusCallback": f"{PUBLIC}/sms/status",
    }]
    assert messages_created(prism, twilio_env) == 1
    # Prism checked the lookup request against the Lookup description (its own example answer breaks the
    # description's schema, so it answers with an error, which the job takes as "no lookup answer").
    lookups.sync()
    asked = lookups.log().split(f"get /v2/PhoneNumbers/{PATIENT} ℹ  info      Request received", 1)[1]
    assert "[VALIDATOR] ✔  success   The request passed the validation rules" in asked.split("[HTTP SERVER]", 1)[0]
    [line] = lines(redis_conn, cb.id)
    assert (line["kind"], line["purpose"], line["status"]) == ("sent", "confirm_callback", "queued")


def test_prism_refuses_a_message_twilio_would_refuse(twilio_env):
    """The contract check is real: a message without a body or content is refused (422)."""
    from twilio.base.exceptions import TwilioRestException

    client = twilio_rest.make_client(twilio_rest.settings_from_env())
    try:
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(to=PATIENT, messaging_service_sid=SERVICE, status_callback="not a url")
    finally:
        twilio_rest.close(client)
    assert refused.value.status == 422


def test_spanish_callers_get_spanish_texts(redis_conn, job_context, twilio_env, now, sent):
    cb = callback(redis_conn, lang="es")
    assert jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, cb.id, "RE1") == "sent"
    [message] = messages(sent)
    assert message["Body"] == ("Riverside Family Clinic recibió su mensaje y le devolverá la llamada hoy, hacia las "
                               "10:15 a. m., desde el 202-555-0199. Responda ALTO para no recibir más mensajes.")


def test_after_an_unanswered_attempt_the_text_says_the_next_try_and_the_number(
    redis_conn, job_context, twilio_env, now, sent
):
    queue = CallbackQueue(redis_conn, clock=lambda: TUESDAY_10.timestamp())
    callback(redis_conn)
    taken = queue.claim_next(["nurse"], "nina")
    done = queue.finish(taken.id, "nina", Outcome.NO_ANSWER, retry=RetryPolicy.for_clinic(CLINIC))
    assert done.attempts == 1  # tried again 30 minutes later

    assert jobs.send_text(wording.MISSED_CALLBACK, texts.CALLBACK, done.id, "1") == "sent"
    [message] = messages(sent)
    assert message["Body"] == ("Riverside Family Clinic tried to call you back. We will try again today, about "
                               "10:30 AM, from 202-555-0199. You can also call us at 202-555-0199. "
                               "Reply STOP to stop texts.")
    # The text for an attempt that is no longer the latest is not sent.
    assert jobs.send_text(wording.MISSED_CALLBACK, texts.CALLBACK, done.id, "0") == "tried again"


def test_no_text_once_the_callback_is_closed(redis_conn, job_context, twilio_env, now, sent):
    cb = callback(redis_conn)
    assert CallbackQueue(redis_conn).cancel(cb.id, PATIENT)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "closed"
    assert sent == []


# The rules --------------------------------------------------------------------------------------------


def test_one_text_a_day_and_three_a_week_per_patient(redis_conn, job_context, twilio_env, prism, now, sent):
    results = []
    monday = dt.datetime(2026, 11, 30, 10, 0, tzinfo=NY)
    for day in range(5):  # Monday to Friday, a callback and a voicemail each day
        now.when = monday + dt.timedelta(days=day)
        cb = callback(redis_conn)
        results.append(jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id))
        results.append(jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, cb.id, f"RE{day}"))
        assert CallbackQueue(redis_conn).cancel(cb.id, PATIENT)

    assert results == ["sent", "daily_limit", "sent", "daily_limit", "sent", "daily_limit",
                       "weekly_limit", "weekly_limit", "weekly_limit", "weekly_limit"]
    assert messages_created(prism, twilio_env) == 3
    # A week after the first, one more may go.
    now.when = monday + dt.timedelta(days=7, minutes=1)
    cb = callback(redis_conn)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "sent"


def test_the_day_is_the_patients_own(redis_conn, job_context, twilio_env, now, sent):
    """A Seattle number texted at 19:50 there (22:50 in the clinic) and again at 09:00 there the next
    morning: a new day in Seattle, whatever the clinic's clock says."""
    now.when = dt.datetime(2026, 11, 24, 22, 50, tzinfo=NY)
    first = callback(redis_conn, phone=SEATTLE, department="nurse")
    second = callback(redis_conn, phone=SEATTLE, department="front_desk")
    TextStore(redis_conn).set_line_type(SEATTLE, "mobile", "keypad")
    assert jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, first.id, "RE1", held=1) == "sent"
    now.when = dt.datetime(2026, 11, 25, 12, 0, tzinfo=NY)  # 09:00 in Seattle
    assert jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, second.id, "RE2") == "sent"


def test_quiet_hours_in_the_patients_zone_hold_the_text_until_calling_hours(
    redis_server, redis_conn, job_context, twilio_env, now, sent
):
    """10:00 in the clinic is 07:00 in Seattle: the text waits until 09:00 there (12:00 in the clinic)."""
    cb = callback(redis_conn, phone=SEATTLE)

    assert jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, cb.id, "RE1") == "held"

    assert sent == []
    registry = ScheduledJobRegistry(DEFAULT_QUEUE, connection=redis_conn)
    [held] = registry.get_job_ids()
    assert registry.get_scheduled_time(held) == dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.timezone.utc)
    job = Job.fetch(held, connection=redis_conn)
    assert job.args == (wording.CONFIRM_VOICEMAIL, texts.CALLBACK, cb.id, "RE1", 1)  # no phone number
    [line] = lines(redis_conn, cb.id)
    assert line["kind"] == "held"

    now.when = dt.datetime(2026, 11, 24, 12, 0, tzinfo=NY)
    assert jobs.send_text(*job.args) == "sent"
    assert "tomorrow" not in messages(sent)[0]["Body"]


def test_a_held_text_is_not_held_twice(redis_conn, job_context, twilio_env, now, sent):
    now.when = dt.datetime(2026, 11, 24, 21, 30, tzinfo=NY)
    cb = callback(redis_conn)
    assert jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, cb.id, "RE1", held=1) == "outside_calling_hours"
    [line] = lines(redis_conn, cb.id)
    assert (line["kind"], line["reason"]) == ("not_sent", "outside_calling_hours")


def test_a_landline_is_refused(redis_conn, job_context, twilio_env, prism, now, sent):
    cb = callback(redis_conn, mobile=False)
    TextStore(redis_conn).set_line_type(PATIENT, "landline", "lookup")  # what the carrier lookup said
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "landline"
    assert messages(sent) == []
    assert messages_created(prism, twilio_env) == 0


def test_without_a_lookup_answer_or_a_keypad_choice_no_text(redis_conn, job_context, twilio_env, now, sent):
    """A US number can be either kind (the numbering plan cannot tell), and nobody said: no text."""
    cb = callback(redis_conn, mobile=False)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "not_mobile"
    assert messages(sent) == []


@contextlib.contextmanager
def answering(answer):
    """A Twilio stand-in on localhost for answers Prism cannot give (it only has its description's examples):
    ``answer(path)`` gives (status, JSON object) for each GET or POST. Yields its base URL."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = answer(self.path)
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def landline_lookup(monkeypatch):
    """A carrier lookup that answers as Lookup v2 does for a landline (Prism's own example answer breaks the
    description's schema, so it cannot say a line type). The paths asked."""
    asked: list[str] = []

    def answer(path: str):
        asked.append(path)
        number = path.split("/v2/PhoneNumbers/", 1)[1].split("?", 1)[0]
        return 200, {
            "calling_country_code": "1", "country_code": "US", "phone_number": number, "national_format": "",
            "valid": True, "validation_errors": [], "caller_name": None, "sim_swap": None, "call_forwarding": None,
            "line_type_intelligence": {"carrier_name": "Verizon", "error_code": None, "mobile_country_code": None,
                                       "mobile_network_code": None, "type": "landline"},
            "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{number}"}

    with answering(answer) as url:
        monkeypatch.setenv("TWILIO_LOOKUPS_BASE_URL", url)
        yield asked


def test_the_lookup_answer_wins_over_the_keypad(redis_conn, job_context, twilio_env, prism, now, sent,
                                                landline_lookup):
    cb = callback(redis_conn)  # the caller pressed "mobile"
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "landline"
    assert [p.split("?")[0] for p in landline_lookup] == [f"/v2/PhoneNumbers/{PATIENT}"]
    assert TextStore(redis_conn).line_type(PATIENT) == ("landline", "lookup")
    assert messages(sent) == [] and messages_created(prism, twilio_env) == 0
    # Kept 30 days: the next text is refused without asking again.
    assert jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, cb.id, "RE1") == "landline"
    assert len(landline_lookup) == 1


def test_the_keypad_choice_stands_when_the_lookup_is_not_available(redis_conn, job_context, twilio_env, now, sent,
                                                                    monkeypatch):
    from .processes import free_port

    monkeypatch.setenv("TWILIO_LOOKUPS_BASE_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    cb = callback(redis_conn)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "sent"


def test_a_clinic_can_turn_the_carrier_lookup_off(redis_conn, job_context, twilio_env, prism, lookups, now, sent,
                                                  monkeypatch):
    """IVR_TEXTS_LOOKUP=0: Twilio's lookup (billed per number) is never asked; the keypad answer decides, and a
    number nobody could tell gets no text, as when the lookup gives no answer."""
    monkeypatch.setenv("IVR_TEXTS_LOOKUP", "0")
    lookups.sync()
    asked_before = lookups.log().count("/v2/PhoneNumbers/")
    said_mobile = callback(redis_conn)
    unsure = callback(redis_conn, phone="+12025550124", mobile=False)

    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, said_mobile.id) == "sent"
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, unsure.id) == "not_mobile"

    assert [r["url"] for r in sent] == [f"{prism.base_url}/2010-04-01/Accounts/{twilio_env}/Messages.json"]
    lookups.sync()
    assert lookups.log().count("/v2/PhoneNumbers/") == asked_before
    assert messages(sent)[0]["To"] == PATIENT
    assert TextStore(redis_conn).line_type(PATIENT) == ("mobile", "keypad")  # nothing learnt from a lookup


def test_a_number_on_the_do_not_call_list_gets_no_texts(redis_conn, job_context, twilio_env, now, sent):
    cb = callback(redis_conn)
    FollowupStore(redis_conn).opt_out(PATIENT, source="followup_call")  # pressed 9 on a follow-up call
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "opted_out"
    assert sent == []


def test_a_job_run_twice_texts_once(redis_conn, job_context, twilio_env, prism, now, sent):
    cb = callback(redis_conn)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "sent"
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "already_sent"
    assert messages_created(prism, twilio_env) == 1


def test_a_request_that_never_reached_twilio_is_retried_and_not_counted(
    redis_conn, job_context, twilio_env, prism, now, monkeypatch
):
    from .processes import free_port

    cb = callback(redis_conn)
    monkeypatch.setenv("TWILIO_API_BASE_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(jobs.TransientTextError):
        jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id)
    assert TextStore(redis_conn).past_texts(PATIENT) == []
    monkeypatch.setenv("TWILIO_API_BASE_URL", prism.base_url)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "sent"


def test_a_refused_text_is_said_on_the_callback_and_does_not_count(redis_conn, job_context, twilio_env, now, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACnot-a-real-account")  # fails the API's AccountSid pattern: 422
    cb = callback(redis_conn)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "refused"
    [line] = lines(redis_conn, cb.id)
    assert (line["kind"], line["reason"]) == ("not_sent", "refused:422")
    assert TextStore(redis_conn).past_texts(PATIENT) == []


class Refusing(list):
    """The paths a refusing server was asked; ``code`` is the Twilio error it answers with."""

    code = 21610
    message = "Attempt to send to unsubscribed recipient"


@pytest.fixture
def unsubscribed_twilio(monkeypatch):
    """Every Messages request answered as Twilio does for a number that sent STOP to Twilio itself (error
    21610, or another ``code``). The paths asked."""
    asked = Refusing()

    def answer(path: str):
        asked.append(path)
        return 400, {"code": asked.code, "message": asked.message, "status": 400,
                     "more_info": f"https://www.twilio.com/docs/errors/{asked.code}"}

    with answering(answer) as url:
        monkeypatch.setenv("TWILIO_API_BASE_URL", url)
        yield asked


def test_a_patient_unsubscribed_at_twilio_is_opted_out_and_never_texted_again(
    redis_conn, job_context, twilio_env, now, unsubscribed_twilio
):
    cb = callback(redis_conn)

    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "opted_out"

    assert unsubscribed_twilio == [f"/2010-04-01/Accounts/{twilio_env}/Messages.json"]
    assert TextStore(redis_conn).opted_out(PATIENT)
    assert FollowupStore(redis_conn).opted_out(PATIENT)  # one list: no follow-up calls either, as for STOP
    assert TextStore(redis_conn).past_texts(PATIENT) == []  # not sent: not counted
    [line] = lines(redis_conn, cb.id)
    assert (line["kind"], line["reason"]) == ("not_sent", "opted_out")
    # Another text, another day: not asked of Twilio at all.
    now.when += dt.timedelta(days=1)
    assert jobs.send_text(wording.CONFIRM_VOICEMAIL, texts.CALLBACK, cb.id, "RE1") == "opted_out"
    assert len(unsubscribed_twilio) == 1


def test_an_answer_refused_as_unsubscribed_opts_the_patient_out(redis_conn, job_context, twilio_env,
                                                                unsubscribed_twilio):
    """HELP texted to our number, the answer refused with 21610 (STOP reached Twilio first)."""
    store = TextStore(redis_conn)
    inbound_sid = "SM" + "9" * 32
    assert store.record_inbound(inbound_sid, PATIENT, "")
    assert jobs.send_answer(wording.HELP, inbound_sid, "en") == "opted_out"
    assert store.opted_out(PATIENT)


def test_texts_are_off_without_a_messaging_service(redis_conn, job_context, twilio_env, now, sent, monkeypatch):
    monkeypatch.delenv("IVR_TWILIO_MESSAGING_SERVICE_SID")
    cb = callback(redis_conn)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "off"
    assert not jobs.send_later(redis_conn, wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id, settings={})
    assert sent == [] and Queue(DEFAULT_QUEUE, connection=redis_conn).count == 0


# A follow-up call that reached nobody --------------------------------------------------------------------


def _unreached_followup(redis_conn, phone: str = PATIENT) -> str:
    store = FollowupStore(redis_conn)
    appointment = Appointment(id="appt-1", name="Ana Lopez", phone=phone, at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=NY),
                              provider="Dr Kim", department="nurse", language="es", timezone="America/New_York")
    store.add(appointment)
    store.complete(appointment.id, "unreached")
    return appointment.id


def test_a_follow_up_that_reached_nobody_is_texted_only_when_turned_on(redis_conn, job_context, twilio_env, now, sent):
    appointment_id = _unreached_followup(redis_conn)
    TextStore(redis_conn).set_line_type(PATIENT, "mobile", "lookup")
    assert not jobs.send_later(redis_conn, wording.FOLLOWUP_UNREACHED, texts.FOLLOWUP, appointment_id,
                                settings={"TWILIO_MESSAGING_SERVICE_SID": SERVICE})
    assert jobs.send_later(redis_conn, wording.FOLLOWUP_UNREACHED, texts.FOLLOWUP, appointment_id,
                            settings={"TWILIO_MESSAGING_SERVICE_SID": SERVICE, "TEXTS_AFTER_UNREACHED_FOLLOWUP": "1"})

    assert jobs.send_text(wording.FOLLOWUP_UNREACHED, texts.FOLLOWUP, appointment_id) == "sent"
    [message] = messages(sent)
    # Nothing about the visit: who might read it is not known.
    assert message["Body"] == ("Riverside Family Clinic intentó llamarle. Si quiere hablar con nosotros, llame al "
                               "202-555-0199. Responda ALTO para no recibir más mensajes.")
    assert "Kim" not in message["Body"] and "Ana" not in message["Body"]
    from ivr.admin.followups import event_text

    said = [event_text(e, "America/New_York") for e in FollowupStore(redis_conn).events(appointment_id)]
    assert "Texted the patient the clinic's number to call" in said  # on the appointment's page, in words


# The audit log and the logs -----------------------------------------------------------------------------


def test_every_text_is_audited_and_no_body_or_number_is_logged(redis_conn, job_context, twilio_env, now, sent, caplog):
    caplog.set_level(logging.INFO)  # IVR_LOG_LEVEL's default
    cb = callback(redis_conn)
    other = callback(redis_conn, phone="+12025550124", mobile=False)
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id) == "sent"
    assert jobs.send_text(wording.CONFIRM_CALLBACK, texts.CALLBACK, other.id) == "not_mobile"

    body = messages(sent)[0]["Body"]
    entries = AuditLog(redis_conn).recent()
    assert [(e.action, e.target) for e in entries] == [("text_not_sent", other.id), ("text_sent", cb.id)]
    assert entries[1].detail.startswith("confirm_callback (en), message SM")
    for text in [e.detail for e in entries] + [r.getMessage() for r in caplog.records]:
        assert "call you back" not in text and body not in text
        assert "5550123" not in text and "5550124" not in text
    raw = b" ".join(redis_conn.dump(k) or b"" for k in redis_conn.keys("ivr:texts:*"))
    assert b"call you back" not in raw


# A real worker -----------------------------------------------------------------------------------------


WORKER_AT_TEN = """
import datetime as dt, sys
from zoneinfo import ZoneInfo
from ivr.workers import texts
texts._now = lambda: dt.datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/New_York"))  # inside calling hours
from ivr.cli import main
sys.argv = ["ivr", "worker", "--burst", "--no-scheduler"]
main()
"""


@pytest.mark.slow
def test_a_real_worker_sends_the_confirmation_once(redis_server, redis_conn, prism, lookups):
    import subprocess
    import sys

    from .processes import env

    account_sid = new_account_sid()
    cb = callback(redis_conn)
    settings = {"TWILIO_MESSAGING_SERVICE_SID": SERVICE}
    assert jobs.send_later(redis_conn, wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id, settings=settings)
    assert jobs.send_later(redis_conn, wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id, settings=settings)  # again
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    [job_id] = queue.job_ids  # one job for one text, with no phone number in it
    assert Job.fetch(job_id, connection=redis_conn).args == (wording.CONFIRM_CALLBACK, texts.CALLBACK, cb.id, "", 0)

    result = subprocess.run([sys.executable, "-c", WORKER_AT_TEN], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env=env(**worker_env(redis_server, prism, lookups, account_sid)))
    assert result.returncode == 0, result.stderr

    assert Job.fetch(job_id, connection=redis_conn).return_value() == "sent"
    assert messages_created(prism, account_sid) == 1
    assert "5550123" not in result.stdout + result.stderr and "call you back" not in result.stdout + result.stderr

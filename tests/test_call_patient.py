"""The "Call patient" job, which has Twilio ring a staff member, then the patient; and its webhooks.

The REST requests go to the Prism mock server serving Twilio's own OpenAPI
description (tests/data/twilio), which refuses (422) any request the
description does not allow: a "placed" result means Twilio's API contract
accepted the request. Prism's log tells how many calls were created, per
(fake, unique) account SID.
"""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from rq import Queue
from rq.job import Job
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator

from ivr.telephony import twilio_rest
from ivr.clinic.settings import load_clinic
from ivr.protection.sealing import Sealer
from ivr.store.callback_types import Callback
from ivr.store.callbacks import CallbackQueue
from ivr.store.outbound import PENDING, OutboundCalls, Result
from ivr.store.users import UserStore
from ivr.voice import outbound as views
from ivr.workers import HIGH_QUEUE, context
from ivr.workers import callbacks as callbacks_module
from ivr.workers.callbacks import (
    TransientDialError,
    call_patient,
    enqueue_call_patient,
    new_attempt_key,
)

from .conftest import DATA_KEY, ROOT, TOKEN
from .prism import example_call_sid, new_account_sid
from .processes import env, free_port, run_ivr

CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")
PATIENT = "+12025550123"
STAFF_PHONE = "+12025550177"
PUBLIC = "https://phones.clinic.example"
STAFF_LEG = "CA" + "1" * 32  # the CallSid of the call to the staff member, in webhook tests


# Fixtures ----------------------------------------------------------------------------


@pytest.fixture
def twilio_env(monkeypatch, prism) -> str:
    """The environment a worker has: fake credentials, Prism as Twilio's API, the public URL. The account SID."""
    account_sid = new_account_sid()
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "fake-auth-token")
    monkeypatch.setenv("TWILIO_API_BASE_URL", prism.base_url)
    monkeypatch.delenv("IVR_TWILIO_API_BASE_URL", raising=False)
    monkeypatch.setenv("IVR_PUBLIC_URL", PUBLIC)
    return account_sid


@pytest.fixture
def job_context(monkeypatch, redis_conn) -> None:
    """Jobs run in this process use the test Redis and the clinic's settings."""
    monkeypatch.setattr(
        context,
        "get",
        lambda: context.JobContext(
            redis=redis_conn, clinic=CLINIC, data_dir="unused", sealer=Sealer.from_settings(DATA_KEY, "unused")
        ),
    )


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """Every REST request the job makes, as twilio-python sends it (it still goes to Prism)."""
    seen: list[dict] = []

    class Spy(TwilioHttpClient):
        def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                    allow_redirects=False):
            seen.append({"method": method, "url": url, "data": data, "auth": auth})
            return super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                   timeout=timeout, allow_redirects=allow_redirects)

    monkeypatch.setattr(twilio_rest, "TwilioHttpClient", Spy)
    return seen


def claimed(redis_conn, staff: str = "nina", staff_phone: str = STAFF_PHONE, **queue_settings) -> Callback:
    """A patient's callback, claimed by ``staff`` (an account with ``staff_phone``)."""
    users = UserStore(redis_conn)
    if users.get(staff) is None:
        users.add(staff, "nurse", "argon2-hash", phone=staff_phone)
    queue = CallbackQueue(redis_conn, **queue_settings)
    queue.request("nurse", PATIENT, "en")
    cb = queue.claim_next(["nurse"], staff)
    assert cb is not None and cb.claimed_by == staff
    return cb


def worker_env(redis_server, prism, account_sid: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_server.url,
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": "fake-auth-token",
        "TWILIO_API_BASE_URL": prism.base_url,
        "IVR_PUBLIC_URL": PUBLIC,
    }


def no_numbers_in(output: str) -> None:
    for number in (PATIENT, STAFF_PHONE):
        assert number not in output and number[2:] not in output


# (a) The request Twilio's API accepts ------------------------------------------------------


def test_job_places_the_request_twilio_accepts_and_records_the_call_sid(
    redis_conn, job_context, twilio_env, prism, twilio_spec, sent
):
    cb = claimed(redis_conn)
    key = new_attempt_key()

    assert call_patient(cb.id, "nina", key) == "placed"

    [request] = sent
    query = f"cb={cb.id}&a={key}"
    assert request["method"] == "POST"
    assert request["url"] == f"{prism.base_url}/2010-04-01/Accounts/{twilio_env}/Calls.json"
    assert request["auth"] == (twilio_env, "fake-auth-token")
    assert request["data"] == {
        "To": STAFF_PHONE,  # the staff member's phone rings first...
        "From": CLINIC.main_number,
        "Url": f"{PUBLIC}/voice/outbound/connect?{query}",  # ...then this dials the patient
        "Method": "POST",
        "StatusCallback": f"{PUBLIC}/voice/outbound/status?{query}",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "StatusCallbackMethod": "POST",
        "Timeout": 30,
    }
    assert prism.calls_created(twilio_env) == 1

    sid = example_call_sid(twilio_spec)  # what Twilio's description answers
    calls = OutboundCalls(redis_conn)
    assert calls.call_for(cb.id, key) == sid
    assert calls.attempt_for_call(sid) == (cb.id, key)
    attempt = calls.latest(cb.id)
    assert (attempt.attempt_key, attempt.staff, attempt.result, attempt.call_sid) == (key, "nina", "placed", sid)


def test_prism_refuses_requests_twilio_would_refuse(twilio_env):
    """The check is real: a request outside the description is answered 422, not 201."""
    client = twilio_rest.make_client(twilio_rest.settings_from_env())
    try:
        with pytest.raises(TwilioRestException) as refused:
            client.calls.create(to=STAFF_PHONE, from_=CLINIC.main_number, url="not a url", method="PUT")
    finally:
        twilio_rest.close(client)
    assert refused.value.status == 422


def test_a_request_twilio_refuses_places_no_call_and_frees_the_attempt(
    redis_conn, job_context, twilio_env, prism, monkeypatch
):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACnot-a-real-account")  # fails the API's AccountSid pattern
    cb = claimed(redis_conn)
    key = new_attempt_key()

    assert call_patient(cb.id, "nina", key) == "rejected"

    calls = OutboundCalls(redis_conn)
    assert calls.dial_state(cb.id, key) is None  # certainly no call: nothing to guard
    attempt = calls.attempt(cb.id, key)
    assert attempt.result == "rejected" and "HTTP 422" in attempt.detail


# (b) A retried job never rings twice ----------------------------------------------------------


def test_running_the_job_again_does_not_call_again(redis_conn, job_context, twilio_env, prism, sent):
    cb = claimed(redis_conn)
    key = new_attempt_key()

    assert call_patient(cb.id, "nina", key) == "placed"
    assert call_patient(cb.id, "nina", key) == "already_placed"

    assert len(sent) == 1
    assert prism.calls_created(twilio_env) == 1
    assert OutboundCalls(redis_conn).attempt(cb.id, key).result == "placed"


def test_crash_after_the_call_before_its_sid_is_stored_never_rings_again(
    redis_conn, job_context, twilio_env, prism, sent, monkeypatch
):
    cb = claimed(redis_conn)
    key = new_attempt_key()
    calls = OutboundCalls(redis_conn)

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died here")

    with monkeypatch.context() as patch:
        patch.setattr(OutboundCalls, "record_call", crash)
        with pytest.raises(RuntimeError, match="worker died"):
            call_patient(cb.id, "nina", key)
    assert prism.calls_created(twilio_env) == 1
    assert calls.dial_state(cb.id, key) == PENDING

    assert call_patient(cb.id, "nina", key) == "in_doubt"  # the retry

    assert len(sent) == 1
    assert prism.calls_created(twilio_env) == 1
    attempt = calls.attempt(cb.id, key)
    assert attempt.result == "in_doubt" and "not placed again" in attempt.detail


def test_request_that_never_reached_twilio_is_retried(redis_conn, job_context, twilio_env, prism, monkeypatch):
    cb = claimed(redis_conn)
    key = new_attempt_key()
    calls = OutboundCalls(redis_conn)

    monkeypatch.setenv("TWILIO_API_BASE_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(TransientDialError):
        call_patient(cb.id, "nina", key)
    assert calls.dial_state(cb.id, key) is None  # no call was made: the guard is dropped for the retry
    assert calls.attempt(cb.id, key).result == "retrying"

    monkeypatch.setenv("TWILIO_API_BASE_URL", prism.base_url)
    assert call_patient(cb.id, "nina", key) == "placed"
    assert prism.calls_created(twilio_env) == 1


def test_the_guard_is_taken_once_and_never_dropped_once_a_call_exists(redis_conn):
    calls = OutboundCalls(redis_conn)
    key = new_attempt_key()
    assert calls.claim_dial("cb1", key, "nina")
    assert not calls.claim_dial("cb1", key, "olga")  # a second run, a double click, another worker
    assert calls.dial_state("cb1", key) == PENDING and calls.call_for("cb1", key) is None

    calls.record_call("cb1", key, STAFF_LEG)
    assert not calls.release_dial("cb1", key, Result.RETRYING)
    assert not calls.mark_in_doubt("cb1", key, "late")
    assert calls.call_for("cb1", key) == STAFF_LEG
    assert calls.attempt("cb1", key).result == "placed"
    assert not calls.claim_dial("cb1", key, "nina")

    assert redis_conn.ttl(f"ivr:outbound:dial:cb1:{key}") > 29 * 86400  # long enough to outlive any retry
    with pytest.raises(ValueError):
        calls.claim_dial("cb1", "x")  # attempt keys go into URLs and key names: checked


# (c) Only for the staff member holding a live claim ----------------------------------------------


def _not_claimed(redis_conn) -> Callback:
    return CallbackQueue(redis_conn).request("nurse", PATIENT, "en").callback


def _claimed_by_someone_else(redis_conn) -> Callback:
    UserStore(redis_conn).add("nina", "nurse", "argon2-hash", phone=STAFF_PHONE)
    return claimed(redis_conn, staff="olga", staff_phone="+12025550178")


def _lease_expired(redis_conn) -> Callback:
    import time

    return claimed(redis_conn, lease_seconds=5, clock=lambda: time.time() - 60)  # ran out 55 s ago


def _released(redis_conn) -> Callback:
    cb = claimed(redis_conn)
    assert CallbackQueue(redis_conn).release(cb.id, "nina")
    return cb


def _staff_without_phone(redis_conn) -> Callback:
    return claimed(redis_conn, staff_phone="")


@pytest.mark.parametrize(
    "setup, why",
    [
        (_not_claimed, "not claimed by this staff member"),
        (_claimed_by_someone_else, "not claimed by this staff member"),
        (_lease_expired, "the claim has expired"),
        (_released, "not claimed by this staff member"),
        (_staff_without_phone, "no phone number on the staff member's account"),
    ],
)
def test_refused_unless_the_staff_member_holds_a_live_claim(
    redis_conn, job_context, twilio_env, prism, sent, setup, why
):
    cb = setup(redis_conn)
    key = new_attempt_key()

    assert call_patient(cb.id, "nina", key) == "refused"

    assert sent == []
    assert prism.calls_created(twilio_env) == 0
    calls = OutboundCalls(redis_conn)
    assert calls.dial_state(cb.id, key) is None
    assert (calls.attempt(cb.id, key).result, calls.attempt(cb.id, key).detail) == ("refused", why)


def test_unknown_callback_is_refused(redis_conn, job_context, twilio_env, sent):
    assert call_patient("0123456789abcdef", "nina", new_attempt_key()) == "refused"
    assert sent == []


# (d) Settings -------------------------------------------------------------------------------


def test_missing_credentials_are_a_clear_error(redis_conn, job_context, monkeypatch):
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("IVR_PUBLIC_URL", PUBLIC)
    cb = claimed(redis_conn)
    key = new_attempt_key()

    message = "Twilio credentials are not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
    with pytest.raises(twilio_rest.TwilioNotConfigured, match=re.escape(message)):
        call_patient(cb.id, "nina", key)
    assert OutboundCalls(redis_conn).dial_state(cb.id, key) is None

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", new_account_sid())  # half of them is not enough
    with pytest.raises(twilio_rest.TwilioNotConfigured, match=re.escape(message)):
        call_patient(cb.id, "nina", key)


def test_missing_public_url_is_a_clear_error(redis_conn, job_context, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", new_account_sid())
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "fake-auth-token")
    monkeypatch.delenv("IVR_PUBLIC_URL", raising=False)
    cb = claimed(redis_conn)
    key = new_attempt_key()

    with pytest.raises(twilio_rest.TwilioNotConfigured, match="IVR_PUBLIC_URL is not set: Twilio needs absolute"):
        call_patient(cb.id, "nina", key)
    assert OutboundCalls(redis_conn).dial_state(cb.id, key) is None

    monkeypatch.setenv("IVR_PUBLIC_URL", "phones.clinic.example")
    with pytest.raises(twilio_rest.TwilioNotConfigured, match="absolute http"):
        call_patient(cb.id, "nina", key)


def test_settings_in_a_web_process_come_from_the_app_config():
    settings = twilio_rest.settings_from_config(
        {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t", "PUBLIC_URL": PUBLIC + "/"},
        environ={"TWILIO_API_BASE_URL": "http://127.0.0.1:4010"},
    )
    twilio_rest.check(settings)
    assert twilio_rest.public_url(settings) == PUBLIC
    client = twilio_rest.make_client(settings)
    assert client.api.base_url == "http://127.0.0.1:4010"
    assert client.api.absolute_url("2010-04-01/Accounts.json") == "http://127.0.0.1:4010/2010-04-01/Accounts.json"
    twilio_rest.close(client)
    with pytest.raises(twilio_rest.TwilioNotConfigured, match="credentials are not configured"):
        twilio_rest.check({"PUBLIC_URL": PUBLIC})


# (e) Webhooks, signed as Twilio signs them ---------------------------------------------------


@pytest.fixture
def web(make_app):
    return make_app(PUBLIC_URL=PUBLIC).test_client()


def signed_post(web, path: str, data: dict[str, str]):
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, data)
    return web.post(path, data=data, headers={"X-Twilio-Signature": signature})


def staff_leg(status: str = "in-progress", call_sid: str = STAFF_LEG) -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": CLINIC.main_number,
        "To": STAFF_PHONE,
        "CallStatus": status,
        "Direction": "outbound-api",
    }


def placed(redis_conn) -> tuple[Callback, str]:
    cb = claimed(redis_conn)
    key = new_attempt_key()
    calls = OutboundCalls(redis_conn)
    assert calls.claim_dial(cb.id, key, "nina")
    calls.record_call(cb.id, key, STAFF_LEG)
    return cb, key


def parse(resp) -> ET.Element:
    assert resp.status_code == 200 and resp.mimetype == "text/xml"
    root = ET.fromstring(resp.get_data(as_text=True))
    assert root.tag == "Response"
    return root


def said(root: ET.Element) -> list[str]:
    return [say.text for say in root.iter("Say")]


def test_staff_voicemail_never_reaches_the_patient(web, redis_conn):
    """Answering machines do not press 1: without it, nobody is dialled."""
    cb, key = placed(redis_conn)

    root = parse(signed_post(web, f"/voice/outbound/connect?cb={cb.id}&a={key}", staff_leg()))

    assert [child.tag for child in root] == ["Gather", "Say", "Hangup"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"/voice/outbound/connect?cb={cb.id}&a={key}"
    assert said(root) == [views.SCREEN, views.NOT_PRESSED]
    assert root.find("Dial") is None


def test_connect_dials_the_patient_showing_the_clinic_number(web, redis_conn):
    cb, key = placed(redis_conn)

    root = parse(signed_post(web, f"/voice/outbound/connect?cb={cb.id}&a={key}", {**staff_leg(), "Digits": "1"}))

    assert said(root) == ["Connecting you to the patient. The call shows the clinic's number."]
    assert root.find("Say").get("language") == "en-US"
    [dial] = root.findall("Dial")
    assert dial.text == PATIENT
    assert dial.get("callerId") == CLINIC.main_number
    assert dial.get("timeout") == "30"
    assert dial.get("action") == f"/voice/outbound/result?cb={cb.id}&a={key}"
    assert dial.get("method") == "POST"
    assert [child.tag for child in root] == ["Say", "Dial"]


def test_connect_settles_an_attempt_left_in_doubt(web, redis_conn):
    cb = claimed(redis_conn)
    key = new_attempt_key()
    calls = OutboundCalls(redis_conn)
    assert calls.claim_dial(cb.id, key, "nina")  # the job died before storing the sid

    root = parse(signed_post(web, f"/voice/outbound/connect?cb={cb.id}&a={key}", {**staff_leg(), "Digits": "1"}))

    assert root.find("Dial").text == PATIENT
    assert calls.call_for(cb.id, key) == STAFF_LEG
    assert calls.attempt(cb.id, key).result == "placed"


@pytest.mark.parametrize("change", ["released", "other_staff", "unknown_attempt", "other_call"])
def test_connect_dials_nobody_unless_the_callback_is_still_claimed(web, redis_conn, change):
    cb, key = placed(redis_conn)
    form = staff_leg()
    expected = views.NOT_CLAIMED
    if change == "released":
        CallbackQueue(redis_conn).release(cb.id, "nina")
    elif change == "other_staff":
        queue = CallbackQueue(redis_conn)
        queue.release(cb.id, "nina")
        assert queue.claim_next(["nurse"], "olga").id == cb.id
    elif change == "unknown_attempt":
        key, expected = new_attempt_key(), views.NOT_LINKED
    else:
        form, expected = staff_leg(call_sid="CA" + "2" * 32), views.NOT_LINKED

    root = parse(signed_post(web, f"/voice/outbound/connect?cb={cb.id}&a={key}", form))

    assert said(root) == [expected]
    assert root.find("Dial") is None
    assert [child.tag for child in root] == ["Say", "Hangup"]


def test_connect_failure_gives_safe_twiml_not_the_callers_apology(web, redis_conn, monkeypatch):
    cb, key = placed(redis_conn)

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(OutboundCalls, "attempt", broken)
    root = parse(signed_post(web, f"/voice/outbound/connect?cb={cb.id}&a={key}", staff_leg()))

    assert said(root) == [views.CANNOT_CONNECT]
    assert root.find("Dial") is None  # not the front desk's number either
    assert [child.tag for child in root] == ["Say", "Hangup"]


def test_unsigned_outbound_webhooks_are_refused(web, redis_conn):
    cb, key = placed(redis_conn)
    for path in ("connect", "result", "status"):
        resp = web.post(f"/voice/outbound/{path}?cb={cb.id}&a={key}", data=staff_leg())
        assert resp.status_code == 403


@pytest.mark.parametrize(
    "dial_status, words",
    [
        ("no-answer", "The patient did not answer."),
        ("busy", "The line was busy."),
        ("completed", "The call has ended."),
        ("failed", "The call to the patient could not be connected."),
    ],
)
def test_result_tells_the_staff_member_and_asks_for_the_outcome(web, redis_conn, dial_status, words):
    cb, key = placed(redis_conn)
    form = {**staff_leg(), "DialCallStatus": dial_status, "DialCallDuration": "0", "DialCallSid": "CA" + "3" * 32}

    root = parse(signed_post(web, f"/voice/outbound/result?cb={cb.id}&a={key}", form))

    assert said(root) == [words, "Please record the outcome in the console. Goodbye."]
    assert [child.tag for child in root] == ["Say", "Say", "Hangup"]
    assert OutboundCalls(redis_conn).attempt(cb.id, key).patient_status == dial_status


def test_status_callbacks_are_kept_for_the_console(web, redis_conn):
    cb, key = placed(redis_conn)
    calls = OutboundCalls(redis_conn)
    path = f"/voice/outbound/status?cb={cb.id}&a={key}"

    for status in ("initiated", "ringing", "in-progress"):
        assert signed_post(web, path, staff_leg(status)).status_code == 204
        assert calls.attempt(cb.id, key).call_status == status
    assert signed_post(web, path, {**staff_leg("completed"), "CallDuration": "42"}).status_code == 204
    assert signed_post(web, path, staff_leg("ringing")).status_code == 204  # late, out of order
    assert calls.attempt(cb.id, key).call_status == "completed"

    other = staff_leg("no-answer", call_sid="CA" + "2" * 32)  # not this attempt's call: ignored
    assert signed_post(web, path, other).status_code == 204
    assert calls.attempt(cb.id, key).call_status == "completed"

    unknown = f"/voice/outbound/status?cb={cb.id}&a={new_attempt_key()}"
    assert signed_post(web, unknown, staff_leg("no-answer")).status_code == 204
    assert signed_post(web, "/voice/outbound/status", staff_leg("busy")).status_code == 400


def test_failed_staff_leg_is_kept(web, redis_conn):
    cb, key = placed(redis_conn)
    resp = signed_post(web, f"/voice/outbound/status?cb={cb.id}&a={key}", staff_leg("no-answer"))
    assert resp.status_code == 204
    assert OutboundCalls(redis_conn).latest(cb.id).call_status == "no-answer"


# (f) A real RQ worker ---------------------------------------------------------------------------


@pytest.mark.slow
def test_real_worker_places_the_call_once_for_a_double_click(redis_server, redis_conn, prism, twilio_spec):
    account_sid = new_account_sid()
    cb = claimed(redis_conn)
    key = new_attempt_key()
    queue = Queue(HIGH_QUEUE, connection=redis_conn)

    job = enqueue_call_patient(queue, cb.id, "nina", key)
    again = enqueue_call_patient(queue, cb.id, "nina", key)  # a double click
    assert again.id == job.id and queue.count == 1
    assert job.retries_left == 3 and job.retry_intervals == [5, 15, 30]

    result = run_ivr("worker", "--burst", "--no-scheduler", **worker_env(redis_server, prism, account_sid))
    assert result.returncode == 0, result.stderr

    assert Job.fetch(job.id, connection=redis_conn).return_value() == "placed"
    assert OutboundCalls(redis_conn).call_for(cb.id, key) == example_call_sid(twilio_spec)
    assert prism.calls_created(account_sid) == 1
    assert enqueue_call_patient(queue, cb.id, "nina", key).id == job.id and queue.count == 0  # done: not again
    no_numbers_in(result.stdout + result.stderr)


@pytest.mark.parametrize("rq_unique", [True, False])
def test_a_double_click_enqueues_one_job(redis_conn, monkeypatch, rq_unique):
    """With RQ's atomic unique jobs, and on an RQ without them."""
    monkeypatch.setattr(callbacks_module, "_RQ_UNIQUE", rq_unique and callbacks_module._RQ_UNIQUE)
    queue = Queue(HIGH_QUEUE, connection=redis_conn)
    key = new_attempt_key()
    first = enqueue_call_patient(queue, "0123456789abcdef", "nina", key)
    second = enqueue_call_patient(queue, "0123456789abcdef", "nina", key)
    other = enqueue_call_patient(queue, "0123456789abcdef", "nina", new_attempt_key())  # a new click
    assert first.id == second.id != other.id
    assert queue.job_ids == [first.id, other.id]
    assert first.func_name == "ivr.workers.callbacks.call_patient"
    assert first.args == ("0123456789abcdef", "nina", key)  # no phone numbers in job arguments


CRASH_AFTER_CALL = """
import os, sys
from ivr.store.outbound import OutboundCalls
from ivr.workers.callbacks import call_patient

def die(*args, **kwargs):
    os._exit(70)  # the process dies after Twilio accepted the call, before its sid is stored

OutboundCalls.record_call = die
call_patient(*sys.argv[1:4])
"""


@pytest.mark.slow
def test_killed_after_the_call_then_retried_by_a_worker_does_not_ring_again(redis_server, redis_conn, prism):
    account_sid = new_account_sid()
    settings = worker_env(redis_server, prism, account_sid)
    cb = claimed(redis_conn)
    key = new_attempt_key()
    calls = OutboundCalls(redis_conn)

    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_CALL, cb.id, "nina", key],
        cwd=ROOT, env=env(**settings), capture_output=True, text=True, timeout=60,
    )
    assert crashed.returncode == 70, crashed.stderr
    assert prism.calls_created(account_sid) == 1
    assert calls.dial_state(cb.id, key) == PENDING

    job = enqueue_call_patient(Queue(HIGH_QUEUE, connection=redis_conn), cb.id, "nina", key)
    result = run_ivr("worker", "--burst", "--no-scheduler", **settings)
    assert result.returncode == 0, result.stderr

    assert Job.fetch(job.id, connection=redis_conn).return_value() == "in_doubt"
    assert prism.calls_created(account_sid) == 1
    assert calls.attempt(cb.id, key).result == "in_doubt"
    no_numbers_in(result.stdout + result.stderr + crashed.stdout + crashed.stderr)

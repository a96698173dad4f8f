"""Voicemails survive Redis refusing writes: the caller is promised only what was kept, and every
recording Twilio holds becomes a voicemail with a callback afterwards, none twice."""

from __future__ import annotations

import datetime as dt
import secrets
import xml.etree.ElementTree as ET

import pytest

from ivr.telephony import twilio_rest
from ivr.store.callbacks import CallbackQueue
from ivr.store.voicemails import VoicemailStore
from ivr.workers import context
from ivr.workers import recordings as recovery

from .fake_twilio import FakeTwilio
from .test_call_patient import CLINIC, DATA_KEY
from .test_voice_safety import assert_reaches_a_person, post, twilio_params

CALLER = "+12025550123"
OTHER = "+13125550147"


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@pytest.fixture
def read_only(redis_conn):
    """Make the test Redis refuse every write (as a replica or a full server would), then undo it."""
    def refuse() -> None:
        redis_conn.config_set("min-replicas-to-write", 1)  # no replica: NOREPLICAS on every write

    yield refuse
    redis_conn.config_set("min-replicas-to-write", 0)


@pytest.fixture
def twilio(monkeypatch, redis_conn):
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    for key, value in fake.settings().items():
        monkeypatch.setenv(key, value)
    from ivr.protection.sealing import Sealer

    monkeypatch.setattr(context, "get", lambda: context.JobContext(
        redis=redis_conn, clinic=CLINIC, data_dir="unused", sealer=Sealer.from_settings(DATA_KEY, "unused")))
    yield fake
    fake.stop()


def said(resp) -> str:
    return " ".join(s.text or "" for s in ET.fromstring(resp.get_data(as_text=True)).iter("Say"))


def test_while_redis_refuses_writes_callers_hear_no_false_promise_and_every_recording_is_recovered_once(
        app, redis_conn, read_only, twilio):
    client = app.test_client()
    in_flow = sid("CA")
    assert post(client, "/voice/incoming", twilio_params(CallSid=in_flow)).status_code == 200  # a call under way
    fallback_call, flow_call = sid("CA"), in_flow
    on_fallback, in_menu = sid("RE"), sid("RE")

    read_only()
    # Mid-call, the next step cannot be stored: the caller still gets TwiML that reaches a person.
    assert_reaches_a_person(post(client, "/voice/step?s=1", twilio_params(CallSid=in_flow, Digits="1")))
    # On the fallback path a message is recorded, but it cannot be kept now: no "we will call you back".
    done = post(client, "/voice/fallback/done", twilio_params(CallSid=fallback_call, RecordingSid=on_fallback,
                                                                RecordingDuration="14"))
    assert done.status_code == 200 and "call you back" not in said(done) and "call again" in said(done)
    # Twilio's recording status callbacks: refused with 503 (Twilio's debugger shows it), nothing half-kept.
    for recording, call in ((on_fallback, fallback_call), (in_menu, flow_call)):
        resp = post(client, "/voice/recording?department=nurse&lang=es",
                    twilio_params(CallSid=call, RecordingSid=recording, RecordingStatus="completed"))
        assert resp.status_code == 503
    redis_conn.config_set("min-replicas-to-write", 0)  # Redis is back
    store = VoicemailStore(redis_conn)
    assert store.get(on_fallback) is None and store.get(in_menu) is None

    # What Twilio holds: both messages, a conference recording (not a message) and one already kept.
    known, conference = sid("RE"), sid("RE")
    post(client, "/voice/recording?department=nurse&lang=en",
         twilio_params(CallSid=sid("CA"), From=OTHER, RecordingSid=known, RecordingStatus="completed"))
    assert store.get(known) is not None
    twilio.held = {
        on_fallback: {"call_sid": fallback_call}, in_menu: {"call_sid": flow_call},
        conference: {"call_sid": sid("CA"), "source": "StartConferenceRecordingAPI"}, known: {"call_sid": sid("CA")},
    }
    twilio.callers = {fallback_call: CALLER, flow_call: OTHER}

    assert recovery.recover_recordings() == 2
    callbacks = CallbackQueue(redis_conn)
    for recording, number in ((on_fallback, CALLER), (in_menu, OTHER)):
        vm = store.get(recording)
        assert vm is not None and vm.callback_id and vm.caller == number
        assert "recovered from Twilio" in vm.detail
        assert callbacks.get(vm.callback_id).phone == number
    waiting = len(callbacks.waiting(CLINIC.fallback_desk))
    assert recovery.recover_recordings() == 0  # again: nothing twice
    assert len(callbacks.waiting(CLINIC.fallback_desk)) == waiting
    assert store.get(conference) is None  # not a message
    assert len(store.recent(50)) == 3


def test_the_recordings_list_request_is_what_twilios_description_accepts(prism, monkeypatch, redis_conn):
    """Prism (with --errors) refuses any request its description does not allow; ours goes through,
    and its answer (the description's example: one conference recording) is read and skipped."""
    from .prism import new_account_sid

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", new_account_sid())
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "fake")
    monkeypatch.setenv("TWILIO_API_BASE_URL", prism.base_url)
    from ivr.protection.sealing import Sealer

    monkeypatch.setattr(context, "get", lambda: context.JobContext(
        redis=redis_conn, clinic=CLINIC, data_dir="unused", sealer=Sealer.from_settings(DATA_KEY, "unused")))
    seen = []
    real = twilio_rest.make_client

    def spying(settings):
        client = real(settings)
        listed = client.recordings.list(date_created_after=dt.datetime.now(dt.timezone.utc) - recovery.LOOKBACK,
                                        limit=recovery.MAX_LISTED)
        seen.extend(r.source for r in listed)
        return client

    monkeypatch.setattr(twilio_rest, "make_client", spying)
    assert recovery.recover_recordings() == 0
    assert seen == ["StartConferenceRecordingAPI"]
    assert VoicemailStore(redis_conn).recent(10) == []

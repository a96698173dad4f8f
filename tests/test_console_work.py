"""Working the callback desk (Flask test client, real Redis): idle logout without losing work, login back to
the page, call status in words, the visit behind a follow-up, one claim per person, the supervisor view."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from ivr.followups.appointments import Appointment
from ivr.staff import callstatus
from ivr.staff.passwords import hash_password
from ivr.store import keys
from ivr.store.callback_types import Outcome, Status
from ivr.store.callbacks import CallbackQueue
from ivr.store.drafts import DraftStore
from ivr.store.followups import FollowupStore
from ivr.store.outbound import Attempt, OutboundCalls, Result
from ivr.store.voicemails import Voicemail, VoicemailStatus
from ivr.workers.callbacks import new_attempt_key

PASSWORD = "correct horse battery staple"
PATIENT = "+13055550147"
SID = "CA" + "a" * 32


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token in {path}"
    return found.group(1)


def login(client, username: str = "nina", next: str | None = None):
    data = {"csrf_token": csrf_token(client), "username": username, "password": PASSWORD}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def alerts(html: str) -> str:
    found = re.search(r'<div class="flashes flashes-error" role="alert">(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


def statuses(html: str) -> str:
    found = re.search(r'<div class="flashes" role="status"[^>]*>(.*?)</div>', html, re.S)
    return found.group(1) if found else ""


@pytest.fixture
def staff(app):
    users = app.extensions["ivr"].users
    users.add("nina", "nurse", hash_password(PASSWORD), phone="+12025550177", display_name="Nina Patel")
    users.add("nora", "nurse", hash_password(PASSWORD), display_name="Nora Diaz")
    users.add("ada", "admin", hash_password(PASSWORD), display_name="Ada Admin")
    return users


@pytest.fixture
def queue(app) -> CallbackQueue:
    return app.extensions["ivr"].callbacks


def take(client) -> str:
    resp = client.post("/console/take", data={"csrf_token": csrf_token(client, "/console")})
    assert resp.status_code == 302, text(resp)
    return resp.headers["Location"]


def json_headers(client, path: str) -> dict:
    return {"X-CSRFToken": csrf_token(client, path), "Content-Type": "application/json"}


# Login comes back to the page ------------------------------------------------------------------


def test_login_returns_to_the_page_she_was_on(client, staff, queue):
    cb = queue.request("nurse", PATIENT, "en").callback
    page = f"/console/callbacks/{cb.id}"
    resp = client.get(page)
    assert resp.status_code == 302 and resp.headers["Location"] == f"/login?next=/console/callbacks/{cb.id}"
    form = text(client.get(resp.headers["Location"]))
    assert f'name="next" value="{page}"' in form
    assert "After logging in you go back to the page you were on" in form
    resp = login(client, next=page)
    assert resp.headers["Location"] == page


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/console", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "http:/x",
     "/console\n/x", "evil.example", "/login", " /console"],
)
def test_login_refuses_a_next_that_leaves_the_site(client, staff, target):
    form = text(client.get("/login", query_string={"next": target}))
    assert 'name="next"' not in form  # not even carried along
    resp = login(client, next=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/console"


# Idle logout: warning data, keep-alive, drafts ---------------------------------------------------


def test_pages_carry_the_idle_limit_and_the_warning(make_app, staff):
    client = make_app(STAFF_IDLE_MINUTES=3).test_client()
    login(client)
    html = text(client.get("/console"))
    assert 'data-idle-seconds="180.0"' in html
    assert 'id="idle-warning"' in html and 'role="alertdialog"' in html and "Stay logged in" in html
    assert "/static/staff/idle.js" in html and 'name="csrf-token"' in html
    assert "data-idle-seconds" not in text(client.get("/login"))  # nobody to warn


def test_asking_the_time_left_is_not_activity_but_stay_logged_in_is(client, staff, clock):
    login(client)
    token = csrf_token(client, "/console")
    clock.set(clock.when + dt.timedelta(minutes=10))
    left = client.get("/console/session").get_json()["seconds_left"]
    assert left == pytest.approx(300, abs=1)
    clock.set(clock.when + dt.timedelta(minutes=1))
    assert client.get("/console/session").get_json()["seconds_left"] == pytest.approx(240, abs=1)  # not renewed
    resp = client.post("/console/keep-alive", headers={"X-CSRFToken": token})
    assert resp.get_json()["seconds_left"] == pytest.approx(900, abs=1)
    clock.set(clock.when + dt.timedelta(minutes=14))  # 25 minutes after the last page, 14 after "stay"
    assert client.get("/console").status_code == 200


def test_keep_alive_needs_the_csrf_token_and_a_session(client, staff, clock):
    login(client)
    assert client.post("/console/keep-alive").status_code == 400
    token = csrf_token(client, "/console")
    clock.set(clock.when + dt.timedelta(minutes=16))
    resp = client.post("/console/keep-alive", headers={"X-CSRFToken": token})
    assert resp.status_code == 401 and resp.get_json()["logged_in"] is False


def test_a_draft_typed_before_an_idle_logout_is_shown_after_login_and_saves(app, client, staff, queue, clock, redis_conn):
    queue.request("nurse", PATIENT, "en")
    login(client)
    page = take(client)
    cb_id = page.rsplit("/", 1)[1]
    resp = client.post(f"/console/callbacks/{cb_id}/draft", headers=json_headers(client, page),
                       json={"outcome": "reached", "note": "Told her to take 2 tablets; call back Friday"})
    assert resp.status_code == 200 and resp.get_json()["saved"] is True
    stored = redis_conn.hgetall(keys.STAFF_DRAFT.format("nina", cb_id))
    assert stored[b"outcome"] == b"reached"
    assert b"tablets" not in stored[b"note"] and stored[b"note"].startswith(b"s1:")  # sealed like transcripts
    assert redis_conn.ttl(keys.STAFF_DRAFT.format("nina", cb_id)) > 3600

    token = csrf_token(client, page)
    clock.set(clock.when + dt.timedelta(minutes=16))  # idle: the server ends the session
    resp = client.post(f"/console/callbacks/{cb_id}/outcome", data={"csrf_token": token, "outcome": "reached"},
                       headers={"Referer": f"http://localhost{page}"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/login?next={page}"
    assert queue.get(cb_id).status is Status.CLAIMED

    resp = login(client, next=page)
    assert resp.headers["Location"] == page
    html = text(client.get(page))
    assert 'id="draft-restored"' in html
    assert "Told her to take 2 tablets; call back Friday</textarea>" in html
    assert re.search(r'value="reached" required checked', html)

    resp = client.post(f"/console/callbacks/{cb_id}/outcome",
                       data={"csrf_token": csrf_token(client, page), "outcome": "reached",
                             "note": "Told her to take 2 tablets; call back Friday"})
    assert resp.headers["Location"] == "/console"
    done = queue.get(cb_id)
    assert done.status is Status.DONE and done.note == "Told her to take 2 tablets; call back Friday"
    assert not redis_conn.exists(keys.STAFF_DRAFT.format("nina", cb_id))


def test_a_draft_is_only_its_writers_and_bad_drafts_are_refused(app, client, staff, queue):
    queue.request("nurse", PATIENT, "en")
    login(client)
    page = take(client)
    cb_id = page.rsplit("/", 1)[1]
    headers = json_headers(client, page)
    assert client.post(f"/console/callbacks/{cb_id}/draft", headers=headers, json={"outcome": "cured"}).status_code == 400
    assert client.post(f"/console/callbacks/{cb_id}/draft", headers=headers, json=["x"]).status_code == 400
    assert client.post(f"/console/callbacks/{cb_id}/draft", json={"note": "x"},
                       headers={"Content-Type": "application/json"}).status_code == 400  # no CSRF token
    client.post(f"/console/callbacks/{cb_id}/draft", headers=headers, json={"outcome": "", "note": "private words"})
    other = app.test_client()
    login(other, "nora")
    assert "private words" not in text(other.get(page))


def test_a_draft_kept_after_the_claim_ran_out_is_shown_read_only(app, client, staff, queue):
    cb = queue.request("nurse", PATIENT, "en").callback
    login(client)
    DraftStore(app.extensions["ivr"].redis, app.extensions["ivr"].sealer).save("nina", cb.id, "no_answer", "rang twice", 1.8e9)
    html = text(client.get(f"/console/callbacks/{cb.id}"))
    assert 'id="draft-kept"' in html and "rang twice" in html and "No answer" in html


# Call status in words --------------------------------------------------------------------------


def _attempt(**fields) -> Attempt:
    return Attempt(callback_id="cb1", attempt_key="k" * 12, **fields)


@pytest.mark.parametrize(
    "attempt, job, expected_state, words, active",
    [
        (None, "queued", "queued", "Calling your phone…", True),
        (_attempt(result="dialing"), "started", "dialing", "Calling your phone…", True),
        (_attempt(result="placed", call_status="initiated"), "finished", "placed", "Calling your phone…", True),
        (_attempt(result="placed", call_status="ringing"), "finished", "ringing", "Your phone is ringing", True),
        (_attempt(result="placed", call_status="in-progress"), "finished", "answered", "You answered", True),
        (_attempt(result="placed", call_status="completed", patient_status="completed", patient_duration="95"),
         "finished", "patient_completed", "You spoke with the patient for 1 min 35 s", False),
        (_attempt(result="placed", call_status="in-progress", patient_status="busy"), "finished", "patient_busy",
         "The patient's line was busy", False),
        (_attempt(result="placed", call_status="completed", patient_status="no-answer"), "finished", "patient_no-answer",
         "The patient did not answer", False),
        (_attempt(result="placed", call_status="completed", patient_status="failed"), "finished", "patient_failed",
         "could not be connected", False),
        (_attempt(result="placed", call_status="busy"), "finished", "busy", "Your phone was busy", False),
        (_attempt(result="placed", call_status="no-answer"), "finished", "no-answer", "Your phone was not answered", False),
        (_attempt(result="placed", call_status="failed"), "finished", "failed", "Twilio could not ring your phone", False),
        (_attempt(result="placed", call_status="completed"), "finished", "completed", "Your call ended before", False),
        (_attempt(result="rejected", detail="Twilio error 21219 (HTTP 400): The number +12025550177 is unverified."),
         "finished", "rejected", "a trial account may only call verified numbers", False),
        (_attempt(result="rejected", detail="Twilio error 20003 (HTTP 401): Authenticate"), "finished", "rejected",
         "it did not accept the clinic's Twilio account details", False),
        (_attempt(result="rejected", detail="Twilio error 99999 (HTTP 400): Something new"), "finished", "rejected",
         "Twilio said: Something new", False),
        (_attempt(result="in_doubt", detail="ReadTimeout talking to Twilio"), "finished", "in_doubt",
         "Cannot tell whether the call was placed", False),
        (_attempt(result="retrying", detail="ConnectionError talking to Twilio"), "scheduled", "retrying",
         "Twilio cannot be reached right now", True),
        (_attempt(result="retrying", detail="ConnectionError talking to Twilio"), "failed", "unreachable",
         "Twilio could not be reached, so no call was placed", False),
        (_attempt(result="refused", detail="no phone number on the staff member's account"), "finished", "refused",
         "your account has no phone number", False),
        (_attempt(result="refused", detail="the claim has expired"), "finished", "refused", "your claim on this callback ran out", False),
        (None, "failed", "not_configured", "switched off until the server's public address is set", False),
    ],
)
def test_every_call_state_reads_in_words_with_a_next_step(attempt, job, expected_state, words, active):
    error = "Traceback...\nivr.twilio_rest.TwilioNotConfigured: IVR_PUBLIC_URL is not set: Twilio needs absolute webhook URLs"
    status = callstatus.describe(attempt, job, error if job == "failed" else "", 1)
    assert status is not None
    assert status.state == expected_state
    assert words in status.text
    assert status.next, "every state says what to do next"
    assert status.active is active
    assert not re.search(r"\b(in_doubt|rejected|no-answer|in-progress)\b", status.text + status.next)  # no raw codes
    assert "+12025550177" not in status.text


def test_a_job_no_worker_picked_up_says_so():
    status = callstatus.describe(None, "queued", "", job_age=120)
    assert status.state == "worker_late" and "check that the worker runs" in status.next


def test_the_callback_page_follows_the_call_as_twilio_reports_it(app, client, staff, queue, redis_conn):
    queue.request("nurse", PATIENT, "en")
    login(client)
    page = take(client)
    cb_id = page.rsplit("/", 1)[1]
    outbound = OutboundCalls(redis_conn)
    key = new_attempt_key()
    outbound.claim_dial(cb_id, key, "nina")
    url = f"/console/callbacks/{cb_id}/call-status?a={key}"

    def state():
        body = client.get(url).get_json()
        return body["status"]["state"], body["status"]["text"], body["status"]["active"]

    assert state() == ("dialing", "Calling your phone…", True)
    outbound.record_call(cb_id, key, SID)
    outbound.note_status(cb_id, key, SID, "ringing")
    before = queue.get(cb_id).lease_until
    assert state()[0] == "ringing"
    assert queue.get(cb_id).lease_until >= before  # a call under way keeps the claim
    outbound.note_status(cb_id, key, SID, "in-progress")
    assert state()[0] == "answered"
    outbound.note_patient_result(cb_id, key, "no-answer", "0")
    assert state() == ("patient_no-answer", "The patient did not answer.", False)
    html = text(client.get(page))  # the page shows the latest attempt in words, not codes
    assert "The patient did not answer." in html and "Last call:" not in html


def test_a_refused_attempt_and_a_rejected_one_show_in_words_on_the_page(client, staff, queue, redis_conn):
    queue.request("nurse", PATIENT, "en")
    login(client)
    page = take(client)
    cb_id = page.rsplit("/", 1)[1]
    outbound = OutboundCalls(redis_conn)
    key = new_attempt_key()
    outbound.claim_dial(cb_id, key, "nina")
    outbound.release_dial(cb_id, key, Result.REJECTED, "Twilio error 21215 (HTTP 400): Geo permissions")
    html = text(client.get(page))
    assert "Twilio refused the call, so nobody was called" in html and "Geo permissions in Twilio" in html
    assert "rejected" not in html.lower().replace("twilio refused", "")


def test_calls_not_set_up_show_in_the_error_box_not_the_success_box(client, staff, queue):
    queue.request("nurse", PATIENT, "en")
    login(client)
    page = take(client)
    resp = client.post(page + "/call", data={"csrf_token": csrf_token(client, page), "attempt": new_attempt_key()})
    assert resp.headers["Location"] == page
    html = text(client.get(page))
    assert "No call was placed: calls to patients are switched off until" in alerts(html)
    assert "Setup page" in alerts(html) and not re.search("TWILIO_|IVR_", html)  # the setting is named on Setup
    assert "ring" not in statuses(html)


def test_a_placed_call_goes_back_to_the_page_that_follows_it(make_app, client, staff, queue, monkeypatch):
    from ivr.staff import callback_page

    enqueued = []
    monkeypatch.setattr(callback_page.twilio_rest, "check", lambda settings: None)
    monkeypatch.setattr(callback_page, "enqueue_call_patient", lambda q, cb, staff, key: enqueued.append(key))
    queue.request("nurse", PATIENT, "en")
    login(client)
    page = take(client)
    key = new_attempt_key()
    resp = client.post(page + "/call", data={"csrf_token": csrf_token(client, page), "attempt": key})
    assert resp.headers["Location"] == f"{page}?call={key}#call-title" and enqueued == [key]
    html = text(client.get(f"{page}?call={key}"))
    assert "Your phone will ring now" not in html
    assert f'data-status-url="/console/callbacks/{page.rsplit("/", 1)[1]}/call-status?a={key}"' in html


# Context of a callback -------------------------------------------------------------------------


def test_a_follow_up_callback_shows_the_visit_and_the_answers_in_words(app, client, staff, queue, redis_conn):
    store = FollowupStore(redis_conn)
    zone = ZoneInfo("America/Los_Angeles")
    store.add(Appointment("appt-1", "Maria Lopez", PATIENT, dt.datetime(2026, 11, 23, 9, 30, tzinfo=zone),
                          "America/Los_Angeles", "Dr. Chen", "nurse", "en", "Cardiology"))
    redis_conn.set(keys.FOLLOWUP_CALL.format(SID), "appt-1:1")  # what record_call keeps for the call
    cb = queue.request("nurse", PATIENT, "en", call_sid=SID, source="followup", urgent=True,
                       urgent_reason="feels worse after the visit").callback
    for name, value in [("identity", "confirmed"), ("feeling", "worse"), ("rating", "2"), ("nurse", "yes"),
                        ("callback_id", cb.id)]:
        store.record_answer("appt-1", name, value)
    login(client)
    html = text(client.get(f"/console/callbacks/{cb.id}"))  # read only, before taking it
    assert "Maria Lopez" in html and "Dr. Chen" in html and "Cardiology" in html
    assert "Mon 23 Nov 2026, 09:30 (PST, the patient&#39;s time)" in html
    for words in ["Confirmed who they are", "Feeling: worse", "Rated the visit 2 of 5", "Asked for a nurse"]:
        assert words in html
    assert "A follow-up call after a visit" in html and "callback_id" not in html
    assert PATIENT not in html  # still masked


def test_a_follow_up_callback_whose_call_is_gone_says_so(client, staff, queue):
    cb = queue.request("nurse", PATIENT, "en", call_sid="CA" + "b" * 32, source="followup").callback
    login(client)
    assert "no longer on record" in text(client.get(f"/console/callbacks/{cb.id}"))


def test_a_voicemail_callback_shows_a_readable_transcript_and_the_player(app, client, staff, queue):
    svc = app.extensions["ivr"]
    rec = "RE" + "c" * 32
    stored = svc.vault.put(rec, b"RIFF....WAVEfmt ")
    svc.voicemails.receive(Voicemail(
        rec, caller=PATIENT, department="nurse", lang="en", status=VoicemailStatus.TRANSCRIBED, duration=9,
        path=str(stored.path), transcript=svc.sealer.seal_text("call me at 3 0 5, 5 5 5, 0 1 4 7 please", f"transcript:{rec}"),
        engine="whisper", confidence=0.9))
    cb = queue.request("nurse", PATIENT, "en", source="voicemail", reason_recording_sid=rec).callback
    svc.voicemails.link_callback(rec, cb.id)
    login(client)
    html = text(client.get(f"/console/callbacks/{cb.id}"))
    assert "A voicemail" in html
    assert f'<audio controls preload="none" src="/console/callbacks/{cb.id}/recordings/{rec}.wav">' in html
    assert "call me at 305-555-0147 please" in html  # digits read out one by one, grouped as a number


def test_an_unclaimed_callback_opens_read_only_with_the_number_masked(app, client, staff, queue, redis_conn):
    cb = queue.request("nurse", PATIENT, "en").callback
    login(client)
    resp = client.get(f"/console/callbacks/{cb.id}")
    html = text(resp)
    assert resp.status_code == 200 and 'id="read-only"' in html
    assert PATIENT not in html and "0147" in html
    assert "Save outcome" not in html and "Call patient" not in html
    assert queue.get(cb.id).status is Status.WAITING  # reading takes nothing
    actions = [(e.action, e.detail) for e in app.extensions["ivr"].audit.for_actor("nina")]
    assert ("view_callback", "number masked, read only") in actions


# Desk rules ------------------------------------------------------------------------------------


def test_a_second_claim_is_refused_naming_the_one_she_holds(client, staff, queue):
    queue.request("nurse", PATIENT, "en")
    queue.request("nurse", "+12025550188", "en")
    login(client)
    first = take(client)
    resp = client.post("/console/take", data={"csrf_token": csrf_token(client, "/console")})
    assert resp.headers["Location"] == "/console"
    html = text(client.get("/console"))
    box = alerts(html)
    assert "You can hold one callback at a time and already hold" in box
    assert f'<a href="{first}">the callback for Nurse line (number ending 0147' in box
    assert len(queue.claimed_by("nina")) == 1


def test_the_claim_limit_is_a_setting(app):
    assert app.extensions["ivr"].runtime.clinic.callbacks.max_claims_per_user == 1


def test_the_supervisor_view_is_for_admins_and_counts_right(app, client, staff, queue):
    for phone in ["+13055550101", "+13055550102", "+13055550103", "+13055550104"]:
        queue.request("nurse", phone, "en", requested_at=queue.clock() - 600)
    queue.request("scheduling", "+13055550105", "en", requested_at=queue.clock() - 1200)
    for who, outcome in [("nina", Outcome.REACHED), ("nina", Outcome.WRONG_NUMBER), ("nora", Outcome.LEFT_MESSAGE)]:
        cb = queue.claim_next(["nurse"], who)
        queue.finish(cb.id, who, outcome)
    held = queue.claim_next(["nurse"], "nora")

    login(client, "nina")
    assert client.get("/console/supervisor").status_code == 403
    admin = app.test_client()
    login(admin, "ada")
    resp = admin.get("/console/supervisor")
    html = text(resp)
    assert resp.status_code == 200
    holdings = re.search(r'<table class="desk stack" id="holdings">(.*?)</table>', html, re.S).group(1)
    assert f'data-callback="{held.id}"' in holdings and "nora" in holdings and "(•••) •••-0104" in holdings
    nurse_row = re.search(r'<tr data-department="nurse">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', nurse_row) == ["0", "1", "0"]  # waiting, being called, retries
    sched_row = re.search(r'<tr data-department="scheduling">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', sched_row)[0] == "1" and "20 min" in sched_row
    nina_row = re.search(r'<tr data-staff="nina">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', nina_row) == ["1", "1", "2"]
    nora_row = re.search(r'<tr data-staff="nora">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', nora_row) == ["1", "0", "1"]
    assert not re.search(r"\+1305555010\d", html)  # numbers masked
    actions = [e.action for e in app.extensions["ivr"].audit.for_actor("ada")]
    assert "view_supervisor" in actions


# Words for the queue page ----------------------------------------------------------------------


def test_words_for_retries_and_messages(app, queue):
    with app.test_request_context():
        from flask import render_template_string

        assert render_template_string("{{ 0 | retries_scheduled }}") == "no retries scheduled"
        assert render_template_string("{{ 1 | retries_scheduled }}") == "1 retry scheduled"
        assert render_template_string("{{ 3 | retries_scheduled }}") == "3 retries scheduled"
        svc = app.extensions["ivr"]
        rec = "RE" + "d" * 32
        svc.voicemails.receive(Voicemail(rec, caller=PATIENT, department="nurse", lang="en", status=VoicemailStatus.NO_SPEECH))
        cb = queue.request("nurse", PATIENT, "en", source="voicemail", reason_recording_sid=rec).callback
        assert render_template_string("{{ cb | message_words }}", cb=cb) == "No message: the caller said nothing"

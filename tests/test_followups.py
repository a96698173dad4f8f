"""Follow-up calls after appointments: import, the call job (against Prism), the webhooks, the limiter."""

from __future__ import annotations

import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from ivr.followups.appointments import Rules, parse_csv
from ivr.telephony.simulator import PhoneCall, Turn
from ivr.store.call_rate import CallRateLimiter
from ivr.store.callbacks import CallbackQueue
from ivr.store.followups import FollowupStore
from ivr.workers import DEFAULT_QUEUE
from ivr.workers import followup_changes
from ivr.workers import followups as jobs

from .conftest import TOKEN, flask_transport
from .test_call_patient import (  # noqa: F401 - fixtures
    CLINIC, PUBLIC, job_context, sent, twilio_env,
)
from .prism import example_call_sid

NY = ZoneInfo("America/New_York")
PATIENT = "+12025550123"
RULES = Rules.for_clinic(CLINIC)
HEADER = "name,phone,appointment_time,timezone,provider,department,language\n"
GOOD = (
    "Maria Lopez,(202) 555-0123,2026-11-24 10:00,,Dr. Chen,nurse,es\n"
    "John Smith,+13125550147,2026-11-24T09:30:00-06:00,America/Chicago,Dr. Patel,front_desk,en\n"
)
# The first call: a day after Tuesday's appointment, Wednesday 10:00 in New York.
FIRST_CALL = dt.datetime(2026, 11, 25, 10, 0, tzinfo=NY)


@pytest.fixture
def at(monkeypatch):
    """The jobs' clock."""
    now = {"t": FIRST_CALL}
    monkeypatch.setattr(jobs, "_now", lambda: now["t"].astimezone(dt.timezone.utc))

    def set_time(when: dt.datetime) -> None:
        now["t"] = when

    return set_time


def imported(redis_conn, text: str = HEADER + GOOD, now=dt.datetime(2026, 11, 24, 12, tzinfo=NY)):
    parsed = parse_csv(text, RULES)
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    added, unchanged = followup_changes.schedule_new(queue, FollowupStore(redis_conn), [a for _, a in parsed.appointments], CLINIC, now)
    return parsed, added, unchanged


def maria(redis_conn):
    return next(r for r in FollowupStore(redis_conn).list() if r.name == "Maria Lopez")


# Import -----------------------------------------------------------------------------------


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_kept():
    text = HEADER + GOOD + (
        "No Phone,,2026-11-24 10:00,,Dr. Chen,nurse,en\n"
        "Bad Phone,555-12,2026-11-24 10:00,,Dr. Chen,nurse,en\n"
        "Bad Dept,+12025550111,2026-11-24 10:00,,Dr. Chen,cardiology,en\n"
        "Bad Time,+12025550112,next tuesday,,Dr. Chen,nurse,en\n"
        "Skipped Hour,+12025550113,2026-03-08 02:30,,Dr. Chen,nurse,en\n"
        "Bad Zone,+12025550114,2026-11-24 10:00,Mars/Olympus,Dr. Chen,nurse,en\n"
        "Bad Lang,+12025550115,2026-11-24 10:00,,Dr. Chen,nurse,fr\n"
        "Too,+12025550116,2026-11-24 10:00,,Dr. Chen,nurse,en,extra\n"
    )
    parsed = parse_csv(text, RULES)
    assert [a.name for _, a in parsed.appointments] == ["Maria Lopez", "John Smith"]
    maria_, john = (a for _, a in parsed.appointments)
    assert maria_.phone == PATIENT and maria_.at == dt.datetime(2026, 11, 24, 10, tzinfo=NY) and maria_.timezone == CLINIC.timezone
    assert john.timezone == "America/Chicago" and john.at.utcoffset() == dt.timedelta(hours=-6)
    errors = {e.where: e.reason for e in parsed.errors}
    assert sorted(errors) == list(range(4, 12))
    assert "missing phone" in errors[4]
    assert "phone" in errors[5]
    assert "unknown department 'cardiology'" in errors[6]
    assert "not a date and time" in errors[7]
    assert "does not exist" in errors[8]
    assert "unknown time zone" in errors[9]
    assert "language 'fr'" in errors[10]
    assert "more fields" in errors[11]


def test_a_header_without_the_needed_columns_is_refused_at_line_1():
    parsed = parse_csv("name,phone\nAnn,+12025550123\n", RULES)
    assert not parsed.appointments
    assert parsed.errors[0].where == 1 and "appointment_time" in parsed.errors[0].reason


def test_importing_the_same_file_twice_changes_nothing(redis_conn):
    _, added, unchanged = imported(redis_conn)
    assert (added, unchanged) == (2, 0)
    store = FollowupStore(redis_conn)
    before = {r.id: r for r in store.list()}
    scheduled = ScheduledJobRegistry(queue=Queue(DEFAULT_QUEUE, connection=redis_conn))
    assert len(scheduled.get_job_ids()) == 2

    _, added, unchanged = imported(redis_conn)
    assert (added, unchanged) == (0, 2)
    assert {r.id: r for r in store.list()} == before
    assert len(scheduled.get_job_ids()) == 2
    # Maria's first call: 24 hours after her appointment, inside calling hours.
    job_id = jobs.job_id(maria(redis_conn).id, 1)
    assert scheduled.get_scheduled_time(job_id) == FIRST_CALL


# The call job -------------------------------------------------------------------------------


def test_the_job_places_the_request_twilio_accepts_with_machine_detection(
    redis_conn, job_context, twilio_env, prism, twilio_spec, sent, at
):
    imported(redis_conn)
    rec = maria(redis_conn)

    assert jobs.place_followup(rec.id, 1) == "placed"

    [request] = sent
    query = f"ap={rec.id}&n=1"
    assert request["data"] == {
        "To": PATIENT,
        "From": CLINIC.main_number,
        "Url": f"{PUBLIC}/voice/followup/answer?{query}",
        "Method": "POST",
        "StatusCallback": f"{PUBLIC}/voice/followup/status?{query}",
        "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "StatusCallbackMethod": "POST",
        "MachineDetection": "DetectMessageEnd",
        "Timeout": 30,
    }
    assert prism.calls_created(twilio_env) == 1
    store = FollowupStore(redis_conn)
    sid = example_call_sid(twilio_spec)
    assert store.dial_state(rec.id, 1) == sid and store.attempt_for_call(sid) == (rec.id, 1)
    assert store.get(rec.id).status == "calling"


def test_a_rerun_or_a_crash_after_the_request_never_rings_again(
    redis_conn, job_context, twilio_env, prism, sent, at, monkeypatch
):
    imported(redis_conn)
    rec = maria(redis_conn)

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died here")

    with monkeypatch.context() as patch:
        patch.setattr(FollowupStore, "record_call", crash)
        with pytest.raises(RuntimeError, match="worker died"):
            jobs.place_followup(rec.id, 1)
    assert jobs.place_followup(rec.id, 1) == "in_doubt"
    assert jobs.place_followup(rec.id, 1) == "in_doubt"
    assert len(sent) == 1 and prism.calls_created(twilio_env) == 1
    assert FollowupStore(redis_conn).attempt(rec.id, 1)["result"] == "in_doubt"


def test_outside_calling_hours_the_gate_says_no_with_a_reason_and_reschedules(redis_conn, job_context, at, caplog):
    caplog.set_level("INFO")
    imported(redis_conn)
    rec = maria(redis_conn)
    at(dt.datetime(2026, 11, 25, 20, 30, tzinfo=NY))

    assert jobs._place(None, PUBLIC, rec.id, 1) == "deferred"  # no client needed: nothing is sent

    stored = FollowupStore(redis_conn).get(rec.id)
    assert stored.last_reason == "outside_calling_hours"
    assert stored.next_try_at == dt.datetime(2026, 11, 27, 9, 0, tzinfo=NY).timestamp()  # the 26th is Thanksgiving
    scheduled = ScheduledJobRegistry(queue=Queue(DEFAULT_QUEUE, connection=redis_conn))
    assert jobs.job_id(rec.id, 1, 1) in scheduled.get_job_ids()
    assert "outside_calling_hours" in caplog.text and PATIENT not in caplog.text


def test_one_call_a_day_per_patient_across_appointments(redis_conn, job_context, twilio_env, prism, sent, at):
    text = HEADER + GOOD + "Maria Lopez,+12025550123,2026-11-24 11:00,,Dr. Ruiz,scheduling,es\n"
    imported(redis_conn, text)
    first, second = (r for r in FollowupStore(redis_conn).list() if r.phone == PATIENT)
    assert jobs.place_followup(first.id, 1) == "placed"
    at(FIRST_CALL + dt.timedelta(hours=1))
    assert jobs.place_followup(second.id, 1) == "deferred"
    assert FollowupStore(redis_conn).get(second.id).last_reason == "daily_limit"
    assert len(sent) == 1


# The webhooks -------------------------------------------------------------------------------


class FollowupCall(PhoneCall):
    """Twilio's side of a follow-up call it placed: answered by ``answered_by``."""

    def __init__(self, app, appointment_id: str, n: int = 1, call_sid: str = "CA" + "f" * 32):
        super().__init__(flask_transport(app), "http://localhost", TOKEN, caller=CLINIC.main_number, called=PATIENT,
                         call_sid=call_sid)
        self.query = f"ap={appointment_id}&n={n}"

    def answer(self, answered_by: str = "human"):
        return self._post_and_run(f"{self.base_url}/voice/followup/answer?{self.query}",
                                  {"AnsweredBy": answered_by, "Direction": "outbound-api"}, Turn())

    def status(self, status: str, answered_by: str = "") -> int:
        extra = {"CallStatus": status, "Direction": "outbound-api"}
        if answered_by:
            extra["AnsweredBy"] = answered_by
        code, _ = self._post(f"{self.base_url}/voice/followup/status?{self.query}", extra, document=False)
        return code


def placed_call(redis_conn, call_sid: str = "CA" + "f" * 32):
    imported(redis_conn)
    rec = maria(redis_conn)
    store = FollowupStore(redis_conn)
    assert store.claim_dial(rec.id, 1, rec.phone, FIRST_CALL - dt.timedelta(hours=10), 1, 3) == "ok"
    assert store.record_call(rec.id, 1, call_sid)
    return rec


def words(turn) -> str:
    return " ".join(turn.said)


def test_a_machine_hears_the_clinic_and_its_number_and_nothing_else(app, redis_conn):
    rec = placed_call(redis_conn)
    call = FollowupCall(app, rec.id)

    turn = call.answer("machine_end_beep")

    text = words(turn)
    assert CLINIC.name in text and "(202) 555-0199" in text
    for private in ("Maria", "Chen", "visit", "nurse", "enfermera", "visita"):
        assert private not in text
    assert "Hangup" in turn.twiml[-1]


def test_a_person_confirms_who_they_are_before_anything_about_the_visit(app, redis_conn, job_context, at):
    rec = placed_call(redis_conn)
    call = FollowupCall(app, rec.id)

    first = words(call.answer("human"))  # Maria chose Spanish
    assert "Maria" in first and "oprima 1" in first and "visita" not in first

    assert "visita" in words(call.press("1"))  # confirmed: the questions begin
    call.press("3")  # feeling worse
    call.press("4")  # visit rated 4
    last = words(call.press("1"))  # a nurse, please
    assert "enfermera le llamará" in last

    stored = FollowupStore(redis_conn).get(rec.id)
    assert stored.answers["identity"] == "confirmed" and stored.answers["feeling"] == "worse"
    assert stored.answers["rating"] == "4" and stored.answers["nurse"] == "yes"
    [waiting] = CallbackQueue(redis_conn).waiting("nurse")
    assert waiting.phone == PATIENT and waiting.urgent and waiting.source == "followup" and waiting.lang == "es"

    assert call.status("completed") == 204
    assert jobs.settle_attempt(rec.id, 1, "completed") == "reached"
    assert jobs.settle_attempt(rec.id, 1, "completed") == "ignored"  # a repeated callback changes nothing
    assert FollowupStore(redis_conn).get(rec.id).outcome == "reached"


def test_someone_else_answering_hears_nothing_about_the_visit(app, redis_conn):
    rec = placed_call(redis_conn)
    call = FollowupCall(app, rec.id)
    call.answer("human")
    text = words(call.press("2"))
    assert "Disculpe" in text and "visita" not in text
    assert FollowupStore(redis_conn).get(rec.id).answers["identity"] == "not_patient"


def test_pressing_9_puts_the_number_on_the_do_not_call_list_at_once(app, redis_conn, job_context, at):
    rec = placed_call(redis_conn)
    call = FollowupCall(app, rec.id)
    call.answer("human")
    assert "No recibirá más" in words(call.press("9"))

    store = FollowupStore(redis_conn)
    assert store.opted_out(PATIENT)
    assert store.get(rec.id).outcome == "opted_out"
    # Any other appointment of this number is never called.
    imported(redis_conn, HEADER + "Maria Lopez,+12025550123,2026-11-30 10:00,,Dr. Ruiz,nurse,es\n")
    other = next(r for r in store.list() if r.id != rec.id and r.phone == PATIENT)
    at(dt.datetime(2026, 12, 1, 10, tzinfo=NY))
    assert jobs._place(None, PUBLIC, other.id, 1) == "stopped"
    assert store.get(other.id).outcome == "opted_out"


def test_saying_stop_opts_out_too(app, redis_conn):
    rec = placed_call(redis_conn)
    call = FollowupCall(app, rec.id)
    call.answer("human")
    call.say("basta")
    assert FollowupStore(redis_conn).opted_out(PATIENT)


def test_busy_is_retried_with_spacing_and_then_given_up(app, redis_conn, job_context, at):
    rec = placed_call(redis_conn)
    call = FollowupCall(app, rec.id)
    assert call.status("busy") == 204
    assert call.status("busy") == 204  # Twilio repeats itself: one settle job
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    assert queue.count == 1

    assert jobs.settle_attempt(rec.id, 1, "busy") == "retry"
    stored = FollowupStore(redis_conn).get(rec.id)
    assert stored.status == "scheduled"
    assert stored.next_try_at == (FIRST_CALL + dt.timedelta(minutes=CLINIC.followups.retry_spacing_minutes)).timestamp()
    assert jobs.job_id(rec.id, 2) in ScheduledJobRegistry(queue=queue).get_job_ids()

    last = 1 + CLINIC.followups.retry_attempts
    store = FollowupStore(redis_conn)
    assert store.claim_dial(rec.id, last, rec.phone, FIRST_CALL, 9, 9) == "ok"
    assert jobs.settle_attempt(rec.id, last, "no-answer") == "unreached"
    assert store.get(rec.id).outcome == "unreached"


def test_a_failure_inside_still_gives_the_patient_valid_twiml(app, redis_conn, monkeypatch):
    rec = placed_call(redis_conn)
    from ivr.voice import followup as views

    monkeypatch.setattr(views, "start", lambda *a, **k: 1 / 0)
    turn = FollowupCall(app, rec.id).answer("human")
    assert CLINIC.name in words(turn) and "Maria" not in words(turn)


def test_webhooks_for_calls_never_placed_get_the_short_message(app, redis_conn):
    imported(redis_conn)
    rec = maria(redis_conn)
    turn = FollowupCall(app, rec.id).answer("human")  # no guard: not a call the workers placed
    assert "Maria" not in words(turn)
    assert FollowupCall(app, "nonsense!", 1).status("completed") == 400


def test_unsigned_followup_webhooks_are_refused(client, redis_conn):
    assert client.post("/voice/followup/answer?ap=x&n=1", data={"CallSid": "CA" + "1" * 32}).status_code == 403


# The shared calls-per-second limiter --------------------------------------------------------------


def test_four_workers_together_never_exceed_the_limit(redis_conn):
    rate = 5.0
    grants: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + 2.5

    def worker():
        limiter = CallRateLimiter(redis_conn, rate)
        while time.monotonic() < stop:
            if limiter.acquire() == 0:
                with lock:
                    grants.append(time.time())
            else:
                time.sleep(0.005)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grants.sort()
    assert len(grants) >= 10
    most_in_a_second = max(sum(1 for g in grants if s <= g < s + 1) for s in grants)
    assert most_in_a_second <= rate
    assert min(b - a for a, b in zip(grants, grants[1:])) >= 1 / rate * 0.95


# A real worker process ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_worker_places_the_follow_up_once_even_if_the_job_is_queued_twice(redis_server, redis_conn, prism, twilio_spec):
    from benches.followup_bench import appointments_due, zone_in_calling_hours

    from .prism import new_account_sid
    from .processes import run_ivr
    from .test_call_patient import worker_env

    account_sid = new_account_sid()
    [appointment] = appointments_due(1, zone_in_calling_hours(), "Worker")  # due now, inside calling hours
    store = FollowupStore(redis_conn)
    store.add(appointment)
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    queue.enqueue(jobs.place_followup, appointment.id, 1)
    queue.enqueue(jobs.place_followup, appointment.id, 1)  # a duplicate run of the same attempt

    result = run_ivr("worker", "--burst", "--no-scheduler", **worker_env(redis_server, prism, account_sid))

    assert result.returncode == 0, result.stderr
    assert prism.calls_created(account_sid) == 1
    assert store.dial_state(appointment.id, 1) == example_call_sid(twilio_spec)
    assert appointment.phone not in result.stdout + result.stderr


def test_the_import_command_reports_bad_lines_and_a_second_run_changes_nothing(redis_server, redis_conn, tmp_path):
    from .processes import run_ivr

    path = tmp_path / "appointments.csv"
    path.write_text(HEADER + GOOD + "Bad Phone,555-12,2026-11-24 10:00,,Dr. Chen,nurse,en\n", encoding="utf-8")

    first = run_ivr("followups", "import", str(path), REDIS_URL=redis_server.url)
    assert first.returncode == 1
    assert f"{path}:4: phone is not a valid number" in first.stderr
    assert "imported 2 new appointment(s), 0 moved, 0 cancelled, 0 already known, 1 bad row(s)" in first.stdout
    again = run_ivr("followups", "import", str(path), REDIS_URL=redis_server.url)
    assert "imported 0 new appointment(s), 0 moved, 0 cancelled, 2 already known" in again.stdout
    assert FollowupStore(redis_conn).count() == 2
    status = run_ivr("followups", "status", REDIS_URL=redis_server.url)
    assert "appointments: 2" in status.stdout and "scheduled    2" in status.stdout
    for output in (first.stdout + first.stderr, status.stdout):
        assert PATIENT not in output and "5550123" not in output


def test_a_message_option_an_admin_adds_to_the_follow_up_flow_reaches_the_nurse_queue(make_app, config_copy, redis_conn):
    """The follow-up flow is edited like any flow: a voicemail node works in it as in an incoming call."""
    config, prompts = config_copy
    path = config / "flows" / "followup.yaml"
    no_thanks = '      - {digit: "2", keywords: {en: [no thanks], es: [no gracias]}, answer: "no", next: thanks}\n'
    text = path.read_text(encoding="utf-8")
    assert no_thanks in text
    text = text.replace(no_thanks, no_thanks + '      - {digit: "3", keywords: {en: [message], es: [mensaje]}, next: nurse_message}\n')
    text += "  nurse_message:\n    type: voicemail\n    prompt: voicemail_nurse\n    department: nurse\n"
    path.write_text(text, encoding="utf-8")
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    rec = placed_call(redis_conn)
    call = FollowupCall(app, rec.id)
    call.answer("human")
    for key in ("1", "1", "5"):  # it is Maria; feeling better; visit rated 5
        call.press(key)
    assert call.press("3").waiting == "record"
    done = call.record(seconds=9)
    assert done.waiting == "ended" and "Guardamos su mensaje" in words(done)  # told only once it is kept

    svc = app.extensions["ivr"]
    [vm] = svc.voicemails.recent()
    cb = svc.callbacks.get(vm.callback_id)
    assert (cb.department, cb.phone, cb.source, cb.lang) == ("nurse", PATIENT, "voicemail", "es")
    assert svc.speech_queue.job_ids == [f"voicemail-{vm.recording_sid}"]

"""An urgent callback never waits for tomorrow (issue 29, part 4).

Tried at 00:15 clinic time: a nurse marked "No answer" on an urgent "chest pain" callback and the queue said
"another try is scheduled for ... 09:00". Now an urgent one is tried again within the clinic's
``urgent_retry_minutes`` at any hour, stays at the top of its queue as "urgent, not reached", and after
``urgent_tries_before_on_call`` unanswered tries moves to the on-call desk's queue, shown on the supervisor
view. A routine one still waits for calling hours. Through the console's own pages (Flask test client, real Redis).
"""

from __future__ import annotations

import datetime as dt
import re

from ivr.store.callback_types import Outcome, RetryPolicy, Status

from .conftest import CLINIC_TZ
from .test_console_work import csrf_token, login, queue, staff, statuses, take, text  # noqa: F401  (fixtures)

MIDNIGHT = dt.datetime(2026, 12, 7, 0, 15, tzinfo=CLINIC_TZ)  # a Monday, 00:15: outside calling hours


class Now:
    def __init__(self, when: dt.datetime) -> None:
        self.t = when.timestamp()

    def __call__(self) -> float:
        return self.t


def no_answer(client, queue, cid: str) -> str:  # noqa: F811
    """Take the next callback (it must be ``cid``) and mark it "No answer"; the flash message."""
    page = take(client)
    assert cid in page, page
    resp = client.post(f"/console/callbacks/{cid}/outcome",
                       data={"csrf_token": csrf_token(client, page), "outcome": Outcome.NO_ANSWER.value})
    assert resp.status_code == 302
    return statuses(text(client.get("/console")))


def test_an_urgent_callback_not_reached_at_night_is_tried_again_within_minutes_then_goes_on_call(app, client, staff, queue):  # noqa: F811
    settings = app.extensions["ivr"].runtime.clinic.callbacks
    assert (settings.urgent_retry_minutes, settings.urgent_tries_before_on_call, settings.urgent_on_call_desk) == (10, 2, "on_call_nurse")
    now = queue.clock = Now(MIDNIGHT)
    urgent = queue.request("nurse", "+13055550147", "en", urgent=True, urgent_reason="chest pain").callback
    login(client, "nina")

    said = no_answer(client, queue, urgent.id)
    cb = queue.get(urgent.id)
    assert cb.status is Status.SCHEDULED and cb.department == "nurse"
    assert cb.not_before - now.t == 600  # 00:25, not 09:00
    assert "tried again at 00:25" in said and "top of the queue" in said
    # It stays in sight, at the top of the nurse queue, as "urgent, not reached".
    console = text(client.get("/console"))
    nurse = re.search(r'<section class="queue" data-department="nurse".*?</section>', console, re.S).group(0)
    shown = re.search(r'<table class="not-reached">(.*?)</table>', nurse, re.S)
    assert shown and f'data-callback="{urgent.id}"' in shown.group(1) and "chest pain" in shown.group(1)
    assert "Mon 07 Dec 00:25" in shown.group(1) and "0147" in shown.group(1) and "3055550147" not in console
    assert nurse.index("not-reached") < nurse.index("Nobody is waiting")

    # Nothing before its time; at 00:25 the sweep puts it back in line, and the second try also fails.
    now.t += 599
    queue.release_expired()
    assert queue.get(urgent.id).status is Status.SCHEDULED
    now.t += 1
    queue.release_expired()
    assert queue.get(urgent.id).status is Status.WAITING
    said = no_answer(client, queue, urgent.id)
    cb = queue.get(urgent.id)
    assert (cb.status, cb.department, cb.escalated_from, cb.attempts) == (Status.SCHEDULED, "on_call_nurse", "nurse", 2)
    assert cb.not_before - now.t == 600
    assert "now in the On-call nurse queue" in said
    assert [e["event"] for e in queue.history("+13055550147")][:3] == ["retry_scheduled", "escalated", "outcome"]
    # The on-call nurse queue shows it (nurses work it); the supervisor view lists it with where it came from.
    console = text(client.get("/console"))
    on_call = re.search(r'<section class="queue" data-department="on_call_nurse".*?</section>', console, re.S).group(0)
    assert f'data-callback="{urgent.id}"' in on_call and "moved here from Nurse" in on_call
    admin = client.application.test_client()
    login(admin, "ada")
    page = text(admin.get("/console/supervisor"))
    row = re.search(r'<table class="desk stack" id="not-reached">(.*?)</table>', page, re.S).group(1)
    assert f'data-callback="{urgent.id}"' in row and "On-call nurse" in row and "Nurse" in row
    # Never closed for want of an answer: a third and fourth try are scheduled in the on-call queue.
    for _ in range(2):
        now.t += 600
        queue.release_expired()
        cb = queue.claim_next(["on_call_nurse"], "nora")
        assert cb.id == urgent.id
        cb = queue.finish(cb.id, "nora", Outcome.NO_ANSWER, retry=RetryPolicy.for_clinic(app.extensions["ivr"].runtime.clinic))
        assert (cb.status, cb.department) == (Status.SCHEDULED, "on_call_nurse")
        assert cb.not_before - now.t == 600


def test_a_routine_callback_not_reached_at_night_waits_for_calling_hours(app, client, staff, queue):  # noqa: F811
    queue.clock = Now(MIDNIGHT)
    routine = queue.request("nurse", "+13055550148", "en").callback
    login(client, "nina")
    said = no_answer(client, queue, routine.id)
    cb = queue.get(routine.id)
    assert cb.status is Status.SCHEDULED and cb.department == "nurse"
    assert dt.datetime.fromtimestamp(cb.not_before, CLINIC_TZ) == MIDNIGHT.replace(hour=9, minute=0)
    assert "another try is scheduled for Mon 07 Dec 09:00" in said
    assert 'class="not-reached"' not in text(client.get("/console"))


def test_the_on_call_desk_must_be_one_of_the_desks(tmp_path):
    import pytest

    from ivr.clinic.settings import ClinicConfigError, load_clinic

    from .conftest import ROOT

    path = tmp_path / "clinic.yaml"
    path.write_text((ROOT / "config" / "clinic.yaml").read_text().replace("urgent_on_call_desk: on_call_nurse", "urgent_on_call_desk: on_cal"))
    with pytest.raises(ClinicConfigError, match=r"urgent_on_call_desk.*'on_cal' is not one of the desks"):
        load_clinic(path)


def test_urgent_callbacks_of_a_desk_with_nobody_on_duty_go_to_the_on_call_desk(app, client, staff, queue, redis_conn, clock):  # noqa: F811
    """At night nobody works the nurse queue: an urgent callback there goes to the on-call nurse at once
    (checked by the workers' sweep once a minute), keeping its place; a routine one waits for the morning."""
    from ivr.store.sessions import SessionStore
    from ivr.workers.escalation import escalate_unattended

    clinic = app.extensions["ivr"].runtime.clinic
    idle = 15 * 60
    urgent = queue.request("nurse", "+13055550147", "en", urgent=True, urgent_reason="chest pain").callback
    routine = queue.request("nurse", "+13055550148", "en").callback
    now = clock().timestamp()

    login(client, "nina")  # a nurse is on duty: nothing moves
    assert escalate_unattended(redis_conn, clinic, idle, now=now) == 0
    assert queue.get(urgent.id).department == "nurse"

    assert SessionStore(redis_conn).of_user("nina")  # still logged in, but:
    later = now + idle + 1  # her console left open, unused past the idle time: she is not on duty
    clock.set(dt.datetime.fromtimestamp(later, dt.timezone.utc))
    admin = app.test_client()
    login(admin, "ada")  # an admin active now does not count: admins do not call patients back
    assert SessionStore(redis_conn).anyone_in(["ada"], later, idle)
    assert escalate_unattended(redis_conn, clinic, idle, now=later) == 1
    moved = queue.get(urgent.id)
    assert (moved.department, moved.escalated_from, moved.status) == ("on_call_nurse", "nurse", Status.WAITING)
    assert [cb.id for cb in queue.waiting("on_call_nurse")] == [urgent.id]
    assert [cb.id for cb in queue.waiting("nurse")] == [routine.id]  # routine: stays for the nurses
    assert queue.history("+13055550147")[0]["event"] == "escalated"
    assert escalate_unattended(redis_conn, clinic, idle, now=later) == 0  # once

"""Calling hours decided by the most restrictive zone the patient may be in (issue 31, finding 1).

A declared zone, the time's offset and the phone number's area must agree; where they do not, a
follow-up is dialled only when it is inside calling hours in every one of them, never when they
share no calling minute (shown on the results page), and one number gets at most
``max_calls_per_day`` calls on any local day across all its appointments.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rq import Queue

from ivr.followups import rules
from ivr.store.followups import FollowupStore
from ivr.workers import DEFAULT_QUEUE
from ivr.workers import followup_changes
from ivr.workers import followups as jobs

from .test_call_patient import PUBLIC, twilio_env  # noqa: F401 - fixtures
from .test_followup_pages import admin_client
from .test_followup_safety import clinic_with, job_clock, run_with, visit  # noqa: F401 - fixtures

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
WASHINGTON = "+1202555{:04d}"  # area code 202: America/New_York only
TOLL_FREE = "+1800555{:04d}"  # could be anywhere


def tokyo_visit(i: int, when: dt.datetime, phone: str = WASHINGTON):
    """A visit declared in Asia/Tokyo for a number ``phone.format(i)``, two days before ``when``."""
    local = (when - dt.timedelta(days=2)).astimezone(TOKYO).replace(tzinfo=None)
    return visit(local.isoformat(timespec="minutes"), phone=phone.format(i), provider=f"Dr. {i}", timezone="Asia/Tokyo")


def test_a_tokyo_declared_washington_number_is_dialled_only_when_it_is_day_in_both(
        redis_conn, run_with, job_clock, twilio_env, prism):
    """Every quarter hour of a day, a fresh follow-up's job runs: only 19:00-20:00 Eastern is 09:00-20:00 in both."""
    run_with(clinic_with(calls_per_second=50.0))
    store = FollowupStore(redis_conn)
    start = dt.datetime(2026, 12, 8, 0, 0, tzinfo=NY)
    placed = []
    for i in range(96):
        now = start + dt.timedelta(minutes=15 * i)
        job_clock(now)
        a = tokyo_visit(i, now)
        store.add(a)
        if jobs.place_followup(a.id, 1, 0) == "placed":
            placed.append(now)
        else:
            rec = store.get(a.id)
            assert rec.status == "scheduled" and rec.last_reason == rules.OUTSIDE_HOURS
            later = dt.datetime.fromtimestamp(rec.next_try_at, NY)  # the next try: 09:00-20:00 in both zones
            assert dt.time(19) <= later.time() < dt.time(20) and dt.time(9) <= later.astimezone(TOKYO).time() < dt.time(20)
    assert prism.calls_created(twilio_env) == len(placed) == 4  # 19:00, 19:15, 19:30, 19:45 Eastern
    assert all(dt.time(19) <= t.time() < dt.time(20) for t in placed)


def test_two_appointments_for_one_number_give_one_call_on_its_local_day(redis_conn, run_with, job_clock, twilio_env, prism):
    """One declared in New York, one in Tokyo, for a Washington number and for a number with no area."""
    run_with(clinic_with(calls_per_second=50.0))
    store = FollowupStore(redis_conn)
    morning, evening = dt.datetime(2026, 12, 8, 9, 0, tzinfo=NY), dt.datetime(2026, 12, 8, 19, 0, tzinfo=NY)
    for i, number in enumerate((WASHINGTON, TOLL_FREE)):
        phone = number.format(100 + i)
        here = visit((morning - dt.timedelta(days=2)).isoformat(), phone=phone, provider="Dr. Here",
                     timezone="America/New_York")
        there = tokyo_visit(100 + i, evening, phone=number)
        store.add(here)
        store.add(there)
        job_clock(morning)  # 23:00 in Tokyo
        assert jobs.place_followup(here.id, 1, 0) == "placed"
        job_clock(evening)  # 09:00 tomorrow in Tokyo, but the same day in New York
        assert jobs.place_followup(there.id, 1, 0) == "deferred"
        rec = store.get(there.id)
        assert rec.last_reason == rules.DAILY_LIMIT
        later = dt.datetime.fromtimestamp(rec.next_try_at, NY)
        assert later.date() > evening.date() and len(store.past_calls(phone)) == 1
    assert prism.calls_created(twilio_env) == 2  # one each, never two on one day


def test_the_dial_guard_counts_the_day_from_the_earliest_midnight_of_the_patients_zones(redis_conn):
    """The last check, in one script with the dial guard: a call at 09:00 New York counts on Tokyo's day too."""
    clock = {"t": dt.datetime(2026, 12, 8, 9, 0, tzinfo=NY)}
    store = FollowupStore(redis_conn, clock=lambda: clock["t"].timestamp())
    a = tokyo_visit(200, dt.datetime(2026, 12, 8, 19, 0, tzinfo=NY))
    b = visit("2026-12-06T09:00", phone=a.phone, provider="Dr. B", timezone="America/New_York")
    store.add(a)
    store.add(b)
    clinic = clinic_with()
    assert store.claim_dial(b.id, 1, b.phone, dt.datetime(2026, 12, 8, tzinfo=NY), 1, 3) == "ok"
    clock["t"] = dt.datetime(2026, 12, 8, 19, 0, tzinfo=NY)  # 09:00 on the 9th in Tokyo
    hours = jobs.calling_hours(clinic.followups, clinic, a.timezone, a.phone, a.at)
    start = rules.day_start(hours, clock["t"])
    assert start == dt.datetime(2026, 12, 8, 0, 0, tzinfo=NY)  # not Tokyo's midnight (10:00 New York time)
    assert store.claim_dial(a.id, 1, a.phone, start, 1, 3) == "daily_limit"
    assert store.past_call_zones(a.phone) == [("America/New_York", b.phone, b.at)]


def test_an_offset_only_time_for_a_washington_number_in_july_is_judged_with_edt(redis_conn, run_with):
    """19:30 at -06:00 matches no zone of the number: it is New York's time, summer time and all."""
    a = visit("2027-07-09T19:30:00-06:00", phone=WASHINGTON.format(300))
    assert a.timezone == "America/New_York"  # not a fixed UTC-06:00
    clinic = clinic_with()
    first = jobs.first_call_time(a.at, a.timezone, clinic, a.at, a.phone)
    wall = first.astimezone(NY)
    assert wall == dt.datetime(2027, 7, 11, 9, 0, tzinfo=NY)  # 24 h later is 21:30 EDT: too late, so next morning
    assert wall.utcoffset() == dt.timedelta(hours=-4)


def test_a_fixed_offset_is_read_as_the_real_zones_with_that_offset_then():
    """A number with no area and an offset matching no clinic zone: every zone of its country with that offset."""
    at = dt.datetime(2026, 10, 20, 12, tzinfo=dt.timezone(dt.timedelta(hours=-6)))
    zones = rules.patient_zones("UTC-06:00", TOLL_FREE.format(1), at)
    assert zones[0] == "UTC-06:00" and "America/Denver" in zones and "America/Regina" in zones
    assert "America/New_York" not in zones and "America/Chicago" not in zones  # -05:00 then
    clinic = clinic_with()
    hours = jobs.calling_hours(clinic.followups, clinic, "UTC-06:00", TOLL_FREE.format(1), at)
    # After November's change Denver is at -07:00: 19:30 at -06:00 is 18:30 there, 20:30 is past 20:00 in Regina.
    assert hours.allows(dt.datetime(2026, 11, 10, 19, 30, tzinfo=dt.timezone(dt.timedelta(hours=-6))))
    assert not hours.allows(dt.datetime(2026, 11, 10, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-6))))  # 08:30 Denver


def test_zones_that_share_no_calling_minute_are_never_dialled_and_the_page_says_why(
        app, redis_conn, run_with, job_clock, twilio_env, prism):
    run_with(clinic_with(calling_hours="09:00-17:00", calls_per_second=50.0))  # Tokyo's and Washington's never meet
    store = FollowupStore(redis_conn)
    now = dt.datetime(2026, 12, 8, 12, 0, tzinfo=NY)
    job_clock(now)
    a = tokyo_visit(400, now)
    store.add(a)
    assert jobs.place_followup(a.id, 1, 0) == "stopped"
    rec = store.get(a.id)
    assert (rec.status, rec.last_reason, rec.next_try_at) == ("scheduled", rules.NO_COMMON_HOURS, 0)
    assert prism.calls_created(twilio_env) == 0

    client = admin_client(app)
    page = client.get(f"/admin/followups/{a.id}").get_data(as_text=True)
    assert "Not called: the appointment&#39;s time zone (Asia/Tokyo) and the phone number&#39;s area " \
           "(America/New_York) share no time inside calling hours" in page
    summary = client.get("/admin/followups").get_data(as_text=True)
    assert "Not called: time zones disagree" in summary

    # The scheduling system sends it again with the patient's real zone: scheduled as usual.
    fixed = visit(a.at.astimezone(NY).replace(tzinfo=None).isoformat(), phone=a.phone, provider=a.provider,
                  timezone="America/New_York")
    assert fixed.id == a.id
    changes = followup_changes.apply_changes(Queue(DEFAULT_QUEUE, connection=redis_conn), store, [(0, fixed)],
                                 clinic_with(calling_hours="09:00-17:00"), now)
    assert changes.updated == 1
    rec = store.get(a.id)
    assert rec.status == "scheduled" and rec.next_try_at and rec.last_reason == "moved"

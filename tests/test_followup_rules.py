"""The gate before every follow-up call, as properties across time zones and daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.clinic.calling_hours import CallingHours
from ivr.followups import rules
from ivr.clinic.hours import Span

UTC = dt.timezone.utc
# Zones with spring-forward and fall-back changes (both hemispheres, half-hour ones, a 30-minute DST),
# and some without any.
ZONES = [
    "America/New_York", "America/Los_Angeles", "America/Phoenix", "Europe/London", "Europe/Berlin",
    "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata", "Pacific/Chatham",
    "America/St_Johns", "America/Havana",
]
# Instants around 2026's DST changes in the zones above, plus anywhere in the year.
CHANGES = [
    dt.datetime(2026, 3, 8, 7, tzinfo=UTC), dt.datetime(2026, 11, 1, 6, tzinfo=UTC),
    dt.datetime(2026, 3, 29, 1, tzinfo=UTC), dt.datetime(2026, 10, 25, 1, tzinfo=UTC),
    dt.datetime(2026, 4, 4, 16, tzinfo=UTC), dt.datetime(2026, 10, 3, 16, tzinfo=UTC),
]
HOLIDAYS = frozenset({dt.date(2026, 11, 26), dt.date(2026, 12, 25), dt.date(2027, 1, 1), dt.date(2026, 3, 9)})


@st.composite
def instants(draw) -> dt.datetime:
    if draw(st.booleans()):
        base = draw(st.sampled_from(CHANGES))
        return base + dt.timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    return dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=draw(st.integers(0, 400 * 1440)))


@st.composite
def windows(draw) -> Span:
    start = draw(st.integers(8 * 60, 20 * 60))
    end = draw(st.integers(start + 1, 21 * 60))
    return Span(start, end)


@st.composite
def situations(draw):
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    # A patient who may be in more zones (a declared zone the phone number's area disagrees with).
    also = tuple(ZoneInfo(z) for z in draw(st.lists(st.sampled_from(ZONES), max_size=2, unique=True)))
    hours = CallingHours(zone, draw(windows()), HOLIDAYS, also=tuple(z for z in also if z != zone))
    now = draw(instants())
    past = [now - dt.timedelta(minutes=m) for m in draw(st.lists(st.integers(1, 9 * 1440), max_size=5))]
    limits = rules.Limits(draw(st.integers(1, 2)), draw(st.integers(1, 4)))
    return hours, now, past, limits


def allowed_by_every_rule(hours: CallingHours, past, limits: rules.Limits, when: dt.datetime) -> bool:
    """The rules read plainly, in every zone the patient may be in."""
    for zone in hours.zones:
        local = when.astimezone(zone)
        if not hours.window.start <= local.hour * 60 + local.minute < hours.window.end:
            return False
        if local.date() in hours.holidays:
            return False
        if sum(1 for p in past if p.astimezone(zone).date() == local.date()) >= limits.per_day:
            return False
    return len(rules.calls_in_week(past, when)) < limits.per_week


@settings(max_examples=300, deadline=None)
@given(situations())
def test_a_yes_is_inside_local_calling_hours_off_holidays_and_under_the_limits(case):
    hours, now, past, limits = case
    decision = rules.decide(now, hours, past, limits)
    assert decision.allowed == allowed_by_every_rule(hours, past, limits, now)
    if not decision.allowed:
        assert decision.reason in (rules.OUTSIDE_HOURS, rules.HOLIDAY, rules.DAILY_LIMIT, rules.WEEKLY_LIMIT,
                                   rules.NO_COMMON_HOURS)


@settings(max_examples=300, deadline=None)
@given(situations(), st.lists(st.floats(0, 1), min_size=5, max_size=5))
def test_a_no_names_the_earliest_allowed_time(case, fractions):
    hours, now, past, limits = case
    decision = rules.decide(now, hours, past, limits)
    if decision.allowed:
        return
    later = decision.not_before
    if decision.reason == rules.NO_COMMON_HOURS:  # zones whose windows never meet: never called
        assert later is None and hours.also
        # (a minute they share today may be spent by today's call: what counts is every rule, limits too)
        assert not any(allowed_by_every_rule(hours, past, limits, now + dt.timedelta(minutes=m)) for m in range(0, 8 * 1440, 15))
        return
    assert later is not None and later > now
    assert allowed_by_every_rule(hours, past, limits, later)  # the answer is allowed ...
    for zone in hours.zones:  # ... never outside 08:00-21:00 local, wherever the patient is
        local = later.astimezone(zone)
        assert 8 * 60 <= local.hour * 60 + local.minute < 21 * 60
    # ... and nothing before it is (checked at the minute before, and at random instants in between).
    before = [later - dt.timedelta(seconds=1), later - dt.timedelta(minutes=1)] + [now + (later - now) * f for f in fractions]
    for t in before:
        if now <= t < later:
            assert not allowed_by_every_rule(hours, past, limits, t), t


def test_opted_out_and_past_the_deadline_are_never():
    hours = CallingHours(ZoneInfo("America/New_York"), Span(9 * 60, 20 * 60))
    now = dt.datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert rules.decide(now, hours, opted_out=True) == rules.Decision(False, rules.OPTED_OUT, None)
    assert rules.decide(now, hours, deadline=now - dt.timedelta(seconds=1)).reason == rules.TOO_LATE
    # A next time after the deadline is no next time.
    evening = dt.datetime(2026, 11, 24, 21, 30, tzinfo=ZoneInfo("America/New_York"))
    assert rules.decide(evening, hours, deadline=evening + dt.timedelta(hours=2)).not_before is None


def test_spring_forward_day_the_window_still_opens_at_nine_local():
    zone = ZoneInfo("America/New_York")
    hours = CallingHours(zone, Span(9 * 60, 20 * 60))
    night = dt.datetime(2026, 3, 8, 1, 30, tzinfo=zone)  # clocks jump 02:00 -> 03:00 this night
    decision = rules.decide(night, hours)
    assert decision.reason == rules.OUTSIDE_HOURS
    assert decision.not_before == dt.datetime(2026, 3, 8, 9, 0, tzinfo=zone)
    assert decision.not_before.utcoffset() == dt.timedelta(hours=-4)


def test_one_call_a_day_means_the_next_local_morning_in_the_patients_zone():
    zone = ZoneInfo("Australia/Sydney")
    hours = CallingHours(zone, Span(9 * 60, 20 * 60))
    called = dt.datetime(2026, 10, 3, 10, 0, tzinfo=zone)  # the day before Sydney's clocks go forward
    decision = rules.decide(called + dt.timedelta(hours=2), hours, [called], rules.Limits(1, 3))
    assert decision.reason == rules.DAILY_LIMIT
    assert decision.not_before == dt.datetime(2026, 10, 4, 9, 0, tzinfo=zone)


def test_three_a_week_waits_until_the_oldest_call_is_seven_days_old():
    zone = ZoneInfo("America/Chicago")
    hours = CallingHours(zone, Span(9 * 60, 20 * 60))
    calls = [dt.datetime(2026, 11, d, 10, 0, tzinfo=zone) for d in (2, 4, 6)]
    decision = rules.decide(dt.datetime(2026, 11, 7, 10, 0, tzinfo=zone), hours, calls, rules.Limits(1, 3))
    assert decision.reason == rules.WEEKLY_LIMIT
    assert decision.not_before == dt.datetime(2026, 11, 9, 10, 0, tzinfo=zone)

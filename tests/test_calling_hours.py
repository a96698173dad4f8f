"""When patients may be called: a local wall-clock window, holidays skipped, across DST in many zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.clinic.calling_hours import CallingHours, NoCallingTime
from ivr.clinic.settings import ClinicSettings, load_clinic
from ivr.clinic.hours import Span

from .conftest import ROOT

NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc
THANKSGIVING = dt.date(2026, 11, 26)  # Thursday


def ny(*args, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY, fold=fold)


def hours(window: str = "09:00-20:00", holidays=(), zone: ZoneInfo = NY, days=None) -> CallingHours:
    extra = {} if days is None else {"days": frozenset(days)}
    return CallingHours(zone, Span.parse(window), frozenset(holidays), **extra)


# The window -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when, allowed",
    [
        (ny(2026, 11, 24, 8, 59, 59), False),
        (ny(2026, 11, 24, 9, 0), True),  # start is inclusive
        (ny(2026, 11, 24, 19, 59, 59), True),
        (ny(2026, 11, 24, 20, 0), False),  # end is exclusive
        (ny(2026, 11, 26, 12, 0), False),  # Thanksgiving
        (ny(2026, 11, 29, 12, 0), True),  # a Sunday: calling days are every day by default
    ],
)
def test_allows_by_local_wall_clock(when, allowed):
    assert hours(holidays=[THANKSGIVING]).allows(when) is allowed
    assert hours(holidays=[THANKSGIVING]).allows(when.astimezone(UTC)) is allowed


def test_inside_the_window_the_answer_is_now():
    when = ny(2026, 11, 24, 10, 17, 3)
    assert hours().next_allowed(when) == when


def test_after_the_window_it_is_the_next_morning():
    # The retry case: no answer at 19:50, 30 min spacing -> 20:20, past the window.
    assert hours().next_allowed(ny(2026, 11, 24, 20, 20)) == ny(2026, 11, 25, 9, 0)
    assert hours().next_allowed(ny(2026, 11, 24, 20, 0)) == ny(2026, 11, 25, 9, 0)


def test_before_the_window_it_is_the_same_morning():
    assert hours().next_allowed(ny(2026, 11, 24, 3, 0)) == ny(2026, 11, 24, 9, 0)


def test_holidays_are_skipped():
    # Wednesday evening before Thanksgiving -> Friday morning.
    h = hours(holidays=[THANKSGIVING])
    assert h.next_allowed(ny(2026, 11, 25, 20, 20)) == ny(2026, 11, 27, 9, 0)
    assert h.next_allowed(ny(2026, 11, 26, 10, 0)) == ny(2026, 11, 27, 9, 0)
    # Two holidays in a row.
    h = hours(holidays=[THANKSGIVING, dt.date(2026, 11, 27)])
    assert h.next_allowed(ny(2026, 11, 25, 21, 0)) == ny(2026, 11, 28, 9, 0)


def test_weekdays_can_be_limited():
    weekdays = hours(days=range(5))
    assert weekdays.next_allowed(ny(2026, 11, 27, 20, 30)) == ny(2026, 11, 30, 9, 0)  # Fri -> Mon
    with pytest.raises(NoCallingTime):
        hours(days=[]).next_allowed(ny(2026, 11, 27, 20, 30))


def test_result_is_in_the_zone_and_naive_times_are_refused():
    assert hours().next_allowed(dt.datetime(2026, 11, 25, 2, 0, tzinfo=UTC)).tzinfo is NY
    with pytest.raises(ValueError, match="aware"):
        hours().allows(dt.datetime(2026, 11, 24, 10, 0))


# Daylight saving ------------------------------------------------------------------------


def test_dst_week_keeps_nine_oclock_local():
    # Clocks go forward on Sunday 2026-03-08 (UTC-5 -> UTC-4).
    h = hours()
    nine_before = h.next_allowed(ny(2026, 3, 7, 20, 20))
    nine_after = h.next_allowed(ny(2026, 3, 8, 20, 20))
    assert nine_before == ny(2026, 3, 8, 9, 0) and nine_before.astimezone(UTC).hour == 13
    assert nine_after == ny(2026, 3, 9, 9, 0) and nine_after.astimezone(UTC).hour == 13
    assert h.next_allowed(ny(2026, 3, 6, 20, 20)).astimezone(UTC).hour == 14  # Saturday, still EST
    # Clocks go back on Sunday 2026-11-01.
    assert h.next_allowed(ny(2026, 10, 31, 21, 0)).astimezone(UTC) == dt.datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


def test_window_starting_in_the_spring_gap_opens_at_the_jump():
    # 02:30 does not exist on 2026-03-08: at 07:00Z clocks jump from 02:00 EST to 03:00 EDT.
    h = hours("02:30-05:00")
    got = h.next_allowed(ny(2026, 3, 8, 0, 0))
    assert got.astimezone(UTC) == dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert (got.hour, got.minute) == (3, 0)
    assert not h.allows(got.astimezone(UTC) - dt.timedelta(seconds=1))  # UTC: real time, not wall time
    # The next day it is 02:30 again.
    assert h.next_allowed(ny(2026, 3, 8, 6, 0)) == ny(2026, 3, 9, 2, 30)


def test_repeated_fall_hour_is_allowed_both_times():
    h = hours("01:00-01:30")
    first = ny(2026, 11, 1, 1, 15)
    assert h.allows(first) and h.allows(ny(2026, 11, 1, 1, 15, fold=1))
    # At 01:45 EDT the window is over once, and opens again at 01:00 EST, 15 minutes later.
    got = h.next_allowed(ny(2026, 11, 1, 1, 45))
    assert got.astimezone(UTC) == dt.datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    assert got.astimezone(UTC) - ny(2026, 11, 1, 1, 45).astimezone(UTC) == dt.timedelta(minutes=15)


def test_for_clinic_uses_the_calling_window_and_full_day_holidays():
    clinic: ClinicSettings = load_clinic(ROOT / "config" / "clinic.yaml")
    h = CallingHours.for_clinic(clinic)
    assert h.timezone == ZoneInfo(clinic.timezone)
    assert h.window == clinic.callbacks.calling_window
    assert THANKSGIVING in h.holidays
    assert dt.date(2026, 12, 24) not in h.holidays  # Christmas Eve has reduced hours, not closed
    assert dt.date(2026, 12, 25) in h.holidays


# Properties, across zones ---------------------------------------------------------------

ZONES = [
    "America/New_York",
    "Europe/London",
    "Europe/Dublin",  # "negative" DST in tzdata
    "Australia/Lord_Howe",  # 30-minute DST
    "America/St_Johns",  # UTC-3:30
    "Pacific/Chatham",  # UTC+12:45 / +13:45
    "America/Santiago",  # changes at midnight
    "Asia/Tehran",
    "Africa/Casablanca",  # DST suspended during Ramadan
    "Asia/Kolkata",
    "UTC",
]
# Days with clock changes in some of those zones, and ordinary days.
AROUND = [
    dt.datetime(2026, 3, 8, tzinfo=UTC),
    dt.datetime(2026, 3, 29, tzinfo=UTC),
    dt.datetime(2026, 4, 5, tzinfo=UTC),
    dt.datetime(2026, 9, 6, tzinfo=UTC),
    dt.datetime(2026, 10, 4, tzinfo=UTC),
    dt.datetime(2026, 10, 25, tzinfo=UTC),
    dt.datetime(2026, 11, 1, tzinfo=UTC),
    dt.datetime(2026, 2, 15, tzinfo=UTC),
    dt.datetime(2026, 3, 22, tzinfo=UTC),
    dt.datetime(2026, 6, 17, tzinfo=UTC),
]


@st.composite
def windows(draw) -> Span:
    start = draw(st.integers(0, 23 * 60 + 59))
    end = draw(st.integers(start + 1, 24 * 60))
    return Span(start, end)


@st.composite
def cases(draw) -> tuple[CallingHours, dt.datetime]:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    base = draw(st.sampled_from(AROUND))
    when = base + dt.timedelta(seconds=draw(st.integers(-3 * 86400, 3 * 86400)))
    local_day = when.astimezone(zone).date()
    holidays = draw(st.sets(st.integers(-1, 4), max_size=3))
    h = CallingHours(zone, draw(windows()), frozenset(local_day + dt.timedelta(days=d) for d in holidays))
    return h, when


@settings(max_examples=300, deadline=None)
@given(cases())
def test_next_allowed_is_allowed_and_not_before(case):
    h, when = case
    got = h.next_allowed(when)
    assert got >= when
    assert h.allows(got)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_no_allowed_minute_is_skipped(case):
    h, when = case
    got = h.next_allowed(when).astimezone(UTC)  # UTC: arithmetic on real time, not wall time
    assert (got - when) < dt.timedelta(days=6)
    # Every whole UTC minute between the two (all these zones' offsets are whole minutes,
    # so local minutes start on UTC minutes) is outside the window...
    t = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while t < got:
        assert not h.allows(t), f"{t.astimezone(h.timezone)} is allowed but next_allowed gave {got}"
        t += dt.timedelta(minutes=1)
    # ...and so is the instant just before the answer: it is the earliest.
    if got > when:
        assert not h.allows(got - dt.timedelta(microseconds=1))

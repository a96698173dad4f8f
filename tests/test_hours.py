"""Business hours in the clinic's own time zone, across daylight-saving changes and holidays."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.clinic.hours import Holiday, OpenStatus, Schedule, Span, parse_spans

NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc

OPEN, CLOSED, HOLIDAY = OpenStatus.OPEN, OpenStatus.CLOSED, OpenStatus.HOLIDAY

# The clinic's week, as an administrator writes it (local wall-clock times).
WEEK = {
    0: ["08:00-17:00"],  # Monday
    1: ["08:00-12:00", "13:00-17:00"],  # Tuesday, closed for lunch
    2: ["08:00-17:00"],
    3: ["08:00-19:00"],
    4: ["08:00-17:00"],
    5: ["09:00-12:00"],  # Saturday
    6: ["20:00-24:00"],  # Sunday evening line, until midnight
}
THANKSGIVING = dt.date(2026, 11, 26)  # a Thursday
CHRISTMAS_EVE = dt.date(2026, 12, 24)  # a Thursday, reduced hours


def schedule() -> Schedule:
    return Schedule(
        NY,
        {day: parse_spans(spans) for day, spans in WEEK.items()},
        {
            THANKSGIVING: Holiday(THANKSGIVING, "Thanksgiving Day"),
            CHRISTMAS_EVE: Holiday(CHRISTMAS_EVE, "Christmas Eve", parse_spans(["08:00-12:00"])),
        },
    )


S = schedule()


def local(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


# Daylight saving ------------------------------------------------------------------


def test_spring_change_moves_the_utc_opening_not_the_local_one():
    # Clocks go forward on Sunday 2026-03-08: New York is UTC-5 before, UTC-4 after.
    after = local(2026, 3, 9, 8, 30)  # Monday after the change
    before = local(2026, 3, 2, 8, 30)  # a week earlier
    assert after.astimezone(UTC) == utc(2026, 3, 9, 12, 30)
    assert before.astimezone(UTC) == utc(2026, 3, 2, 13, 30)
    assert S.status(after) is OPEN and S.status(before) is OPEN
    assert S.status(utc(2026, 3, 9, 12, 30)) is OPEN
    assert S.status(utc(2026, 3, 2, 13, 30)) is OPEN
    # 12:30Z was 07:30 local a week before the change: not open yet.
    assert S.status(utc(2026, 3, 2, 12, 30)) is CLOSED
    # 11:59Z on the Monday after is 07:59 local: still closed.
    assert S.status(utc(2026, 3, 9, 11, 59)) is CLOSED
    assert S.status(utc(2026, 3, 9, 12, 0)) is OPEN


def test_fall_change_moves_the_utc_closing_not_the_local_one():
    # Clocks go back on Sunday 2026-11-01: UTC-4 before, UTC-5 after.
    assert local(2026, 11, 2, 8, 30).astimezone(UTC) == utc(2026, 11, 2, 13, 30)
    assert local(2026, 10, 26, 8, 30).astimezone(UTC) == utc(2026, 10, 26, 12, 30)
    assert S.status(utc(2026, 10, 26, 12, 30)) is OPEN  # 08:30 EDT
    assert S.status(utc(2026, 11, 2, 12, 30)) is CLOSED  # 07:30 EST
    assert S.status(utc(2026, 11, 2, 13, 30)) is OPEN
    # Closing: 17:00 local is 21:00Z before the change and 22:00Z after it.
    assert S.status(utc(2026, 10, 26, 20, 59)) is OPEN
    assert S.status(utc(2026, 10, 26, 21, 0)) is CLOSED
    assert S.status(utc(2026, 11, 2, 21, 30)) is OPEN  # 16:30 EST
    assert S.status(utc(2026, 11, 2, 22, 0)) is CLOSED


def test_the_change_days_themselves():
    # Sunday hours 20:00-24:00 on both change days, judged by the local clock.
    assert S.status(local(2026, 3, 8, 20, 0)) is OPEN
    assert S.status(utc(2026, 3, 9, 0, 0)) is OPEN  # 20:00 EDT
    assert S.status(utc(2026, 3, 8, 23, 59)) is CLOSED  # 19:59 EDT
    assert S.status(utc(2026, 11, 2, 1, 0)) is OPEN  # 20:00 EST
    assert S.status(utc(2026, 11, 2, 0, 59)) is CLOSED  # 19:59 EST
    # The repeated hour 01:00-02:00 on 2026-11-01 is closed both times.
    assert S.status(utc(2026, 11, 1, 5, 30)) is CLOSED
    assert S.status(utc(2026, 11, 1, 6, 30)) is CLOSED


# Edges of a day --------------------------------------------------------------------


@pytest.mark.parametrize(
    "when, expected",
    [
        (local(2026, 3, 9, 7, 59), CLOSED),
        (local(2026, 3, 9, 8, 0), OPEN),  # start is inclusive
        (local(2026, 3, 9, 16, 59), OPEN),
        (local(2026, 3, 9, 17, 0), CLOSED),  # end is exclusive
        (local(2026, 3, 10, 11, 59), OPEN),  # Tuesday morning
        (local(2026, 3, 10, 12, 30), CLOSED),  # Tuesday lunch
        (local(2026, 3, 10, 13, 0), OPEN),
        (local(2026, 3, 12, 18, 30), OPEN),  # Thursday late
        (local(2026, 3, 12, 19, 0), CLOSED),
        (local(2026, 3, 14, 9, 0), OPEN),  # Saturday
        (local(2026, 3, 14, 12, 0), CLOSED),
        (local(2026, 3, 15, 12, 0), CLOSED),  # Sunday daytime
        (local(2026, 3, 15, 23, 59), OPEN),  # 24:00 end: open to the last minute
        (local(2026, 3, 16, 0, 0), CLOSED),  # ...and Monday 00:00 is Monday's
    ],
)
def test_day_edges(when, expected):
    assert S.status(when) is expected


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="aware"):
        S.status(dt.datetime(2026, 3, 9, 10, 0))


# Holidays ------------------------------------------------------------------------------


@pytest.mark.parametrize("hour", [0, 8, 10, 16, 18, 23])
def test_holiday_is_closed_all_day(hour):
    # A Thursday, normally open 08:00-19:00.
    assert S.status(local(2026, 11, 26, hour, 0)) is HOLIDAY
    assert S.holiday_on(local(2026, 11, 26, hour, 0)).name == "Thanksgiving Day"


def test_the_days_around_a_holiday_are_ordinary():
    assert S.status(local(2026, 11, 25, 10, 0)) is OPEN
    assert S.status(local(2026, 11, 27, 10, 0)) is OPEN
    assert S.holiday_on(local(2026, 11, 27, 10, 0)) is None


@pytest.mark.parametrize(
    "hour, minute, expected",
    [(7, 59, HOLIDAY), (8, 0, OPEN), (11, 59, OPEN), (12, 0, HOLIDAY), (17, 0, HOLIDAY)],
)
def test_reduced_hours_holiday_is_open_only_inside_its_hours(hour, minute, expected):
    assert S.status(local(2026, 12, 24, hour, minute)) is expected


def test_holiday_is_judged_by_the_clinic_local_date():
    # 02:30Z on Nov 27 is still 21:30 on Thanksgiving in New York.
    assert S.status(utc(2026, 11, 27, 2, 30)) is HOLIDAY
    assert S.holiday_on(utc(2026, 11, 27, 2, 30)).date == THANKSGIVING
    # 03:30Z on Nov 26 is 22:30 on the Wednesday before: an ordinary closed evening.
    assert S.status(utc(2026, 11, 26, 3, 30)) is CLOSED
    assert S.holiday_on(utc(2026, 11, 26, 3, 30)) is None
    # Christmas Eve's reduced hours, by the local clock: 16:30Z is 11:30 EST.
    assert S.status(utc(2026, 12, 24, 16, 30)) is OPEN
    assert S.status(utc(2026, 12, 24, 17, 30)) is HOLIDAY


def test_holiday_judged_locally_even_when_the_instant_is_given_in_another_zone():
    tokyo = ZoneInfo("Asia/Tokyo")
    when = dt.datetime(2026, 11, 27, 11, 30, tzinfo=tokyo)  # 21:30 Nov 26 in New York
    assert S.status(when) is HOLIDAY


# Spans ----------------------------------------------------------------------------------


def test_span_parsing():
    assert Span.parse("08:00-17:00") == Span(8 * 60, 17 * 60)
    assert Span.parse(" 8:30 - 12:15 ") == Span(8 * 60 + 30, 12 * 60 + 15)
    assert Span.parse("20:00-24:00") == Span(20 * 60, 24 * 60)
    assert str(Span.parse("8:05-9:00")) == "08:05-09:00"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("17:00-08:00", "ends before it starts"),
        ("22:00-02:00", "crosses midnight"),
        ("12:00-12:00", "ends before it starts"),
        ("25:00-26:00", "does not exist"),
        ("08:00-25:00", "does not exist"),
        ("08:60-09:00", "does not exist"),
        ("24:00-24:30", "does not exist"),
        ("08:00-24:30", "does not exist"),
        ("8-5", "like '08:00-17:00'"),
        ("08:00 to 17:00", "like '08:00-17:00'"),
        ("", "like '08:00-17:00'"),
    ],
)
def test_span_errors_are_clear(text, reason):
    with pytest.raises(ValueError) as info:
        Span.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert reason in message


def test_overlapping_spans_are_rejected_naming_both():
    with pytest.raises(ValueError) as info:
        parse_spans(["13:00-17:00", "08:00-13:30"])
    message = str(info.value)
    assert "overlap" in message
    assert "08:00-13:30" in message and "13:00-17:00" in message


def test_the_same_span_twice_overlaps():
    with pytest.raises(ValueError, match="overlap"):
        parse_spans(["08:00-12:00", "08:00-12:00"])


def test_touching_spans_are_fine_and_leave_no_gap():
    spans = parse_spans(["12:00-17:00", "08:00-12:00"])
    assert spans == (Span(480, 720), Span(720, 1020))  # sorted
    s = Schedule(NY, {0: spans})
    assert s.status(local(2026, 3, 9, 11, 59)) is OPEN
    assert s.status(local(2026, 3, 9, 12, 0)) is OPEN


def test_empty_day_is_closed():
    s = Schedule(NY, {0: parse_spans([])})
    assert s.status(local(2026, 3, 9, 10, 0)) is CLOSED


# Property: only the local wall clock matters ------------------------------------------

instants = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31, 23, 59), timezones=st.just(UTC)
)


def expected_status(wall: dt.datetime) -> OpenStatus:
    """An independent reading of WEEK and the holidays for a local wall-clock time."""
    t = wall.time().replace(second=0, microsecond=0)

    def inside(spans: list[str]) -> bool:
        for span in spans:
            a, b = span.split("-")
            start = dt.time.fromisoformat(a)
            if b == "24:00":
                if t >= start:
                    return True
            elif start <= t < dt.time.fromisoformat(b):
                return True
        return False

    if wall.date() == THANKSGIVING:
        return HOLIDAY
    if wall.date() == CHRISTMAS_EVE:
        return OPEN if inside(["08:00-12:00"]) else HOLIDAY
    return OPEN if inside(WEEK[wall.weekday()]) else CLOSED


@settings(max_examples=300, deadline=None, database=None)
@given(when=instants)
def test_status_matches_the_local_wall_clock(when):
    wall = when.astimezone(NY)
    assert S.status(when) is expected_status(wall)


@settings(max_examples=200, deadline=None, database=None)
@given(when=instants, offset_minutes=st.integers(-12 * 60, 14 * 60))
def test_status_does_not_depend_on_how_the_instant_is_written(when, offset_minutes):
    other = when.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))
    assert other == when
    assert S.status(other) is S.status(when) is S.status(when.astimezone(NY))


@settings(max_examples=200, deadline=None, database=None)
@given(when=instants, weeks=st.integers(1, 52))
def test_same_local_time_weeks_later_has_the_same_status(when, weeks):
    # Across daylight-saving changes the UTC offset differs; the wall clock decides.
    wall = when.astimezone(NY).replace(tzinfo=None)
    later_wall = wall + dt.timedelta(weeks=weeks)
    later = later_wall.replace(tzinfo=NY)
    if later.astimezone(UTC).astimezone(NY).replace(tzinfo=None) != later_wall:
        return  # a wall time that does not exist (skipped by the spring change)
    if {wall.date(), later_wall.date()} & {THANKSGIVING, CHRISTMAS_EVE}:
        return
    assert S.status(later) is S.status(when)

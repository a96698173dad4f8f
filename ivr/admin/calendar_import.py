"""Holidays from an iCalendar (.ics) file: each all-day VEVENT's days and SUMMARY.

An event of several days (DTEND, which is exclusive, or DURATION) becomes one holiday per day,
named "Name (day 2 of 3)" so the preview says so; at most MAX_DAYS days per event. Events that
have no summary, or whose date cannot be read (an impossible date such as 20261345 or February 30)
are reported, not imported; dates already in the clinic's holidays are skipped.

A timed event (a staff party 12:00-17:00) is read in the clinic's time zone (a time in UTC or
another zone is converted; a time without a zone is clinic time) and closes the clinic only for
that part of the day: the day becomes a holiday with reduced hours, the day's usual opening hours
minus the event (two timed events on one day are both taken out). An event crossing midnight,
clinic time, does so on each day it touches. The preview says what will happen in clinic time
("closed from 12:00 (event 'Staff party', 12:00-17:00 clinic time)"); an event while the clinic is
closed anyway changes nothing and the preview says so too. A timed event without an end, or on a
day that is a holiday already, is reported, not imported. Without the clinic's schedule (``read``
called without it) timed events are reported, as they cannot be placed. An event more than
MAX_YEARS_AWAY years from today, or lasting longer than any date can reach (``DURATION:P99999999D``),
is reported as well: one such event never stops the others from being imported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import icalendar

from ivr.clinic.hours import WEEKDAYS, Schedule, Span

MAX_BYTES = 1024 * 1024
MAX_PROBLEMS = 50  # listed on the page; the rest are counted
MAX_DAYS = 31  # an all-day event longer than this is reported, not imported
MAX_YEARS_AWAY = 2  # an event starting further from today than this is a typo or a placeholder date


@dataclass
class Preview:
    new: list[tuple[dt.date, str]] = field(default_factory=list)  # to add
    duplicates: list[tuple[dt.date, str]] = field(default_factory=list)  # already holidays
    problems: list[str] = field(default_factory=list)  # events that cannot be imported, and why
    hours: dict[dt.date, list[str]] = field(default_factory=dict)  # reduced hours of a new date (timed events)
    notes: dict[dt.date, str] = field(default_factory=dict)  # what a new date means, in clinic time
    unchanged: list[str] = field(default_factory=list)  # timed events while the clinic is closed anyway


@dataclass
class _Closure:
    """Part of one clinic-time day a timed event takes: [start, end) in minutes after midnight."""

    start: int
    end: int
    name: str
    when: str  # the whole event in clinic time, for the preview


class CalendarError(ValueError):
    """The file is not a calendar at all."""


def read(data: bytes, existing: set[dt.date], schedule: Schedule | None = None,
         today: dt.date | None = None) -> Preview:
    """What importing the calendar would add. ``schedule``: the clinic's zone, weekly hours and
    holidays, to place timed events (without it they are reported). ``today``: the clinic's
    (default: today in the clinic's zone); events more than MAX_YEARS_AWAY years away are reported."""
    if today is None:
        today = dt.datetime.now(schedule.timezone if schedule is not None else dt.timezone.utc).date()
    if not data.strip():
        raise CalendarError("the file is empty")
    if len(data) > MAX_BYTES:
        raise CalendarError("the file is larger than 1 MB")
    try:
        cal = icalendar.Calendar.from_ical(data)
        events = cal.walk("VEVENT")
    except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise CalendarError(f"not an iCalendar (.ics) file: {_short(exc)}") from None
    preview = Preview()
    seen: set[dt.date] = set()
    closures: dict[dt.date, list[_Closure]] = {}
    for event in events:
        try:
            summary = str(event.get("SUMMARY") or "").strip()
        except (ValueError, TypeError, AttributeError):
            summary = ""
        label = summary or "(no summary)"
        start = event.get("DTSTART")
        try:
            value = getattr(start, "dt", None)
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            # icalendar parses properties lazily: an impossible date (20261345, Feb 30) raises here.
            raw = _raw_start(event)
            preview.problems.append(f"{label}: the start date {raw} is not a real date ({_short(exc)})")
            continue
        if value is None:
            preview.problems.append(f"{label}: no start date")
            continue
        if not isinstance(value, dt.date):
            preview.problems.append(f"{label}: not an all-day event (starts {value}); add reduced hours by hand")
            continue
        if not summary:
            preview.problems.append(f"{value}: the event has no name (SUMMARY)")
            continue
        name = " ".join(summary.split())[:80]
        far = _too_far(value, today)
        if far:
            preview.problems.append(f"{label}: {far}")
            continue
        if isinstance(value, dt.datetime):
            if schedule is None:
                preview.problems.append(f"{label}: not an all-day event (starts {value}); add reduced hours by hand")
                continue
            try:
                found = _timed(event, value, name, schedule)
            except OverflowError:  # an end at the edge of the calendar, moved into the clinic's zone
                found = "its end is out of range"
            if isinstance(found, str):
                preview.problems.append(f"{label}: {found}")
                continue
            for day, closure in found:
                closures.setdefault(day, []).append(closure)
            continue
        try:
            days = _days(event, value)
        except OverflowError:
            days = "its end is out of range"
        if isinstance(days, str):
            preview.problems.append(f"{label}: {days}")
            continue
        for i, day in enumerate(days, 1):
            named = name if len(days) == 1 else f"{name} (day {i} of {len(days)})"
            if day in existing or day in seen:
                preview.duplicates.append((day, named))
                continue
            seen.add(day)
            preview.new.append((day, named))
    if schedule is not None:
        _reduced_hours(closures, existing | seen, schedule, preview)
    if not preview.new and not preview.duplicates and not preview.problems and not preview.unchanged:
        raise CalendarError("the calendar has no events")
    if len(preview.problems) > MAX_PROBLEMS:
        more = len(preview.problems) - MAX_PROBLEMS
        preview.problems = preview.problems[:MAX_PROBLEMS] + [f"... and {more} more events that cannot be imported"]
    preview.new.sort()
    return preview


def _too_far(start: dt.date, today: dt.date) -> str:
    """Why an event starting at ``start`` is not imported (more than MAX_YEARS_AWAY years from today), or ""."""
    day = start.date() if isinstance(start, dt.datetime) else start
    if abs((day - today).days) <= 366 * MAX_YEARS_AWAY:
        return ""
    return (f"starts {day.isoformat()}, more than {MAX_YEARS_AWAY} years from today ({today.isoformat()}): "
            f"a typo? Add it by hand if it is right")


def _longer_than_max(duration: dt.timedelta) -> str:
    """Why an event lasting ``duration`` is not imported (more than MAX_DAYS days), or ""."""
    if duration.days <= MAX_DAYS:
        return ""
    return f"lasts {duration.days} days (more than {MAX_DAYS}): add it by hand if the clinic is really closed that long"


def _end(event):
    """(DTEND's value or None, DURATION's value or None) of an event, or why they cannot be read."""
    try:
        end_prop = event.get("DTEND")
        end = getattr(end_prop, "dt", None) if end_prop is not None else None
        duration_prop = event.get("DURATION") if end is None else None
        duration = getattr(duration_prop, "dt", None) if duration_prop is not None else None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        return _short(exc)
    return end, duration


def _days(event, start: dt.date) -> list[dt.date] | str:
    """Every day of an all-day event (DTEND is the day after the last; DURATION counts days), or why not."""
    ends = _end(event)
    if isinstance(ends, str):
        return f"its end date is not a real date ({ends})"
    end, duration = ends
    if end is None and isinstance(duration, dt.timedelta):
        if _longer_than_max(duration):  # before adding: a huge DURATION would run past year 9999
            return _longer_than_max(duration)
        end = start + duration
    if end is None:
        return [start]
    if isinstance(end, dt.datetime) or not isinstance(end, dt.date):
        return f"not an all-day event (ends {end}); add reduced hours by hand"
    count = (end - start).days
    if count <= 1:
        return [start]
    if count > MAX_DAYS:
        return f"lasts {count} days (more than {MAX_DAYS}): add it by hand if the clinic is really closed that long"
    return [start + dt.timedelta(days=i) for i in range(count)]


def _timed(event, start: dt.datetime, name: str, schedule: Schedule) -> list[tuple[dt.date, _Closure]] | str:
    """The clinic-time days a timed event touches, and the part of each it takes; or why not."""
    zone = schedule.timezone
    ends = _end(event)
    if isinstance(ends, str):
        return f"its end time is not a real time ({ends})"
    end, duration = ends
    local_start = _clinic_time(start, zone)
    if end is None and isinstance(duration, dt.timedelta):
        if _longer_than_max(duration):
            return _longer_than_max(duration)
        local_end = (local_start.astimezone(dt.timezone.utc) + duration).astimezone(zone)
    elif isinstance(end, dt.datetime):
        local_end = _clinic_time(end, zone)
    elif end is None:
        return (f"not an all-day event, and it has no end time (starts {_at(local_start)} clinic time); "
                f"add reduced hours by hand")
    else:
        return f"starts at a time ({_at(local_start)} clinic time) but ends on a date ({end}); add it by hand"
    if local_end <= local_start:
        return f"ends ({_at(local_end)}) before it starts ({_at(local_start)}, clinic time)"
    last = (local_end - dt.timedelta(microseconds=1)).date()
    count = (last - local_start.date()).days + 1
    if count > MAX_DAYS:
        return f"lasts {count} days (more than {MAX_DAYS}): add it by hand if the clinic is really closed that long"
    when = _span_words(local_start, local_end)
    out = []
    for i in range(count):
        day = local_start.date() + dt.timedelta(days=i)
        first = _minute(local_start, up=False) if day == local_start.date() else 0
        after = _minute(local_end, up=True) if day == local_end.date() else 24 * 60
        if after > first:
            out.append((day, _Closure(first, after, name, when)))
    return out


def _clinic_time(value: dt.datetime, zone) -> dt.datetime:
    """An event time in clinic time: converted from its zone; a time without one ("floating") is clinic time."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def _minute(value: dt.datetime, up: bool) -> int:
    minute = value.hour * 60 + value.minute
    return minute + 1 if up and (value.second or value.microsecond) else minute


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _at(value: dt.datetime) -> str:
    return value.strftime("%a %d %b %Y %H:%M")


def _span_words(start: dt.datetime, end: dt.datetime) -> str:
    """'12:00–17:00' on one day; 'Dec 24 22:00 – Dec 25 02:00' across midnight."""
    if start.date() == end.date():
        return f"{start:%H:%M}–{end:%H:%M}"
    if end.time() == dt.time(0) and end.date() == start.date() + dt.timedelta(days=1):
        return f"{start:%H:%M}–24:00"
    return f"{start:%b %d %H:%M} – {end:%b %d %H:%M}"


def _subtract(spans: tuple[Span, ...], closed: list[tuple[int, int]]) -> list[Span]:
    """Opening spans minus closed intervals (minutes)."""
    out = list(spans)
    for c_start, c_end in closed:
        cut = []
        for s in out:
            if c_end <= s.start or c_start >= s.end:
                cut.append(s)
                continue
            if s.start < c_start:
                cut.append(Span(s.start, c_start))
            if c_end < s.end:
                cut.append(Span(c_end, s.end))
        out = cut
    return out


def _closed_words(spans: tuple[Span, ...], left: list[Span]) -> str:
    """What the events take from a day's opening hours, in words: 'closed from 12:00', 'closed all day'..."""
    if not left:
        return "closed all day"
    opens, closes = spans[0].start, spans[-1].end
    gaps = []
    for s in spans:  # each closed stretch within the usual hours
        cursor = s.start
        for keep in [k for k in left if s.start <= k.start < s.end]:
            if keep.start > cursor:
                gaps.append((cursor, keep.start))
            cursor = keep.end
        if cursor < s.end:
            gaps.append((cursor, s.end))
    words = []
    for a, b in gaps:
        if b == closes and a != opens:
            words.append(f"closed from {_hhmm(a)}")
        elif a == opens and b != closes:
            words.append(f"closed until {_hhmm(b)}")
        else:
            words.append(f"closed {_hhmm(a)}–{_hhmm(b)}")
    return ", ".join(words)


def _reduced_hours(closures: dict[dt.date, list[_Closure]], taken: set[dt.date], schedule: Schedule,
                   preview: Preview) -> None:
    """Each day timed events touch: a holiday with the day's usual hours minus the events, or why not."""
    for day in sorted(closures):
        parts = closures[day]
        names = "; ".join(dict.fromkeys(c.name for c in parts))
        events = ", ".join(f"event '{c.name}', {c.when} clinic time" for c in parts)
        label = f"{names}, {day:%a %d %b %Y}"
        holiday = schedule.holidays.get(day)
        if day in taken:
            if holiday is not None and _subtract(holiday.spans, [(c.start, c.end) for c in parts]) == list(holiday.spans):
                preview.unchanged.append(f"{label} ({events}): already a holiday ({holiday.name}), closed then anyway")
            elif holiday is not None:
                open_words = ", ".join(str(s) for s in holiday.spans) or "closed all day"
                preview.problems.append(f"{label} ({events}): {day} is already a holiday ({holiday.name}, "
                                        f"{'open ' + open_words if holiday.spans else open_words}); change its hours by hand")
            else:
                preview.duplicates.append((day, names))
            continue
        usual = schedule.weekly.get(day.weekday(), ())
        left = _subtract(usual, [(c.start, c.end) for c in parts])
        if left == list(usual):
            why = "the clinic is closed on " + WEEKDAYS[day.weekday()].capitalize() + "s" if not usual else \
                "the clinic is closed then anyway (open " + ", ".join(str(s) for s in usual) + ")"
            preview.unchanged.append(f"{label} ({events}): {why}")
            continue
        hours = [str(s) for s in left]
        name = names[:80]
        preview.new.append((day, name))
        preview.hours[day] = hours
        still = f"; open {', '.join(str(s) for s in left)}" if left else ""
        preview.notes[day] = f"{_closed_words(usual, left)} ({events}){still}"


def _raw_start(event) -> str:
    """DTSTART as written in the file, for a message (shortened)."""
    try:
        raw = event.get("DTSTART")
        text = getattr(raw, "to_ical", lambda: str(raw))()
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    except Exception:  # noqa: BLE001 - only for the message
        text = "?"
    return _short(text, 40)


def _short(value, limit: int = 160) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

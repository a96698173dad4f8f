"""Holidays from an iCalendar (.ics) file: each all-day VEVENT's days and SUMMARY.

An event of several days (DTEND, which is exclusive, or DURATION) becomes one holiday per day,
named "Name (day 2 of 3)" so the preview says so; at most MAX_DAYS days per event. Events that
are not all-day dates, have no summary, or whose date cannot be read (an impossible date such as
20261345 or February 30) are reported, not imported; dates already in the clinic's holidays are
skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import icalendar

MAX_BYTES = 1024 * 1024
MAX_PROBLEMS = 50  # listed on the page; the rest are counted
MAX_DAYS = 31  # an all-day event longer than this is reported, not imported


@dataclass
class Preview:
    new: list[tuple[dt.date, str]] = field(default_factory=list)  # to add
    duplicates: list[tuple[dt.date, str]] = field(default_factory=list)  # already holidays
    problems: list[str] = field(default_factory=list)  # events that cannot be imported, and why


class CalendarError(ValueError):
    """The file is not a calendar at all."""


def read(data: bytes, existing: set[dt.date]) -> Preview:
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
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            preview.problems.append(f"{label}: not an all-day event (starts {value}); add reduced hours by hand")
            continue
        if not summary:
            preview.problems.append(f"{value}: the event has no name (SUMMARY)")
            continue
        name = " ".join(summary.split())[:80]
        days = _days(event, value)
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
    if not preview.new and not preview.duplicates and not preview.problems:
        raise CalendarError("the calendar has no events")
    if len(preview.problems) > MAX_PROBLEMS:
        more = len(preview.problems) - MAX_PROBLEMS
        preview.problems = preview.problems[:MAX_PROBLEMS] + [f"... and {more} more events that cannot be imported"]
    preview.new.sort()
    return preview


def _days(event, start: dt.date) -> list[dt.date] | str:
    """Every day of an all-day event (DTEND is the day after the last; DURATION counts days), or why not."""
    try:
        end_prop = event.get("DTEND")
        end = getattr(end_prop, "dt", None) if end_prop is not None else None
        duration_prop = event.get("DURATION") if end is None else None
        duration = getattr(duration_prop, "dt", None) if duration_prop is not None else None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        return f"its end date is not a real date ({_short(exc)})"
    if end is None and isinstance(duration, dt.timedelta):
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

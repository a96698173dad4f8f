"""Holidays from an iCalendar (.ics) file: each VEVENT's all-day DTSTART and SUMMARY.

Events that are not all-day dates, or have no summary, are reported, not
imported; dates already in the clinic's holidays are skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import icalendar

MAX_BYTES = 1024 * 1024


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
    except (ValueError, IndexError, KeyError) as exc:
        raise CalendarError(f"not an iCalendar (.ics) file: {exc}") from None
    preview = Preview()
    seen: set[dt.date] = set()
    for event in cal.walk("VEVENT"):
        summary = str(event.get("SUMMARY") or "").strip()
        start = event.get("DTSTART")
        value = getattr(start, "dt", None)
        label = summary or "(no summary)"
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
        if value in existing or value in seen:
            preview.duplicates.append((value, name))
            continue
        seen.add(value)
        preview.new.append((value, name))
    if not preview.new and not preview.duplicates and not preview.problems:
        raise CalendarError("the calendar has no events")
    preview.new.sort()
    return preview

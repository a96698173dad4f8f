"""Holidays from an iCalendar (.ics) file: each VEVENT's all-day DTSTART and SUMMARY.

Events that are not all-day dates, have no summary, or whose date cannot be
read (an impossible date such as 20261345 or February 30) are reported, not
imported; dates already in the clinic's holidays are skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import icalendar

MAX_BYTES = 1024 * 1024
MAX_PROBLEMS = 50  # listed on the page; the rest are counted


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
        if value in existing or value in seen:
            preview.duplicates.append((value, name))
            continue
        seen.add(value)
        preview.new.append((value, name))
    if not preview.new and not preview.duplicates and not preview.problems:
        raise CalendarError("the calendar has no events")
    if len(preview.problems) > MAX_PROBLEMS:
        more = len(preview.problems) - MAX_PROBLEMS
        preview.problems = preview.problems[:MAX_PROBLEMS] + [f"... and {more} more events that cannot be imported"]
    preview.new.sort()
    return preview


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

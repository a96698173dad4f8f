"""Business hours and holidays in the clinic's own time zone.

Weekly hours are wall-clock times ("08:00-17:00") in the clinic's zone, so a
daylight-saving change moves the UTC instants, never the opening times.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class OpenStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"


@dataclass(frozen=True, order=True)
class Span:
    """An opening span within one day, [start, end) in minutes after midnight."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> "Span":
        """Parse "HH:MM-HH:MM" (end may be 24:00). Raises ValueError with a reason."""
        match = _SPAN.match(str(text))
        if not match:
            raise ValueError(f"{text!r} is not a span like '08:00-17:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{text!r} has a time that does not exist")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(
                f"{text!r} ends before it starts; split a span that crosses midnight in two"
            )
        return cls(start, end)

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def parse_spans(values: list[str]) -> tuple[Span, ...]:
    """Parse and check a day's spans: sorted, none overlapping."""
    spans = sorted(Span.parse(v) for v in values)
    for a, b in zip(spans, spans[1:]):
        if b.start < a.end:
            raise ValueError(f"spans {a} and {b} overlap")
    return tuple(spans)


@dataclass(frozen=True)
class Holiday:
    date: dt.date
    name: str
    spans: tuple[Span, ...] = ()  # empty: closed all day; else reduced hours


@dataclass(frozen=True)
class Schedule:
    """Weekly opening hours plus dated holidays, in one time zone."""

    timezone: ZoneInfo
    weekly: dict[int, tuple[Span, ...]]  # 0 = Monday
    holidays: dict[dt.date, Holiday] = field(default_factory=dict)

    def local(self, when: dt.datetime) -> dt.datetime:
        if when.tzinfo is None:
            raise ValueError("need an aware datetime")
        return when.astimezone(self.timezone)

    def status(self, when: dt.datetime) -> OpenStatus:
        """Whether the clinic is open at the instant ``when`` (aware datetime)."""
        local = self.local(when)
        minute = local.hour * 60 + local.minute
        holiday = self.holidays.get(local.date())
        if holiday is not None:
            if any(s.contains(minute) for s in holiday.spans):
                return OpenStatus.OPEN
            return OpenStatus.HOLIDAY
        if any(s.contains(minute) for s in self.weekly.get(local.weekday(), ())):
            return OpenStatus.OPEN
        return OpenStatus.CLOSED

    def holiday_on(self, when: dt.datetime) -> Holiday | None:
        return self.holidays.get(self.local(when).date())

"""When patients may be called: a daily window of local wall-clock time, minus holidays.

Pure time arithmetic (no Redis), shared by callback retries and follow-up calls.
The window is judged by the clock on the wall in the given zone, so it stays
09:00-20:00 local across daylight-saving changes. On a change day:

* a window start that falls in the spring-forward gap (e.g. 02:30 when clocks
  jump from 02:00 to 03:00) opens at the jump itself, the first instant whose
  wall time is past the start;
* wall times repeated by the fall-back hour are inside the window both times.

Minutes are the unit: 19:59:59 is inside a window ending 20:00, 20:00:00 is not.

A patient who may be in several zones (the declared one and the phone number's
area disagree) gets ``also``: an instant is allowed only when it is allowed in
every one of the zones, the most restrictive reading.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.clinic.hours import Span

if TYPE_CHECKING:  # pragma: no cover
    from ivr.clinic.settings import ClinicSettings

UTC = dt.timezone.utc
ALL_DAYS: frozenset[int] = frozenset(range(7))  # 0 = Monday
SEARCH_DAYS = 3660  # give up after ten years without an allowed minute
COMMON_SEARCH_DAYS = 62  # several zones: no common minute this long is none before any deadline (give_up_after_days <= 60)
_PROBE = dt.timedelta(hours=1)  # UTC offsets are assumed to change at most once per hour


class NoCallingTime(ValueError):
    """No allowed instant within SEARCH_DAYS (every day excluded)."""


class NoCommonTime(NoCallingTime):
    """Several zones whose calling windows never overlap (within COMMON_SEARCH_DAYS)."""


FIXED = re.compile(r"UTC([+-])(\d\d):(\d\d)")  # a fixed-offset zone's name (``offset_name``)
_FIXED = FIXED


def offset_name(offset: dt.timedelta) -> str:
    """The name of a fixed-offset zone: ``UTC-08:00`` (read back by ``zone_named``)."""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_named(name: str) -> dt.tzinfo:
    """A time zone from its IANA name (``America/Chicago``) or a fixed offset (``UTC-08:00``).

    ValueError for anything else.
    """
    fixed = _FIXED.fullmatch(name or "")
    if fixed:
        sign, hours, minutes = fixed.groups()
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
        if abs(offset) > dt.timedelta(hours=14):
            raise ValueError(f"no place on Earth is {name}")
        return dt.timezone(offset, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use a name like America/Chicago)") from None


@dataclass(frozen=True)
class CallingHours:
    """A daily calling window ``[window.start, window.end)`` in ``timezone``, except on ``holidays``.

    ``days`` limits the weekdays (0 = Monday); by default every day is a calling day.
    ``also``: more zones the patient may be in; an instant must then be allowed in each.
    """

    timezone: dt.tzinfo  # an IANA zone, or a fixed offset (``zone_named``)
    window: Span
    holidays: frozenset[dt.date] = frozenset()
    days: frozenset[int] = ALL_DAYS
    also: tuple[dt.tzinfo, ...] = ()

    @property
    def zones(self) -> tuple[dt.tzinfo, ...]:
        """Every zone the patient may be in, the main one first."""
        return (self.timezone, *self.also)

    def in_zone(self, zone: dt.tzinfo) -> "CallingHours":
        """The same window and holidays in one zone only."""
        return replace(self, timezone=zone, also=())

    @classmethod
    def for_clinic(cls, clinic: "ClinicSettings") -> "CallingHours":
        """The clinic's callback window, every day except holidays that are closed all day."""
        closed = frozenset(h.date for h in clinic.holidays if not h.hours)
        return cls(clinic.zone, clinic.callbacks.calling_window, closed)

    # Queries -------------------------------------------------------------

    def allows(self, when: dt.datetime) -> bool:
        """Whether a patient may be called at the instant ``when`` (aware datetime), in every zone."""
        when = _aware(when)
        return all(self._wall_allowed(when.astimezone(z).replace(tzinfo=None)) for z in self.zones)

    def next_allowed(self, when: dt.datetime) -> dt.datetime:
        """The earliest instant >= ``when`` inside the window, in this zone.

        Works segment by segment of constant UTC offset: inside one, wall time
        moves with UTC, so the answer is plain wall-clock arithmetic; where the
        offset changes first, start again from that instant. Several zones:
        the earliest instant of one zone, then of the next, until all agree
        (each step only skips instants some zone refuses, so none is missed).
        """
        if self.also:
            return self._next_common(when)
        if self.allows(when):
            return when.astimezone(self.timezone)
        t = when.astimezone(UTC)
        limit = t + dt.timedelta(days=SEARCH_DAYS)
        while t < limit:
            offset = self._offset(t)
            wall = self._next_wall((t + offset).replace(tzinfo=None))
            candidate = (wall - offset).replace(tzinfo=UTC)
            change = self._next_change(t, min(candidate, limit), offset)
            if change is None:
                return candidate.astimezone(self.timezone)
            t = change
        raise NoCallingTime(f"no calling time within {SEARCH_DAYS} days of {when.isoformat()}")

    # Helpers -------------------------------------------------------------

    def _next_common(self, when: dt.datetime) -> dt.datetime:
        parts = [self.in_zone(z) for z in self.zones]
        t = _aware(when).astimezone(UTC)
        limit = t + dt.timedelta(days=COMMON_SEARCH_DAYS)
        while t <= limit:
            refusing = next((p for p in parts if not p.allows(t)), None)
            if refusing is None:
                return t.astimezone(self.timezone)
            t = refusing.next_allowed(t).astimezone(UTC)
        names = ", ".join(str(z) for z in self.zones)
        raise NoCommonTime(f"no minute within calling hours in all of {names} within {COMMON_SEARCH_DAYS} days")

    def _day_allowed(self, day: dt.date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def _wall_allowed(self, wall: dt.datetime) -> bool:
        return self._day_allowed(wall.date()) and self.window.contains(wall.hour * 60 + wall.minute)

    def _next_wall(self, wall: dt.datetime) -> dt.datetime:
        """Earliest allowed naive wall time >= ``wall``, ignoring offset changes."""
        if self._wall_allowed(wall):
            return wall
        start = dt.time(self.window.start // 60, self.window.start % 60)
        for i in range(SEARCH_DAYS + 1):
            day = wall.date() + dt.timedelta(days=i)
            opening = dt.datetime.combine(day, start)
            if opening >= wall and self._day_allowed(day):
                return opening
        raise NoCallingTime(f"no calling day within {SEARCH_DAYS} days of {wall.date()}")

    def _offset(self, instant: dt.datetime) -> dt.timedelta:
        return instant.astimezone(self.timezone).utcoffset() or dt.timedelta(0)

    def _next_change(
        self, start: dt.datetime, end: dt.datetime, offset: dt.timedelta
    ) -> dt.datetime | None:
        """First instant in (start, end] where the UTC offset is no longer ``offset``."""
        previous = start
        while previous < end:
            probe = min(previous + _PROBE, end)
            if self._offset(probe) != offset:
                return self._bisect(previous, probe, offset)
            previous = probe
        return None

    def _bisect(self, low: dt.datetime, high: dt.datetime, offset: dt.timedelta) -> dt.datetime:
        """The change between ``low`` (at ``offset``) and ``high`` (not), to the second.

        Zone transitions happen on whole seconds, so the answer is exact.
        """
        lo, hi = math.floor(low.timestamp()), math.ceil(high.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset(dt.datetime.fromtimestamp(mid, UTC)) == offset:
                lo = mid
            else:
                hi = mid
        return dt.datetime.fromtimestamp(hi, UTC)


def _aware(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("need an aware datetime")
    return when

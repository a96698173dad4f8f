"""The gate before every follow-up call: may this patient be called now, and if not, when?

Pure: the caller supplies the clock, the patient's calling hours (their time
zone, the clinic's holidays) and the times of earlier follow-up calls to the
same number. Rules, in order:

* a number on the do-not-call list is never called (no next time);
* nothing after the give-up deadline (the appointment plus
  ``give_up_after_days``);
* only inside the calling window in the patient's local wall-clock time and
  not on a clinic holiday (``ivr.clinic.calling_hours``, daylight-saving safe); a
  patient who may be in several zones (``CallingHours.also``) only when that
  holds in every one of them, and never if they share no calling minute;
* at most ``per_day`` calls on one local calendar day (in every zone the
  patient may be in, and in ``day_zones``: the zones of the patient's other
  appointments) and ``per_week`` in any 7 x 24 hours.

A "no" carries its reason (for the log) and the earliest instant at which all
rules would say yes, given the same history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from phonenumbers import timezone as number_zones

from ivr.clinic.calling_hours import FIXED, CallingHours, NoCallingTime, NoCommonTime, zone_named
from ivr.followups.appointments import zones_of_number

WEEK = dt.timedelta(days=7)
MAX_ROUNDS = 64  # moving forward past limits converges in a few rounds; this is only a bound

OPTED_OUT = "opted_out"
TOO_LATE = "past_deadline"
HOLIDAY = "holiday"
OUTSIDE_HOURS = "outside_calling_hours"
DAILY_LIMIT = "daily_limit"
WEEKLY_LIMIT = "weekly_limit"
NO_TIME = "no_calling_time"
NO_COMMON_HOURS = "no_common_hours"  # the zones the patient may be in share no calling minute


def patient_zones(timezone: str, phone: str = "", at: dt.datetime | None = None) -> tuple[str, ...]:
    """Every zone the patient may be in, the appointment's first.

    The phone number's area zones join it unless it is one of them (then they
    agree); a number that says nothing adds nothing. A fixed offset (``UTC-08:00``:
    a time whose offset matched no known zone, the number's area unknown) is read
    as every real zone of the number's country (any zone, for no country) that had
    that offset at the appointment ``at``, each with its own summer time.
    """
    number = zones_of_number(phone) if phone else ()
    extra: tuple[str, ...] = () if timezone in number else number
    if at is not None and FIXED.fullmatch(timezone or ""):
        offset = zone_named(timezone).utcoffset(None)
        extra += tuple(z for z in _country_zones(phone) if at.astimezone(ZoneInfo(z)).utcoffset() == offset)
    return tuple(dict.fromkeys((timezone, *extra)))


def _country_zones(phone: str) -> tuple[str, ...]:
    """Every IANA zone libphonenumber has for the number (all of its country's for a number with no area)."""
    try:
        names = number_zones.time_zones_for_number(phonenumbers.parse(phone)) if phone else ()
    except phonenumbers.NumberParseException:
        names = ()
    names = tuple(n for n in names if "/" in n and not n.startswith("Etc/"))
    return names or tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class Limits:
    per_day: int = 1
    per_week: int = 3


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # why not (one of the constants above); "" when allowed
    not_before: dt.datetime | None = None  # earliest allowed instant; None: never

    def __bool__(self) -> bool:
        return self.allowed


def calls_on_day(hours: CallingHours, past: Sequence[dt.datetime], when: dt.datetime,
                 day_zones: Sequence[dt.tzinfo] = ()) -> int:
    """The most calls on ``when``'s local day in any zone the patient may be in."""
    return max(_on_day(zone, past, when) for zone in _day_zones(hours, day_zones))


def _on_day(zone: dt.tzinfo, past: Sequence[dt.datetime], when: dt.datetime) -> int:
    day = when.astimezone(zone).date()
    return sum(1 for p in past if p.astimezone(zone).date() == day)


def _day_zones(hours: CallingHours, day_zones: Sequence[dt.tzinfo]) -> list[dt.tzinfo]:
    zones = list(hours.zones)
    return zones + [z for z in day_zones if z not in zones]


def day_start(hours: CallingHours, when: dt.datetime, day_zones: Sequence[dt.tzinfo] = ()) -> dt.datetime:
    """The earliest local midnight of ``when``'s day among the patient's zones: a call since then
    shares a local day with ``when`` in at least one of them (the dial guard counts from here)."""
    starts = []
    for zone in _day_zones(hours, day_zones):
        local = when.astimezone(zone)
        starts.append(dt.datetime.combine(local.date(), dt.time(0), zone))
    return min(starts, key=lambda t: t.astimezone(dt.timezone.utc))


def calls_in_week(past: Sequence[dt.datetime], when: dt.datetime) -> list[dt.datetime]:
    """Earlier calls within the 7 x 24 hours before ``when`` (a call exactly 7 days ago no longer counts).

    In UTC: arithmetic on an aware datetime in a zone is wall-clock arithmetic, off by an hour across a change.
    """
    when = when.astimezone(dt.timezone.utc)
    return sorted(p.astimezone(dt.timezone.utc) for p in past if when - WEEK < p <= when)


def _violation(hours: CallingHours, past: Sequence[dt.datetime], limits: Limits, when: dt.datetime,
               day_zones: Sequence[dt.tzinfo] = ()) -> tuple[str, dt.datetime] | None:
    """The first rule ``when`` breaks and an instant after which it might not: (reason, later instant).

    The later instant never skips an allowed one: ``decide`` asks again from there.
    """
    if not hours.allows(when):
        holiday = any(when.astimezone(z).date() in hours.holidays for z in hours.zones)
        return (HOLIDAY if holiday else OUTSIDE_HOURS), hours.next_allowed(when)
    for zone in _day_zones(hours, day_zones):
        if _on_day(zone, past, when) >= limits.per_day:
            local = when.astimezone(zone)
            midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), zone)
            # A midnight in a spring-forward gap still names an instant on the next day.
            return DAILY_LIMIT, max(midnight, when + dt.timedelta(seconds=1))
    week = calls_in_week(past, when)
    if len(week) >= limits.per_week:
        oldest_that_must_expire = week[len(week) - limits.per_week]
        return WEEKLY_LIMIT, oldest_that_must_expire + WEEK
    return None


def decide(
    now: dt.datetime,
    hours: CallingHours,
    past_calls: Sequence[dt.datetime] = (),
    limits: Limits = Limits(),
    opted_out: bool = False,
    deadline: dt.datetime | None = None,
    day_zones: Sequence[dt.tzinfo] = (),
) -> Decision:
    """Whether the patient may be called at ``now``; if not, why and from when.

    ``day_zones``: zones of the patient's other appointments, where one local day is also judged.
    """
    if opted_out:
        return Decision(False, OPTED_OUT, None)
    if deadline is not None and now > deadline:
        return Decision(False, TOO_LATE, None)
    try:
        first = _violation(hours, past_calls, limits, now, day_zones)
        if first is None:
            return Decision(True)
        reason, when = first
        when = when.astimezone(dt.timezone.utc)
        for _ in range(MAX_ROUNDS):
            broken = _violation(hours, past_calls, limits, when, day_zones)
            if broken is None:
                break
            when = broken[1].astimezone(dt.timezone.utc)
        else:  # pragma: no cover - bounded search
            return Decision(False, NO_TIME, None)
    except NoCommonTime:
        return Decision(False, NO_COMMON_HOURS, None)
    except NoCallingTime:
        return Decision(False, NO_TIME, None)
    if deadline is not None and when > deadline:
        return Decision(False, reason, None)
    return Decision(False, reason, when.astimezone(hours.timezone))

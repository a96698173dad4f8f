"""The gate before every follow-up call: may this patient be called now, and if not, when?

Pure: the caller supplies the clock, the patient's calling hours (their time
zone, the clinic's holidays) and the times of earlier follow-up calls to the
same number. Rules, in order:

* a number on the do-not-call list is never called (no next time);
* nothing after the give-up deadline (the appointment plus
  ``give_up_after_days``);
* only inside the calling window in the patient's local wall-clock time and
  not on a clinic holiday (``ivr.calling_hours``, daylight-saving safe);
* at most ``per_day`` calls on one local calendar day and ``per_week`` in any
  7 x 24 hours.

A "no" carries its reason (for the log) and the earliest instant at which all
rules would say yes, given the same history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

from ivr.calling_hours import CallingHours, NoCallingTime

WEEK = dt.timedelta(days=7)
MAX_ROUNDS = 64  # moving forward past limits converges in a few rounds; this is only a bound

OPTED_OUT = "opted_out"
TOO_LATE = "past_deadline"
HOLIDAY = "holiday"
OUTSIDE_HOURS = "outside_calling_hours"
DAILY_LIMIT = "daily_limit"
WEEKLY_LIMIT = "weekly_limit"
NO_TIME = "no_calling_time"


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


def calls_on_day(hours: CallingHours, past: Sequence[dt.datetime], when: dt.datetime) -> int:
    day = when.astimezone(hours.timezone).date()
    return sum(1 for p in past if p.astimezone(hours.timezone).date() == day)


def calls_in_week(past: Sequence[dt.datetime], when: dt.datetime) -> list[dt.datetime]:
    """Earlier calls within the 7 x 24 hours before ``when`` (a call exactly 7 days ago no longer counts).

    In UTC: arithmetic on an aware datetime in a zone is wall-clock arithmetic, off by an hour across a change.
    """
    when = when.astimezone(dt.timezone.utc)
    return sorted(p.astimezone(dt.timezone.utc) for p in past if when - WEEK < p <= when)


def _violation(hours: CallingHours, past: Sequence[dt.datetime], limits: Limits, when: dt.datetime) -> tuple[str, dt.datetime] | None:
    """The first rule ``when`` breaks and an instant after which it might not: (reason, later instant)."""
    if not hours.allows(when):
        local = when.astimezone(hours.timezone)
        reason = HOLIDAY if local.date() in hours.holidays else OUTSIDE_HOURS
        return reason, hours.next_allowed(when)
    if calls_on_day(hours, past, when) >= limits.per_day:
        local = when.astimezone(hours.timezone)
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), hours.timezone)
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
) -> Decision:
    """Whether the patient may be called at ``now``; if not, why and from when."""
    if opted_out:
        return Decision(False, OPTED_OUT, None)
    if deadline is not None and now > deadline:
        return Decision(False, TOO_LATE, None)
    first = _violation(hours, past_calls, limits, now)
    if first is None:
        return Decision(True)
    reason, when = first
    when = when.astimezone(dt.timezone.utc)
    try:
        for _ in range(MAX_ROUNDS):
            broken = _violation(hours, past_calls, limits, when)
            if broken is None:
                break
            when = broken[1].astimezone(dt.timezone.utc)
        else:  # pragma: no cover - bounded search
            return Decision(False, NO_TIME, None)
    except NoCallingTime:
        return Decision(False, NO_TIME, None)
    if deadline is not None and when > deadline:
        return Decision(False, reason, None)
    return Decision(False, reason, when.astimezone(hours.timezone))

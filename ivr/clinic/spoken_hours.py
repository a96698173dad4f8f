"""Opening hours as a caller hears them, in each language, from the clinic's schedule.

A prompt says ``{hours_today}``, ``{next_open}`` or ``{hours_week}``; the words are
worked out at the time of the call, in the clinic's zone, from the weekly hours
and holidays (``ivr.clinic.hours.Schedule``), so changing the hours page changes what
callers hear. No Flask, no I/O.

    hours_today   "Today we are open from 8 AM to 5 PM." / "Today, Christmas Day, we are closed."
    next_open     "We open again tomorrow, Tuesday, at 8 AM." / "We are open now until 5 PM."
    hours_week    "We are open Monday to Friday from 8 AM to 5 PM, and Saturday from 9 AM to noon."
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Mapping

from ivr.clinic.hours import Schedule, Span

NAMES = ("hours_today", "next_open", "hours_week")  # placeholders whose words depend on the time of the call
LOOKAHEAD_DAYS = 400  # how far next_open looks for an opening (a long closure still finds it)
NOON, MIDNIGHT, EVENING = 12 * 60, 24 * 60, 20 * 60

DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"),
}


def _lang(lang: str) -> str:
    return lang if lang in DAYS else "en"


# Times of day -----------------------------------------------------------------


def _clock(minute: int, lang: str) -> tuple[str, str]:
    """(the hour as said, its part of the day): (8, 'AM'), ('8:30', 'PM'), ('12', 'del mediodía')."""
    minute %= MIDNIGHT
    hour, mins = divmod(minute, 60)
    h12 = hour % 12 or 12
    if lang == "es":
        spoken = str(h12) + {0: "", 15: " y cuarto", 30: " y media"}.get(mins, f":{mins:02d}")
        if minute == NOON:
            return spoken, "del mediodía"
        if minute < NOON:
            return spoken, "de la noche" if hour == 0 else "de la mañana"
        return spoken, "de la tarde" if minute < EVENING else "de la noche"
    spoken = str(h12) if mins == 0 else f"{h12}:{mins:02d}"
    return spoken, "AM" if minute < NOON else "PM"


def say_time(minute: int, lang: str) -> str:
    """A time of day: '8 AM', '12:30 PM', 'noon', 'midnight'; '8 de la mañana', '12 del mediodía'."""
    lang = _lang(lang)
    if lang == "en" and minute % MIDNIGHT in (0, NOON):
        return "noon" if minute == NOON else "midnight"
    spoken, part = _clock(minute, lang)
    return f"{spoken} {part}"


def _at(minute: int, lang: str) -> str:
    """'at 8 AM' / 'a las 8 de la mañana', 'a la 1 de la tarde'."""
    if lang == "es":
        spoken, _ = _clock(minute, lang)
        return ("a la " if spoken.startswith("1") and not spoken.startswith(("10", "11", "12")) else "a las ") + say_time(minute, lang)
    return "at " + say_time(minute, lang)


def say_span(span: Span, lang: str) -> str:
    """'from 8 AM to 5 PM', 'from 1 to 5 PM'; 'de 8 de la mañana a 5 de la tarde', 'de 1 a 5 de la tarde'."""
    lang = _lang(lang)
    (a, part_a), (b, part_b) = _clock(span.start, lang), _clock(span.end, lang)
    plain = lang == "es" or all(m % MIDNIGHT not in (0, NOON) for m in (span.start, span.end))
    if plain and part_a == part_b and span.start < span.end < MIDNIGHT:
        return f"de {a} a {b} {part_b}" if lang == "es" else f"from {a} to {b} {part_b}"
    if lang == "es":
        return f"de {say_time(span.start, lang)} a {say_time(span.end, lang)}"
    return f"from {say_time(span.start, lang)} to {say_time(span.end, lang)}"


def _spans_said(spans: tuple[Span, ...], lang: str) -> str:
    joiner = " y " if lang == "es" else " and "
    return joiner.join(say_span(s, lang) for s in spans)


def _listed(parts: list[str], lang: str) -> str:
    """'a', 'a and b', 'a, b, and c' (Spanish: 'a, b y c')."""
    if len(parts) <= 2:
        return (" y " if lang == "es" else " and ").join(parts)
    return ", ".join(parts[:-1]) + (" y " if lang == "es" else ", and ") + parts[-1]


# A day's hours ------------------------------------------------------------------


def spans_on(schedule: Schedule, day: dt.date) -> tuple[Span, ...]:
    """The opening spans of a local date: a holiday's (none if closed all day), else the weekday's."""
    holiday = schedule.holidays.get(day)
    if holiday is not None:
        return holiday.spans
    return schedule.weekly.get(day.weekday(), ())


def hours_today(schedule: Schedule, now: dt.datetime, lang: str) -> str:
    """Today's hours, naming a holiday: 'Today we are open from 8 AM to 5 PM.', 'Today we are closed.'."""
    lang = _lang(lang)
    local = schedule.local(now)
    minute = local.hour * 60 + local.minute
    holiday = schedule.holidays.get(local.date())
    spans = spans_on(schedule, local.date())
    said = _spans_said(spans, lang)
    if lang == "es":
        if holiday is not None:
            return f"Hoy es día festivo, {holiday.name}, y abrimos {said}." if spans else f"Hoy es día festivo, {holiday.name}, y estamos cerrados."
        return f"Hoy abrimos {said}." if spans else "Hoy estamos cerrados."
    verb = "were" if spans and minute >= spans[-1].end else "are"
    today = f"Today, {holiday.name}," if holiday is not None else "Today"
    return f"{today} we {verb} open {said}." if spans else f"{today} we are closed."


def _open_now(spans: tuple[Span, ...], minute: int) -> Span | None:
    return next((s for s in spans if s.contains(minute)), None)


def next_open(schedule: Schedule, now: dt.datetime, lang: str) -> str:
    """When callers can reach the office: 'We open again tomorrow, Tuesday, at 8 AM.';
    while open, until when: 'We are open now until 5 PM.'. "" if no opening is ahead."""
    lang = _lang(lang)
    local = schedule.local(now)
    today, minute = local.date(), local.hour * 60 + local.minute
    spans = spans_on(schedule, today)
    current = _open_now(spans, minute)
    if current is not None:
        at = _at(current.end, lang)  # "at 5 PM" -> "until 5 PM"; "a las 5 ..." -> "hasta las 5 ..."
        if lang == "es":
            return f"Estamos abiertos hasta {at.removeprefix('a ')}."
        return f"We are open now until {at.removeprefix('at ')}."
    for ahead in range(LOOKAHEAD_DAYS):
        day = today + dt.timedelta(days=ahead)
        later = [s for s in spans_on(schedule, day) if ahead or s.start > minute]
        if not later:
            continue
        at = _at(later[0].start, lang)
        name = DAYS[lang][day.weekday()]
        if ahead == 0:
            again = any(s.end <= minute for s in spans)
            if lang == "es":
                return f"Volvemos a abrir hoy {at}." if again else f"Abrimos hoy {at}."
            return f"We open again today {at}." if again else f"We open today {at}."
        if ahead == 1:
            when = f"mañana, {name}," if lang == "es" else f"tomorrow, {name},"
        elif ahead < 7:
            when = f"el {name}" if lang == "es" else name
        elif lang == "es":
            when = f"el {name} {day.day} de {MONTHS[lang][day.month - 1]}"
        else:
            when = f"on {name}, {MONTHS[lang][day.month - 1]} {day.day},"
        return f"Volvemos a abrir {when} {at}." if lang == "es" else f"We open again {when} {at}."
    return ""


def hours_week(schedule: Schedule, lang: str) -> str:
    """The usual week in one sentence, days with the same hours together; holidays aside. "" if never open."""
    lang = _lang(lang)
    groups: dict[tuple[Span, ...], list[int]] = {}
    for day in range(7):
        spans = schedule.weekly.get(day, ())
        if spans:
            groups.setdefault(spans, []).append(day)
    if not groups:
        return ""
    parts = [f"{_days_said(days, lang)} {_spans_said(spans, lang)}" for spans, days in groups.items()]
    return ("Abrimos " if lang == "es" else "We are open ") + _listed(parts, lang) + "."


def _days_said(days: list[int], lang: str) -> str:
    """[0, 1, 2, 4] -> 'Monday to Wednesday and Friday' / 'de lunes a miércoles y el viernes'."""
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = DAYS[lang]
    said = []
    for run in runs:
        first, last = names[run[0]], names[run[-1]]
        if len(run) == 1:
            said.append(f"el {first}" if lang == "es" else first)
        elif len(run) == 2:
            said.append(f"el {first} y el {last}" if lang == "es" else f"{first} and {last}")
        else:
            said.append(f"de {first} a {last}" if lang == "es" else f"{first} to {last}")
    return _listed(said, lang)


# Filling a prompt ---------------------------------------------------------------

SPOKEN: dict[str, Callable[[Schedule, dt.datetime, str], str]] = {
    "hours_today": hours_today,
    "next_open": next_open,
    "hours_week": lambda schedule, now, lang: hours_week(schedule, lang),
}


class PromptValues(dict):
    """The values a prompt is filled with; the spoken hours are worked out only if the prompt says them.

    ``timed`` becomes True once one was: the words then depend on the time of the call.
    """

    def __init__(self, values: Mapping[str, str], schedule: Schedule | None, now: dt.datetime, lang: str) -> None:
        super().__init__(values)
        self.schedule, self.now, self.lang = schedule, now, lang
        self.timed = False

    def __missing__(self, key: str) -> str:
        spoken = SPOKEN.get(key)
        if spoken is None or self.schedule is None:
            raise KeyError(key)
        value = spoken(self.schedule, self.now, self.lang)
        self[key] = value
        self.timed = True
        return value


def prompt_values(schedule: Schedule | None, now: dt.datetime | None, lang: str, values: Mapping[str, str]) -> PromptValues:
    """What fills a prompt in a call at ``now`` (default: this instant): ``values``, then the spoken hours.

    The one way real calls (ivr.voice.twiml), the emergency message and Try-it fill prompts,
    so they say the same words.
    """
    return PromptValues(values, schedule, now or dt.datetime.now(dt.timezone.utc), lang)

"""Spoken opening hours ({hours_today}, {next_open}, {hours_week}) from the clinic's hours and holidays,
in English and Spanish, and an after-hours call that says them (signed webhooks)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from ivr.clinic.hours import Holiday, Schedule, parse_spans
from ivr.clinic.spoken_hours import hours_today, hours_week, next_open, prompt_values, say_time

from .conftest import CLINIC_TZ, TOKEN, flask_transport

NY = ZoneInfo("America/New_York")
WEEK = {
    0: ["08:00-17:00"],
    1: ["08:00-12:00", "13:00-17:00"],  # Tuesday: closed for lunch
    2: ["08:00-17:00"],
    3: ["08:00-19:00"],
    4: ["08:00-17:00"],
    5: ["09:00-12:00"],
}
THANKSGIVING = dt.date(2026, 11, 26)  # Thursday
CHRISTMAS_EVE = dt.date(2026, 12, 24)  # Thursday, reduced hours
CHRISTMAS = dt.date(2026, 12, 25)  # Friday


def schedule() -> Schedule:
    return Schedule(
        NY,
        {day: parse_spans(spans) for day, spans in WEEK.items()},
        {
            THANKSGIVING: Holiday(THANKSGIVING, "Thanksgiving Day"),
            CHRISTMAS_EVE: Holiday(CHRISTMAS_EVE, "Christmas Eve", parse_spans(["08:00-12:00"])),
            CHRISTMAS: Holiday(CHRISTMAS, "Christmas Day"),
        },
    )


def at(y: int, m: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    """A local wall-clock time in the clinic, given to the functions in UTC (as webhooks have it)."""
    return dt.datetime(y, m, d, h, mi, tzinfo=NY).astimezone(dt.timezone.utc)


MONDAY_MORNING = at(2026, 11, 23, 10)
TUESDAY_LUNCH = at(2026, 11, 24, 12, 30)
WEDNESDAY_EVENING = at(2026, 11, 25, 18)  # Thursday is Thanksgiving
SATURDAY_AFTERNOON = at(2026, 11, 28, 14)
SUNDAY = at(2026, 11, 29, 11)
EARLY_MONDAY = at(2026, 11, 30, 6)
CHRISTMAS_EVE_AFTERNOON = at(2026, 12, 24, 13)
CHRISTMAS_MORNING = at(2026, 12, 25, 10)


@pytest.mark.parametrize("minute, en, es", [
    (8 * 60, "8 AM", "8 de la mañana"),
    (12 * 60, "noon", "12 del mediodía"),
    (13 * 60, "1 PM", "1 de la tarde"),
    (17 * 60 + 30, "5:30 PM", "5 y media de la tarde"),
    (20 * 60 + 15, "8:15 PM", "8 y cuarto de la noche"),
    (24 * 60, "midnight", "12 de la noche"),
])
def test_times_of_day(minute, en, es):
    assert say_time(minute, "en") == en
    assert say_time(minute, "es") == es


@pytest.mark.parametrize("when, en, es", [
    (MONDAY_MORNING, "Today we are open from 8 AM to 5 PM.", "Hoy abrimos de 8 de la mañana a 5 de la tarde."),
    (TUESDAY_LUNCH, "Today we are open from 8 AM to noon and from 1 to 5 PM.",
     "Hoy abrimos de 8 de la mañana a 12 del mediodía y de 1 a 5 de la tarde."),
    (WEDNESDAY_EVENING, "Today we were open from 8 AM to 5 PM.", "Hoy abrimos de 8 de la mañana a 5 de la tarde."),
    (SUNDAY, "Today we are closed.", "Hoy estamos cerrados."),
    (at(2026, 11, 26, 9), "Today, Thanksgiving Day, we are closed.",
     "Hoy es día festivo, Thanksgiving Day, y estamos cerrados."),
    (at(2026, 12, 24, 7), "Today, Christmas Eve, we are open from 8 AM to noon.",
     "Hoy es día festivo, Christmas Eve, y abrimos de 8 de la mañana a 12 del mediodía."),
    (CHRISTMAS_EVE_AFTERNOON, "Today, Christmas Eve, we were open from 8 AM to noon.",
     "Hoy es día festivo, Christmas Eve, y abrimos de 8 de la mañana a 12 del mediodía."),
])
def test_hours_today_open_closed_holiday_and_reduced_hours(when, en, es):
    assert hours_today(schedule(), when, "en") == en
    assert hours_today(schedule(), when, "es") == es


@pytest.mark.parametrize("when, en, es", [
    (MONDAY_MORNING, "We are open now until 5 PM.", "Estamos abiertos hasta las 5 de la tarde."),
    (TUESDAY_LUNCH, "We open again today at 1 PM.", "Volvemos a abrir hoy a la 1 de la tarde."),
    (EARLY_MONDAY, "We open today at 8 AM.", "Abrimos hoy a las 8 de la mañana."),
    (at(2026, 11, 23, 19), "We open again tomorrow, Tuesday, at 8 AM.",
     "Volvemos a abrir mañana, martes, a las 8 de la mañana."),
    # Across the weekend: Saturday after noon and Sunday point to Monday.
    (SATURDAY_AFTERNOON, "We open again Monday at 8 AM.", "Volvemos a abrir el lunes a las 8 de la mañana."),
    (SUNDAY, "We open again tomorrow, Monday, at 8 AM.", "Volvemos a abrir mañana, lunes, a las 8 de la mañana."),
    # Across a holiday: Wednesday evening skips Thanksgiving Thursday.
    (WEDNESDAY_EVENING, "We open again Friday at 8 AM.", "Volvemos a abrir el viernes a las 8 de la mañana."),
    # Christmas Eve closes at noon, Christmas is closed: Saturday 9 AM.
    (CHRISTMAS_EVE_AFTERNOON, "We open again Saturday at 9 AM.", "Volvemos a abrir el sábado a las 9 de la mañana."),
    (CHRISTMAS_MORNING, "We open again tomorrow, Saturday, at 9 AM.",
     "Volvemos a abrir mañana, sábado, a las 9 de la mañana."),
])
def test_next_open_across_weekends_and_holidays(when, en, es):
    assert next_open(schedule(), when, "en") == en
    assert next_open(schedule(), when, "es") == es


def test_next_open_after_a_long_closure_names_the_date_and_never_opening_says_nothing():
    sched = schedule()
    closed = {d: Holiday(d, "Renovation") for d in (dt.date(2026, 11, 30) + dt.timedelta(days=i) for i in range(14))}
    long_closure = Schedule(NY, sched.weekly, {**sched.holidays, **closed})
    assert next_open(long_closure, SATURDAY_AFTERNOON, "en") == "We open again on Monday, December 14, at 8 AM."
    assert next_open(long_closure, SATURDAY_AFTERNOON, "es") == "Volvemos a abrir el lunes 14 de diciembre a las 8 de la mañana."
    assert next_open(Schedule(NY, {}, {}), SATURDAY_AFTERNOON, "en") == ""


def test_the_words_follow_the_clinic_zone_not_utc():
    # 03:30 UTC on Tuesday is still Monday 22:30 in New York.
    when = dt.datetime(2026, 11, 24, 3, 30, tzinfo=dt.timezone.utc)
    assert next_open(schedule(), when, "en") == "We open again tomorrow, Tuesday, at 8 AM."
    assert hours_today(schedule(), when, "en") == "Today we were open from 8 AM to 5 PM."


def test_hours_week_groups_days_with_the_same_hours():
    assert hours_week(schedule(), "en") == (
        "We are open Monday, Wednesday, and Friday from 8 AM to 5 PM, Tuesday from 8 AM to noon and from 1 to 5 PM, "
        "Thursday from 8 AM to 7 PM, and Saturday from 9 AM to noon."
    )
    simple = Schedule(NY, {d: parse_spans(["08:00-17:00"]) for d in range(5)} | {5: parse_spans(["09:00-12:00"])})
    assert hours_week(simple, "en") == "We are open Monday to Friday from 8 AM to 5 PM and Saturday from 9 AM to noon."
    assert hours_week(simple, "es") == (
        "Abrimos de lunes a viernes de 8 de la mañana a 5 de la tarde y el sábado de 9 de la mañana a 12 del mediodía."
    )


def test_prompt_values_work_out_the_hours_only_when_a_prompt_says_them():
    values = prompt_values(schedule(), SUNDAY, "en", {"clinic_name": "Riverside"})
    assert "Thank you for calling {clinic_name}.".format_map(values) == "Thank you for calling Riverside."
    assert not values.timed  # nothing about the time: the words can be reused
    said = "Closed. {next_open}".format_map(values)
    assert said == "Closed. We open again tomorrow, Monday, at 8 AM."
    assert values.timed
    with pytest.raises(KeyError):
        "{clinc_name}".format_map(values)


# A real call: signed webhooks, the hours from clinic.yaml, then changed -------------------------


def _after_hours_says(app) -> str:
    """A signed call at the app's clock (after hours): the text of the <Say> of the after-hours prompt."""
    from ivr.telephony.simulator import PhoneCall

    call = PhoneCall(flask_transport(app), "http://localhost", TOKEN)
    turn = call.start()
    for _ in range(3):  # through a language choice, if the flow has one (silence keeps English)
        says = [s.text or "" for s in ET.fromstring(turn.twiml[-1]).iter("Say")]
        found = [s for s in says if s.startswith("We are closed now.")]
        if found:
            return found[0]
        turn = call.silence()
    raise AssertionError(f"no after-hours prompt in {says}")


def test_an_after_hours_call_says_the_hours_of_clinic_yaml_and_follows_a_change(make_app, config_copy, clock):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    clock.set(dt.datetime(2026, 11, 23, 19, 0, tzinfo=CLINIC_TZ))  # Monday evening
    assert _after_hours_says(app).startswith("We are closed now. We open again tomorrow, Tuesday, at 8 AM.")

    # The same call later in the week: the answer is worked out again, not served from the render cache.
    clock.set(dt.datetime(2026, 11, 28, 13, 0, tzinfo=CLINIC_TZ))  # Saturday after noon
    assert _after_hours_says(app).startswith("We are closed now. We open again Monday at 8 AM.")

    clinic = config / "clinic.yaml"
    text = clinic.read_text()
    assert '  monday: ["08:00-17:00"]' in text
    clinic.write_text(text.replace('  monday: ["08:00-17:00"]', '  monday: ["09:30-12:00", "13:00-17:00"]'))
    assert _after_hours_says(app).startswith("We are closed now. We open again Monday at 9:30 AM.")


def test_the_hours_are_right_on_each_side_of_midnight_though_answers_are_reused_within_a_minute(make_app, clock):
    """TwiML that says the hours is reused for the minute it was made in (webhooks after hours stay cheap),
    and never past it: at 23:59 'tomorrow' is Tuesday, a minute later it is today."""
    app = make_app()
    clock.set(dt.datetime(2026, 11, 23, 23, 59, 5, tzinfo=CLINIC_TZ))  # Monday, a minute before midnight
    first = _after_hours_says(app)
    clock.set(dt.datetime(2026, 11, 23, 23, 59, 55, tzinfo=CLINIC_TZ))
    assert _after_hours_says(app) == first
    assert first.startswith("We are closed now. We open again tomorrow, Tuesday, at 8 AM.")
    clock.set(dt.datetime(2026, 11, 24, 0, 0, 5, tzinfo=CLINIC_TZ))  # Tuesday
    assert _after_hours_says(app).startswith("We are closed now. We open today at 8 AM.")

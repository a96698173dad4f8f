"""Calendar import of timed events: read in the clinic's time zone, and a day an event takes part of
becomes a holiday with reduced hours (the usual hours minus the event), said so in clinic time."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

from ivr.admin.calendar_import import read
from ivr.clinic.settings import load_clinic
from ivr.clinic.hours import Holiday, OpenStatus, Schedule, Span

from .test_admin import csrf, logged_in, users  # noqa: F401

NEW_YORK = ZoneInfo("America/New_York")
# Weekdays 08:00-17:00 (Thursday to 19:00), Saturday 09:00-12:00, Sunday closed: the shipped clinic's week.
WEEK = {0: (Span(480, 1020),), 1: (Span(480, 1020),), 2: (Span(480, 1020),), 3: (Span(480, 1140),),
        4: (Span(480, 1020),), 5: (Span(540, 720),), 6: ()}


def calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{i}\r\n{e}END:VEVENT\r\n" for i, e in enumerate(events))
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + body + "END:VCALENDAR\r\n").encode()


def schedule(**holidays) -> Schedule:
    return Schedule(NEW_YORK, WEEK, holidays)


def test_a_timed_event_in_utc_is_shown_and_imported_in_clinic_time_as_reduced_hours():
    # 17:00-22:00 UTC on Thursday 24 Dec 2026 is 12:00-17:00 in New York; Thursdays are 08:00-19:00.
    preview = read(calendar("DTSTART:20261224T170000Z\r\nDTEND:20261224T220000Z\r\nSUMMARY:Staff party\r\n"),
                   existing=set(), schedule=schedule())
    day = dt.date(2026, 12, 24)
    assert preview.new == [(day, "Staff party")]
    assert preview.hours == {day: ["08:00-12:00", "17:00-19:00"]}
    assert preview.notes[day] == ("closed 12:00–17:00 (event 'Staff party', 12:00–17:00 clinic time); "
                                  "open 08:00-12:00, 17:00-19:00")
    assert preview.problems == [] and preview.unchanged == []


def test_closed_from_or_until_when_the_event_reaches_the_end_or_the_start_of_the_day():
    preview = read(calendar(
        "DTSTART:20261222T170000Z\r\nDTEND:20261222T230000Z\r\nSUMMARY:Staff party\r\n",  # Tue 12:00-18:00
        "DTSTART;TZID=America/Los_Angeles:20261221T040000\r\nDURATION:PT3H\r\nSUMMARY:Training\r\n",  # Mon 07:00-10:00 NY
        "DTSTART:20261223T090000\r\nDTEND:20261223T100000\r\nSUMMARY:Fire drill\r\n",  # no zone: clinic time
    ), existing=set(), schedule=schedule())
    assert preview.hours == {dt.date(2026, 12, 21): ["10:00-17:00"], dt.date(2026, 12, 22): ["08:00-12:00"],
                             dt.date(2026, 12, 23): ["08:00-09:00", "10:00-17:00"]}
    assert preview.notes[dt.date(2026, 12, 21)].startswith("closed until 10:00 (event 'Training', 07:00–10:00 clinic time)")
    assert preview.notes[dt.date(2026, 12, 22)].startswith("closed from 12:00 (event 'Staff party', 12:00–18:00 clinic time)")
    assert preview.notes[dt.date(2026, 12, 23)].startswith("closed 09:00–10:00 (event 'Fire drill', 09:00–10:00 clinic time)")


def test_an_event_crossing_midnight_clinic_time_counts_on_each_day_it_touches():
    # Friday 18 Dec 22:00 to Saturday 19 Dec 10:00 in New York (03:00-15:00 UTC on the 19th).
    preview = read(calendar("DTSTART:20261219T030000Z\r\nDTEND:20261219T150000Z\r\nSUMMARY:Network works\r\n"),
                   existing=set(), schedule=schedule())
    saturday = dt.date(2026, 12, 19)
    assert preview.new == [(saturday, "Network works")]  # not Friday: closed at 17:00 anyway
    assert preview.hours == {saturday: ["10:00-12:00"]}
    assert preview.notes[saturday] == ("closed until 10:00 (event 'Network works', Dec 18 22:00 – Dec 19 10:00 clinic time); "
                                       "open 10:00-12:00")
    assert preview.unchanged == ["Network works, Fri 18 Dec 2026 (event 'Network works', Dec 18 22:00 – Dec 19 10:00 "
                                 "clinic time): the clinic is closed then anyway (open 08:00-17:00)"]


def test_a_timed_event_over_a_whole_day_closes_it_and_two_events_on_one_day_both_count():
    preview = read(calendar(
        "DTSTART:20261217T130000Z\r\nDTEND:20261218T010000Z\r\nSUMMARY:Move\r\n",  # Thu 08:00-20:00 NY
        "DTSTART:20261221T140000Z\r\nDTEND:20261221T150000Z\r\nSUMMARY:Meeting\r\n",  # Mon 09:00-10:00
        "DTSTART:20261221T190000Z\r\nDTEND:20261221T200000Z\r\nSUMMARY:Drill\r\n",  # Mon 14:00-15:00
    ), existing=set(), schedule=schedule())
    assert preview.hours == {dt.date(2026, 12, 17): [], dt.date(2026, 12, 21): ["08:00-09:00", "10:00-14:00", "15:00-17:00"]}
    assert preview.notes[dt.date(2026, 12, 17)].startswith("closed all day (event 'Move', 08:00–20:00 clinic time)")
    assert (dt.date(2026, 12, 21), "Meeting; Drill") in preview.new


def test_timed_events_that_change_nothing_or_fall_on_a_holiday_are_said_not_imported():
    christmas_eve = dt.date(2026, 12, 24)
    holidays = {christmas_eve: Holiday(christmas_eve, "Christmas Eve", (Span(480, 720),))}
    preview = read(calendar(
        "DTSTART:20261227T170000Z\r\nDTEND:20261227T220000Z\r\nSUMMARY:Sunday lunch\r\n",
        "DTSTART:20261224T170000Z\r\nDTEND:20261224T220000Z\r\nSUMMARY:Party\r\n",  # 12:00-17:00: closed anyway
        "DTSTART:20261224T150000Z\r\nDTEND:20261224T160000Z\r\nSUMMARY:Inventory\r\n",  # 10:00-11:00: open then
        "DTSTART:20271126T150000Z\r\nSUMMARY:Staff meeting\r\n",  # no end
        "DTSTART:20261230T170000Z\r\nDTEND:20261230T160000Z\r\nSUMMARY:Backwards\r\n",
    ), existing={christmas_eve}, schedule=Schedule(NEW_YORK, WEEK, holidays))
    assert preview.new == []
    assert preview.unchanged == [
        "Sunday lunch, Sun 27 Dec 2026 (event 'Sunday lunch', 12:00–17:00 clinic time): the clinic is closed on Sundays",
    ]
    assert preview.problems == [
        "Staff meeting: not an all-day event, and it has no end time (starts Fri 26 Nov 2027 10:00 clinic time); "
        "add reduced hours by hand",
        "Backwards: ends (Wed 30 Dec 2026 11:00) before it starts (Wed 30 Dec 2026 12:00, clinic time)",
        "Party; Inventory, Thu 24 Dec 2026 (event 'Party', 12:00–17:00 clinic time, event 'Inventory', 10:00–11:00 "
        "clinic time): 2026-12-24 is already a holiday (Christmas Eve, open 08:00-12:00); change its hours by hand",
    ]


def test_the_hours_page_previews_in_clinic_time_and_imports_reduced_hours(make_app, config_copy, users):  # noqa: F811
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0)
    admin = logged_in(app)
    token = csrf(admin, "/admin/hours")
    ics = calendar("DTSTART:20261223T170000Z\r\nDTEND:20261223T220000Z\r\nSUMMARY:Staff party\r\n")  # Wed 12:00-17:00 NY
    resp = admin.post("/admin/hours/import", data={"csrf_token": token, "calendar": (io.BytesIO(ics), "party.ics")},
                      content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert ("<li>2026-12-23 Staff party: closed from 12:00 (event &#39;Staff party&#39;, 12:00–17:00 clinic time); "
            "open 08:00-12:00</li>") in page
    assert "Times are clinic time (America/New_York)" in page
    payload = re.search(r'name="dates" value="([^"]+)"', page).group(1).replace("&#34;", '"').replace("&quot;", '"')
    admin.post("/admin/hours/import", data={"csrf_token": token, "confirm": "1", "dates": payload})
    clinic = load_clinic(config / "clinic.yaml")
    [party] = [h for h in clinic.holidays if h.date == dt.date(2026, 12, 23)]
    assert (party.name, party.hours) == ("Staff party", ["08:00-12:00"])
    hours = clinic.schedule()
    assert hours.status(dt.datetime(2026, 12, 23, 11, 59, tzinfo=NEW_YORK)) == OpenStatus.OPEN
    assert hours.status(dt.datetime(2026, 12, 23, 12, 0, tzinfo=NEW_YORK)) == OpenStatus.HOLIDAY

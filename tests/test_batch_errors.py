"""One bad appointment never costs the others their follow-up call (issue 31, finding 4).

A date far outside any real schedule (``9999-12-31T12:00:00``) used to overflow after the batch
was stored: the API answered 500, the good items stayed stored with no next try and no job, and
sending them again answered "unchanged". The same row crashed ``ivr followups import``, and a
calendar event with ``DURATION:P99999999D`` crashed the holiday import. Now each such item is
refused alone, with its index, line or event and the reason, and every good item is scheduled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io

from rq import Queue
from rq.registry import ScheduledJobRegistry

from ivr.admin.calendar_import import read
from ivr.followups.appointments import Rules, from_mapping
from ivr.store.followups import FollowupStore
from ivr.workers import DEFAULT_QUEUE
from ivr.workers import followup_changes
from ivr.workers import followups as jobs

from .test_admin import csrf, logged_in, users  # noqa: F401 - fixture
from .test_calendar_import import calendar, schedule
from .test_followups_api import GOOD, api  # noqa: F401 - fixture

FAR = "9999-12-31T12:00:00"


def scheduled_ids(redis_conn) -> set[str]:
    return set(ScheduledJobRegistry(queue=Queue(DEFAULT_QUEUE, connection=redis_conn)).get_job_ids())


def assert_scheduled(redis_conn, *appointment_ids: str) -> None:
    """Each appointment has its next try and its RQ job: it will be called."""
    store = FollowupStore(redis_conn)
    for appointment_id in appointment_ids:
        rec = store.get(appointment_id)
        assert rec is not None and rec.status == "scheduled" and rec.next_try_at > 0, appointment_id
        assert jobs.job_id(appointment_id, 1, gen=rec.gen) in scheduled_ids(redis_conn), appointment_id


def test_a_poisoned_api_batch_keeps_its_good_items_scheduled_and_names_the_bad_one(api, redis_conn):
    body = {"appointments": [{**GOOD, "id": "A-1"}, {**GOOD, "id": "A-2", "appointment_time": FAR},
                             {**GOOD, "id": "A-3", "phone": "+12025550124"},
                             {**GOOD, "id": "A-4", "appointment_time": "2019-03-01T10:00:00"}]}
    resp = api.post(body)
    assert resp.status_code == 200
    data = resp.get_json()
    assert (data["imported"], data["unchanged"]) == (2, 0)
    assert [e["index"] for e in data["errors"]] == [1, 3]
    assert "9999-12-31 is more than 2 years from today" in data["errors"][0]["reason"]
    assert "2019-03-01 is more than 2 years from today" in data["errors"][1]["reason"]
    assert_scheduled(redis_conn, "sA-1", "sA-3")
    store = FollowupStore(redis_conn)
    assert store.get("sA-2") is None and store.get("sA-4") is None and store.count() == 2

    again = api.post(body).get_json()
    assert (again["imported"], again["unchanged"], len(again["errors"])) == (0, 2, 2)


def test_put_refuses_a_date_out_of_range_with_422_and_stores_nothing(api, redis_conn):
    for when in (FAR, "0001-01-01T00:00:00+05:00", "2029-01-01T10:00:00"):
        resp = api.put("A-9", {**GOOD, "appointment_time": when})
        assert resp.status_code == 422, when
        assert "appointment_time" in resp.get_json()["error"]
    assert FollowupStore(redis_conn).count() == 0
    assert api.put("A-9", GOOD).status_code == 200


def test_an_appointment_stored_without_its_call_gets_it_when_sent_again(app, api, redis_conn):
    """What the old code left behind (stored, no next try, no job) is repaired, not 'unchanged'."""
    item = from_mapping({**GOOD, "id": "A-5"}, Rules.for_clinic(app.extensions["ivr"].runtime.clinic))
    store = FollowupStore(redis_conn)
    assert store.add(item)
    assert store.get("sA-5").next_try_at == 0 and not scheduled_ids(redis_conn)

    data = api.post([{**GOOD, "id": "A-5"}]).get_json()
    assert (data["imported"], data["unchanged"], data["errors"]) == (1, 0, [])
    assert_scheduled(redis_conn, "sA-5")
    assert api.post([{**GOOD, "id": "A-5"}]).get_json()["unchanged"] == 1  # now it really is unchanged


def test_apply_refuses_an_item_whose_call_time_overflows_and_schedules_the_rest(app, redis_conn):
    """Behind the parser's range check: apply_changes itself never stores an item it cannot schedule."""
    svc = app.extensions["ivr"]
    clinic = svc.runtime.clinic
    rules = Rules.for_clinic(clinic)
    good = from_mapping({**GOOD, "id": "B-1"}, rules)
    bad = dataclasses.replace(from_mapping({**GOOD, "id": "B-2"}, rules),
                              at=dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone.utc))
    other = from_mapping({**GOOD, "id": "B-3", "phone": "+12025550124"}, rules)
    store = FollowupStore(redis_conn)
    changes = followup_changes.apply_changes(Queue(DEFAULT_QUEUE, connection=redis_conn), store,
                                 [(0, good), (1, bad), (2, other)], clinic, svc.now())
    assert changes.imported == 2
    assert [where for where, _ in changes.refused] == [1]
    assert store.get("sB-2") is None
    assert_scheduled(redis_conn, "sB-1", "sB-3")


def test_the_csv_import_reports_the_far_row_by_line_and_schedules_the_others(redis_server, redis_conn, tmp_path):
    from .processes import run_ivr

    path = tmp_path / "appointments.csv"
    path.write_text(
        "id,name,phone,appointment_time,provider,department,language\n"
        "C-1,Maria Lopez,(202) 555-0123,2026-11-24 10:00,Dr. Chen,nurse,es\n"
        f"C-2,John Smith,(202) 555-0124,{FAR},Dr. Chen,nurse,en\n"
        "C-3,Ann Lee,(202) 555-0125,2026-11-25 10:00,Dr. Chen,nurse,en\n",
        encoding="utf-8",
    )
    result = run_ivr("followups", "import", str(path), REDIS_URL=redis_server.url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr
    assert f"{path}:3: appointment_time 9999-12-31 is more than 2 years from today" in result.stderr
    assert "imported 2 new appointment(s), 0 moved, 0 cancelled, 0 already known, 1 bad row(s)" in result.stdout
    assert_scheduled(redis_conn, "sC-1", "sC-3")
    assert FollowupStore(redis_conn).get("sC-2") is None


def test_a_calendar_event_lasting_forever_or_years_away_is_reported_and_the_rest_imported():
    preview = read(calendar(
        "DTSTART;VALUE=DATE:20261225\r\nDURATION:P99999999D\r\nSUMMARY:Forever\r\n",
        "DTSTART:20261224T170000Z\r\nDURATION:P99999999D\r\nSUMMARY:Forever timed\r\n",
        "DTSTART;VALUE=DATE:99991231\r\nSUMMARY:Far away\r\n",
        "DTSTART;VALUE=DATE:20261226\r\nSUMMARY:Boxing Day\r\n",
    ), existing=set(), schedule=schedule(), today=dt.date(2026, 12, 7))
    assert preview.new == [(dt.date(2026, 12, 26), "Boxing Day")]
    assert preview.problems == [
        "Forever: lasts 99999999 days (more than 31): add it by hand if the clinic is really closed that long",
        "Forever timed: lasts 99999999 days (more than 31): add it by hand if the clinic is really closed that long",
        "Far away: starts 9999-12-31, more than 2 years from today (2026-12-07): a typo? Add it by hand if it is right",
    ]


def test_the_holiday_import_page_shows_the_endless_event_as_a_problem_not_a_500(make_app, config_copy, users):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts))
    admin = logged_in(app)
    today = dt.date.today()
    ics = calendar(f"DTSTART;VALUE=DATE:{today:%Y%m%d}\r\nDURATION:P99999999D\r\nSUMMARY:Forever\r\n",
                   f"DTSTART;VALUE=DATE:{today + dt.timedelta(days=30):%Y%m%d}\r\nSUMMARY:Closure\r\n")
    resp = admin.post("/admin/hours/import", data={"csrf_token": csrf(admin, "/admin/hours"),
                                                   "calendar": (io.BytesIO(ics), "holidays.ics")},
                      content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Forever: lasts 99999999 days" in page
    assert f"{today + dt.timedelta(days=30)} Closure" in page

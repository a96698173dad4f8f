"""Reports measured on real calls (issue 28): a mix of signed calls through the real app, with the clock
moved on; every figure equals the hand count, and the chart, the table and the CSV agree."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html.parser import HTMLParser

import pytest

from ivr.store import keys
from ivr.store.call_records import CallRecord, CallRecords

from .conftest import CLINIC_TZ, OPEN_TIME
from ivr.staff.passwords import hash_password

from .test_followup_pages import admin_client
from .test_staff_auth import PASSWORD, Auth


class Tables(HTMLParser):
    """Tables by data-table (rows of cell texts) and chart rects by svg id (data-label, data-value)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.charts: dict[str, list[tuple[str, str]]] = {}
        self._table = self._svg = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("data-table"):
            self._table = a["data-table"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "svg" and (a.get("id") or "").startswith("chart-"):
            self._svg = a["id"][6:]
            self.charts[self._svg] = []
        elif tag == "rect" and self._svg:
            self.charts[self._svg].append((a.get("data-label"), a.get("data-value")))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "svg":
            self._svg = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Tables:
    p = Tables()
    p.feed(html)
    return p


def at(clock, base: dt.datetime, seconds: float) -> None:
    clock.set(base + dt.timedelta(seconds=seconds))


def drive_calls(phone, clock) -> None:
    t = OPEN_TIME  # Tuesday 10:00 in the clinic: open
    # 1. Scheduling by key; the desk answers 30 s after arrival (talks 95 s).
    call = phone(caller="+12025550111")
    at(clock, t, 0); call.start()
    at(clock, t, 10); call.press("1")
    at(clock, t, 125); call.dial_result("completed", duration=95)
    at(clock, t, 130); call.hang_up()
    # 2. Billing by key; answered after 90 s (over the 60 s service level).
    t2 = t + dt.timedelta(minutes=5)
    call = phone(caller="+12025550112")
    at(clock, t2, 0); call.start()
    at(clock, t2, 8); call.press("2")
    at(clock, t2, 150); call.dial_result("completed", duration=60)
    at(clock, t2, 151); call.hang_up()
    # 3. Billing does not answer: callback requested 50 s after arrival.
    t3 = t + dt.timedelta(minutes=10)
    call = phone(caller="+12025550113")
    at(clock, t3, 0); call.start()
    at(clock, t3, 5); call.press("2")
    at(clock, t3, 30); call.dial_result("no-answer")
    at(clock, t3, 40); call.press("1")  # keep my place
    at(clock, t3, 45); call.press("1")  # this number
    at(clock, t3, 50); call.record_nothing()  # no reason: the request is stored
    at(clock, t3, 55); call.hang_up()
    # 4. Spanish by speech, nurse busy, voicemail kept 45 s after arrival.
    t4 = t + dt.timedelta(minutes=15)
    call = phone(caller="+13055550147")
    at(clock, t4, 0); call.start()
    at(clock, t4, 5); call.say("Español")
    at(clock, t4, 12); call.say("necesito hablar con una enfermera")
    at(clock, t4, 20); call.dial_result("busy")
    at(clock, t4, 30); call.say("quiero dejar un mensaje")
    at(clock, t4, 45); call.record(seconds=14)
    at(clock, t4, 50); call.hang_up()
    # 5. Hangs up in the main menu.
    t5 = t + dt.timedelta(hours=1)  # 11:00
    call = phone(caller="+12025550115")
    at(clock, t5, 0); call.start()
    at(clock, t5, 8); call.hang_up()
    # 6. Hangs up while the nurse line rings (14 s after reaching it: an abandon).
    call = phone(caller="+12025550116")
    at(clock, t5, 100); call.start()
    at(clock, t5, 106); call.press("3")
    at(clock, t5, 120); call.hang_up()
    # 7. Hangs up 2 s after the front desk starts ringing: a short abandon.
    call = phone(caller="+12025550117")
    at(clock, t5, 200); call.start()
    at(clock, t5, 205); call.press("0")
    at(clock, t5, 207); call.hang_up()
    # 8. After hours (22:00): a message for the front desk, kept 30 s after arrival.
    t8 = OPEN_TIME.replace(hour=22)
    call = phone(caller="+12025550118")
    at(clock, t8, 0); call.start()
    at(clock, t8, 6); call.press("2")
    at(clock, t8, 30); call.record(seconds=20)
    at(clock, t8, 33); call.hang_up()
    # 9. After hours (22:10): hangs up in the after-hours menu, another menu step than call 5's.
    t9 = OPEN_TIME.replace(hour=22, minute=10)
    call = phone(caller="+12025550119")
    at(clock, t9, 0); call.start()
    at(clock, t9, 5); call.hang_up()


def summary_of(page: Tables) -> dict[str, str]:
    return {row[0]: row[1] for row in page.tables["summary"][1:]}


def work_callbacks(app, clock) -> None:
    """Staff work two of the three callbacks the calls left (billing's and the nurse's voicemail), by the app's clock."""
    from ivr.store.callback_types import Outcome

    queue = app.extensions["ivr"].callbacks
    t = OPEN_TIME
    at(clock, t, 10 * 60 + 50 + 1800)  # billing's request (10:10:50) claimed 30 min after it
    billing = queue.claim_next(["billing"], "bea")
    at(clock, t, 10 * 60 + 50 + 2100)  # within her claim (10 min)
    queue.finish(billing.id, "bea", Outcome.REACHED)  # 35 min: within the 60 min target
    at(clock, t, 15 * 60 + 45 + 3600)  # the nurse's voicemail (10:15:45) heard an hour after it came
    nurse = queue.claim_next(["nurse"], "nina")
    assert nurse.source == "voicemail"
    at(clock, t, 15 * 60 + 45 + 3900)
    queue.finish(nurse.id, "nina", Outcome.LEFT_MESSAGE)  # 65 min: over the target
    # The front desk's after-hours message (22:00:30) still waits the next morning.


def test_report_figures_equal_the_hand_count_and_chart_table_csv_agree(app, phone, clock, redis_conn):
    from ivr.store.followups import FollowupStore

    from .test_followup_pages import GOOD, post

    # The web process's callback store keeps the app's clock, as it keeps the wall clock in production (the
    # test moves the app's clock; the store's own default is the wall clock).
    app.extensions["ivr"].callbacks.clock = lambda: clock().timestamp()
    follow = FollowupStore(redis_conn)
    assert post(app.test_client(), [GOOD, {**GOOD, "name": "John Smith", "phone": "+13125550147"}],
                follow.new_api_key("scheduler")).status_code == 200
    for rec in follow.list():
        follow.complete(rec.id, "reached" if rec.name == "Maria Lopez" else "unreached")
    drive_calls(phone, clock)
    work_callbacks(app, clock)
    clock.set(OPEN_TIME + dt.timedelta(days=1, hours=-1))  # the next morning at 09:00
    client = admin_client(app)
    resp = client.get("/admin/reports?range=7")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    page = parse(resp.get_data(as_text=True))
    s = summary_of(page)
    assert s["Calls"] == "9"
    assert s["Reached a queue (short abandons left out)"] == "6"
    assert s["Service level (60 s)"] == "66.7%"  # calls 1, 3, 4, 8 of 1, 2, 3, 4, 6, 8
    assert s["Abandonment rate"] == "16.7%"  # call 6 of six
    assert s["Short abandons (under 5 s)"] == "1"
    assert s["A desk answered"] == "2"
    assert s["Speed to a person, average"] == "60 s"  # (30 + 90) / 2
    assert s["Speed to a person, 90th percentile"] == "90 s"
    assert s["Hung up in the menu"] == "2"  # calls 5 (main menu) and 9 (after-hours menu)
    assert s["Answers by key / by speech"] == "8 / 3"
    assert s["Callbacks done within target (60 min)"] == "1 of 2"
    assert s["Time to callback, p50"] == "35.0 min" and s["Time to callback, p90"] == "65.0 min"
    assert s["Request → first claim by staff, p50"] == "30.0 min"  # 30 and 60 min: nearest rank
    assert s["Voicemail response (received → first claim), p50"] == "60.0 min"
    assert s["Callbacks closed unreached"] == "0"
    assert s["Callbacks waiting now (over target)"] == "1 (1)"  # the after-hours message, 11 h by now
    assert s["Follow-up reach rate (reached ÷ called)"] == "50.0% (1 of 2)"

    outcomes = {r[0]: r[1] for r in page.tables["outcomes"][1:]}
    assert outcomes == {
        "A desk answered": "2", "Callback requested": "1", "Voicemail left": "2",
        "Hung up while ringing, holding or at the callback offer": "2", "Hung up in the menu": "2",
    }
    assert {r[0]: r[1] for r in page.tables["languages"][1:]} == {"en": "8", "es": "1"}
    assert {r[0]: r[1] for r in page.tables["hours_open"][1:]} == {"Open": "7", "Closed": "2"}
    funnel = {r[0]: (r[1], r[2]) for r in page.tables["funnel"][1:]}
    assert funnel["main: main_menu"] == ("7", "1")
    assert funnel["main: after_hours_menu"] == ("2", "1")
    # Call 6: the nurse queue already held call 4's message, so the long wait offered a callback first.
    assert funnel["main: nurse_callback_offer"][1] == "1" and funnel["main: to_front_desk"][1] == "1"
    heat = {r[0]: r[1:] for r in page.tables["heat_calls"][1:]}
    assert heat["Tuesday"][10] == "4" and heat["Tuesday"][11] == "3" and heat["Tuesday"][22] == "2"
    assert sum(int(v) for row in heat.values() for v in row) == 9
    waiting_callers = {r[0]: r[1:] for r in page.tables["heat_queued"][1:]}
    assert waiting_callers["Tuesday"][10] == "4" and waiting_callers["Tuesday"][11] == "2" and waiting_callers["Tuesday"][22] == "1"
    assert sum(int(v) for row in waiting_callers.values() for v in row) == 7
    # Waits from reaching a queue to a person, a promise or hanging up: 10:00 calls 20 + 82 + 45 + 33 s,
    # 11:00 calls 14 + 2 s, 22:00 24 s.
    minutes = {r[0]: r[1:] for r in page.tables["heat_wait"][1:]}
    assert (minutes["Tuesday"][10], minutes["Tuesday"][11], minutes["Tuesday"][22]) == ("3.0", "0.3", "0.4")
    assert sum(float(v) for row in minutes.values() for v in row) == pytest.approx(3.7)
    times = {r[0]: (r[1], r[2]) for r in page.tables["callback_times"][1:]}
    assert times["30 min to 60 min (the target)"] == ("1", "50.0%") and times["60 min to 2 h"] == ("1", "100.0%")
    assert sum(int(n) for n, _ in times.values()) == 2
    assert page.tables["waiting"][1:] == [["Tue 24 Nov 2026", "1", "1"]]
    followups = {r[0]: r[1] for r in page.tables["followups"][1:]}
    assert followups["Where each appointment stands: Reached"] == "1"
    assert followups["Where each appointment stands: Not reached"] == "1"

    # The chart, the table and the CSV of each table say the same.
    for key in ("outcomes", "languages", "funnel", "choices", "departments", "hours_open", "heat_calls", "heat_queued",
                "heat_wait", "callback_times", "waiting", "followups"):
        rows = page.tables[key][1:]
        got = list(csv.reader(io.StringIO(client.get(f"/admin/reports/{key}.csv?range=7").get_data(as_text=True))))
        assert got[1:] == rows, key
        bars = page.charts[key]
        if key.startswith("heat"):
            assert [v for _, v in bars] == [v for r in rows for v in r[1:]], key
        else:
            col = 2 if key == "choices" else 1
            assert [v for _, v in bars] == [r[col] for r in rows], key
    summary_csv = list(csv.reader(io.StringIO(client.get("/admin/reports/summary.csv?range=7").get_data(as_text=True))))
    assert summary_csv[1:] == page.tables["summary"][1:]
    # Per department: billing had calls 2 and 3.
    billing = summary_of(parse(client.get("/admin/reports?range=7&department=billing").get_data(as_text=True)))
    assert billing["Calls"] == "2" and billing["Service level (60 s)"] == "50.0%"

    # No patient data in the stored rows, and a row is kept once however often Twilio reports the end.
    day = OPEN_TIME.date().isoformat()
    rows = redis_conn.lrange(keys.CALL_RECORDS.format(day), 0, -1)
    assert len(rows) == 9 and not any(re.search(rb"555|CA[0-9a-f]{8}", r) for r in rows)
    pruned_at = dt.datetime.combine(OPEN_TIME.date() + dt.timedelta(days=401), dt.time(), dt.timezone.utc)
    left = pruned_at - dt.datetime.now(dt.timezone.utc)
    assert abs(redis_conn.ttl(keys.CALL_RECORDS.format(day)) - left.total_seconds()) < 5  # kept 400 days, then pruned


def test_a_status_callback_sent_again_adds_no_second_record(app, phone, clock, redis_conn):
    call = phone()
    call.start()
    call.hang_up()
    call.hang_up()
    assert redis_conn.llen(keys.CALL_RECORDS.format(OPEN_TIME.date().isoformat())) == 1


@pytest.mark.parametrize("query, words", [
    ("range=custom&from=2026-11-30&to=2026-11-01", "ends (2026-11-01) before it begins"),
    ("range=custom&from=yesterday&to=2026-11-01", "is not a date"),
    ("range=custom&from=2020-01-01&to=2026-11-24", "kept 400 days"),
    ("range=custom&from=2025-09-01&to=2025-12-01", "kept 400 days"),  # 92 days, but reaching past the records kept
    ("range=custom&from=&to=2026-11-24", "is not a date"),
    ("range=custom&from=2026-11-20&to=2027-01-01", "in the future"),
    ("range=fortnight", "Unknown range"),
    ("range=7&department=nope", "Unknown department"),
])
def test_a_bad_range_is_said_in_words_never_a_500(app, query, words):
    client = admin_client(app)
    resp = client.get(f"/admin/reports?{query}")
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert words in page and 'role="alert"' in page
    assert "REPORTS_" not in page  # plain words, no setting names
    assert client.get(f"/admin/reports/outcomes.csv?{query}").status_code == 400


def test_a_clinic_with_no_calls_sees_an_empty_report_that_says_so(app):
    client = admin_client(app)
    resp = client.get("/admin/reports?range=today")
    assert resp.status_code == 200
    assert "No calls recorded in this range" in resp.get_data(as_text=True)


def test_reports_are_for_admins_and_viewing_is_audited(app, redis_conn):
    assert admin_client(app, "nurse").get("/admin/reports").status_code == 403
    redis_conn.delete(keys.AUDIT)
    app.extensions["ivr"].users.disable("root")
    app.extensions["ivr"].users.add("boss", "admin", hash_password(PASSWORD))
    client = app.test_client()
    Auth(client).login("boss")
    assert client.get("/admin/reports?range=30").status_code == 200
    assert client.get("/admin/reports/languages.csv?range=30").status_code == 200
    details = [e.get(b"detail", b"").decode() for _, e in redis_conn.xrange(keys.AUDIT) if e.get(b"action") == b"view_reports"]
    assert len(details) == 2 and details[1].startswith("reports CSV languages")


def test_rows_pack_small_and_round_trip():
    rec = CallRecord(1795000000, "main", "0123456789ab", "es", (0, 1, 2, 11), "V", "on_call_nurse", 7, 12, None, 45, 50, 0, 3, "c")
    assert CallRecord.unpack(rec.pack()) == rec
    assert len(rec.pack()) < 80


def test_prometheus_has_the_same_figures_without_patient_data(make_app, clock):
    from ivr.telephony.simulator import PhoneCall

    from .conftest import TOKEN, flask_transport

    app = make_app(METRICS_TOKEN="m" * 24)

    def dial(caller):
        return PhoneCall(flask_transport(app), "http://localhost", TOKEN, caller=caller)

    c = dial("+12025550121"); clock.set(OPEN_TIME); c.start()
    clock.set(OPEN_TIME + dt.timedelta(seconds=5)); c.press("1")
    clock.set(OPEN_TIME + dt.timedelta(seconds=80)); c.dial_result("completed", duration=60)  # a person at 20 s
    c.hang_up()
    c = dial("+12025550122"); clock.set(OPEN_TIME); c.start(); c.hang_up()
    text = app.test_client().get("/metrics", headers={"Authorization": "Bearer " + "m" * 24}).get_data(as_text=True)
    assert 'ivr_report_calls_total{department="scheduling",outcome="answered"} 1.0' in text
    assert 'ivr_report_calls_total{department="none",outcome="abandoned_menu"} 1.0' in text
    assert 'ivr_report_served_within_target_total{department="scheduling"} 1.0' in text
    assert 'ivr_report_time_to_person_seconds_bucket{department="scheduling",kind="person",le="20.0"} 1.0' in text
    assert 'ivr_report_time_to_person_seconds_bucket{department="scheduling",kind="person",le="10.0"} 0.0' in text
    assert "555" not in "".join(line for line in text.splitlines() if line.startswith("ivr_report"))


def test_callback_times_are_kept_past_the_callbacks_own_life_and_reported(app, redis_conn, clock):
    from ivr.store.callback_types import Outcome
    from ivr.store.callbacks import CallbackQueue

    now = [OPEN_TIME.timestamp()]
    queue = CallbackQueue(redis_conn, clock=lambda: now[0], lease_seconds=lambda: 7200)
    queue.request("billing", "+12025550131", "en")  # a call's callback
    queue.request("nurse", "+12025550132", "es", source="voicemail")  # a voicemail
    now[0] += 600
    first = queue.claim_next(["billing"], "bea")
    now[0] += 1200
    queue.finish(first.id, "bea", Outcome.REACHED)  # 30 min after the request: within the 60 min target
    now[0] += 2200
    second = queue.claim_next(["nurse"], "nina")  # the message heard 4000 s after it came
    now[0] += 1000
    queue.finish(second.id, "nina", Outcome.LEFT_MESSAGE)  # 5000 s: over the target
    # The callbacks' own hashes and statistics go after 35 days; the reports' rows stay.
    for key in redis_conn.scan_iter("ivr:callback*"):
        redis_conn.delete(key)
    clock.set(OPEN_TIME + dt.timedelta(days=1))
    s = summary_of(parse(admin_client(app).get("/admin/reports?range=7").get_data(as_text=True)))
    assert s["Callbacks done within target (60 min)"] == "1 of 2"
    assert s["Time to callback, p50"] == "30.0 min" and s["Time to callback, p90"] == "83.3 min"
    assert s["Request → first claim by staff, p50"] == "10.0 min"
    assert s["Voicemail response (received → first claim), p50"] == "66.7 min"
    rows = redis_conn.lrange(keys.CALLBACK_RECORDS.format(OPEN_TIME.astimezone(dt.timezone.utc).date().isoformat()), 0, -1)
    assert len(rows) == 2 and not any(b"555" in r for r in rows)


def test_calls_during_the_emergency_switch_and_fallbacks_are_recorded_as_such(app, phone, redis_conn, clock):
    from ivr.store.emergency import EmergencySwitch

    EmergencySwitch(redis_conn).set(True, "on_call_nurse", {"en": "A storm closed the clinic today."}, "ada")
    call = phone()
    call.start()
    call.hang_up()
    EmergencySwitch(redis_conn).set(False, "", {}, "ada")
    [row] = redis_conn.lrange(keys.CALL_RECORDS.format(OPEN_TIME.date().isoformat()), 0, -1)
    assert CallRecord.unpack(row).outcome == "X"


def test_a_call_that_got_the_fallback_is_recorded_as_such(app, phone, redis_conn):
    call = phone()
    call.start()
    status, _ = call._post(call.base_url + "/voice/fallback", {}, document=False)  # Twilio's fallback URL
    assert status == 200
    call.hang_up()
    [row] = redis_conn.lrange(keys.CALL_RECORDS.format(OPEN_TIME.date().isoformat()), 0, -1)
    assert CallRecord.unpack(row).outcome == "F"


def test_a_fresh_web_process_reads_past_days_counts_from_redis_and_a_day_that_changed_is_counted_again(
    make_app, clock, redis_conn, monkeypatch
):
    """Past days' counts are kept in Redis for every web process: a fresh process (its own cache empty)
    counts only today; a row added to a past day, or a callback that ended later, makes that day count again."""
    from ivr.admin import reports
    from ivr.store.call_records import CallbackLifecycle

    app = make_app()
    flow = app.extensions["ivr"].runtime.flows.live("main")
    records = CallRecords(redis_conn)
    for d in range(3):  # Sunday, Monday, today (Tuesday): 2 answered calls a day
        day = OPEN_TIME.date() - dt.timedelta(days=d)
        arrived = int(dt.datetime.combine(day, dt.time(10), CLINIC_TZ).timestamp())
        records.add_raw(day, [CallRecord(arrived + i, "main", flow.version, "en", (), "A", "billing", 5, 10, 30, None, 90).pack()
                              for i in range(2)])
    counted: list[int] = []
    real = reports.tally

    def counting(rows, *args, **kwargs):
        rows = list(rows)
        counted.append(len(rows))
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(reports, "tally", counting)

    def calls(client) -> str:
        return summary_of(parse(client.get("/admin/reports?range=7").get_data(as_text=True)))["Calls"]

    reports._TALLIES.clear()
    assert calls(admin_client(app)) == "6" and len(counted) == 7  # every day of the week counted once
    stored = [day for day in range(7) if redis_conn.exists(keys.REPORT_TALLY.format((OPEN_TIME.date() - dt.timedelta(days=day)).isoformat()))]
    assert stored == [1, 2, 3, 4, 5, 6]  # past days only: today still changes

    reports._TALLIES.clear()  # a fresh web process
    counted.clear()
    fresh = make_app()
    fresh.extensions["ivr"].users.add("root2", "admin", hash_password(PASSWORD))
    client = fresh.test_client()
    Auth(client).login("root2")
    assert calls(client) == "6" and counted == [2]  # only today counted; six past days read from Redis

    # A call that arrived on Monday ends after midnight (its row joins Monday's list): Monday counts again.
    monday = OPEN_TIME.date() - dt.timedelta(days=1)
    late = int(dt.datetime.combine(monday, dt.time(23, 59), CLINIC_TZ).timestamp())
    records.add_raw(monday, [CallRecord(late, "main", flow.version, "en", (), "M", "", 5).pack()])
    reports._TALLIES.clear()
    counted.clear()
    assert calls(client) == "7" and sorted(counted) == [2, 3]

    # A callback asked for on Monday and finished today changes the days around today's callbacks list.
    requested = dt.datetime.combine(monday, dt.time(15), CLINIC_TZ).timestamp()
    CallbackLifecycle(redis_conn).record({"requested_at": str(requested), "first_claimed_at": str(requested + 600),
                                          "finished_at": str(OPEN_TIME.timestamp()), "status": "done", "outcome": "reached",
                                          "attempts": "1", "source": "call", "department": "billing"})
    reports._TALLIES.clear()
    counted.clear()
    page = summary_of(parse(client.get("/admin/reports?range=7").get_data(as_text=True)))
    assert page["Callbacks done within target (60 min)"] == "0 of 1"  # 19 h
    assert sorted(counted) == [2, 3]  # its list is today's UTC day: Monday and today count again, no other day


def test_the_grafana_dashboard_asks_only_for_figures_the_app_exports(make_app, clock, redis_conn):
    import json

    from ivr.telephony.simulator import PhoneCall
    from ivr.store.call_records import CallbackLifecycle

    from .conftest import ROOT, TOKEN, flask_transport

    app = make_app(METRICS_TOKEN="m" * 24)
    c = PhoneCall(flask_transport(app), "http://localhost", TOKEN, caller="+12025550121")
    c.start()
    c.press("1")
    clock.set(OPEN_TIME + dt.timedelta(seconds=40))
    c.dial_result("completed", duration=20)
    c.hang_up()
    for status, took in (("done", 1500), ("closed", 7200)):
        CallbackLifecycle(redis_conn).record({"requested_at": "1795000000", "finished_at": str(1795000000 + took),
                                              "status": status, "department": "billing"})
    text = app.test_client().get("/metrics", headers={"Authorization": "Bearer " + "m" * 24}).get_data(as_text=True)
    assert 'ivr_report_time_to_callback_seconds_bucket{department="billing",le="1800.0"} 1.0' in text
    assert 'ivr_report_time_to_callback_seconds_bucket{department="billing",le="900.0"} 0.0' in text
    assert 'ivr_report_callbacks_ended_total{department="billing",status="closed"} 1.0' in text
    exported = set(re.findall(r"^# TYPE (ivr_report_\w+) (\w+)", text, re.M))
    names = {name for name, _ in exported} | {f"{name}_total" for name, kind in exported if kind == "counter"} \
        | {f"{name}_{part}" for name, kind in exported if kind == "histogram" for part in ("bucket", "count", "sum")}
    board = json.loads((ROOT / "deploy" / "grafana" / "reports.json").read_text())
    asked = {m for p in board["panels"] for t in p["targets"] for m in re.findall(r"ivr_report_\w+", t["expr"])}
    assert asked and asked <= names, asked - names
    assert {"ivr_report_time_to_callback_seconds_bucket", "ivr_report_served_within_target_total"} <= asked


def test_a_whole_past_month_is_kept_as_one_and_counted_again_from_its_days_when_one_changes(make_app, clock, redis_conn, monkeypatch):
    from ivr.admin import reports

    app = make_app()
    flow = app.extensions["ivr"].runtime.flows.live("main")
    records = CallRecords(redis_conn)

    def add(day: dt.date, n: int) -> None:
        arrived = int(dt.datetime.combine(day, dt.time(11), CLINIC_TZ).timestamp())
        records.add_raw(day, [CallRecord(arrived + i, "main", flow.version, "en", (), "A", "billing", 5, 10, 30, None, 90).pack()
                              for i in range(n)])

    add(dt.date(2026, 10, 15), 2)
    add(dt.date(2026, 11, 2), 1)
    counted: list[int] = []
    real = reports.tally

    def counting(rows, *args, **kwargs):
        rows = list(rows)
        counted.append(len(rows))
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(reports, "tally", counting)
    client = admin_client(app)

    def calls() -> str:
        query = "range=custom&from=2026-09-28&to=2026-11-24"  # 3 days of September, all October, November to today
        return summary_of(parse(client.get(f"/admin/reports?{query}").get_data(as_text=True)))["Calls"]

    reports._TALLIES.clear()
    assert calls() == "3" and len(counted) == 58
    assert redis_conn.exists(keys.REPORT_TALLY.format("2026-10")) and not redis_conn.exists(keys.REPORT_TALLY.format("2026-11"))
    reports._TALLIES.clear()  # a fresh web process: October is one kept part, the other days are kept one by one
    counted.clear()
    assert calls() == "3" and counted == [0]  # only today
    add(dt.date(2026, 10, 15), 1)  # a late row on the 15th: October is made again from its days, only the 15th counted
    reports._TALLIES.clear()
    counted.clear()
    assert calls() == "4" and sorted(counted) == [0, 3]


def test_a_day_whose_follow_ups_are_not_finished_is_not_kept_and_shows_each_change(app, redis_conn):
    from ivr.admin import reports
    from ivr.followups.appointments import Appointment
    from ivr.store.followups import FollowupStore

    monday = OPEN_TIME - dt.timedelta(days=1)
    store = FollowupStore(redis_conn)
    store.add_many([Appointment("appt-1", "Maria Lopez", "+12025550123", monday, "America/New_York", "Dr. Chen", "nurse", "es")])
    client = admin_client(app)

    def followups() -> tuple[dict, str]:
        page = parse(client.get("/admin/reports?range=7").get_data(as_text=True))
        return {r[0]: r[1] for r in page.tables["followups"][1:]}, summary_of(page)["Follow-up reach rate (reached ÷ called)"]

    reports._TALLIES.clear()
    assert followups() == ({"Where each appointment stands: Waiting for the next try": "1"}, "—")
    day_key = keys.REPORT_TALLY.format(monday.date().isoformat())
    assert not redis_conn.exists(day_key)  # still to be called: not kept, counted again next time
    store.complete("appt-1", "reached")
    assert followups() == ({"Where each appointment stands: Reached": "1"}, "100.0% (1 of 1)")
    assert redis_conn.exists(day_key)  # finished: kept from now on

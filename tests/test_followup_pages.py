"""The scheduling system's JSON endpoint, the admin results pages and the console's "do not call"."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from ivr.staff.passwords import hash_password
from ivr.store import keys
from ivr.store.callbacks import CallbackQueue
from ivr.store.followups import FollowupStore

from .test_staff_auth import PASSWORD, Auth, csrf_token

PATIENT = "+12025550123"
GOOD = {"name": "Maria Lopez", "phone": "202-555-0123", "appointment_time": "2026-11-24T10:00:00-05:00",
        "provider": "Dr. Chen", "department": "nurse", "language": "es"}


@pytest.fixture
def api_key(app, redis_conn) -> str:
    return FollowupStore(redis_conn).new_api_key("scheduler")


def post(client, body, key: str | None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/api/appointments", json=body, headers=headers)


def test_the_api_imports_good_appointments_reports_bad_ones_and_repeats_change_nothing(client, api_key, redis_conn):
    body = {"appointments": [GOOD, {**GOOD, "phone": "12"}, {**GOOD, "department": "x"}, "nonsense"]}
    resp = post(client, body, api_key)
    assert resp.status_code == 200
    data = resp.get_json()
    assert data["imported"] == 1 and data["unchanged"] == 0
    assert [e["index"] for e in data["errors"]] == [1, 2, 3]
    assert "phone" in data["errors"][0]["reason"] and "department" in data["errors"][1]["reason"]

    again = post(client, body, api_key).get_json()
    assert (again["imported"], again["unchanged"]) == (0, 1)
    assert FollowupStore(redis_conn).count() == 1


def test_the_api_needs_a_valid_key_and_json(client, api_key, redis_conn):
    assert post(client, [GOOD], None).status_code == 401
    assert post(client, [GOOD], api_key + "x").status_code == 401
    resp = client.post("/api/appointments", data="not json", headers={"Authorization": f"Bearer {api_key}"})
    assert resp.status_code == 400 and "JSON" in resp.get_json()["error"]
    assert FollowupStore(redis_conn).count() == 0
    assert redis_conn.hget("ivr:fu:apikeys", api_key) is None  # only the hash is stored


def test_the_api_is_rate_limited(make_app, redis_conn):
    client = make_app(API_LIMIT="2 per minute").test_client()
    key = FollowupStore(redis_conn).new_api_key("scheduler")
    codes = [post(client, [GOOD], key).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def admin_client(app, users_role: str = "admin"):
    users = app.extensions["ivr"].users
    users.add("root", users_role, hash_password(PASSWORD))
    client = app.test_client()
    Auth(client).login("root")
    return client


def test_admins_see_results_with_a_chart_and_can_export_csv(app, api_key, redis_conn):
    post(app.test_client(), [GOOD, {**GOOD, "name": "John Smith", "phone": "+13125550147"}], api_key)
    store = FollowupStore(redis_conn)
    maria = next(r for r in store.list() if r.name == "Maria Lopez")
    store.record_answer(maria.id, "identity", "confirmed")
    store.record_answer(maria.id, "rating", "5")
    store.record_answer(maria.id, "nurse", "yes")
    store.complete(maria.id, "reached")

    client = admin_client(app)
    page = client.get("/admin/followups")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    bars = {r.find("title").text.split(":")[0]: r.find("title").text for r in svg.iter("rect")}
    assert bars["Reached"] == "Reached: 1" and bars["Asked for a nurse"] == "Asked for a nurse: 1"
    assert bars["Opted out"] == "Opted out: 0"
    assert PATIENT not in html and "0123" in html  # masked

    export = client.get("/admin/followups/export.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert {r["name"] for r in rows} == {"Maria Lopez", "John Smith"}
    row = next(r for r in rows if r["name"] == "Maria Lopez")
    assert (row["outcome"], row["rating"], row["nurse"]) == ("reached", "5", "yes")
    assert (row["result"], row["status_text"], row["next_try_at"]) == ("reached", "Reached and confirmed", "")
    assert PATIENT not in export.get_data(as_text=True)


def test_results_are_for_admins_only(app):
    assert admin_client(app, "nurse").get("/admin/followups").status_code == 403
    assert app.test_client().get("/admin/followups/export.csv").status_code == 302  # to the login page


def test_staff_mark_a_number_do_not_call_in_the_console(app, redis_conn):
    users = app.extensions["ivr"].users
    users.add("nina", "nurse", hash_password(PASSWORD))
    queue = CallbackQueue(redis_conn)
    queue.request("nurse", PATIENT, "en")
    cb = queue.claim_next(["nurse"], "nina")
    client = app.test_client()
    Auth(client).login("nina")
    page = f"/console/callbacks/{cb.id}"
    assert "do-not-call" in client.get(page).get_data(as_text=True)

    resp = client.post(f"{page}/do-not-call", data={"csrf_token": csrf_token(client, page)})
    assert resp.status_code == 302
    assert FollowupStore(redis_conn).opted_out(PATIENT)
    assert "on the do-not-call list" in client.get(page).get_data(as_text=True)
    assert "do_not_call" in [e.action for e in app.extensions["ivr"].audit.for_target(cb.id)]
    # Without the token, nothing happens.
    assert client.post(f"{page}/do-not-call").status_code == 400


# The results page and an appointment's page ------------------------------------------------------

VOID = {"meta", "link", "input", "br", "img", "hr", "col", "source", "wbr", "area", "base", "embed", "track"}


class Node:
    """An element of a parsed page: tag, attributes, children (nodes and text)."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []

    def all(self, tag: str | None = None, **attrs: str) -> list["Node"]:
        """Every element below this one with the tag and attributes (``data_key`` for data-key, ``cls`` for class)."""
        want = {"class" if k == "cls" else k.replace("_", "-"): v for k, v in attrs.items()}
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and all(child.attrs.get(k) == v for k, v in want.items()):
                    found.append(child)
                found.extend(child.all(tag, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs: str) -> "Node":
        found = self.all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]

    @property
    def text(self) -> str:
        parts = [c.text if isinstance(c, Node) else c for c in self.children]
        return " ".join(" ".join(parts).split())


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def import_one(app, api_key, **changes) -> str:
    """Import an appointment through the API; its id."""
    assert post(app.test_client(), [{**GOOD, **changes}], api_key).get_json()["imported"] == 1
    name = changes.get("name", GOOD["name"])
    return next(r.id for r in FollowupStore(app.extensions["ivr"].redis).list() if r.name == name)


def block(redis_conn, appointment_id: str, reason: str) -> None:
    redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format(appointment_id),
                    mapping={"status": "blocked", "blocked_reason": reason})


def chart_and_table(html: str) -> tuple[dict, dict]:
    """{(group, key): (label, count)} from the chart's bars and from the summary table."""
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    bars = {}
    for rect in svg.iter("rect"):
        label, _, value = rect.find("title").text.rpartition(": ")
        bars[(rect.get("data-group"), rect.get("data-key"))] = (label, int(value))
    table = parse(html).one("table", cls="outcomes waiting")
    rows = {}
    for tr in table.all("tr"):
        if "data-key" in tr.attrs:
            label, count = tr.all("td")
            rows[(tr.attrs["data-group"], tr.attrs["data-key"])] = (label.text, int(count.text))
    return bars, rows


def test_the_chart_and_the_table_count_each_appointment_once_from_one_classification(app, api_key, redis_conn):
    store = FollowupStore(redis_conn)
    # Said "yes, speaking" but the call ended as not confirmed: counted once, as not confirmed.
    ana = import_one(app, api_key, name="Ana Diaz", phone="+12025550111")
    store.record_answer(ana, "identity", "confirmed")
    store.complete(ana, "not_confirmed")
    bo = import_one(app, api_key, name="Bo Reed", phone="+12025550112")
    store.record_answer(bo, "identity", "confirmed")
    store.record_answer(bo, "rating", "4")
    store.complete(bo, "reached")
    cy = import_one(app, api_key, name="Cy Park", phone="+12025550113")
    block(redis_conn, cy, "the Twilio account is suspended")
    import_one(app, api_key, name="Di Moss", phone="+12025550114")  # scheduled

    html = admin_client(app).get("/admin/followups").get_data(as_text=True)
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    assert "Reached: 1" in {t.text for t in svg.iter("title")}  # once, not as "Reached: 2"
    bars, rows = chart_and_table(html)
    assert bars == rows and bars  # same groups, keys, labels and numbers
    where = {key: count for (group, key), (_, count) in bars.items() if group == "where"}
    assert (where["reached"], where["not_confirmed"], where["blocked"], where["scheduled"]) == (1, 1, 1, 1)
    assert sum(where.values()) == 4
    assert bars[("where", "reached")] == ("Reached", 1)
    assert bars[("said", "satisfied")] == ("Satisfied (rated 4-5)", 1)
    total = parse(html).one("table", cls="outcomes waiting").one("tfoot").one("td")
    assert total.text == "4"


def test_the_page_shows_what_needs_attention_and_when_each_waiting_call_is_next_tried(app, api_key, redis_conn):
    store = FollowupStore(redis_conn)
    blocked = import_one(app, api_key, name="Cy Park", phone="+12025550113")
    block(redis_conn, blocked, "no caller ID number is set in the settings")
    # A Los Angeles patient: the next try is shown in the patient's zone, not the clinic's.
    west = import_one(app, api_key, name="Lou West", phone="+12135550188", appointment_time="2026-11-24T10:00:00-08:00",
                      timezone="America/Los_Angeles")
    store.schedule(west, dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.timezone.utc).timestamp(), "outside_calling_hours")
    store.set_status(west, "scheduled")
    doubt = import_one(app, api_key, name="Ed Doubt", phone="+12025550115")
    store.complete(doubt, "in_doubt")

    page = parse(admin_client(app).get("/admin/followups").get_data(as_text=True))
    attention = page.one("section", id="attention")
    assert attention.one("span", cls="count").text == "2"
    items = {li.attrs["data-appointment"]: li for li in attention.all("li")}
    assert set(items) == {blocked, doubt}
    assert "no caller ID number is set in the settings" in items[blocked].text
    assert "resumes by itself once fixed" in items[blocked].text
    assert "not placed again" in items[doubt].text
    assert items[blocked].one("a").attrs["href"] == f"/admin/followups/{blocked}"

    row = page.one("tr", data_appointment=west)
    state = row.one("td", cls="state").text
    assert state == "Will call Wed 25 Nov 10:00 (patient's time): outside calling hours"
    when = row.one("time")
    assert when.attrs["datetime"] == "2026-11-25T10:00:00-08:00" and when.text == "Wed 25 Nov 10:00 PST"
    assert "patient's time" in page.one("table", cls="followups waiting").one("thead").text
    blocked_row = page.one("tr", data_appointment=blocked)
    assert blocked_row.one("td", cls="result").text == "Blocked"
    assert "resumes by itself" in blocked_row.one("td", cls="state").text
    assert row.one("a").attrs["href"] == f"/admin/followups/{west}"


def test_an_appointment_page_tells_its_calls_answers_and_history_in_words(app, api_key, redis_conn):
    t0 = dt.datetime(2026, 11, 25, 14, 0, tzinfo=dt.timezone.utc).timestamp()  # 09:00 in New York
    now = [t0]
    store = FollowupStore(redis_conn, clock=lambda: now[0])
    ap = import_one(app, api_key)
    store.note(ap, "deferred", attempt=1, reason="outside_calling_hours",
               until=dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.timezone.utc).isoformat())
    now[0] = t0 + 3600
    store.mark_attempt(ap, 1, started_at=repr(now[0]), result="placed", call_sid="CA0001", call_status="no-answer",
                       final_status="no-answer")
    store.note(ap, "placed", attempt=1, call="CA0001")
    now[0] = t0 + 3700
    store.note(ap, "retry", attempt=2, status="no-answer", until="2026-11-25T16:00:00+00:00")
    now[0] = t0 + 7200
    store.mark_attempt(ap, 2, started_at=repr(now[0]), result="placed", call_sid="CA0002", call_status="completed",
                       final_status="completed", answered_by="human")
    store.record_answer(ap, "identity", "confirmed")
    store.record_answer(ap, "feeling", "better")
    store.record_answer(ap, "rating", "5")
    store.record_answer(ap, "nurse", "yes")
    store.record_answer(ap, "callback_id", "cb42")
    redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format(ap), "attempts", "2")
    store.complete(ap, "reached")
    store.note(ap, "finished", attempt=2, outcome="reached")

    client = admin_client(app)
    resp = client.get(f"/admin/followups/{ap}")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    assert PATIENT not in html and "2025550123" not in html and "555-0123" not in html
    page = parse(html)
    assert page.one("dd", id="number").text.endswith("0123")
    assert page.one("dd", id="state").text == "Reached and confirmed"

    first, second = (page.one("tr", data_attempt=n) for n in ("1", "2"))
    assert first.one("td", cls="status").text == "No answer"
    assert first.one("time").attrs["datetime"] == "2026-11-25T10:00:00-05:00"
    assert (second.one("td", cls="result").text, second.one("td", cls="status").text,
            second.one("td", cls="answered-by").text) == ("Call placed", "Answered and ended", "A person")

    answers = [li.text for li in page.one("ul", cls="answers").all("li")]
    assert answers == ["Confirmed who they are", "Feeling: better", "Rated the visit 5 of 5", "Asked for a nurse",
                       "A call back was queued for the nurse"]
    assert page.one("a", href="/console/callbacks/cb42").text == "The call back in the console"

    history = [(tr.attrs["data-event"], tr.one("td", cls="what").text)
               for tr in page.all("tr") if "data-event" in tr.attrs]
    assert [name for name, _ in history] == ["finished", "retry", "placed", "deferred"]  # newest first
    words = dict(history)
    assert words["deferred"] == "Attempt 1: put off until Wed 25 Nov 10:00 (patient's time): outside calling hours"
    assert words["retry"] == "Will try again (attempt 2) at Wed 25 Nov 11:00 (patient's time): nobody answered"
    assert words["finished"] == "Attempt 2: finished: Reached and confirmed"
    assert "outside_calling_hours" not in html
    assert "no-answer" not in page.one("section", aria_labelledby="history-title").text
    deferred_at = page.one("tr", data_event="deferred").one("time")
    assert deferred_at.attrs["datetime"] == "2026-11-25T09:00:00-05:00"

    audit = app.extensions["ivr"].audit.for_target(ap)
    assert [(e.action, e.actor) for e in audit] == [("view_followups", "root")]


def test_an_appointment_page_is_for_admins_and_404s_for_unknown_ids(app, api_key):
    ap = import_one(app, api_key)
    assert admin_client(app).get("/admin/followups/a-no-such-id").status_code == 404
    assert app.test_client().get(f"/admin/followups/{ap}").status_code == 302  # to the login page
    app.extensions["ivr"].users.add("nina", "nurse", hash_password(PASSWORD))
    nurse = app.test_client()
    Auth(nurse).login("nina")
    assert nurse.get(f"/admin/followups/{ap}").status_code == 403
    assert app.extensions["ivr"].audit.for_target(ap) == []


def test_unknown_codes_are_shown_as_they_are(app, api_key, redis_conn):
    store = FollowupStore(redis_conn)
    odd = import_one(app, api_key)
    redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format(odd), mapping={"status": "pondering", "last_reason": "moon_phase"})
    store.note(odd, "teleported", where="Mars")
    other = import_one(app, api_key, name="Vi Odd", phone="+12025550116")
    store.complete(other, "vanished")
    client = admin_client(app)
    page = parse(client.get("/admin/followups").get_data(as_text=True))
    assert page.one("tr", data_appointment=odd).one("td", cls="result").text == "pondering"
    assert page.one("tr", data_appointment=other).one("td", cls="state").text == "vanished"
    bars, rows = chart_and_table(client.get("/admin/followups").get_data(as_text=True))
    assert bars == rows and bars[("where", "vanished")] == ("vanished", 1)
    detail = parse(client.get(f"/admin/followups/{odd}").get_data(as_text=True))
    assert detail.one("tr", data_event="teleported").one("td", cls="what").text == "teleported; where: Mars"


def test_the_history_puts_blocks_moves_cancellations_and_reconciliations_in_words(app, api_key, redis_conn):
    store = FollowupStore(redis_conn)
    ap = import_one(app, api_key)
    store.note(ap, "blocked", attempt=1, reason="the Twilio account is suspended")
    store.note(ap, "resumed", attempt=1)
    store.note(ap, "moved", changed="time", next_try="2026-11-25T15:00:00+00:00")
    store.note(ap, "reconciled", attempt=1, call="CA0009", status="busy", result="retry")
    store.note(ap, "cancelled", during_call=True)
    page = parse(admin_client(app).get(f"/admin/followups/{ap}").get_data(as_text=True))
    words = {tr.attrs["data-event"]: tr.one("td", cls="what").text for tr in page.all("tr") if "data-event" in tr.attrs}
    assert words == {
        "blocked": "Blocked: the Twilio account is suspended — resumes by itself once fixed",
        "resumed": "Attempt 1: what blocked it was fixed; trying again",
        "moved": "The visit changed (time); next try Wed 25 Nov 10:00 (patient's time)",
        "reconciled": "Attempt 1: no status came from Twilio; asked it (Busy; will try again)",
        "cancelled": "Cancelled by the scheduling system during a call",
    }

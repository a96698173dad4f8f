"""The scheduling system's JSON endpoint, the admin results pages and the console's "do not call"."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest

from ivr.staff.passwords import hash_password
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

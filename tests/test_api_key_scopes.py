"""API keys are scoped to the appointments they sent, and limited per key and per address (issue 31, finding 5).

Before: any key could read, move or cancel any appointment; each route had a budget of its own
(60 POST + 60 GET + 60 DELETE a minute), and requests with a bad key were never limited.
"""

from __future__ import annotations

from ivr.store import keys
from ivr.store.api_keys import ApiKeyStore
from ivr.store.followups import FollowupStore

from .test_api_keys import ivr
from .test_followup_pages import admin_client
from .test_staff_auth import csrf_token
from .test_followups_api import GOOD, Api, api, api_for  # noqa: F401 - fixture

MOVED = {**GOOD, "appointment_time": "2026-11-27T11:00:00-05:00"}


def test_a_key_cannot_read_move_or_cancel_another_keys_appointments(app, redis_conn):
    mine, other = api_for(app, redis_conn, "scheduler"), api_for(app, redis_conn, "billing")
    assert mine.post([{**GOOD, "id": "A-1"}]).get_json()["imported"] == 1
    assert mine.put("A-2", GOOD).get_json()["result"] == "imported"
    store = FollowupStore(redis_conn)
    before = {i: store.get(i) for i in ("sA-1", "sA-2")}

    for appointment_id in ("A-1", "A-2"):
        for resp in (other.get(appointment_id), other.put(appointment_id, MOVED), other.delete(appointment_id),
                     other.put(appointment_id, {"status": "cancelled"})):
            assert resp.status_code == 404 and resp.get_json()["error"] == "no such appointment"
    # the same answer as for an id nobody has: nothing tells the ids apart
    assert other.get("NOPE").get_json() == other.get("A-1").get_json()
    posted = other.post([{**MOVED, "id": "A-1"}, {"id": "A-2", "status": "cancelled"}]).get_json()
    assert (posted["imported"], posted["updated"], posted["cancelled"]) == (0, 0, 0)
    assert [e["index"] for e in posted["errors"]] == [0, 1]
    assert all("no such appointment" in e["reason"] for e in posted["errors"])
    assert {i: store.get(i) for i in ("sA-1", "sA-2")} == before  # not moved, not cancelled

    assert mine.get("A-1").get_json()["status"] == "scheduled"
    assert mine.put("A-1", MOVED).get_json()["result"] == "updated"
    assert mine.delete("A-2").get_json()["result"] == "cancelled"


def test_keys_given_one_scope_share_their_appointments_and_a_rotation_keeps_it(app, redis_server, redis_conn):
    first = ivr(redis_server, "api-key", "sched-a")
    assert first.returncode == 0, first.stderr
    second = ivr(redis_server, "api-key", "sched-b", "--scope", "sched-a")
    assert second.returncode == 0 and "scope 'sched-a'" in second.stderr
    a, b = Api(app.test_client(), first.stdout.strip()), Api(app.test_client(), second.stdout.strip())
    outsider = api_for(app, redis_conn, "reporting")
    assert a.put("S-1", GOOD).status_code == 200
    assert b.get("S-1").status_code == 200 and b.put("S-1", MOVED).get_json()["result"] == "updated"
    assert outsider.get("S-1").status_code == 404

    rotated = ivr(redis_server, "rotate-key", "sched-b")
    assert rotated.returncode == 0, rotated.stderr
    assert b.get("S-1").status_code == 401
    assert Api(app.test_client(), rotated.stdout.strip()).get("S-1").status_code == 200
    listed = ivr(redis_server, "api-keys").stdout
    assert [line.split()[2] for line in listed.splitlines()[1:] if line.split()[1] == "sched-b"] == ["sched-a", "sched-a"]
    assert ivr(redis_server, "api-key", "sched-c", "--scope", "not a scope!").returncode == 1


def test_an_appointment_from_before_scopes_belongs_to_the_first_key_that_touches_it(app, api, redis_conn):
    api.put("L-1", GOOD)
    redis_conn.delete(keys.FOLLOWUP_SCOPES)  # as stored before scopes existed
    other = api_for(app, redis_conn, "billing")
    assert other.get("L-1").status_code == 200  # the first to touch it takes it...
    assert api.get("L-1").status_code == 404  # ...and it is no longer anybody's
    # asking about an id that does not exist reserves nothing
    assert other.delete("L-2").status_code == 404
    assert api.put("L-2", GOOD).get_json()["result"] == "imported"
    assert other.get("L-2").status_code == 404


def test_the_admin_page_shows_scopes_and_makes_a_key_sharing_one(app, redis_conn):
    admin = admin_client(app)
    made = admin.post("/admin/api-keys", data={"csrf_token": csrf_token(admin, "/admin/api-keys"),
                                               "name": "sched-2", "scope": "scheduler"})
    assert made.status_code == 200
    [key] = [k for k in ApiKeyStore(redis_conn).list() if k.name == "sched-2"]
    assert key.scope == "scheduler"
    assert '<td class="scope">scheduler</td>' in made.get_data(as_text=True)
    bad = admin.post("/admin/api-keys", data={"csrf_token": csrf_token(admin, "/admin/api-keys"),
                                              "name": "sched-3", "scope": "<b>"})
    assert bad.status_code == 400 and "A scope is 1-48 letters" in bad.get_data(as_text=True)


def test_one_budget_per_key_counts_every_route_together(make_app, redis_conn):
    app = make_app(API_LIMIT="4 per minute")
    api = api_for(app, redis_conn)
    codes = [api.put("R-1", GOOD).status_code, api.get("R-1").status_code, api.delete("R-1").status_code,
             api.post([GOOD]).status_code, api.get("R-1").status_code, api.post([GOOD]).status_code]
    assert codes == [200, 200, 200, 200, 429, 429]


def test_requests_without_a_valid_key_are_limited_per_address(make_app, redis_conn):
    app = make_app(API_BAD_KEY_LIMIT="3 per minute")
    good = api_for(app, redis_conn)
    client = app.test_client()

    def attempt(key: str | None, address: str, path: str = "/api/appointments/X-1"):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return client.get(path, headers=headers, environ_overrides={"REMOTE_ADDR": address})

    codes = [attempt(f"fuk_guess_{i}", "198.51.100.7").status_code for i in range(3)]
    codes.append(attempt(None, "198.51.100.7").status_code)
    assert codes == [401, 401, 401, 429]
    refused = attempt(good.key + "x", "198.51.100.7")
    assert refused.status_code == 429 and refused.get_json()["error"].startswith("too many requests without a valid")
    assert refused.headers["Retry-After"].isdigit() and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert attempt("fuk_guess", "203.0.113.9").status_code == 401  # another address has its own budget
    assert attempt(good.key, "198.51.100.7").status_code == 404  # a valid key from there still works


def test_a_csv_import_with_a_scope_gives_its_rows_to_that_scopes_keys_only(app, redis_server, redis_conn, tmp_path):
    from .processes import run_ivr

    mine, other = api_for(app, redis_conn, "scheduler"), api_for(app, redis_conn, "billing")
    assert other.put("C-2", GOOD).status_code == 200  # billing's own appointment
    path = tmp_path / "appointments.csv"
    path.write_text("id,name,phone,appointment_time,provider,department,language\n"
                    "C-1,Maria Lopez,(202) 555-0123,2026-11-24 10:00,Dr. Chen,nurse,es\n"
                    "C-2,John Smith,(202) 555-0124,2026-11-25 10:00,Dr. Chen,nurse,en\n", encoding="utf-8")
    result = run_ivr("followups", "import", str(path), "--scope", "scheduler", REDIS_URL=redis_server.url)
    assert result.returncode == 1
    assert f"{path}:3: it belongs to another API key scope than 'scheduler'" in result.stderr
    assert "imported 1 new appointment(s)" in result.stdout
    assert mine.get("C-1").status_code == 200 and other.get("C-1").status_code == 404
    assert other.get("C-2").get_json()["appointment_time"].startswith("2026-11-24")  # not moved by the import

"""API keys of the scheduling system: list, create, rotate and revoke them from the command line
(the real `ivr` in a subprocess) and the admin page; revoked keys get 401, each use is counted
and audited, keys stored the old way keep working, and no key or phone number reaches the audit log."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from ivr.staff.passwords import hash_password
from ivr.store import keys
from ivr.store.api_keys import ApiKeyExists, ApiKeyStore
from ivr.store.followups import FollowupStore

from .processes import run_ivr
from .test_followup_pages import GOOD, PATIENT, admin_client
from .test_staff_auth import PASSWORD, Auth, csrf_token

KEY = re.compile(r"fuk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def post(client, key: str, body=None):
    return client.post("/api/appointments", json=[GOOD] if body is None else body,
                       headers={"Authorization": f"Bearer {key}"})


def get(client, key: str, appointment_id: str = "A-1"):
    return client.get(f"/api/appointments/{appointment_id}", headers={"Authorization": f"Bearer {key}"})


def assert_clean_audit(app, *secrets: str) -> None:
    """No audit entry holds a key (nor its hash) or the patient's number."""
    for entry in app.extensions["ivr"].audit.recent(limit=1000):
        text = " ".join((entry.actor, entry.action, entry.target, entry.detail))
        for secret in secrets:
            assert secret not in text and hashlib.sha256(secret.encode()).hexdigest() not in text, entry
        for number in (PATIENT, "2025550123", "555-0123"):
            assert number not in text, entry


def ivr(redis_server, *args: str):
    return run_ivr("followups", *args, REDIS_URL=redis_server.url)


# The command line ----------------------------------------------------------------------------------


def test_keys_are_listed_rotated_and_revoked_from_the_command_line(app, redis_server, redis_conn):
    made = ivr(redis_server, "api-key", "scheduler")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert KEY.fullmatch(key)
    key_id = key[4:12]
    assert f"id {key_id}" in made.stderr and "shown only now" in made.stderr

    again = ivr(redis_server, "api-key", "scheduler")
    assert again.returncode == 1 and again.stdout == ""
    assert "a key named 'scheduler' exists: rotate or revoke it" in again.stderr
    assert post(app.test_client(), key).status_code == 200  # refusing a second key left the first alone
    assert ivr(redis_server, "api-key", "+12025550123").returncode == 1  # names start with a letter

    client = app.test_client()
    assert post(client, key).status_code == 200
    listed = ivr(redis_server, "api-keys")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(key_id)]
    assert row.split()[1:4] == ["scheduler", "scheduler", "active"] and row.split()[-1] == "2"  # name, scope
    assert "cli:" in row and key not in listed.stdout

    rotated = ivr(redis_server, "rotate-key", "scheduler")
    assert rotated.returncode == 0, rotated.stderr
    new_key = rotated.stdout.strip()
    new_id = new_key[4:12]
    assert KEY.fullmatch(new_key) and new_key != key and f"old {key_id} stop working now" in rotated.stderr
    assert post(client, key).status_code == 401  # rotating under the same name invalidates the old key at once
    assert post(client, new_key).status_code == 200

    listed = ivr(redis_server, "api-keys").stdout
    old_row = next(line for line in listed.splitlines() if line.startswith(key_id))
    assert " revoked " in old_row and f"(replaced by {new_id})" in old_row
    assert next(line for line in listed.splitlines() if line.startswith(new_id)).split()[2:4] == ["scheduler", "active"]

    revoked = ivr(redis_server, "revoke-key", new_id)
    assert revoked.returncode == 0 and f"revoked {new_id} (scheduler)" in revoked.stdout
    assert post(client, new_key).status_code == 401
    assert ivr(redis_server, "revoke-key", "nosuchkey").returncode == 1
    assert ivr(redis_server, "rotate-key", "scheduler").returncode == 1  # nothing active left to rotate

    # ...and a new key under the name is allowed again once none is active
    fresh = ivr(redis_server, "api-key", "scheduler")
    assert fresh.returncode == 0 and post(client, fresh.stdout.strip()).status_code == 200

    audit = app.extensions["ivr"].audit
    assert [e.action for e in audit.for_target(f"apikey:{key_id}") if e.action != "api_request"][::-1] == [
        "api_key_add", "api_key_rotate", "api_key_refused"]
    assert [e.action for e in audit.for_target(f"apikey:{new_id}") if e.action != "api_request"][::-1] == [
        "api_key_add", "api_key_revoke", "api_key_refused"]
    assert all(e.actor.startswith("cli") for e in audit.recent(limit=1000) if e.action.startswith("api_key_")
               and e.action != "api_key_refused")
    assert_clean_audit(app, key, new_key, fresh.stdout.strip())


def test_a_rotation_may_leave_the_old_key_a_grace_period(app, redis_conn):
    store = ApiKeyStore(redis_conn)
    old, key = store.create("scheduler", "cli:ops")
    now = time.time()
    new, new_key, replaced = store.rotate("scheduler", "cli:ops", grace=600, now=now)
    assert [k.id for k in replaced] == [old.id] and replaced[0].status(now) == "expiring"
    assert post(app.test_client(), key).status_code == 200  # still within its ten minutes
    assert store.get(old.id).status(now + 601) == "revoked"
    store.revoke(old.id, "cli:ops")  # ends the grace period now
    assert post(app.test_client(), key).status_code == 401
    assert post(app.test_client(), new_key).status_code == 200
    with pytest.raises(ApiKeyExists):
        FollowupStore(redis_conn).new_api_key("scheduler")


# The admin page ------------------------------------------------------------------------------------


def test_admins_create_rotate_and_revoke_keys_on_the_admin_page(app, redis_conn):
    admin = admin_client(app)
    page = admin.get("/admin/api-keys")
    assert page.status_code == 200 and "No API keys yet" in page.get_data(as_text=True)

    made = admin.post("/admin/api-keys", data={"csrf_token": csrf_token(admin, "/admin/api-keys"), "name": "scheduler"})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    html = made.get_data(as_text=True)
    [key] = KEY.findall(html)  # shown once, with a copy hint
    assert "Copy it now" in html and "not shown again" in html
    assert key not in made.headers.get("Set-Cookie", "")
    key_id = key[4:12]
    assert key not in admin.get("/admin/api-keys").get_data(as_text=True)

    again = admin.post("/admin/api-keys", data={"csrf_token": csrf_token(admin, "/admin/api-keys"), "name": "scheduler"})
    assert again.status_code == 409 and "exists: rotate or revoke it" in again.get_data(as_text=True)
    assert not KEY.search(again.get_data(as_text=True))
    bad = admin.post("/admin/api-keys", data={"csrf_token": csrf_token(admin, "/admin/api-keys"), "name": "<b>"})
    assert bad.status_code == 400 and "<b>" not in bad.get_data(as_text=True)

    client = app.test_client()
    assert post(client, key, [{**GOOD, "id": "A-1"}]).status_code == 200
    assert get(client, key).status_code == 200
    row = re.search(rf'<tr data-key="{key_id}" data-status="active">(.*?)</tr>',
                    admin.get("/admin/api-keys").get_data(as_text=True), re.S).group(1)
    assert '<td class="uses">2</td>' in row and '<td class="by">root</td>' in row and "<time" in row
    assert ">scheduler<" in row

    # rotate: a confirmation page first (nothing changes), then the new key once
    confirm = admin.get(f"/admin/api-keys/{key_id}/rotate")
    assert confirm.status_code == 200 and f"Rotate key {key_id}" in confirm.get_data(as_text=True)
    assert get(client, key).status_code == 200
    rotated = admin.post(f"/admin/api-keys/{key_id}/rotate",
                         data={"csrf_token": csrf_token(admin, "/admin/api-keys"), "grace": "0"})
    assert rotated.status_code == 200
    [new_key] = KEY.findall(rotated.get_data(as_text=True))
    new_id = new_key[4:12]
    assert get(client, key).status_code == 401
    assert get(client, new_key).status_code == 200
    assert f'data-key="{key_id}" data-status="revoked"' in rotated.get_data(as_text=True)

    # revoke: confirmation, then 401 at once
    confirm = admin.get(f"/admin/api-keys/{new_id}/revoke")
    assert f"Revoke key {new_id}" in confirm.get_data(as_text=True)
    assert get(client, new_key).status_code == 200
    no_token = admin.post(f"/admin/api-keys/{new_id}/revoke")
    assert no_token.status_code == 400  # CSRF
    assert get(client, new_key).status_code == 200
    done = admin.post(f"/admin/api-keys/{new_id}/revoke", data={"csrf_token": csrf_token(admin, "/admin/api-keys")})
    assert done.status_code == 200 and "is revoked" in done.get_data(as_text=True)
    assert get(client, new_key).status_code == 401
    assert admin.get("/admin/api-keys/00000000/revoke").status_code == 404

    audit = app.extensions["ivr"].audit
    mine = [(e.action, e.target) for e in audit.for_actor("root")
            if e.action.startswith("api_key")][::-1]
    assert mine == [("api_key_add", f"apikey:{key_id}"), ("api_key_add", f"apikey:{new_id}"),
                    ("api_key_rotate", f"apikey:{key_id}"), ("api_key_revoke", f"apikey:{new_id}")]
    assert_clean_audit(app, key, new_key)


def test_the_page_is_for_admins_only(app):
    app.extensions["ivr"].users.add("nina", "nurse", hash_password(PASSWORD))
    nurse = app.test_client()
    Auth(nurse).login("nina")
    assert nurse.get("/admin/api-keys").status_code == 403
    token = csrf_token(nurse, "/console")
    assert nurse.post("/admin/api-keys", data={"csrf_token": token, "name": "sneaky"}).status_code == 403
    assert ApiKeyStore(app.extensions["ivr"].redis).list() == []
    assert app.test_client().get("/admin/api-keys").status_code == 302  # to the login page
    assert [e.action for e in app.extensions["ivr"].audit.for_actor("nina")][0] == "denied"


# Use, audit, upgrade -------------------------------------------------------------------------------


def test_every_request_is_counted_and_audited_under_the_key_without_the_key_or_numbers(app, redis_conn):
    store = ApiKeyStore(redis_conn)
    record, key = store.create("scheduler", "cli:ops")
    client = app.test_client()
    before = time.time()
    assert post(client, key, [{**GOOD, "id": "A-1"}]).status_code == 200
    headers = {"Authorization": f"Bearer {key}"}
    assert client.put("/api/appointments/A-2", json={**GOOD, "phone": "+13125550147"}, headers=headers).status_code == 200
    assert get(client, key).status_code == 200
    assert client.delete("/api/appointments/A-2", headers=headers).status_code == 200
    assert get(client, key, "nope").status_code == 404
    used = store.get(record.id)
    assert used.uses == 5 and used.last_used_at >= before

    audit = app.extensions["ivr"].audit
    requests = [(e.actor, e.action, e.detail) for e in audit.for_target(record.target)][::-1]
    actor = f"api:scheduler#{record.id}"
    assert requests == [
        (actor, "api_request", "POST /api/appointments -> 200"),
        (actor, "api_request", "PUT /api/appointments/A-2 -> 200"),
        (actor, "api_request", "GET /api/appointments/A-1 -> 200"),
        (actor, "api_request", "DELETE /api/appointments/A-2 -> 200"),
        (actor, "api_request", "GET /api/appointments/nope -> 404"),
    ]
    assert len(audit.for_actor(actor)) == 5
    # the imports, moves and cancellations keep their entries under api:<name>
    assert [e.action for e in audit.for_actor("api:scheduler")][::-1] == [
        "appointments_import", "appointments_import", "appointment_cancel"]

    store.revoke(record.id, "cli:ops")
    assert [get(client, key).status_code for _ in range(3)] == [401, 401, 401]
    assert store.get(record.id).uses == 5  # refused requests are not uses
    refused = [e for e in audit.for_target(record.target) if e.action == "api_key_refused"]
    assert len(refused) == 1 and refused[0].actor == actor  # one a minute, however often it is tried
    assert get(client, "fuk_00000000_" + "x" * 43).status_code == 401
    assert_clean_audit(app, key)
    assert redis_conn.hget(keys.FOLLOWUP_API_KEY_IDS, key) is None  # only the hash is stored
    assert not any(key in str(redis_conn.hgetall(k)) for k in redis_conn.scan_iter("ivr:fu:apikey*")
                   if redis_conn.type(k) == b"hash")


def test_keys_stored_the_old_way_keep_working_and_can_be_listed_and_revoked(app, redis_server, redis_conn):
    key = "fuk_" + "o" * 43  # made before key records: only sha256 -> name
    digest = hashlib.sha256(key.encode()).hexdigest()
    redis_conn.hset(keys.FOLLOWUP_API_KEYS, digest, "legacy-scheduler")
    client = app.test_client()
    assert post(client, key).status_code == 200
    assert redis_conn.hget(keys.FOLLOWUP_API_KEYS, digest) is None  # moved to a record on first use
    [record] = ApiKeyStore(redis_conn).list()
    assert (record.id, record.name, record.uses, record.created_at) == (digest[:8], "legacy-scheduler", 1, None)

    other = "fuk_" + "p" * 43  # never used since the upgrade: listed all the same
    redis_conn.hset(keys.FOLLOWUP_API_KEYS, hashlib.sha256(other.encode()).hexdigest(), "reporting")
    listed = ivr(redis_server, "api-keys").stdout
    assert "legacy-scheduler" in listed and "reporting" in listed and "(before key records)" in listed
    assert FollowupStore(redis_conn).api_key_name(other) == "reporting"

    assert ivr(redis_server, "revoke-key", "legacy-scheduler").returncode == 0  # by name
    assert post(client, key).status_code == 401
    assert post(client, other).status_code == 200

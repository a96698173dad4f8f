"""Staff accounts, login, sessions, CSRF, rate limits and the audit log (Flask test client, real Redis)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading

import pytest
from click.testing import CliRunner
from flask import Blueprint

from ivr.cli import main as ivr_cli
from ivr.staff.auth import role_required
from ivr.staff.passwords import hash_password, verify_password
from ivr.store.audit import AuditLog
from ivr.store.users import UnknownUser, UserError, UserExists, UserStore

PASSWORD = "correct horse battery staple"
LOGIN_FAILED = "Unknown username or wrong password."
DESKS = {
    "front_desk": "Front desk",
    "scheduling": "Scheduling",
    "billing": "Billing",
    "nurse": "Nurse line",
    "on_call_nurse": "On-call nurse",
}


def csrf_token(client, path: str = "/login", **kw) -> str:
    page = client.get(path, **kw).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


def main_text(resp) -> str:
    """The page's <main>, without the per-request CSRF token."""
    html = resp.get_data(as_text=True)
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r'name="csrf_token" value="[^"]+"', "", main)


class Auth:
    """Log in and out through the real forms (like flaskr's AuthActions)."""

    def __init__(self, client) -> None:
        self.client = client

    def login(self, username: str = "alice", password: str = PASSWORD, next: str | None = None, **kw):
        data = {"csrf_token": csrf_token(self.client), "username": username, "password": password}
        if next is not None:
            data["next"] = next
        return self.client.post("/login", data=data, **kw)

    def logout(self, **kw):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/console")}, **kw)


@pytest.fixture
def users(app) -> UserStore:
    return app.extensions["ivr"].users


@pytest.fixture
def audit(app) -> AuditLog:
    return app.extensions["ivr"].audit


@pytest.fixture
def alice(users):
    return users.add("alice", "nurse", hash_password(PASSWORD), phone="+12025550177", display_name="Alice Nguyen")


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


def logged_in(client) -> bool:
    return client.get("/console").status_code == 200


# Accounts -----------------------------------------------------------------


def test_passwords_are_stored_as_argon2_hashes_never_in_clear(alice, redis_conn):
    stored = {k.decode(): v.decode() for k, v in redis_conn.hgetall("ivr:staff:user:alice").items()}
    assert stored["password_hash"].startswith("$argon2id$")
    assert all(PASSWORD not in value for value in stored.values())
    assert verify_password(stored["password_hash"], PASSWORD)
    assert not verify_password(stored["password_hash"], PASSWORD + "!")
    assert not verify_password(None, PASSWORD)  # unknown user
    assert PASSWORD not in repr(alice) and "argon2" not in repr(alice)


def test_a_taken_name_is_refused_even_when_added_at_the_same_moment(users):
    results: list[str] = []

    def add(role: str) -> None:
        try:
            users.add("bob", role, hash_password(PASSWORD))
            results.append(role)
        except UserExists:
            results.append("refused")

    threads = [threading.Thread(target=add, args=(role,)) for role in ("nurse", "billing", "scheduling", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("refused") == 3
    winner = next(r for r in results if r != "refused")
    assert users.get("bob").role == winner
    assert [u.name for u in users.list()] == ["bob"]


@pytest.mark.parametrize("name", ["Alice", "al ice", "", "-alice", ".alice", "a" * 33, "alice!", "élodie"])
def test_usernames_are_lowercase_letters_digits_and_dot_underscore_dash(users, name):
    with pytest.raises(UserError):
        users.add(name, "nurse", hash_password(PASSWORD))
    assert users.list() == []


def test_user_fields_are_checked_and_kept(users, clock):
    with pytest.raises(UserError, match="role"):
        users.add("carol", "doctor", "hash")
    with pytest.raises(UserError, match="phone"):
        users.add("carol", "nurse", "hash", phone="555-CALL-ME")
    users.add("carol.b-2_x", "billing", "hash", phone="+1 (202) 555-0144", display_name="  Carol   B ")
    carol = users.get("carol.b-2_x")
    assert (carol.role, carol.phone, carol.display_name, carol.disabled) == ("billing", "+12025550144", "Carol B", False)
    assert carol.created_at is not None and carol.created_at.tzinfo is not None

    users.set_phone("carol.b-2_x", "+12025550155")
    users.set_password("carol.b-2_x", "new-hash")
    users.disable("carol.b-2_x")
    carol = users.get("carol.b-2_x")
    assert (carol.phone, carol.password_hash, carol.disabled) == ("+12025550155", "new-hash", True)
    for change in (users.disable, lambda n: users.set_phone(n, ""), lambda n: users.set_password(n, "h")):
        with pytest.raises(UnknownUser):
            change("nobody")
    assert users.get("nobody") is None and users.get("../etc") is None
    assert [u.name for u in users.list()] == ["carol.b-2_x"]


# Login and logout -----------------------------------------------------------


def test_login_shows_the_console_with_name_role_and_departments(client, auth, alice):
    resp = auth.login()
    assert resp.status_code == 302 and resp.headers["Location"] == "/console"
    page = client.get("/console")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Alice Nguyen" in html and "nurse" in html and "Riverside Family Clinic" in html
    assert "Nurse line" in html and "On-call nurse" in html
    assert "Billing" not in html
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "role, departments",
    [
        ("nurse", ["nurse", "on_call_nurse"]),
        ("billing", ["billing"]),
        ("scheduling", ["front_desk", "scheduling"]),
        ("admin", list(DESKS)),
    ],
)
def test_each_role_sees_only_its_departments(client, auth, users, role, departments):
    users.add("dana", role, hash_password(PASSWORD))
    auth.login("dana")
    html = client.get("/console").get_data(as_text=True)
    shown = re.findall(r'data-department="([^"]+)"', html)
    assert shown == departments
    for key, name in DESKS.items():
        assert (name in html) == (key in departments), name


def test_wrong_password_unknown_user_and_disabled_account_get_the_same_answer(client, auth, users, alice):
    users.add("eve", "billing", hash_password(PASSWORD))
    users.disable("eve")
    wrong = auth.login("alice", "not the password at all")
    unknown = auth.login("mallory", PASSWORD)
    disabled = auth.login("eve", PASSWORD)
    for resp in (wrong, unknown, disabled):
        assert resp.status_code == 200
        assert LOGIN_FAILED in resp.get_data(as_text=True)
    same = [main_text(r).replace(name, "NAME") for r, name in ((wrong, "alice"), (unknown, "mallory"), (disabled, "eve"))]
    assert same[0] == same[1] == same[2]
    assert not logged_in(client)


def test_login_and_logout_refuse_posts_without_a_csrf_token(client, auth, alice):
    no_token = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert no_token.status_code == 400
    assert "expired" in no_token.get_data(as_text=True)
    assert not logged_in(client)
    forged = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 400 and not logged_in(client)

    auth.login()
    assert client.post("/logout").status_code == 400
    assert logged_in(client)
    resp = auth.logout()
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert "You have logged out." in client.get("/login").get_data(as_text=True)
    assert not logged_in(client)


def test_voice_webhooks_are_not_subject_to_csrf(client):
    # Unsigned: refused by the signature check (403), not by CSRF (400).
    assert client.post("/voice/incoming", data={"CallSid": "CA1"}).status_code == 403


def test_login_required_goes_to_the_login_page_and_back(client, auth, alice):
    resp = client.get("/console?tab=mine")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/console?tab%3Dmine"
    back = auth.login(next="/console?tab=mine")
    assert back.headers["Location"] == "/console?tab=mine"
    assert client.get("/").headers["Location"] == "/console"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_login_never_redirects_to_another_site(auth, alice, target):
    assert auth.login(next=target).headers["Location"] == "/console"


def test_session_cookie_is_httponly_samesite_and_secure_behind_https(make_app, alice):
    plain = Auth(make_app().test_client()).login()
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https_app = make_app(PUBLIC_URL="https://phones.clinic.example")
    https_client = https_app.test_client()
    base = "https://phones.clinic.example"
    token = csrf_token(https_client, base_url=base)
    resp = https_client.post(
        "/login",
        data={"csrf_token": token, "username": "alice", "password": PASSWORD},
        base_url=base,
        headers={"Referer": f"{base}/login"},  # Flask-WTF checks the referrer over https
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/console"
    assert "Secure" in resp.headers["Set-Cookie"]


def test_secret_key_is_per_install_and_kept_unless_configured(make_app, tmp_path):
    first = make_app(DATA_DIR=str(tmp_path / "one"))
    again = make_app(DATA_DIR=str(tmp_path / "one"))
    other = make_app(DATA_DIR=str(tmp_path / "two"))
    assert len(first.secret_key) >= 32
    assert first.secret_key == again.secret_key == (tmp_path / "one" / "secret-key").read_text().strip()
    assert other.secret_key != first.secret_key
    assert (tmp_path / "one" / "secret-key").stat().st_mode & 0o077 == 0
    assert make_app(SECRET_KEY="configured-key-0123456789").secret_key == "configured-key-0123456789"


# Sessions ----------------------------------------------------------------------


def test_idle_sessions_are_logged_off_after_15_minutes(client, auth, alice, clock, audit):
    auth.login()
    clock.set(clock.when + dt.timedelta(minutes=14))
    assert logged_in(client)
    clock.set(clock.when + dt.timedelta(minutes=14))  # 28 minutes in, but active 14 minutes ago
    assert logged_in(client)
    clock.set(clock.when + dt.timedelta(minutes=15, seconds=1))
    resp = client.get("/console")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login?next=/console"
    login_page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "You were logged off after 15 minutes without activity" in login_page
    assert not logged_in(client)
    assert (audit.for_actor("alice")[0].action, audit.for_actor("alice")[0].detail) == ("logout", "idle time-out")


def test_idle_minutes_come_from_the_setting(make_app, users, clock):
    client = make_app(STAFF_IDLE_MINUTES=2).test_client()
    users.add("alice", "nurse", hash_password(PASSWORD))
    Auth(client).login()
    clock.set(clock.when + dt.timedelta(minutes=2, seconds=1))
    assert "logged off after 2 minutes" in client.get("/console", follow_redirects=True).get_data(as_text=True)


def test_disabling_a_user_or_changing_the_password_ends_open_sessions(client, auth, users, alice):
    auth.login()
    users.set_password("alice", hash_password("another long password"))
    assert not logged_in(client)
    Auth(client).login("alice", "another long password")
    assert logged_in(client)
    users.disable("alice")
    assert not logged_in(client)


def test_role_required_lets_only_those_roles_in(make_app, users, audit):
    app = make_app()
    extra = Blueprint("billing_only", __name__)

    @extra.get("/billing-only")
    @role_required("billing")
    def billing_only():
        return "billing page"

    app.register_blueprint(extra)
    users.add("bill", "billing", hash_password(PASSWORD))
    users.add("nina", "nurse", hash_password(PASSWORD))
    anonymous = app.test_client().get("/billing-only")
    assert anonymous.status_code == 302 and anonymous.headers["Location"] == "/login?next=/billing-only"
    bill, nina = app.test_client(), app.test_client()
    Auth(bill).login("bill")
    Auth(nina).login("nina")
    assert bill.get("/billing-only").get_data(as_text=True) == "billing page"
    assert nina.get("/billing-only").status_code == 403
    assert audit.for_actor("nina")[0].action == "denied"


# Rate limits ------------------------------------------------------------------


def test_login_is_limited_per_username_even_with_the_right_password(client, auth, alice, redis_conn):
    for _ in range(5):
        assert auth.login(password="wrong password guess").status_code == 200
    limited = auth.login(password=PASSWORD)
    assert limited.status_code == 429
    assert "Too many login attempts" in limited.get_data(as_text=True)
    assert not logged_in(client)
    assert redis_conn.keys("ivr:limits:*")  # counted in the app's Redis
    # Someone else can still log in from the same address.
    client.application.extensions["ivr"].users.add("bob", "billing", hash_password(PASSWORD))
    assert Auth(client).login("bob").status_code == 302


def test_login_is_limited_per_address(make_app, alice):
    client = make_app(LOGIN_LIMIT_PER_ADDRESS="3 per minute").test_client()
    for name in ("a1", "a2", "a3"):
        assert Auth(client).login(name).status_code == 200
    assert Auth(client).login("alice").status_code == 429
    assert client.get("/login").status_code == 200  # only attempts are limited, not the form


# Audit log ---------------------------------------------------------------------


def test_logins_failures_views_and_logouts_are_audited(client, auth, alice, audit):
    auth.login(password="wrong password guess")
    auth.login("mallory", PASSWORD)
    auth.login()
    client.get("/console")
    auth.logout()
    mine = [(e.action, e.target, e.detail) for e in reversed(audit.for_actor("alice"))]
    queues = "nurse,on_call_nurse"  # alice is a nurse
    assert mine == [
        ("login_failed", "", "wrong password from 127.0.0.1"),
        ("login", "", "from 127.0.0.1"),
        ("view_queue", queues, ""),
        ("view_queue", queues, ""),  # the logout form was read from the console page
        ("logout", "", ""),
    ]
    unknown = audit.for_actor("-")
    assert [(e.action, e.detail) for e in unknown] == [("login_failed", "unknown username from 127.0.0.1")]
    assert all("mallory" not in e.detail for e in audit.recent())
    newest = audit.recent(limit=1)[0]
    assert newest.action == "logout" and abs(newest.at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=1)


def test_audit_log_indexes_by_target_masks_numbers_and_takes_a_pipeline(audit, redis_conn):
    audit.record("alice", "claim", target="cb-17")
    pipe = redis_conn.pipeline()
    audit.record("alice", "outcome", target="cb-17", detail="reached patient at +12025550123", pipeline=pipe)
    pipe.set("something-else", "1")
    assert audit.for_target("cb-17")[0].action == "claim"  # nothing written before execute
    pipe.execute()
    entries = audit.for_target("cb-17")
    assert [e.action for e in entries] == ["outcome", "claim"]
    assert entries[0].detail == "reached patient at +*******0123"
    assert [e.id for e in audit.recent()] == [e.id for e in entries] == [e.id for e in audit.for_actor("alice")]
    for bad_target in ("+12025550123", "(202) 555-0123", "call:+12025550123"):
        with pytest.raises(ValueError):
            audit.record("alice", "view_callback", target=bad_target)
    with pytest.raises(ValueError):
        audit.record("alice", "Drop Table")
    assert len(audit.recent()) == 2


def test_logs_and_audit_never_hold_passwords_or_phone_numbers(client, auth, alice, audit, caplog):
    with caplog.at_level(logging.DEBUG):
        auth.login(password="wrong password guess")
        auth.login()
        client.get("/console")
        auth.logout()
    assert caplog.records  # the login code does log
    text = caplog.text + repr(audit.recent())
    for secret in (PASSWORD, "wrong password guess", "2025550177", "+12025550177"):
        assert secret not in text


# ivr users ----------------------------------------------------------------------


@pytest.fixture
def ivr(redis_server, redis_conn):
    runner = CliRunner()

    def run(*args: str, input: str | None = None, redis_url: str | None = None):
        return runner.invoke(ivr_cli, list(args), input=input, env={"REDIS_URL": redis_url or redis_server.url})

    return run


def test_users_add_list_disable(ivr, redis_conn, make_app):
    added = ivr("users", "add", "nora", "--role", "nurse", "--phone", "+12025550166", "--password-stdin", input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "added nora (nurse)" in added.output
    listing = ivr("users", "list")
    assert listing.exit_code == 0
    assert re.search(r"nora\s+nurse\s+active\s+\+\*{7}0166", listing.output)
    assert "argon2" not in listing.output and "2025550166" not in listing.output

    client = make_app().test_client()
    assert Auth(client).login("nora").headers["Location"] == "/console"

    disabled = ivr("users", "disable", "nora")
    assert disabled.exit_code == 0 and "disabled nora" in disabled.output
    assert re.search(r"nora\s+nurse\s+disabled", ivr("users", "list").output)
    assert not logged_in(client)
    assert LOGIN_FAILED in Auth(make_app().test_client()).login("nora").get_data(as_text=True)
    assert [e.action for e in AuditLog(redis_conn).for_target("nora")] == ["user_disable", "user_add"]


def test_users_add_prompts_twice_and_refuses_short_or_mismatched_passwords(ivr, redis_conn):
    ok = ivr("users", "add", "pat", "--role", "billing", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert ok.exit_code == 0, ok.output
    assert PASSWORD not in ok.output  # hidden input
    mismatch = ivr("users", "add", "quinn", "--role", "billing", input=f"{PASSWORD}\nsomething else entirely\n")
    assert mismatch.exit_code != 0
    short = ivr("users", "add", "quinn", "--role", "billing", "--password-stdin", input="short pass\n")
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    assert [u.name for u in UserStore(redis_conn).list()] == ["pat"]


def test_users_add_refuses_duplicates_bad_names_and_roles(ivr):
    assert ivr("users", "add", "sam", "--role", "admin", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    again = ivr("users", "add", "sam", "--role", "nurse", "--password-stdin", input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    bad = ivr("users", "add", "Sam Smith", "--role", "nurse", "--password-stdin", input=PASSWORD + "\n")
    assert bad.exit_code == 1 and "lowercase" in bad.output
    assert ivr("users", "add", "tess", "--role", "doctor", "--password-stdin", input=PASSWORD + "\n").exit_code == 2
    missing = ivr("users", "disable", "nobody")
    assert missing.exit_code == 1 and "no user named 'nobody'" in missing.output


def test_users_commands_explain_when_redis_is_not_running(ivr, tmp_path):
    result = ivr("users", "list", redis_url=f"unix://{tmp_path}/none.sock")
    assert result.exit_code == 1
    assert "start `ivr serve` first (or set REDIS_URL)" in result.output

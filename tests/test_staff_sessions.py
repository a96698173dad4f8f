"""Server-side staff sessions, the Secure flag behind proxies, and login throttling (real Redis).

Each test replays what an attacker or an auditor would try: a copied cookie after
logout, idleness, the lifetime, disabling and a new password; the cookie over https
through a trusted proxy; password guessing from one address while the real user
logs in from another.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import zlib

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect

from ivr.cli import main as ivr_cli
from ivr.staff.passwords import hash_password

from .test_staff_auth import LOGIN_FAILED, PASSWORD, Auth, csrf_token

COOKIE = "session"
ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
DESK = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def users(app):
    return app.extensions["ivr"].users


@pytest.fixture
def alice(users):
    return users.add("alice", "nurse", hash_password(PASSWORD), display_name="Alice Nguyen")


@pytest.fixture
def sessions(redis_conn):
    from ivr.store.sessions import SessionStore  # here, so this module also runs against older code

    return SessionStore(redis_conn)


def session_keys(redis_conn) -> list[str]:
    return sorted(k.decode() for k in redis_conn.keys("ivr:staff:session:*"))


def cookie_value(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "no session cookie"
    return cookie.value


def with_cookie(app, value: str):
    """A second browser holding a copy of someone's cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, value, domain="localhost")
    return thief


def opens_console(client) -> bool:
    resp = client.get("/console")
    if resp.status_code == 200:
        return True
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'name="password"' in page  # the login page, not the console
    return False


def payload(value: str) -> bytes:
    """The data inside Flask's signed cookie, decoded without the key (as anyone holding it could)."""
    data = value.split(".")
    compressed = value.startswith(".")
    body = data[1] if compressed else data[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return zlib.decompress(raw) if compressed else raw


# Logout, idleness, lifetime -------------------------------------------------------


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, client, alice, redis_conn):
    Auth(client).login()
    copied = cookie_value(client)
    assert opens_console(with_cookie(app, copied))  # the copy works while the session lives
    assert len(session_keys(redis_conn)) == 1
    Auth(client).logout()
    assert session_keys(redis_conn) == []
    assert redis_conn.smembers("ivr:staff:sessions:alice") == set()
    thief = with_cookie(app, copied)
    assert not opens_console(thief)
    assert not opens_console(with_cookie(app, copied))  # and again: nothing renews it
    assert session_keys(redis_conn) == []


def test_the_cookie_holds_a_random_id_and_nothing_about_the_user(app, client, alice, sessions):
    Auth(client).login()
    value = cookie_value(client)
    data = json.loads(payload(value))
    assert set(data) <= {"staff_sid", "csrf_token"}
    assert b"alice" not in payload(value) and b"nurse" not in payload(value)
    assert app.session_interface.get_signing_serializer(app).loads(value) == data
    record = sessions.get(data["staff_sid"])
    assert record["user"] == "alice" and set(record) == {"user", "created", "seen", "key"}
    assert len(data["staff_sid"]) >= 40  # 32 random bytes
    client.get("/console")  # its logout form adds a CSRF token to the cookie
    value = cookie_value(client)
    assert set(json.loads(payload(value))) == {"staff_sid", "csrf_token"} and b"alice" not in payload(value)
    client.get("/console")
    assert cookie_value(client) == value  # requests renew the record in Redis, not the cookie


def test_each_login_gets_a_new_id_and_ends_the_one_before(client, alice, redis_conn):
    Auth(client).login()
    first = session_keys(redis_conn)
    token = csrf_token(client, "/console")  # /login itself sends a logged-in user on to the console
    assert client.post("/login", data={"csrf_token": token, "username": "alice", "password": PASSWORD}).status_code == 302
    second = session_keys(redis_conn)
    assert len(first) == len(second) == 1 and first != second


def test_an_idle_session_is_refused_and_deleted_on_the_server(app, client, alice, clock, redis_conn, sessions):
    Auth(client).login()
    copied = cookie_value(client)
    (key,) = session_keys(redis_conn)
    assert 0 < redis_conn.ttl(key) <= 15 * 60 + 61  # Redis drops it too, shortly after it is dead
    clock.set(clock.when + dt.timedelta(minutes=14))
    assert opens_console(client)
    clock.set(clock.when + dt.timedelta(minutes=15, seconds=1))
    thief = with_cookie(app, copied)
    resp = thief.get("/console")
    assert resp.status_code == 302
    assert "You were logged off after 15 minutes" in thief.get(resp.headers["Location"]).get_data(as_text=True)
    assert session_keys(redis_conn) == [] and sessions.of_user("alice") == []
    clock.set(clock.when - dt.timedelta(minutes=10))  # even a request from "before" cannot bring it back
    assert not opens_console(client)
    assert session_keys(redis_conn) == []


def test_a_session_ends_after_its_lifetime_however_active(make_app, users, clock, redis_conn):
    client = make_app(STAFF_SESSION_HOURS=1).test_client()
    users.add("alice", "nurse", hash_password(PASSWORD))
    Auth(client).login()
    for _ in range(6):
        clock.set(clock.when + dt.timedelta(minutes=10))
        assert opens_console(client)
    clock.set(clock.when + dt.timedelta(minutes=1))  # 61 minutes after login, 1 minute after the last request
    resp = client.get("/console")
    assert resp.status_code == 302
    assert "Your session ended 1 hours after you logged in" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert session_keys(redis_conn) == []


def test_a_dead_record_is_never_renewed(sessions, redis_conn):
    sid = sessions.create("alice", "k", now=1000.0, idle=60, lifetime=3600)
    assert sessions.touch(sid, 1050.0, 60, 3600).state == "ok"
    assert sessions.delete(sid) == "alice"
    assert sessions.touch(sid, 1051.0, 60, 3600).state == "missing"
    assert not redis_conn.exists(f"ivr:staff:session:{sid}")
    other = sessions.create("alice", "k", now=1000.0, idle=60, lifetime=3600)
    assert sessions.touch(other, 1061.0, 60, 3600).state == "idle"
    assert sessions.touch(other, 1001.0, 60, 3600).state == "missing"
    assert sessions.touch("../../etc", 1001.0, 60, 3600).state == "missing"


# Disable, new password ---------------------------------------------------------------


@pytest.fixture
def ivr(redis_server, redis_conn):
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(ivr_cli, list(args), input=input, env={"REDIS_URL": redis_server.url})

    return run


def test_disabling_a_user_ends_every_session_at_once(app, alice, ivr, redis_conn):
    desk, ward = app.test_client(), app.test_client()
    Auth(desk).login()
    Auth(ward).login()
    copied = cookie_value(desk)
    assert len(session_keys(redis_conn)) == 2
    result = ivr("users", "disable", "alice")
    assert result.exit_code == 0 and "disabled alice (2 open sessions ended)" in result.output
    assert session_keys(redis_conn) == []  # gone before anyone's next request
    assert not opens_console(desk) and not opens_console(ward) and not opens_console(with_cookie(app, copied))
    entry = app.extensions["ivr"].audit.for_target("alice")[0]
    assert (entry.action, entry.detail) == ("user_disable", "2 open sessions ended")


def test_a_new_password_ends_old_sessions_and_the_new_one_works(app, alice, ivr, redis_conn, users):
    desk = app.test_client()
    Auth(desk).login()
    bob = app.test_client()
    users.add("bob", "billing", hash_password(PASSWORD))
    Auth(bob).login("bob")
    copied = cookie_value(desk)
    new = "a completely new passphrase"
    result = ivr("users", "password", "alice", "--password-stdin", input=new + "\n")
    assert result.exit_code == 0 and "(1 open session ended)" in result.output, result.output
    assert len(session_keys(redis_conn)) == 1  # bob's
    assert not opens_console(desk) and not opens_console(with_cookie(app, copied))
    assert opens_console(bob)
    assert LOGIN_FAILED in Auth(app.test_client()).login().get_data(as_text=True)
    assert Auth(desk).login(password=new).headers["Location"] == "/console"
    entry = app.extensions["ivr"].audit.for_target("alice")[0]
    assert (entry.action, entry.detail) == ("user_password", "1 open session ended")
    assert ivr("users", "password", "nobody", "--password-stdin", input=new + "\n").exit_code == 1
    assert ivr("users", "password", "alice", "--password-stdin", input="short\n").exit_code == 1


def test_a_changed_password_hash_ends_a_session_even_without_the_store(app, client, alice, redis_conn):
    # A hash written behind the store's back: the fingerprint kept in the record still ends it.
    Auth(client).login()
    redis_conn.hset("ivr:staff:user:alice", "password_hash", hash_password("another long password"))
    assert not opens_console(client)
    assert session_keys(redis_conn) == []


# Secure cookies ------------------------------------------------------------------------


def https_login(client, base: str):
    token = csrf_token(client, base_url=base)
    return client.post(
        "/login",
        data={"csrf_token": token, "username": "alice", "password": PASSWORD},
        base_url=base,
        headers={"Referer": f"{base}/login"},  # Flask-WTF checks the referrer over https
    )


def test_cookie_is_secure_over_https_through_a_trusted_proxy(make_app, alice):
    app = make_app(TRUSTED_PROXIES=1)  # IVR_PUBLIC_URL unset
    client = app.test_client()
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    form = client.get("/login", headers=proxied)
    assert "Secure" in form.headers["Set-Cookie"]  # the CSRF token's cookie too
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    resp = client.post(
        "/login",
        data={"csrf_token": token, "username": "alice", "password": PASSWORD},
        headers={**proxied, "Referer": "https://localhost/login"},
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/console"
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie

    plain = make_app(TRUSTED_PROXIES=1).test_client()
    assert "Secure" not in Auth(plain).login().headers["Set-Cookie"]  # plain http stays usable in a lab
    spoofed = make_app(TRUSTED_PROXIES=0).test_client()  # no trusted proxy: the header means nothing
    assert "Secure" not in spoofed.get("/login", headers=proxied).headers["Set-Cookie"]


def test_cookie_is_secure_on_a_direct_https_request(make_app, alice):
    client = make_app().test_client()
    resp = https_login(client, "https://localhost")
    assert resp.status_code == 302 and "Secure" in resp.headers["Set-Cookie"]


# Login throttling ---------------------------------------------------------------------


def attempt(client, password: str, username: str = "alice", env: dict | None = None):
    env = env or ATTACKER
    token = csrf_token(client, environ_base=env)
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password}, environ_base=env)


def test_a_guesser_is_stopped_while_the_real_user_logs_in_from_elsewhere(app, alice, clock):
    attacker = app.test_client()
    for n in range(5):
        assert LOGIN_FAILED in attempt(attacker, f"guess number {n}").get_data(as_text=True)
    refused = attempt(attacker, "guess number 5")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert "Too many login attempts" in refused.get_data(as_text=True)
    assert attempt(attacker, PASSWORD).status_code == 429  # the right password does not help the guesser
    # The real user, at the front desk, during the attack:
    desk = app.test_client()
    assert attempt(desk, PASSWORD, env=DESK).headers["Location"] == "/console"
    assert opens_console(desk)
    # After the back-off, the right password from the attacking address (say, the same NAT) works.
    clock.set(clock.when + dt.timedelta(seconds=59))
    assert attempt(attacker, PASSWORD).status_code == 429
    clock.set(clock.when + dt.timedelta(seconds=2))
    nurse_behind_nat = app.test_client()
    assert attempt(nurse_behind_nat, PASSWORD).headers["Location"] == "/console"


def test_unknown_names_are_throttled_the_same_way(app, alice):
    attacker = app.test_client()
    for _ in range(5):
        assert attempt(attacker, PASSWORD, username="mallory").status_code == 200
    assert attempt(attacker, PASSWORD, username="mallory").status_code == 429


def test_a_campaign_from_many_addresses_slows_each_to_one_guess_a_minute(make_app, users, clock):
    app = make_app(LOGIN_LIMIT_PER_USER_TOTAL="10 per hour")
    users.add("alice", "nurse", hash_password(PASSWORD))
    bots = [{"REMOTE_ADDR": f"192.0.2.{n}"} for n in range(1, 6)]
    client = app.test_client()
    for bot in bots:  # 2 failures each: 10 in all, none over its own per-address limit
        for _ in range(2):
            assert attempt(client, "a wrong guess", env=bot).status_code == 200
    for bot in bots:  # now each address that failed waits a minute after its last failure
        assert attempt(client, "a wrong guess", env=bot).status_code == 429
    fresh = {"REMOTE_ADDR": "192.0.2.200"}  # an address with no failure gets its try at once
    assert attempt(client, "a wrong guess", env=fresh).status_code == 200
    assert attempt(client, "a wrong guess", env=fresh).status_code == 429
    assert attempt(app.test_client(), PASSWORD, env=DESK).headers["Location"] == "/console"
    clock.set(clock.when + dt.timedelta(seconds=61))
    assert attempt(client, "a wrong guess", env=bots[0]).status_code == 200  # one guess a minute
    assert attempt(client, "a wrong guess", env=bots[0]).status_code == 429
    assert attempt(app.test_client(), PASSWORD, env=bots[1]).headers["Location"] == "/console"


def test_parallel_guesses_cannot_slip_past_the_limit(app, alice):
    clients = [app.test_client() for _ in range(12)]
    tokens = [csrf_token(c, environ_base=ATTACKER) for c in clients]
    statuses: list[int] = []
    start = threading.Barrier(len(clients))

    def guess(client, token):
        start.wait()
        resp = client.post(
            "/login", data={"csrf_token": token, "username": "alice", "password": "parallel guess"}, environ_base=ATTACKER
        )
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 5 + [429] * 7


# In a real browser -----------------------------------------------------------------------


def test_browser_cookies_copied_before_logout_open_nothing_after_it(browser, page, live_server, alice):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url + "/console")
    stolen = page.context.cookies()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(live_server.url + "/login")
    other = browser.new_context()
    try:
        other.add_cookies(stolen)
        thief = other.new_page()
        thief.goto(live_server.url + "/console")
        expect(thief).to_have_url(re.compile(r"/login\?next="))
        expect(thief.get_by_role("button", name="Log out")).to_have_count(0)
    finally:
        other.close()

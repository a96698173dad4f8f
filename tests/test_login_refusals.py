"""Logins refused by a rate limit: the 429 page and Retry-After say the limiter's real wait, and each
refusal is in the audit log, without the password, naming the user only if such a user exists."""

from __future__ import annotations

import re

from ivr.staff.passwords import hash_password

from .test_staff_auth import PASSWORD, Auth, alice, audit, users  # noqa: F401
from .test_staff_sessions import attempt

TYPED_INTO_NAME = "tr0ub4dor-and-3"  # a password typed into the username field by mistake


def _wait_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"


def _refusals(audit) -> list:
    return [e for e in audit.recent(limit=100) if e.action == "login_refused"]


def test_the_per_address_limit_says_its_real_reset_time_and_is_audited(make_app, redis_conn):
    app = make_app(LOGIN_LIMIT_PER_ADDRESS="3 per 30 seconds")
    log = app.extensions["ivr"].audit
    app.extensions["ivr"].users.add("alice", "nurse", hash_password(PASSWORD))
    client = app.test_client()
    for name in ("a1", "a2", "a3"):
        assert Auth(client).login(name).status_code == 200
    refused = Auth(client).login("alice", "hunter2 is my secret")
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 30  # the window's real end, not a fixed minute
    text = re.sub(r"\s+", " ", refused.get_data(as_text=True))
    assert f"Too many login attempts. Please wait {_wait_words(wait)}, then try again." in text
    assert "wait a minute" not in text

    Auth(client).login(TYPED_INTO_NAME, "whatever")
    entries = _refusals(log)
    assert [e.actor for e in reversed(entries)] == ["alice", "unknown user"]
    for e in entries:
        assert "from one address" in e.detail and "retry in" in e.detail
        assert "hunter2" not in e.detail and TYPED_INTO_NAME not in e.detail and "whatever" not in e.detail
    assert TYPED_INTO_NAME not in str([(e.actor, e.target, e.detail) for e in log.recent(limit=100)])


def test_the_per_name_limit_is_audited_too(app, alice, audit):  # noqa: F811
    attacker = app.test_client()
    for n in range(5):
        attempt(attacker, f"guess number {n}")
    refused = attempt(attacker, "guess number 5")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert "Please wait 1 minute, then try again." in refused.get_data(as_text=True)
    [entry] = _refusals(audit)
    assert entry.actor == "alice"
    assert entry.detail.startswith("too many failed logins for this name; retry in 60s; from ")
    assert "guess" not in entry.detail

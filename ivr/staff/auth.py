"""Who is logged in: the session, the time-outs, ``login_required`` and ``role_required``.

The session cookie holds a random session id and nothing about the user; the
record it names is in Redis (``ivr.store.sessions``: user, created, last seen,
a fingerprint of the password hash). Every request to a staff page checks and
renews it in one step, on the server: more than STAFF_IDLE_MINUTES since the
last request, more than STAFF_SESSION_HOURS since login, a disabled user or a
changed password ends it (the record is deleted), and so does logout. A copy of
the cookie is worth nothing once the session has ended.

Requests to ``PEEK_ENDPOINTS`` (the pages asking how long is left before the
idle time-out) read the session without renewing it: only a person's action, or
a call in progress, keeps a session alive.
"""

from __future__ import annotations

import hashlib
import logging
from functools import wraps
from typing import Callable, TypeVar
from urllib.parse import urlsplit

import redis
from flask import abort, current_app, flash, g, jsonify, redirect, request, session, url_for

from ivr import services
from ivr.store import audit as actions
from ivr.store.users import User

from . import passwords, sessions

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable)

SESSION_ID = "staff_sid"  # the only thing about the login kept in the cookie
_UNSET = object()


def idle_message() -> str:
    minutes = float(current_app.config["STAFF_IDLE_MINUTES"])
    return f"You were logged off after {minutes:g} minutes without activity. Please log in again."


def lifetime_message() -> str:
    hours = float(current_app.config["STAFF_SESSION_HOURS"])
    return f"Your session ended {hours:g} hours after you logged in. Please log in again."


def _now() -> float:
    return services.get().now().timestamp()


def _limits() -> tuple[float, float]:
    """(idle time-out, lifetime) in seconds."""
    cfg = current_app.config
    return float(cfg["STAFF_IDLE_MINUTES"]) * 60, float(cfg["STAFF_SESSION_HOURS"]) * 3600


def _fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def authenticate(name: str, password: str) -> tuple[User | None, str]:
    """(the user, "") if the password is right and the account active, else (None, why) for the audit log.

    Unknown names cost the same argon2 verification as known ones.
    """
    users = services.get().users
    user = users.get(name) if name else None
    if user is None:
        passwords.verify_password(None, password)
        return None, "unknown username"
    if not passwords.verify_password(user.password_hash, password):
        return None, "wrong password"
    if user.disabled:
        return None, "account disabled"
    if passwords.needs_rehash(user.password_hash):
        # A new hash of the same password: like any new password it ends the user's other sessions.
        users.set_password(user.name, passwords.hash_password(password))
        user = users.get(user.name) or user
    return user, ""


def login_user(user: User) -> None:
    """Start a fresh session for ``user``: a new id, nothing from before login survives."""
    _end_this_session()
    session.clear()
    idle, lifetime = _limits()
    session[SESSION_ID] = sessions.store().create(user.name, _fingerprint(user), _now(), idle, lifetime)
    g.staff_user = user


def logout_user() -> None:
    """End the session on the server now (a copy of the cookie opens nothing) and forget it here."""
    _end_this_session()
    session.clear()
    g.staff_user = None


def _end_this_session() -> None:
    sid = session.get(SESSION_ID)
    if sid:
        sessions.store().delete(sid)


def current_user() -> User | None:
    """The logged-in user of this request, or None (checked once per request)."""
    user = g.get("staff_user", _UNSET)
    if user is _UNSET:
        user = g.staff_user = _check_session()
    return user  # type: ignore[return-value]


# Endpoints that only look at the session: asking "how long until I am logged out?" is not activity.
PEEK_ENDPOINTS = frozenset({"staff.session_left"})


def seconds_left() -> float:
    """Seconds until this request's session is refused (idle time-out or lifetime), as of this request."""
    left = g.get("staff_session_left")
    if left is None:
        idle, _ = _limits()
        return idle
    return left


def peek(sid: str) -> tuple[User | None, float]:
    """(the session's user, seconds left) without counting this as activity: checked like every
    staff page (idle, lifetime, disabled, new password); (None, 0) once it is over. Never ends or
    flashes anything: the next real request does that, and says why."""
    idle, lifetime = _limits()
    record = sessions.store().get(sid) if sid else None
    if not record:
        return None, 0.0
    now = _now()
    try:
        left = min(idle - (now - float(record.get("seen") or 0)), lifetime - (now - float(record.get("created") or 0)))
    except ValueError:
        return None, 0.0
    if left <= 0:
        return None, 0.0
    user = services.get().users.get(record.get("user", ""))
    if user is None or user.disabled or record.get("key") != _fingerprint(user):
        return None, 0.0
    return user, left


def _peek(sid: str) -> User | None:
    user, left = peek(sid)
    g.staff_session_left = left
    return user


def _check_session() -> User | None:
    sid = session.get(SESSION_ID)
    if not sid:
        return None
    if request.endpoint in PEEK_ENDPOINTS:
        return _peek(sid)
    idle, lifetime = _limits()
    now = _now()
    try:
        found = sessions.store().touch(sid, now, idle, lifetime)
    except redis.ResponseError as exc:  # Redis refuses writes (ivr.operations.write_health): check the session, read only
        log.warning("staff session not renewed: %s", str(exc).split(" ", 1)[0])
        return _peek(sid)
    if found.state != "ok":
        session.clear()
        if found.state == "idle":
            services.get().audit.record(found.user, actions.LOGOUT, detail="idle time-out")
            flash(idle_message(), "info")
        elif found.state == "lifetime":
            services.get().audit.record(found.user, actions.LOGOUT, detail="session lifetime")
            flash(lifetime_message(), "info")
        else:  # logged out, ended by disable or a new password, or expired in Redis
            flash("Your session has ended. Please log in again.", "info")
        return None
    user = services.get().users.get(found.user)
    if user is None or user.disabled or found.key != _fingerprint(user):
        sessions.store().delete(sid)
        session.clear()
        flash("Your session has ended. Please log in again.", "info")
        return None
    g.staff_session_left = min(idle, lifetime - (now - found.created))
    return user


def _here() -> str | None:
    """Where to come back to after logging in: this page, or for a form sent after the session ended,
    the page it was sent from (same site only)."""
    if request.method != "GET":
        referrer = urlsplit(request.referrer or "")
        if referrer.netloc != request.host or not referrer.path.startswith("/"):
            return None
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return request.full_path if request.query_string else request.path


def login_required(view: F) -> F:
    """Send visitors who are not logged in (or whose session ended) to the login page, and back."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("staff.login", next=_here()))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def api_login_required(view: F) -> F:
    """For the pages' small JSON requests: 401 with where to log in, instead of a redirect to the form."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return jsonify(logged_in=False, login=url_for("staff.login", next=_here())), 401
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def role_required(*roles: str) -> Callable[[F], F]:
    """Only users whose role is one of ``roles`` (admins included only when listed); others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("staff.login", next=_here()))
            if user.role not in roles:
                services.get().audit.record(user.name, actions.DENIED, detail=f"{request.method} {request.path}")
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate

"""Who is logged in: the session, the idle time-out, ``login_required`` and ``role_required``.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind
https). It holds the username, the time of the last request and a fingerprint
of the password hash, and nothing about patients. Each request to a staff page
checks it: more than STAFF_IDLE_MINUTES since the last request, a disabled
user or a changed password ends the session.
"""

from __future__ import annotations

import hashlib
from functools import wraps
from typing import Callable, TypeVar

from flask import abort, current_app, flash, g, redirect, request, session, url_for

from ivr import services
from ivr.store import audit as actions
from ivr.store.users import User

from . import passwords

F = TypeVar("F", bound=Callable)

SESSION_USER = "staff_user"
SESSION_SEEN = "staff_seen"  # seconds since the epoch of the last request
SESSION_KEY = "staff_key"  # fingerprint of the password hash: a new password ends old sessions
_UNSET = object()


def idle_message() -> str:
    minutes = float(current_app.config["STAFF_IDLE_MINUTES"])
    return f"You were logged off after {minutes:g} minutes without activity. Please log in again."


def _now() -> float:
    return services.get().now().timestamp()


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
        users.set_password(user.name, passwords.hash_password(password))
        user = users.get(user.name) or user
    return user, ""


def login_user(user: User) -> None:
    """Start a fresh session for ``user`` (nothing from before login survives)."""
    session.clear()
    session[SESSION_USER] = user.name
    session[SESSION_SEEN] = _now()
    session[SESSION_KEY] = _fingerprint(user)
    g.staff_user = user


def logout_user() -> None:
    session.clear()
    g.staff_user = None


def current_user() -> User | None:
    """The logged-in user of this request, or None (checked once per request)."""
    user = g.get("staff_user", _UNSET)
    if user is _UNSET:
        user = g.staff_user = _check_session()
    return user  # type: ignore[return-value]


def _check_session() -> User | None:
    name = session.get(SESSION_USER)
    if not name:
        return None
    now = _now()
    idle = now - float(session.get(SESSION_SEEN) or 0)
    if idle > float(current_app.config["STAFF_IDLE_MINUTES"]) * 60:
        session.clear()
        services.get().audit.record(name, actions.LOGOUT, detail="idle time-out")
        flash(idle_message(), "info")
        return None
    user = services.get().users.get(name)
    if user is None or user.disabled or session.get(SESSION_KEY) != _fingerprint(user):
        session.clear()
        flash("Your session has ended. Please log in again.", "info")
        return None
    session[SESSION_SEEN] = now
    return user


def _here() -> str | None:
    """Where to come back to after logging in (GET pages only)."""
    if request.method != "GET":
        return None
    return request.full_path if request.query_string else request.path


def login_required(view: F) -> F:
    """Send visitors who are not logged in (or whose session ended) to the login page, and back."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("staff.login", next=_here()))
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

"""Login and logout views (throttling rules: ``ivr.staff.limits``)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for

from ivr.store import audit as actions

from . import bp
from .audit import record
from .auth import authenticate, current_user, login_user, logout_user
from . import limits
from .limits import limiter, per_address
from .pages import audit_refused_login, too_many

log = logging.getLogger(__name__)

LOGIN_FAILED = "Unknown username or wrong password."


def _safe_next(target: str | None) -> str:
    """A path on this site to go back to after login; anything else (other hosts, //evil, /\\evil,
    javascript:, control characters, the login page itself) -> the console."""
    if target and len(target) <= 2000 and target.isprintable() and " " not in target:
        parts = urlsplit(target)
        if (
            target.startswith("/")
            and not target.startswith("//")
            and not parts.scheme
            and not parts.netloc
            and "\\" not in target
            and parts.path not in (url_for("staff.login"), url_for("staff.logout"))
        ):
            return target
    return url_for("staff.console")


def _next_field(target: str) -> str:
    """The form's hidden ``next``: only a safe one is carried along (else none: the console)."""
    safe = _safe_next(target)
    return safe if target and safe == target else ""


@bp.get("/")
def index():
    return redirect(url_for("staff.console"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(per_address, methods=["POST"])
def login():
    next_url = request.values.get("next", "")
    if request.method == "GET":
        if current_user() is not None:
            return redirect(_safe_next(next_url))
        return render_template("staff/login.html", next=_next_field(next_url), username="", error=None)

    name = request.form.get("username", "").strip().lower()
    wait, attempt = limits.begin_attempt(name)
    if wait:
        log.warning("login attempts for one name from one address over the limit (retry in %ss)", wait)
        audit_refused_login("too many failed logins for this name", wait)
        return too_many(wait)
    user, why = authenticate(name, request.form.get("password", ""))
    if user is None:
        # Same answer whether the name exists or not; the audit log keeps the reason,
        # and names only known users (a password typed into the name field stays out).
        known = why != "unknown username"
        record(actions.LOGIN_FAILED, detail=f"{why} from {request.remote_addr}", actor=name if known else "-")
        log.info("staff login failed (%s)", why)
        return render_template("staff/login.html", next=_next_field(next_url), username=name, error=LOGIN_FAILED)
    limits.succeeded(name, attempt)
    login_user(user)
    record(actions.LOGIN, detail=f"from {request.remote_addr}")
    log.info("staff login: %s (%s)", user.name, user.role)
    return redirect(_safe_next(next_url))


@bp.post("/logout")
def logout():
    user = current_user()
    if user is not None:
        record(actions.LOGOUT)
        log.info("staff logout: %s", user.name)
        logout_user()
        flash("You have logged out.", "info")
    return redirect(url_for("staff.login"))

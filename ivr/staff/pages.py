"""What every staff page shares: the session check, headers, template values and error pages."""

from __future__ import annotations

import logging
import math
import time

import redis
from flask import Blueprint, Response, render_template, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden

from ivr import services

from . import bp
from .auth import current_user

log = logging.getLogger(__name__)

# Patient data must not linger in caches or be framed by other sites.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _check_session() -> None:
    """Apply the idle time-out (and count this request as activity) on every staff page."""
    current_user()


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _template_values() -> dict:
    return {"clinic_name": services.get().runtime.clinic.name, "current_user": current_user()}


def staff_pages(blueprint: Blueprint) -> None:
    """What every blueprint of staff pages (console, admin) shares: session check, headers, template values."""
    blueprint.before_request(_check_session)
    blueprint.after_request(_headers)
    blueprint.context_processor(_template_values)


staff_pages(bp)


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("staff/error.html", title=title, message=message), status


def too_many(wait: int):
    """The 429 page of every login limit, with how long to wait (also in Retry-After)."""
    amount, unit = (wait, "second") if wait < 60 else (math.ceil(wait / 60), "minute")
    when = f"{amount} {unit}{'s' * (amount != 1)}"
    body, status = error_page(429, "Too many login attempts", f"Too many login attempts. Please wait {when}, then try again.")
    return body, status, {"Retry-After": str(wait)}


def audit_refused_login(rule: str, wait: int) -> None:
    """A login attempt refused by a limit, in the audit log: never the password, and the name typed only
    if such a user exists (a password typed into the name field stays out)."""
    from ivr.store import audit as actions
    from ivr.store.users import USERNAME

    from .audit import record

    name = (request.form.get("username") or "").strip().lower()
    try:
        known = bool(USERNAME.fullmatch(name)) and services.get().users.get(name) is not None
        record(actions.LOGIN_REFUSED, detail=f"{rule}; retry in {wait}s; from {request.remote_addr}",
               actor=name if known else "unknown user")
    except Exception:  # noqa: BLE001 - the 429 page must not fail because the audit log cannot be written
        log.exception("could not audit a refused login")


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded):
    from .limits import limiter

    limit = limiter.current_limit  # the limit just hit: its window's real reset time, not a fixed minute
    wait = 60
    if limit is not None:  # reset_at is a whole second, rounded up: never more than the window itself
        wait = min(max(1, math.ceil(limit.reset_at - time.time())), limit.limit.get_expiry())
    log.warning("login attempts over the limit (%s), retry in %ss", exc.description, wait)
    audit_refused_login(f"more than {exc.description} from one address", wait)
    return too_many(wait)


@bp.errorhandler(CSRFError)
def _form_expired(exc: CSRFError):
    return error_page(400, "Form expired", "This form has expired or was not sent from this site. Please go back, reload the page and try again.")


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return error_page(403, "Not allowed", "Your role does not give access to this page.")


@bp.errorhandler(redis.ResponseError)
def writes_refused(exc: redis.ResponseError):
    """Redis refuses writes (ivr.operations.write_health): a page that must record who opened it, or a change, cannot be
    kept, so it is not shown; the staff member reads why in words instead of an error 500. Registered on the
    admin blueprints too. Any other Redis answer stays an error."""
    from ivr.operations import write_health

    reasons = list(write_health.from_app().values())
    if not reasons:
        raise exc
    log.warning("staff page refused: Redis refuses writes")
    return error_page(
        503, "Nothing can be saved right now",
        "This page is not shown because nothing can be saved at the moment, not even the record of who opened "
        "it. Calls still reach a person, and messages left meanwhile come into the queue once this is fixed. "
        "Tell whoever runs the server: " + "; ".join(reasons) + ".")

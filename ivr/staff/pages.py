"""What every staff page shares: the session check, headers, template values and error pages."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, render_template
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


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded):
    log.warning("login attempts over the limit (%s)", exc.description)
    body, status = error_page(
        429, "Too many login attempts", "Too many login attempts. Please wait a minute, then try again."
    )
    return body, status, {"Retry-After": "60"}


@bp.errorhandler(CSRFError)
def _form_expired(exc: CSRFError):
    return error_page(400, "Form expired", "This form has expired or was not sent from this site. Please go back, reload the page and try again.")


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return error_page(403, "Not allowed", "Your role does not give access to this page.")

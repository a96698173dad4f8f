"""The staff console: login, logout and the pages staff work in.

    GET       /          -> /console
    GET/POST  /login     the login form (POST rate-limited)
    POST      /logout    log out (a form with a CSRF token)
    GET       /console   the console's landing page (login required)

Every staff page needs a login except /login; every form carries a CSRF
token; responses are never cached. Templates are in templates/staff/.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__)

from . import callback_page, callback_words, console, durations, live, login, pages, supervisor  # noqa: E402,F401  (they register routes and handlers on bp)

__all__ = ["bp"]

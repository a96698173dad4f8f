"""Staff sessions: the session cookie and the server-side session records.

The cookie is Flask's signed session cookie (HttpOnly, SameSite=Lax). For a
logged-in user it carries one opaque random id (``auth.SESSION_ID``), besides
Flask-WTF's CSRF token and one-time messages; who the user is, when the
session began and was last used, and the password fingerprint are kept in
Redis (``ivr.store.sessions``), so logging out, idleness, the lifetime limit,
disabling the user or a new password end the session on the server, and a
copied cookie opens nothing afterwards.

The cookie is Secure when IVR_PUBLIC_URL is https, and on any response to a
request that came over https, including through trusted proxies (the app
factory applies ProxyFix when TRUSTED_PROXIES > 0, so ``request.is_secure``
follows X-Forwarded-Proto).
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

from ivr import config as config_module
from ivr.store.sessions import LoginFailures, SessionStore

EXTENSION = "ivr.staff.sessions"


class StaffSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure per response whenever the request itself was https."""

    def open_session(self, app: Flask, request):
        """Twilio's webhooks carry no staff cookie: no session work for them (the URL is not matched
        yet when Flask opens the session, so this goes by the path)."""
        if request.path.startswith("/voice/") or request.path == "/healthz":
            return self.null_session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    """Cookie settings, a per-install key unless IVR_SECRET_KEY is set, and the Redis stores."""
    app.config["SECRET_KEY"] = config_module.secret_key(app.config)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if str(app.config["PUBLIC_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.session_interface = StaffSessionInterface()
    conn = app.extensions["ivr"].redis
    app.extensions[EXTENSION] = (SessionStore(conn), LoginFailures(conn))


def store() -> SessionStore:
    return current_app.extensions[EXTENSION][0]


def failures() -> LoginFailures:
    return current_app.extensions[EXTENSION][1]

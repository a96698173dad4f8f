"""Staff sessions: how the session cookie is set up for the staff console and admin pages."""

from __future__ import annotations

from flask import Flask

from ivr import config as config_module


def init_app(app: Flask) -> None:
    """Signed session cookies for the staff console: a per-install key unless IVR_SECRET_KEY is set."""
    app.config["SECRET_KEY"] = config_module.secret_key(app.config)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if str(app.config["PUBLIC_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True

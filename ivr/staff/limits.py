"""Login rate limits (Flask-Limiter), counted in the app's Redis.

LOGIN_LIMIT_PER_USER attempts per username and LOGIN_LIMIT_PER_ADDRESS per
client address (the real one behind TRUSTED_PROXIES); both count every login
POST, right or wrong, so a correct password is refused too while limited.

``limiter`` is one extension object, set up per app by ``init_app`` like other
Flask extensions; its storage is the last app's Redis (one app per process in
production; tests share one Redis).
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from ivr.config import redis_url
from ivr.store.ratelimit import limiter_storage

limiter = Limiter(key_func=get_remote_address)


def init_app(app: Flask) -> None:
    uri, options = limiter_storage(redis_url(app.config), timeout=float(app.config["REDIS_TIMEOUT"]))
    app.config.setdefault("RATELIMIT_STORAGE_URI", uri)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", options)
    limiter.init_app(app)


def per_user() -> str:
    return current_app.config["LOGIN_LIMIT_PER_USER"]


def per_address() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def username_key() -> str:
    """The username typed in the login form, as the login view normalises it."""
    return "user:" + request.form.get("username", "").strip().lower()[:64]

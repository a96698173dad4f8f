"""Login throttling: slow down password guessing without locking the real user out.

Three rules, all counted in the app's Redis:

1. Per client address (the real one behind TRUSTED_PROXIES), every login POST,
   right or wrong: LOGIN_LIMIT_PER_ADDRESS (default 20 per minute), by
   Flask-Limiter (``limiter``).
2. Per username *and* address, failed logins only: LOGIN_LIMIT_PER_USER (default
   5 per minute). An address that has failed that often for a name must wait
   until its oldest failure in the window is a window old. Failures from one
   address never block the same name from another address, so someone guessing
   alice's password cannot lock alice out; a correct password clears that
   address's failures for the name.
3. Per username from every address, failed logins only:
   LOGIN_LIMIT_PER_USER_TOTAL (default 30 per hour). Beyond it (a guessing
   campaign, perhaps from many addresses) an address that has failed for the
   name must wait a full LOGIN_LIMIT_PER_USER window after its last failure:
   one guess per address per minute. An address with no recent failure for the
   name still gets its attempt at once, so the real user, at another desk or
   after the short back-off, still gets in.

What this does not do: stop a patient attacker with very many addresses (each
gets about one guess a minute per name once rule 3 applies); only strong
passwords (12 characters at least) and the audit log of failed logins help
there. A refused attempt gets 429 with Retry-After and the same page for every
name.

Rules 2 and 3 use the app's clock (``services.now``, set by tests) and count an
attempt as failed when it starts, atomically with the check
(``ivr.store.sessions.LoginFailures``), so parallel guesses cannot slip past;
a correct password takes its attempt back. Names that cannot be usernames
are left to rule 1.

``limiter`` is one extension object, set up per app by ``init_app`` like other
Flask extensions; its storage is the last app's Redis (one app per process in
production; tests share one Redis).
"""

from __future__ import annotations

import math

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse

from ivr import services
from ivr.config import redis_url
from ivr.store.ratelimit import limiter_storage
from ivr.store.users import USERNAME

from . import sessions

limiter = Limiter(key_func=get_remote_address)


def init_app(app: Flask) -> None:
    uri, options = limiter_storage(redis_url(app.config), timeout=float(app.config["REDIS_TIMEOUT"]))
    app.config.setdefault("RATELIMIT_STORAGE_URI", uri)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", options)
    limiter.init_app(app)
    _skip_for_webhooks(app)


def _unlimited() -> bool:
    """Twilio's webhooks and /healthz, which have no limits (and no time to spare)."""
    return request.path.startswith("/voice/") or request.path == "/healthz"


def _skip_for_webhooks(app: Flask) -> None:
    """Flask-Limiter checks every request before and after its view, even for exempt blueprints
    (measured: a fifth of a millisecond per webhook); its hooks here pass webhooks straight by."""
    hooks = app.before_request_funcs.setdefault(None, [])
    for i, hook in enumerate(hooks):
        if getattr(hook, "__self__", None) is limiter:
            hooks[i] = _unless_unlimited(hook, None)
    after = app.after_request_funcs.setdefault(None, [])
    for i, hook in enumerate(after):
        if getattr(hook, "args", ()) and hook.args[0] is limiter:  # partial(Limiter.__inject_headers, limiter)
            after[i] = _unless_unlimited(hook, "response")


def _unless_unlimited(hook, passes: str | None):
    def run(*args):
        if _unlimited():
            return args[0] if passes else None
        return hook(*args)

    return run


def per_address() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def _rule(setting: str) -> tuple[int, float]:
    item = parse(current_app.config[setting])
    return int(item.amount), float(item.get_expiry())


def begin_attempt(name: str) -> tuple[int, str]:
    """Before checking a password for ``name``: (seconds to wait, "") if refused, else (0, token).

    The attempt counts as failed unless ``succeeded(name, token)`` follows.
    """
    if not USERNAME.fullmatch(name):
        return 0, ""
    wait, token = sessions.failures().attempt(
        name,
        _address(),
        services.get().now().timestamp(),
        pair=_rule("LOGIN_LIMIT_PER_USER"),
        total=_rule("LOGIN_LIMIT_PER_USER_TOTAL"),
    )
    return (max(1, math.ceil(wait)), "") if wait > 0 else (0, token)


def succeeded(name: str, token: str) -> None:
    """The password was right: this address's failures for ``name`` are forgotten."""
    if token:
        sessions.failures().succeeded(name, _address(), token)


def _address() -> str:
    return request.remote_addr or "-"

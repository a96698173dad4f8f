"""Twilio request signatures (X-Twilio-Signature), checked on every webhook."""

from __future__ import annotations

import functools
import logging

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

EXTENSION = "ivr.twilio_validator"


def init_app(app, auth_token: str) -> None:
    app.extensions[EXTENSION] = RequestValidator(auth_token)


def signed_url() -> str:
    """The URL Twilio requested, which is what it signed.

    With PUBLIC_URL set, that base replaces scheme and host (a proxy in front
    may rewrite both); otherwise the request's own URL is used, corrected by
    ProxyFix for TRUSTED_PROXIES reverse proxies.
    """
    query = request.query_string.decode("latin-1")
    suffix = f"?{query}" if query else ""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + request.path + suffix
    return request.base_url + suffix


def twilio_signed(view):
    """Refuse (403) any request that does not carry Twilio's valid signature."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        signature = request.headers.get("X-Twilio-Signature", "")
        validator: RequestValidator = current_app.extensions[EXTENSION]
        if not signature or not validator.validate(signed_url(), request.form, signature):
            log.warning(
                "refused %s to %s: %s Twilio signature",
                request.method,
                request.path,
                "invalid" if signature else "missing",
            )
            return Response("Forbidden: missing or invalid X-Twilio-Signature\n", 403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapper

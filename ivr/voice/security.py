"""Twilio request signatures (X-Twilio-Signature), checked on every webhook."""

from __future__ import annotations

import functools
import logging
import re

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

EXTENSION = "ivr.twilio_validator"
# Base64 of an HMAC-SHA1 (what Twilio sends: 28 characters), or of an HMAC-SHA256 (44), nothing else.
SIGNATURE_SHAPE = re.compile(r"[A-Za-z0-9+/]{27}=|[A-Za-z0-9+/]{43}=")


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
    """Refuse (403) any request that does not carry Twilio's valid signature.

    As early as Twilio's protocol allows: a missing or malformed header is
    refused before the body is read at all. A well-formed one covers the URL
    and the sorted POST parameters, so the form is parsed to check it, within
    the webhook size limit that ``ivr.protection.request_limits`` has already enforced.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        refused = refuse_unsigned()
        if refused is not None:
            return refused
        signature = request.headers["X-Twilio-Signature"]
        validator: RequestValidator = current_app.extensions[EXTENSION]
        if not validator.validate(signed_url(), request.form, signature):
            return _refuse("invalid")
        return view(*args, **kwargs)

    wrapper.twilio_signed = True  # type: ignore[attr-defined]  (ivr.protection.request_limits checks the header before reading)
    return wrapper


def refuse_unsigned() -> Response | None:
    """403 if X-Twilio-Signature is missing or cannot be a signature at all: decided from the header alone."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if SIGNATURE_SHAPE.fullmatch(signature):
        return None
    return _refuse("missing" if not signature else "malformed")


def _refuse(why: str) -> Response:
    log.warning("refused %s to %s: %s Twilio signature", request.method, request.path, why)
    return Response("Forbidden: missing or invalid X-Twilio-Signature\n", 403, mimetype="text/plain")

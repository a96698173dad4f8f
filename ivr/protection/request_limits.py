"""How much of a request is read, and how early it is refused.

Every request gets a size limit from what its route needs, set in a
``before_request`` that runs before any other (``init_app`` is called before
the sessions, CSRF, the login limiter and the blueprints), so nothing has
parsed the body yet:

    /voice/*, /sms/* Twilio's webhooks: 64 KB (their forms are a few KB)
    admin upload    POST /admin/prompts/<lang>/<id>/audio: the recording's limit
                    (ivr.admin.audio.MAX_UPLOAD_BYTES, 25 MB) plus 256 KB of form
    /admin/*        2 MB (a 200 KB flow, urlencoded or as JSON; a 1 MB .ics)
    everything else 16 KB (the login form, staff console forms, 404s)
    /api/*          left to ivr.followups.api (8 MB, enforced there)

The limit is enforced while reading, not from headers alone:

- a Twilio webhook without a well-formed X-Twilio-Signature is refused (403)
  before anything else (ivr.voice.security.refuse_unsigned);
- a Content-Length over the limit is refused (413) before a byte of the body
  is read;
- a body without Content-Length (chunked) is read here, to one byte past the
  limit at most, and refused if that byte came (Werkzeug's LimitedStream stops
  silently at ``max_content_length`` for such bodies, so "exactly the limit"
  and "more" look alike unless one more byte is asked for). What was read is
  kept for the form parser, so it is read once.

- under gevent (`ivr serve`), a form's or webhook's body must arrive within
  ``BODY_SECONDS`` (408 otherwise), so a client trickling it in holds only
  its own greenlet, and not for long.

Flask's own per-request limits do the rest: ``request.max_content_length``,
``max_form_memory_size`` (urlencoded bodies and non-file multipart fields),
``max_form_parts``. JSON that nests deeper than ``MAX_JSON_DEPTH`` (or deep
enough to exhaust Python's recursion) is a bad request (400), not a 500.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response, current_app, request

from ivr.operations import web_server

log = logging.getLogger(__name__)

KB = 1024
MB = 1024 * KB
MAX_JSON_DEPTH = 64
BODY_SECONDS = 10  # a body of a form or webhook must arrive within this (under gevent)


@dataclass(frozen=True)
class Limit:
    name: str
    body: int  # bytes of body, whatever its encoding
    form_memory: int  # urlencoded body, or non-file multipart fields
    form_parts: int  # fields + files in a multipart body


WEBHOOK = Limit("Twilio webhook", 64 * KB, 64 * KB, 256)
STAFF = Limit("staff form", 16 * KB, 16 * KB, 64)
ADMIN = Limit("admin form", 2 * MB, 2 * MB, 1000)
AUDIO_ENDPOINT = "admin.upload_audio"
API_BLUEPRINT = "followups_api"


def audio_upload_limit() -> Limit:
    from ivr.admin import audio

    # form_memory also bounds the multipart decoder's buffer, which holds up to two 64 KB reads at once.
    return Limit("prompt recording", audio.MAX_UPLOAD_BYTES + 256 * KB, 512 * KB, 16)


def limit_for(req: Request) -> Limit | None:
    """The limit for this request's route; None for the API, which enforces its own."""
    blueprint = req.blueprint
    if blueprint == API_BLUEPRINT:
        return None
    if blueprint in ("voice", "texts"):  # /voice/*, /sms/*
        return WEBHOOK
    if req.endpoint == AUDIO_ENDPOINT:
        return audio_upload_limit()
    if blueprint in ("admin", "followups_admin"):
        return ADMIN
    return STAFF


def too_large(limit: Limit) -> Response:
    log.warning("refused %s to %s: body over %d bytes (%s)", request.method, request.path, limit.body, limit.name)
    return close_after(Response(
        f"Request body too large: {request.path} accepts at most {limit.body} bytes.\n", 413, mimetype="text/plain"
    ))


CLOSE = "ivr.close_connection"


def close_after(resp: Response) -> Response:
    """Close the connection after this answer: the body it refused is never read, not even to skip it
    (gunicorn would read a refused 250 MB body to its end to reuse the connection, and under gevent a
    sender that fast would keep the process to itself)."""
    request.environ[CLOSE] = True
    return resp


class CloseRefused:
    """WSGI middleware: when a request was refused unread (``close_after``), tell gunicorn to close the
    connection instead of keeping it alive (its response object's ``force_close``; other servers
    close such connections themselves)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            server_response = getattr(start_response, "__self__", None)
            if environ.get(CLOSE) and hasattr(server_response, "force_close"):
                server_response.force_close()
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def enforce() -> Response | None:
    """The before_request: set Flask's limits for this route and refuse bodies over them."""
    limit = limit_for(request)
    if limit is None:
        return None
    # One byte past the limit: a chunked body cut there is known to be too long.
    request.max_content_length = limit.body + 1
    request.max_form_memory_size = limit.form_memory
    request.max_form_parts = limit.form_parts
    if limit is WEBHOOK and getattr(current_app.view_functions.get(request.endpoint or ""), "twilio_signed", False):
        from ivr.voice.security import refuse_unsigned

        refused = refuse_unsigned()  # no or malformed X-Twilio-Signature: refused before a byte is read
        if refused is not None:
            return close_after(refused)
    length = request.content_length
    if length is not None:
        if length > limit.body:
            return too_large(limit)
        return read_in_time(limit) if length else None
    if request.environ.get("wsgi.input_terminated"):
        # No Content-Length (chunked): read it now, at most limit + 1 bytes, kept for the parsers.
        if len(request.get_data(cache=True)) > limit.body:
            return too_large(limit)
    return None


def read_in_time(limit: Limit) -> Response | None:
    """Under gevent, read a small body now and refuse it (408) unless it all arrives within
    ``BODY_SECONDS``: a client trickling its body holds its greenlet no longer than that. (The
    request line and headers are bounded by gunicorn's keep-alive time; see ivr.operations.web_server.)
    Prompt recordings are streamed to their parser instead, bounded by their size."""
    if limit.body > ADMIN.body or not web_server.cooperative():
        return None
    import gevent

    try:
        with gevent.Timeout(BODY_SECONDS):
            request.get_data(cache=True)
    except gevent.Timeout:
        log.warning("refused %s to %s: body not received within %d s", request.method, request.path, BODY_SECONDS)
        return close_after(Response(f"Request body not received within {BODY_SECONDS} seconds.\n", 408,
                                    mimetype="text/plain"))
    return None


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (iterative: no recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


class LimitedRequest(Request):
    """Flask's request, whose JSON parsing refuses deep nesting as a bad request (400), not a 500."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            value = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError as exc:
            return self._refuse_json(ValueError(f"JSON nested too deeply ({type(exc).__name__})"), silent)
        if json_depth(value) > MAX_JSON_DEPTH:
            return self._refuse_json(ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels"), silent)
        return value

    def _refuse_json(self, error: ValueError, silent: bool) -> Any:
        if silent:
            return None
        return self.on_json_loading_failed(error)


def init_app(app: Flask) -> None:
    """Size limits for every request, checked before anything else reads the body."""
    app.request_class = LimitedRequest
    app.wsgi_app = CloseRefused(app.wsgi_app)
    app.before_request_funcs.setdefault(None, []).insert(0, enforce)

"""The scheduling system's endpoint: POST /api/appointments (JSON), authenticated by an API key.

    POST /api/appointments
    Authorization: Bearer <key from `ivr followups api-key NAME`>
    {"appointments": [{"name": ..., "phone": ..., "appointment_time": ..., "provider": ...,
                       "department": ..., "language": ..., "timezone": ..., "id": ...}, ...]}

Answers 200 ``{"imported": n, "unchanged": n, "errors": [{"index": i, "reason": "..."}]}``:
good appointments are stored and scheduled even when others are bad; sending
the same appointment again changes nothing. 400 for a body that is not JSON,
401 without a valid key, 413 for too large a body, 429 over the rate limit
(API_LIMIT, default 60 requests a minute per key). Keys are stored hashed;
the endpoint has no cookies, so CSRF does not apply.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, g, jsonify, request

from ivr import services
from ivr.followups.appointments import Rules, parse_json
from ivr.staff.limits import limiter
from ivr.store.followups import FollowupStore

log = logging.getLogger(__name__)

bp = Blueprint("followups_api", __name__, url_prefix="/api")

MAX_BODY = 8 * 1024 * 1024  # bytes: about 20,000 appointments
MAX_ITEMS = 10_000


def _key_name() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return FollowupStore(services.get().redis).api_key_name(key.strip())


def _limit_key() -> str:
    return "api:" + (g.get("api_key_name") or request.remote_addr or "unknown")


def _limit() -> str:
    return str(current_app.config.get("API_LIMIT") or "60 per minute")


def _error(status: int, message: str):
    return jsonify({"error": message}), status


def init_app(app) -> None:
    app.register_blueprint(bp)


@bp.before_request
def _authenticate():
    name = _key_name()
    if name is None:
        log.warning("API request to %s without a valid key", request.path)
        return _error(401, "a valid API key is required: Authorization: Bearer <key>")
    g.api_key_name = name
    return None


@bp.post("/appointments")
@limiter.limit(_limit, key_func=_limit_key)
def appointments():
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, f"the body is larger than {MAX_BODY} bytes; send fewer appointments per request")
    data = request.get_json(silent=True)
    if data is None:
        return _error(400, "the body must be JSON (Content-Type: application/json)")
    items = data.get("appointments") if isinstance(data, dict) else data
    if isinstance(items, list) and len(items) > MAX_ITEMS:
        return _error(413, f"at most {MAX_ITEMS} appointments per request")
    svc = services.get()
    clinic = svc.runtime.clinic
    parsed = parse_json(data, Rules.for_clinic(clinic))
    from ivr.workers.followups import schedule_new

    added, unchanged = schedule_new(svc.queue, FollowupStore(svc.redis), [a for _, a in parsed.appointments], clinic, svc.now())
    log.info("API key %s: %d appointment(s) imported, %d unchanged, %d refused", g.api_key_name, added, unchanged, len(parsed.errors))
    return jsonify({
        "imported": added,
        "unchanged": unchanged,
        "errors": [{"index": e.where, "reason": e.reason} for e in parsed.errors],
    })

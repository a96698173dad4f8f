"""The scheduling system's endpoint for appointments, authenticated by an API key.

Described in ``ivr/followups/openapi.yaml`` (checked against this module by the tests):

    Authorization: Bearer <key from `ivr followups api-key NAME`>
    POST   /api/appointments        {"appointments": [{...}, ...]} (or the bare list): import, move, cancel
    PUT    /api/appointments/<id>   one appointment with the scheduling system's id: add or move it
    DELETE /api/appointments/<id>   cancel its follow-up call
    GET    /api/appointments/<id>   where its follow-up call stands (no patient details)

An appointment object has the CSV columns (ivr.followups.appointments), every value a
JSON string; ``"status": "cancelled"`` cancels. POST answers 200 with counts and the
refused items (``{"index", "reason"}``): every item is checked before any is applied (a
time more than two years from the clinic's today is refused), good items are applied and
scheduled even when others are bad, and sending the same again changes nothing (one stored
without its call is given it). Every error is a JSON body ``{"error": "..."}``: 400 (not
JSON, not the expected shape), 401 (no valid key), 404, 405, 409 (a call is under way or
over), 413 (over MAX_BODY bytes, chunked bodies included, or MAX_ITEMS), 422 (an invalid
appointment), 429 with Retry-After (over API_LIMIT requests a minute per key name, all
routes counted together; over API_BAD_KEY_LIMIT requests a minute from one address
without a valid key). Keys are stored hashed; the endpoint has no cookies, so CSRF does
not apply. Imports, moves and cancellations are audited under ``api:<key name>``.

A key touches only the appointments of its scope (its name, or a scope several keys of one
system share: ``ivr followups api-key NAME --scope S``): another scope's appointment is 404,
like one that does not exist (ivr.store.appointment_scopes).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_limiter import RateLimitExceeded
from limits import parse as parse_limit
from werkzeug.exceptions import HTTPException

from ivr import services
from ivr.followups.appointments import ID_PATTERN, AppointmentError, Cancellation, Rules, from_mapping, parse_json
from ivr.staff.limits import limiter
from ivr.store import audit as actions
from ivr.store.appointment_scopes import AppointmentScopes
from ivr.store.followups import FollowupStore

log = logging.getLogger(__name__)

bp = Blueprint("followups_api", __name__, url_prefix="/api")

MAX_BODY = 8 * 1024 * 1024  # bytes: about 20,000 appointments
MAX_ITEMS = 10_000
LIMIT_SCOPE = "api"  # one budget per key name across every route of the API
NOT_YOURS = "no such appointment"  # another scope's appointment looks like one that does not exist


def _key_name() -> str | None:
    """The name of the valid key in ``Authorization: Bearer <key>`` (its record in g.api_key), else None.

    A revoked key is None too (its record in g.api_key_revoked)."""
    from ivr.store.api_keys import ApiKeyStore

    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    found = ApiKeyStore(services.get().redis).find(key.strip())
    if found is None:
        return None
    if not found.active():
        g.api_key_revoked = found
        return None
    g.api_key = found
    return found.name


def _limit_key() -> str:
    return "api:" + (g.get("api_key_name") or request.remote_addr or "unknown")


def _limit() -> str:
    return str(current_app.config.get("API_LIMIT") or "60 per minute")


def _bad_key_wait() -> int:
    """0, or the seconds this address must wait: too many requests without a valid key (API_BAD_KEY_LIMIT)."""
    item = parse_limit(str(current_app.config.get("API_BAD_KEY_LIMIT") or "20 per minute"))
    address = request.remote_addr or "unknown"
    try:
        strategy = limiter.limiter
        if strategy.hit(item, "api-bad-key", address):
            return 0
        reset_at, _ = strategy.get_window_stats(item, "api-bad-key", address)
    except Exception:  # noqa: BLE001 - the limit's storage is down: the request is refused (401) anyway
        log.exception("could not count a request without a valid API key")
        return 0
    return max(1, min(math.ceil(reset_at - time.time()), int(item.get_expiry())))


def _scope() -> str:
    return g.api_key.scope


def _error(status: int, message: str, **headers: str):
    return jsonify({"error": message}), status, headers


def init_app(app) -> None:
    app.register_blueprint(bp)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _api_errors(exc: HTTPException):
        """JSON for /api/ paths that match no route or method; other paths keep Flask's pages."""
        if request.path.startswith(bp.url_prefix + "/"):
            allow = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
            return _error(exc.code or 404, exc.description or exc.name, **allow)
        return exc


@bp.before_request
def _authenticate():
    """Refuse requests without a valid key (401); count each use of a key and audit each request.

    Every request made with a key is one ``api_request`` entry (actor api:<name>#<id>, target
    apikey:<id>, detail method, path and status), written once the answer is known; a revoked
    key presented is one ``api_key_refused`` entry a minute at most. The key is never written."""
    from flask import after_this_request

    from ivr.store.api_keys import ApiKeyStore

    # Enforced while reading: a Content-Length over it is refused before reading; a chunked body is
    # read to one byte past it at most (Werkzeug stops there silently) and refused in _json.
    request.max_content_length = MAX_BODY + 1
    svc = services.get()
    name = _key_name()
    if name is None:
        revoked = g.get("api_key_revoked")
        if revoked is not None:
            log.warning("API request to %s with revoked key %s (%s)", request.path, revoked.id, revoked.name)
            if ApiKeyStore(svc.redis).refusal_worth_auditing(revoked.id):
                svc.audit.record(revoked.actor, actions.API_KEY_REFUSED, target=revoked.target,
                                 detail=f"{request.method} {request.path[:200]}: the key is revoked")
        else:
            log.warning("API request to %s without a valid key", request.path)
        wait = _bad_key_wait()
        if wait:
            return _error(429, "too many requests without a valid API key from this address; try again later",
                          **{"Retry-After": str(wait)})
        return _error(401, "a valid API key is required: Authorization: Bearer <key>")
    g.api_key_name = name
    key = g.api_key
    ApiKeyStore(svc.redis).record_use(key.id)
    method, path = request.method, request.path[:200]

    @after_this_request
    def _audit_request(response):
        try:
            svc.audit.record(key.actor, actions.API_REQUEST, target=key.target,
                             detail=f"{method} {path} -> {response.status_code}")
        except Exception:  # noqa: BLE001 - the change is made; a lost audit line must not turn it into an error
            log.exception("could not audit an API request with key %s", key.id)
        return response

    return None


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc: RateLimitExceeded):
    limit = limiter.current_limit
    wait = math.ceil(limit.reset_at - time.time()) if limit is not None else 60
    return _error(429, f"more than {exc.description} for this key; try again later", **{"Retry-After": str(max(1, wait))})


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code == 413:
        return _error(413, f"the body is larger than {MAX_BODY} bytes; send fewer appointments per request")
    return _error(exc.code or 500, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("API request to %s failed", request.path)
    return _error(500, "the server could not handle this request; nothing was half-applied, send it again")


def _json() -> Any:
    if len(request.get_data(cache=True)) > MAX_BODY:
        raise _Refused(413, f"the body is larger than {MAX_BODY} bytes; send fewer appointments per request")
    data = request.get_json(silent=True)
    if data is None:
        raise _Refused(400, "the body must be JSON (Content-Type: application/json)")
    return data


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@bp.errorhandler(_Refused)
def _refused(exc: _Refused):
    return _error(exc.status, str(exc))


def _actor() -> str:
    return f"api:{g.api_key_name}"[:64]


def _apply(items):
    from ivr.workers.followup_changes import apply_changes

    svc = services.get()
    return apply_changes(svc.queue, FollowupStore(svc.redis), items, svc.runtime.clinic, svc.now(),
                         actor=_actor(), audit=svc.audit)


@bp.post("/appointments")
@limiter.shared_limit(_limit, LIMIT_SCOPE, key_func=_limit_key)
def appointments():
    data = _json()
    if isinstance(data, dict):
        extra = sorted(set(data) - {"appointments"})
        if extra or not isinstance(data.get("appointments"), list):
            raise _Refused(400, 'expected a list of appointments or {"appointments": [...]}'
                           + (f" (unknown field {', '.join(map(repr, extra))})" if extra else ""))
        data = data["appointments"]
    if not isinstance(data, list):
        raise _Refused(400, 'expected a list of appointments or {"appointments": [...]}')
    if len(data) > MAX_ITEMS:
        raise _Refused(413, f"at most {MAX_ITEMS} appointments per request")
    svc = services.get()
    parsed = parse_json(data, Rules.for_clinic(svc.runtime.clinic), svc.now())
    mine = AppointmentScopes(svc.redis).claim(
        [(item.id, not isinstance(item, Cancellation)) for _, item in parsed.appointments], _scope())
    allowed = [entry for entry, ok in zip(parsed.appointments, mine) if ok]
    others = [(where, NOT_YOURS + " for this API key (another key's scope has this id)")
              for (where, _), ok in zip(parsed.appointments, mine) if not ok]
    changes = _apply(allowed)
    errors = sorted([(e.where, e.reason) for e in parsed.errors] + others + changes.refused)
    services.get().audit.record(
        _actor(), actions.APPOINTMENTS_IMPORT,
        detail=f"{changes.imported} new, {changes.updated} moved, {changes.cancelled} cancelled, "
               f"{changes.unchanged} unchanged, {len(errors)} refused",
    )
    log.info("API key %s: %d imported, %d moved, %d cancelled, %d unchanged, %d refused", g.api_key_name,
             changes.imported, changes.updated, changes.cancelled, changes.unchanged, len(errors))
    return jsonify({
        "imported": changes.imported,
        "updated": changes.updated,
        "cancelled": changes.cancelled,
        "unchanged": changes.unchanged,
        "errors": [{"index": where, "reason": reason} for where, reason in errors],
    })


def _internal_id(appointment_id: str) -> str:
    """The stored id of the scheduling system's appointment ``appointment_id`` (404 if malformed)."""
    if not ID_PATTERN.fullmatch(appointment_id):
        raise _Refused(404, "no such appointment (ids use letters, digits, '.', '_' and '-')")
    return f"s{appointment_id}"


@bp.put("/appointments/<appointment_id>")
@limiter.shared_limit(_limit, LIMIT_SCOPE, key_func=_limit_key)
def put_appointment(appointment_id: str):
    internal = _internal_id(appointment_id)
    data = _json()
    if not isinstance(data, dict):
        raise _Refused(400, "the body must be one appointment object")
    if data.get("id") not in (None, appointment_id):
        raise _Refused(422, f"the body's id {data.get('id')!r} is not the one in the path ({appointment_id!r})")
    svc = services.get()
    try:
        item = from_mapping({**data, "id": appointment_id}, Rules.for_clinic(svc.runtime.clinic), svc.now())
    except AppointmentError as exc:
        raise _Refused(422, str(exc)) from None
    assert item.id == internal
    _own_or_404(internal, creates=not isinstance(item, Cancellation))
    changes = _apply([(0, item)])
    if changes.refused:
        reason = changes.refused[0][1]
        raise _Refused(404 if "no such" in reason else 409, reason)
    result = ("imported" if changes.imported else "updated" if changes.updated
              else "cancelled" if changes.cancelled else "unchanged")
    if changes.imported:
        services.get().audit.record(_actor(), actions.APPOINTMENTS_IMPORT, target=internal, detail="1 new")
    return jsonify({"id": appointment_id, "result": result, **_state(internal)})


@bp.delete("/appointments/<appointment_id>")
@limiter.shared_limit(_limit, LIMIT_SCOPE, key_func=_limit_key)
def delete_appointment(appointment_id: str):
    internal = _internal_id(appointment_id)
    _own_or_404(internal)
    changes = _apply([(0, Cancellation(internal))])
    if changes.refused:
        reason = changes.refused[0][1]
        raise _Refused(404 if "no such" in reason else 409, reason)
    return jsonify({"id": appointment_id, "result": "cancelled" if changes.cancelled else "unchanged", **_state(internal)})


@bp.get("/appointments/<appointment_id>")
@limiter.shared_limit(_limit, LIMIT_SCOPE, key_func=_limit_key)
def get_appointment(appointment_id: str):
    internal = _internal_id(appointment_id)
    _own_or_404(internal)
    if FollowupStore(services.get().redis).get(internal) is None:
        raise _Refused(404, "no such appointment")
    return jsonify({"id": appointment_id, **_state(internal)})


def _own_or_404(internal: str, creates: bool = False) -> None:
    """404, as for an unknown id, unless this key's scope owns the appointment (or may take it)."""
    if not AppointmentScopes(services.get().redis).allows(internal, _scope(), creates):
        raise _Refused(404, NOT_YOURS)


def _state(internal: str) -> dict[str, Any]:
    """Where the follow-up call stands, without patient details."""
    rec = FollowupStore(services.get().redis).get(internal)
    if rec is None:
        return {}

    def iso(epoch: float) -> str | None:
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat() if epoch else None

    return {
        "appointment_time": rec.at.isoformat(),
        "timezone": rec.timezone,
        "status": rec.status,
        "outcome": rec.outcome or None,
        "attempts": rec.attempts,
        "next_try_at": iso(rec.next_try_at) if rec.status in ("scheduled", "blocked") else None,
        "blocked_reason": rec.blocked_reason or None,
        "completed_at": iso(rec.completed_at),
    }

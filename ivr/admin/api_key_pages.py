"""API keys of the scheduling system: list, create, rotate, revoke (ivr.store.api_keys).

A new key is shown once, in the answer to the POST that made it (never in the session,
a redirect or the audit log), with ``Cache-Control: no-store``. Rotating and revoking
ask for confirmation on a page of their own first.
"""

from __future__ import annotations

from flask import abort, make_response, redirect, render_template, request, url_for

from ivr import services
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions
from ivr.store.api_keys import MAX_GRACE, ApiKey, ApiKeyError, ApiKeyExists, ApiKeyStore, when

from . import bp

MAX_GRACE_MINUTES = MAX_GRACE // 60


def _store() -> ApiKeyStore:
    return ApiKeyStore(services.get().redis)


def _page(status: int = 200, **values):
    svc = services.get()
    resp = make_response(render_template("admin/api_keys.html", keys=_store().list(), zone=svc.runtime.clinic.zone,
                                          max_grace=MAX_GRACE_MINUTES, when=when, **values), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _key_or_404(key_id: str) -> ApiKey:
    found = _store().get(key_id)
    if found is None:
        abort(404)
    return found


@bp.get("/api-keys")
@role_required("admin")
def api_keys():
    record(actions.VIEW_ADMIN, target="api_keys")
    return _page()


@bp.post("/api-keys")
@role_required("admin")
def create_api_key():
    name = (request.form.get("name") or "").strip()
    scope = (request.form.get("scope") or "").strip()
    try:
        new, key = _store().create(name, current_user().name, scope=scope)
    except ApiKeyExists as exc:
        return _page(409, error=f"A key named {exc.name!r} exists: rotate or revoke it.", name=name, scope=scope)
    except ApiKeyError as exc:
        return _page(400, error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.", name=name, scope=scope)
    record(actions.API_KEY_ADD, target=new.target, detail=f"name {new.name}, scope {new.scope}")
    return _page(new_key=key, new=new)


@bp.get("/api-keys/<key_id>/<any(rotate, revoke):action>")
@role_required("admin")
def confirm_api_key(key_id: str, action: str):
    key = _key_or_404(key_id)
    if not key.active():
        return redirect(url_for("admin.api_keys"))
    return _page(confirm=action, key=key)


@bp.post("/api-keys/<key_id>/revoke")
@role_required("admin")
def revoke_api_key(key_id: str):
    key = _key_or_404(key_id)
    if key.active():
        _store().revoke(key.id, current_user().name)
        record(actions.API_KEY_REVOKE, target=key.target, detail=f"name {key.name}")
    return _page(done=f"Key {key.id} ({key.name}) is revoked: requests with it get 401 from now on.")


@bp.post("/api-keys/<key_id>/rotate")
@role_required("admin")
def rotate_api_key(key_id: str):
    key = _key_or_404(key_id)
    if not key.active():
        return _page(409, error=f"Key {key.id} is revoked already: create a new key instead.")
    try:
        grace = int(request.form.get("grace") or 0)
    except ValueError:
        grace = -1
    if not 0 <= grace <= MAX_GRACE_MINUTES:
        return _page(400, confirm="rotate", key=key, error=f"The grace period is 0-{MAX_GRACE_MINUTES} minutes.")
    new, secret, old = _store().rotate(key.name, current_user().name, grace=grace * 60)
    record(actions.API_KEY_ADD, target=new.target, detail=f"name {new.name}, by rotation")
    for k in old:
        record(actions.API_KEY_ROTATE, target=k.target,
               detail=f"name {k.name}, replaced by {new.id}, works {grace} more minute(s)")
    return _page(new_key=secret, new=new, replaced=old, grace=grace)

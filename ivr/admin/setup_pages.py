"""Setup: what this install still lacks, each with what it switches off and the setting that fixes it.

    GET  /admin/setup

The admin banner says each thing in words ("Calls to patients are switched off until the server's public
address is set — see Setup") and links here; this page adds, for whoever runs the server, the name of each
missing setting and what it does (ivr.operations.readiness.missing). The technical detail of each is also in the log
at start-up and on /healthz (``not_ready``). A section says whether texts to patients are switched on.
"""

from __future__ import annotations

from flask import current_app, render_template

from ivr import services, texts
from ivr.operations import readiness
from ivr.staff.audit import record
from ivr.staff.auth import role_required
from ivr.store import audit as actions
from ivr.store.texts import TextStore

from . import bp


@bp.get("/setup")
@role_required("admin")
def setup():
    svc = services.get()
    found = readiness.missing(current_app.config, svc.runtime.clinic, TextStore(svc.redis).service_refusal())
    record(actions.VIEW_ADMIN, target="setup", detail=f"{len(found)} missing")
    return render_template("admin/setup.html", missing=found,
                           texts_on=bool(texts.messaging_service_sid(current_app.config)),
                           texts_lookup=texts.carrier_lookup(current_app.config))

"""The console's landing page: the callback queues this user's role works."""

from __future__ import annotations

from flask import render_template

from ivr import services
from ivr.store import audit as actions

from . import bp
from .audit import record
from .auth import current_user, login_required


@bp.get("/console")
@login_required
def console():
    role = current_user().role  # type: ignore[union-attr]  # login_required
    clinic = services.get().runtime.clinic
    departments = [(key, clinic.desks[key].name) for key in clinic.departments_for(role)]
    record(actions.VIEW_CONSOLE)
    return render_template("staff/console.html", departments=departments)

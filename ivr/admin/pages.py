"""What every admin page shares: headers, template values, error pages, the overview."""

from __future__ import annotations

import redis
from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden

from ivr import services
from ivr.staff.audit import record
from ivr.staff.auth import role_required
from ivr.staff.pages import staff_pages, writes_refused
from ivr.store import audit as actions
from ivr.store.emergency import OFF

from . import bp

ADMIN_ACTIONS = {
    actions.FLOW_PUBLISH, actions.FLOW_PUBLISH_REFUSED, actions.FLOW_ROLLBACK, actions.PROMPT_EDIT,
    actions.PROMPT_AUDIO, actions.HOURS_EDIT, actions.HOLIDAYS_IMPORT, actions.EMERGENCY_ON, actions.EMERGENCY_OFF,
    actions.API_KEY_ADD, actions.API_KEY_ROTATE, actions.API_KEY_REVOKE,
}


staff_pages(bp)


@bp.app_context_processor
def _emergency_banner() -> dict:
    """The emergency switch, for the banner on every staff page (off if Redis cannot be read)."""
    try:
        switch = services.get().emergency.current()
    except Exception:  # noqa: BLE001 - a banner must not break a page
        switch = OFF
    return {"emergency_switch": switch}


@bp.app_context_processor
def _outbound_banner() -> dict:
    """What the install lacks (in words: ivr.operations.readiness.missing), how many follow-ups wait for it, and what cannot
    be kept now (Redis refusing writes, a full data disk), for the banner on admin pages."""
    from flask import current_app, request

    from ivr.operations import readiness
    from ivr.operations import write_health
    from ivr.store.followups import FollowupStore

    if not request.path.startswith("/admin"):
        return {}
    try:
        blocked = FollowupStore(services.get().redis).blocked_count()
    except Exception:  # noqa: BLE001 - a banner must not break a page
        blocked = 0
    return {"outbound_problems": readiness.missing(current_app.config, services.get().runtime.clinic),
            "followups_blocked": blocked,
            "write_problems": list(write_health.from_app().values())}


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("staff/error.html", title=title, message=message), status


bp.register_error_handler(redis.ResponseError, writes_refused)  # Redis refusing writes: said in words


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return error_page(403, "Not allowed", "Only administrators can open the administration pages.")


@bp.errorhandler(CSRFError)
def _form_expired(exc: CSRFError):
    return error_page(400, "Form expired", "This form has expired or was not sent from this site. Please go back, reload the page and try again.")


@bp.get("")
@bp.get("/")
@role_required("admin")
def overview():
    svc = services.get()
    changes = [e for e in svc.audit.recent(limit=300) if e.action in ADMIN_ACTIONS][:20]
    record(actions.VIEW_ADMIN, target="overview")
    return render_template("admin/overview.html", changes=changes, zone=svc.runtime.clinic.zone)

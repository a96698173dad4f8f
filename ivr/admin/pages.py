"""What every admin page shares: headers, template values, error pages, the overview."""

from __future__ import annotations

from flask import Response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden

from ivr import services
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.staff.pages import SECURITY_HEADERS
from ivr.store import audit as actions
from ivr.store.emergency import OFF

from . import bp

ADMIN_ACTIONS = {
    actions.FLOW_PUBLISH, actions.FLOW_PUBLISH_REFUSED, actions.FLOW_ROLLBACK, actions.PROMPT_EDIT,
    actions.PROMPT_AUDIO, actions.HOURS_EDIT, actions.HOLIDAYS_IMPORT, actions.EMERGENCY_ON, actions.EMERGENCY_OFF,
}


@bp.before_request
def _check_session() -> None:
    current_user()  # idle time-out, and this request counts as activity


@bp.after_request
def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.context_processor
def _template_values() -> dict:
    return {"clinic_name": services.get().runtime.clinic.name, "current_user": current_user()}


@bp.app_context_processor
def _emergency_banner() -> dict:
    """The emergency switch, for the banner on every staff page (off if Redis cannot be read)."""
    try:
        switch = services.get().emergency.current()
    except Exception:  # noqa: BLE001 - a banner must not break a page
        switch = OFF
    return {"emergency_switch": switch}


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("staff/error.html", title=title, message=message), status


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

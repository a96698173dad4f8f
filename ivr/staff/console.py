"""The callback console's queue page: the user's queues, their claims, statistics, "Take next".

    GET  /console                         the user's queues, their claims, statistics
    POST /console/take                    claim the next callback (urgent, then oldest) of the user's queues
    POST /console/keep-alive              "Stay logged in" (JSON)
    GET  /console/session                 seconds left before the idle logout, without renewing (JSON)
    GET  /console/supervisor              admins: who holds what, queues, done today (ivr.staff.supervisor)

One callback's page and what staff do there are ivr.staff.callback_page; how a callback reads,
ivr.staff.callback_words. A user holds at most ``callbacks.max_claims_per_user`` callbacks at once.
Every page of patient data and every claim goes to the audit log.
"""

from __future__ import annotations

import time

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup

from ivr import services
from ivr.flows.callback_nodes import wait_minutes
from ivr.store import audit as actions
from ivr.store.callback_types import Callback, HoldsTooMany

from . import bp
from .audit import record
from .auth import api_login_required, current_user, login_required, seconds_left
from .durations import waited


ROWS_PER_QUEUE = 25  # the next in line; Take next works through the rest


def user_departments() -> list[str]:
    user = current_user()
    return services.get().runtime.clinic.departments_for(user.role) if user else []


@bp.get("/console")
@login_required
def console():
    svc = services.get()
    clinic = svc.runtime.clinic
    user = current_user()
    svc.callbacks.release_expired()  # lapsed claims are back in their place before anyone looks
    target = clinic.callbacks.target_minutes * 60
    queues = [queue_view(key, target) for key in user_departments()]
    mine = svc.callbacks.claimed_by(user.name)
    record(actions.VIEW_QUEUE, target=",".join(q["key"] for q in queues))
    return render_template(
        "staff/console.html",
        queues=queues,
        mine=mine,
        chart=_chart(queues, target),
        target_minutes=clinic.callbacks.target_minutes,
    )


def queue_view(key: str, target: int) -> dict:
    """One department's queue as the console shows it (the page and the live fragment alike).

    ``not_reached``: urgent callbacks whose last try found nobody, waiting for their next try; they stay
    in sight at the top of the queue instead of leaving it until then.
    """
    svc = services.get()
    wait = svc.callbacks.estimated_wait_seconds(key)
    return {
        "key": key,
        "name": svc.runtime.clinic.desks[key].name,
        "not_reached": [cb for cb in svc.callbacks.scheduled(key) if cb.urgent],
        "waiting": svc.callbacks.waiting(key, limit=ROWS_PER_QUEUE),
        "stats": svc.callbacks.stats(key, target_seconds=target),
        "wait_estimate": wait,
        # What the phone says to a caller joining now: the same estimate, the same rounding.
        "wait_minutes": wait_minutes(wait),
    }


def _chart(queues: list[dict], target: int) -> dict:
    """Bars per department for the statistics chart (rendered as SVG in the template)."""
    rows = []
    for q in queues:
        s = q["stats"]
        rows.append(
            {
                "name": q["name"],
                "bars": [
                    ("Waiting now", s["waiting_now"]),
                    ("Completed within target", s["completed_within_target"]),
                    ("Completed late", s["completed"] - s["completed_within_target"]),
                    ("Abandoned", s["abandoned"]),
                ],
                "average_wait": waited(s["average_wait_seconds"]),
            }
        )
    top = max([v for r in rows for _, v in r["bars"]] + [1])
    return {"rows": rows, "max": top}


@bp.post("/console/take")
@login_required
def take_next():
    svc = services.get()
    user = current_user()
    departments = user_departments()
    wanted = request.form.get("department")
    if wanted:
        if wanted not in departments:
            abort(403)
        departments = [wanted]
    limit = svc.runtime.clinic.callbacks.max_claims_per_user
    try:  # the limit is checked in the claim's own Redis script: two "Take next" at once cannot both win
        callback = svc.callbacks.claim_next(departments, user.name, most=limit)
    except HoldsTooMany:
        return _holding(svc.callbacks.claimed_by(user.name), limit)
    if callback is None:
        flash("Nobody is waiting for a callback in your queues.")
        return redirect(url_for("staff.console"))
    record(actions.CLAIM, target=callback.id, detail=callback.department)
    return redirect(url_for("staff.callback", callback_id=callback.id))


def _holding(held: list[Callback], limit: int):
    """Refuse another claim, naming (with links) the callbacks she already holds."""
    desks = services.get().runtime.clinic.desks
    links = Markup(", ").join(
        Markup('<a href="{}">the callback for {} (number ending {}, waiting {})</a>').format(
            url_for("staff.callback", callback_id=cb.id),
            desks[cb.department].name if cb.department in desks else cb.department,
            cb.masked_phone()[-4:],
            waited(time.time() - cb.requested_at),
        )
        for cb in held
    )
    most = "one callback" if limit == 1 else f"{limit} callbacks"
    flash(
        Markup("You can hold {} at a time and already hold {}. Save its outcome or give it back to the queue "
               "before taking another.").format(most, links),
        "error",
    )
    return redirect(url_for("staff.console"))


@bp.post("/console/keep-alive")
@api_login_required
def keep_alive():
    """"Stay logged in": this request is the activity."""
    return jsonify(seconds_left=seconds_left())


@bp.get("/console/session")
@api_login_required
def session_left():
    """Seconds until the idle logout, without renewing the session (another tab may have kept it alive)."""
    return jsonify(seconds_left=seconds_left())

"""The emergency "clinic closed" switch: on, every new call hears the message and goes to the on-call line."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ivr import services
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions
from ivr.flows.validate import EVERY_CALL
from ivr.clinic.prompts import spoken_problem
from ivr.voice.closed import DEFAULT_MESSAGES

from . import bp

MAX_MESSAGE = 600


def _default_desk(desks) -> str:
    return "on_call_nurse" if "on_call_nurse" in desks else next(iter(desks))


@bp.get("/emergency")
@role_required("admin")
def emergency():
    svc = services.get()
    clinic = svc.runtime.clinic
    switch = svc.emergency.get()
    messages = {lang: switch.messages.get(lang) or DEFAULT_MESSAGES.get(lang, "") for lang in clinic.languages}
    record(actions.VIEW_ADMIN, target="emergency")
    return _page(switch, messages, switch.desk or _default_desk(clinic.desks))


def _page(switch, messages: dict[str, str], desk: str, errors: dict[str, str] | None = None):
    clinic = services.get().runtime.clinic
    return render_template("admin/emergency.html", switch=switch, messages=messages, desks=clinic.desks,
                           desk=desk, languages=clinic.languages, zone=clinic.zone, errors=errors or {}), 422 if errors else 200


@bp.post("/emergency")
@role_required("admin")
def set_emergency():
    svc = services.get()
    clinic = svc.runtime.clinic
    turn_on = request.form.get("action") == "on"
    desk = request.form.get("desk") or _default_desk(clinic.desks)
    if desk not in clinic.desks:
        flash("Choose one of the desks.", "error")
        return redirect(url_for("admin.emergency"))
    messages, errors = {}, {}
    for lang, voice in clinic.languages.items():
        text = " ".join((request.form.get(f"message_{lang}") or "").split())[:MAX_MESSAGE]
        messages[lang] = text or DEFAULT_MESSAGES.get(lang, "")
        problem = spoken_problem(messages[lang], EVERY_CALL, "the message")
        if problem:  # callers would hear the braces read out
            errors[f"message_{lang}"] = f"Message in {voice.name}: {problem}."
    if errors:
        flash("Nothing changed: " + " ".join(errors.values()), "error")
        return _page(svc.emergency.get(), messages, desk, errors)
    svc.emergency.set(turn_on, desk, messages, current_user().name)
    if turn_on:
        record(actions.EMERGENCY_ON, target="emergency", detail=f"calls go to {desk}: {messages.get('en', '')}")
        flash(f"Emergency closed switch is ON: every new call hears the message and is sent to {clinic.desks[desk].name}.", "error")
    else:
        record(actions.EMERGENCY_OFF, target="emergency", detail="normal menus answer again")
        flash("Emergency closed switch is off: the normal menus answer new calls.", "info")
    return redirect(url_for("admin.emergency"))

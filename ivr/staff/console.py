"""The callback console: queues, "Take next", one callback, outcomes, "Call patient", statistics.

    GET  /console                         the user's queues, their claims, statistics
    POST /console/take                    claim the next callback (urgent, then oldest) of the user's queues
    GET  /console/callbacks/<id>          one callback: full number only while claimed by this user,
                                          the caller's messages with transcripts and audio
    GET  /console/callbacks/<id>/recordings/<sid>.wav   a message's audio (decrypted; every play is audited)
    POST /console/callbacks/<id>/outcome  reached / no answer / left message / wrong number
    POST /console/callbacks/<id>/call     Twilio rings the user's phone, then the patient
    POST /console/callbacks/<id>/release  give it back to its place in line
    POST /console/callbacks/<id>/do-not-call  no more follow-up calls to this number

Numbers are masked until the user holds the claim. Every page of patient data
and every claim, call and outcome goes to the audit log.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from rq import Queue

from ivr import services, twilio_rest
from ivr.speech.numbers import readable
from ivr.store import audit as actions
from ivr.store.callbacks import Callback, LeaseExpired, NotClaimed, Outcome, RetryPolicy, Status
from ivr.sealing import TEXT_PREFIX, SealError
from ivr.store.outbound import OutboundCalls
from ivr.store.voicemails import Voicemail
from ivr.vault import VaultError
from ivr.workers import HIGH_QUEUE
from ivr.workers.callbacks import enqueue_call_patient, new_attempt_key

from . import bp
from .audit import record
from .auth import current_user, login_required

log = logging.getLogger(__name__)

OUTCOME_LABELS: dict[str, str] = {
    Outcome.REACHED: "Reached the patient",
    Outcome.NO_ANSWER: "No answer",
    Outcome.LEFT_MESSAGE: "Left a message",
    Outcome.WRONG_NUMBER: "Wrong number",
}


ROWS_PER_QUEUE = 25  # the next in line; Take next works through the rest


def _departments() -> list[str]:
    user = current_user()
    return services.get().runtime.clinic.departments_for(user.role) if user else []


def waited(seconds: float) -> str:
    """'4 min', '2 h 05 min', '3 days' for a wait."""
    minutes = int(max(0, seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


@bp.app_template_filter("waited")
def _waited_filter(since: float) -> str:
    return waited(time.time() - since)


EVENT_WORDS = {
    "requested": "asked for a callback",
    "requested_again": "asked again (kept their place)",
    "claimed": "taken by {staff}",
    "lease_expired": "back in line (claim expired)",
    "released": "given back to the queue",
    "retry_due": "back in line for another try",
    "outcome": "{staff}: {outcome}",
    "retry_scheduled": "another try scheduled",
    "closed": "closed",
    "urgent": "marked urgent",
}


def history_lines(events: list[dict], zone) -> list[tuple[str, str, str]]:
    """(when, what, department) for each event of a number's history, newest first."""
    lines = []
    for event in events:
        words = EVENT_WORDS.get(event.get("event", ""), event.get("event", "event"))
        outcome = event.get("outcome", "")
        what = words.format(staff=event.get("staff", "?"), outcome=OUTCOME_LABELS.get(outcome, outcome).lower())
        if event.get("note"):
            what += f" — {event['note']}"
        when = dt.datetime.fromtimestamp(float(event.get("at", 0)), zone).strftime("%a %d %b %H:%M")
        lines.append((when, what, event.get("department", "")))
    return lines


def unseal(token: str, context: str) -> str:
    """The clear text of a sealed field (transcripts, urgent reasons); text never sealed is shown as is."""
    if not token.startswith(TEXT_PREFIX):
        return token
    try:
        return services.get().sealer.open_text(token, context)
    except SealError as exc:
        log.error("a sealed field (%s) does not open: %s", context.split(":")[0], exc)
        return "(cannot be read with this install's data key)"


@bp.app_template_filter("transcript")
def _transcript_filter(cb: Callback) -> str:
    return readable(unseal(cb.reason_transcript, f"callback-transcript:{cb.id}"))


@bp.app_template_filter("urgent_reason")
def _urgent_filter(cb: Callback) -> str:
    return unseal(cb.urgent_reason, f"callback-urgent:{cb.id}")


@bp.app_template_filter("message_status")
def _message_status_filter(cb: Callback) -> str:
    """Where the caller's message stands ("no speech detected", ...), for a row with no transcript."""
    vm = services.get().voicemails.get(cb.reason_recording_sid)
    return vm.status_text if vm is not None else "message not found"


def _messages(cb: Callback) -> list[dict]:
    """The caller's recorded messages for this callback, readable, oldest first."""
    svc = services.get()
    found = svc.voicemails.for_callback(cb.id)
    if cb.reason_recording_sid and all(vm.recording_sid != cb.reason_recording_sid for vm in found):
        vm = svc.voicemails.get(cb.reason_recording_sid)
        if vm is not None:
            found.insert(0, vm)
    zone = svc.runtime.clinic.zone
    return [
        {
            "vm": vm,
            "received": dt.datetime.fromtimestamp(vm.received_at, zone).strftime("%a %d %b, %H:%M"),
            "kind": "Reason for the callback" if vm.purpose == "callback_reason" else "Voicemail",
            "transcript": readable(unseal(vm.transcript, f"transcript:{vm.recording_sid}")),
            "urgent_reason": unseal(vm.urgent_reason, f"urgent:{vm.recording_sid}"),
        }
        for vm in found
    ]


@bp.get("/console")
@login_required
def console():
    svc = services.get()
    clinic = svc.runtime.clinic
    user = current_user()
    svc.callbacks.release_expired()  # lapsed claims are back in their place before anyone looks
    target = clinic.callbacks.target_minutes * 60
    queues = []
    for key in _departments():
        stats = svc.callbacks.stats(key, target_seconds=target)
        queues.append(
            {
                "key": key,
                "name": clinic.desks[key].name,
                "waiting": svc.callbacks.waiting(key, limit=ROWS_PER_QUEUE),
                "stats": stats,
                "wait_estimate": svc.callbacks.estimated_wait_seconds(key),
            }
        )
    mine = svc.callbacks.claimed_by(user.name)
    record(actions.VIEW_QUEUE, target=",".join(q["key"] for q in queues))
    return render_template(
        "staff/console.html",
        queues=queues,
        mine=mine,
        chart=_chart(queues, target),
        target_minutes=clinic.callbacks.target_minutes,
    )


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
    departments = _departments()
    wanted = request.form.get("department")
    if wanted:
        if wanted not in departments:
            abort(403)
        departments = [wanted]
    callback = svc.callbacks.claim_next(departments, user.name)
    if callback is None:
        flash("Nobody is waiting for a callback in your queues.")
        return redirect(url_for("staff.console"))
    record(actions.CLAIM, target=callback.id, detail=callback.department)
    return redirect(url_for("staff.callback", callback_id=callback.id))


def _visible(callback_id: str) -> Callback:
    """The callback if it exists in one of the user's departments, else 404/403."""
    callback = services.get().callbacks.get(callback_id)
    if callback is None:
        abort(404)
    if callback.department not in _departments():
        record(actions.DENIED, target=callback_id, detail="not in the user's departments")
        abort(403)
    return callback


@bp.get("/console/callbacks/<callback_id>")
@login_required
def callback(callback_id: str):
    svc = services.get()
    user = current_user()
    cb = _visible(callback_id)
    mine = cb.status is Status.CLAIMED and cb.claimed_by == user.name and cb.lease_until > time.time()
    history = history_lines(svc.callbacks.history(cb.phone, limit=20), svc.runtime.clinic.zone) if mine else []
    record(actions.VIEW_CALLBACK, target=cb.id, detail="number shown" if mine else "number masked")
    return render_template(
        "staff/callback.html",
        cb=cb,
        mine=mine,
        phone=(cb.phone if mine else cb.masked_phone()) if cb.phone.startswith("+") else "no caller ID (listen to the message for a number)",
        history=history,
        outcomes=OUTCOME_LABELS,
        attempt=OutboundCalls(svc.redis).latest(cb.id),
        attempt_key=new_attempt_key(),  # made with the page: a double click is one call
        lease_left=waited(cb.lease_until - time.time()) if mine else "",
        department=svc.runtime.clinic.desks[cb.department].name,
        requested=dt.datetime.fromtimestamp(cb.requested_at, svc.runtime.clinic.zone),
        user_phone=bool(user.phone),
        messages=_messages(cb),
        can_call=cb.phone.startswith("+"),
        do_not_call=_on_do_not_call(cb.phone) if mine else False,
    )


@bp.get("/console/callbacks/<callback_id>/recordings/<recording_sid>.wav")
@login_required
def recording(callback_id: str, recording_sid: str):
    """A message's audio, decrypted for this request only; never cached by the browser."""
    svc = services.get()
    cb = _visible(callback_id)
    vm: Voicemail | None = svc.voicemails.get(recording_sid)
    if vm is None or recording_sid not in (cb.reason_recording_sid, *(m.recording_sid for m in svc.voicemails.for_callback(cb.id))):
        abort(404)
    if not vm.has_audio:
        abort(404)
    try:
        audio = svc.vault.get(vm.path, recording_sid)
    except VaultError as exc:
        log.error("recording %s cannot be played: %s", recording_sid, exc)
        abort(500)
    if request.range is None or request.range.ranges[0][0] == 0:  # one entry per play, not per chunk
        record(actions.PLAY_RECORDING, target=cb.id, detail=recording_sid)
    resp = Response(audio, mimetype="audio/wav")
    resp.headers["Cache-Control"] = "no-store"
    return resp.make_conditional(request, accept_ranges=True, complete_length=len(audio))


def _on_do_not_call(phone: str) -> bool:
    from ivr.store.followups import FollowupStore

    return FollowupStore(services.get().redis).opted_out(phone)


@bp.post("/console/callbacks/<callback_id>/outcome")
@login_required
def outcome(callback_id: str):
    svc = services.get()
    user = current_user()
    cb = _visible(callback_id)
    try:
        result = Outcome(request.form.get("outcome", ""))
    except ValueError:
        flash("Choose an outcome.")
        return redirect(url_for("staff.callback", callback_id=cb.id))
    note = request.form.get("note", "").strip()[:500]
    try:
        done = svc.callbacks.finish(cb.id, user.name, result, note, retry=RetryPolicy.for_clinic(svc.runtime.clinic))
    except LeaseExpired:
        flash("Your claim on this callback expired, so it went back to its place in line. Take it again.")
        return redirect(url_for("staff.console"))
    except NotClaimed:
        flash("This callback is not yours to finish.")
        return redirect(url_for("staff.console"))
    record(actions.OUTCOME, target=cb.id, detail=f"{result.value} -> {done.status.value}")
    if done.status is Status.SCHEDULED:
        when = dt.datetime.fromtimestamp(done.not_before, svc.runtime.clinic.zone)
        flash(f"No answer: another try is scheduled for {when:%a %d %b %H:%M}.")
    else:
        flash(f"Saved: {OUTCOME_LABELS[result].lower()}.")
    return redirect(url_for("staff.console"))


@bp.post("/console/callbacks/<callback_id>/call")
@login_required
def call(callback_id: str):
    svc = services.get()
    user = current_user()
    cb = _visible(callback_id)
    if not (cb.status is Status.CLAIMED and cb.claimed_by == user.name):
        flash("Take this callback before calling the patient.")
        return redirect(url_for("staff.console"))
    if not user.phone:
        flash("Your account has no phone number to ring: ask an administrator to add one.")
        return redirect(url_for("staff.callback", callback_id=cb.id))
    try:
        twilio_rest.check(twilio_rest.settings_from_config(current_app.config))
    except twilio_rest.TwilioNotConfigured as exc:
        flash(str(exc))
        return redirect(url_for("staff.callback", callback_id=cb.id))
    attempt_key = request.form.get("attempt", "")
    try:
        enqueue_call_patient(Queue(HIGH_QUEUE, connection=svc.redis), cb.id, user.name, attempt_key)
    except ValueError:
        abort(400)
    svc.callbacks.renew(cb.id, user.name)
    record(actions.CALL_PATIENT, target=cb.id)
    flash("Your phone will ring now. Press 1 when you answer to be connected to the patient.")
    return redirect(url_for("staff.callback", callback_id=cb.id))


@bp.post("/console/callbacks/<callback_id>/release")
@login_required
def release(callback_id: str):
    svc = services.get()
    cb = _visible(callback_id)
    if svc.callbacks.release(cb.id, current_user().name):
        record(actions.RELEASE, target=cb.id)
        flash("The callback went back to its place in line.")
    return redirect(url_for("staff.console"))


@bp.post("/console/callbacks/<callback_id>/do-not-call")
@login_required
def do_not_call(callback_id: str):
    """Put the patient's number on the follow-up do-not-call list (they asked not to get those calls)."""
    from ivr.store.followups import FollowupStore

    svc = services.get()
    user = current_user()
    cb = _visible(callback_id)
    if not (cb.status is Status.CLAIMED and cb.claimed_by == user.name):
        flash("Take this callback before changing the patient's follow-up calls.")
        return redirect(url_for("staff.console"))
    FollowupStore(svc.redis).opt_out(cb.phone, source=f"staff:{user.name}")
    record(actions.DO_NOT_CALL, target=cb.id, detail="follow-up calls")
    flash("This number will get no more follow-up calls.")
    return redirect(url_for("staff.callback", callback_id=cb.id))

"""One callback, and what staff do with it: its page, its messages' audio, outcomes, "Call patient".

    GET  /console/callbacks/<id>          one callback: full number only while claimed by this user,
                                          the caller's messages with transcripts and audio
    GET  /console/callbacks/<id>/recordings/<sid>.wav   a message's audio (decrypted; every play is audited)
    POST /console/callbacks/<id>/outcome  reached / no answer / left message / wrong number
    POST /console/callbacks/<id>/call     Twilio rings the user's phone, then the patient
    POST /console/callbacks/<id>/release  give it back to its place in line
    POST /console/callbacks/<id>/do-not-call  no more follow-up calls to this number
    GET  /console/callbacks/<id>/call-status?a=KEY  where the (latest) "Call patient" attempt stands, in
                                          words (JSON; the page asks every 2 s while a call is under way)
    POST /console/callbacks/<id>/draft    keep the outcome and note being typed (JSON, CSRF header)

A callback in one of her queues can be opened for reading before it is taken; the number stays masked
until she holds the claim. Every page of patient data and every call and outcome goes to the audit log.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from ivr import services, texts
from ivr.operations import readiness
from ivr.recordings.vault import VaultError
from ivr.speech.urgency import UNCLEAR_REASON
from ivr.store import audit as actions
from ivr.store.callback_types import Callback, LeaseExpired, NotClaimed, Outcome, RetryPolicy, Status
from ivr.store.drafts import DraftStore
from ivr.store.outbound import OutboundCalls
from ivr.store.voicemails import Voicemail
from ivr.telephony import twilio_rest
from ivr.workers import HIGH_QUEUE
from ivr.workers.callbacks import enqueue_call_patient, job_id, new_attempt_key
from ivr.workers.texts import send_later

from . import bp, callstatus
from .audit import record
from .auth import api_login_required, current_user, login_required, seconds_left
from .callback_words import OUTCOME_LABELS, SOURCE_WORDS, history_lines, messages_of, state_words, urgent_reason
from .console import user_departments
from .durations import waited

log = logging.getLogger(__name__)


def _visible(callback_id: str) -> Callback:
    """The callback if it exists in one of the user's departments, else 404/403."""
    callback = services.get().callbacks.get(callback_id)
    if callback is None:
        abort(404)
    if callback.department not in user_departments():
        record(actions.DENIED, target=callback_id, detail="not in the user's departments")
        abort(403)
    return callback


@bp.get("/console/callbacks/<callback_id>")
@login_required
def callback(callback_id: str):
    svc = services.get()
    user = current_user()
    cb = _visible(callback_id)
    mine = _mine(cb)
    zone = svc.runtime.clinic.zone
    history = history_lines(svc.callbacks.history(cb.phone, limit=20), zone) if mine else []
    record(actions.VIEW_CALLBACK, target=cb.id, detail="number shown" if mine else "number masked, read only")
    attempt_key = request.args.get("call", "")
    status = _call_status(cb.id, attempt_key) if mine or attempt_key else None
    draft = _drafts().get(user.name, cb.id)
    return render_template(
        "staff/callback.html",
        cb=cb,
        mine=mine,
        phone=(cb.phone if mine else cb.masked_phone()) if cb.phone.startswith("+") else "no caller ID (listen to the message for a number)",
        history=history,
        outcomes=OUTCOME_LABELS,
        call_status=status,
        status_url=url_for("staff.call_status", callback_id=cb.id, a=_attempt_shown(cb.id, attempt_key)),
        attempt_key=new_attempt_key(),  # made with the page: a double click is one call
        lease_left=waited(cb.lease_until - time.time()) if mine else "",
        department=svc.runtime.clinic.desks[cb.department].name,
        requested=dt.datetime.fromtimestamp(cb.requested_at, zone),
        user_phone=bool(user.phone),
        messages=messages_of(cb),
        can_call=cb.phone.startswith("+"),
        do_not_call=_on_do_not_call(cb.phone) if mine else False,
        draft=draft,
        draft_saved=dt.datetime.fromtimestamp(draft.at, zone).strftime("%a %d %b %H:%M") if draft else "",
        source=SOURCE_WORDS.get(cb.source, cb.source),
        state=state_words(cb, mine, zone),
        followup=_followup_context(cb),
    )


def _mine(cb: Callback) -> bool:
    user = current_user()
    return bool(user) and cb.status is Status.CLAIMED and cb.claimed_by == user.name and cb.lease_until > time.time()


def _followup_context(cb: Callback) -> dict | None:
    """The visit behind a follow-up callback: patient, provider, visit time (patient's zone), answers in words.

    The callback keeps the CallSid of the follow-up call that asked for it, and the follow-up
    store maps that call to its appointment (one lookup, no scan).
    """
    if cb.source != "followup":
        return None
    from ivr.admin.followups import OUTCOME_TEXT, answer_texts, state_text
    from ivr.store.followups import FollowupStore

    store = FollowupStore(services.get().redis)
    found = store.attempt_for_call(cb.call_sid) if cb.call_sid else None
    rec = store.get(found[0]) if found else None
    if rec is None:
        return {"found": False}
    answers = answer_texts({k: v for k, v in rec.answers.items() if k != "callback_id"})
    return {
        "found": True,
        "name": rec.name,
        "provider": rec.provider,
        "department": rec.department_name,
        "visit": rec.at.strftime("%a %d %b %Y, %H:%M") + f" ({rec.at.tzname() or rec.timezone}, the patient's time)",
        "answers": answers,
        "outcome": OUTCOME_TEXT.get(rec.outcome, rec.outcome) if rec.outcome else state_text(rec),
    }


def _drafts() -> DraftStore:
    svc = services.get()
    return DraftStore(svc.redis, svc.sealer)


def _attempt_shown(callback_id: str, attempt_key: str) -> str:
    """The attempt the page follows: the one just started (``?call=``), else the latest."""
    if attempt_key:
        return attempt_key
    latest = OutboundCalls(services.get().redis).latest(callback_id)
    return latest.attempt_key if latest else ""


def _call_status(callback_id: str, attempt_key: str = "") -> callstatus.CallStatus | None:
    """Where the attempt (default: the latest) stands, from its record and its job."""
    svc = services.get()
    outbound = OutboundCalls(svc.redis)
    attempt_key = _attempt_shown(callback_id, attempt_key)
    if not attempt_key:
        return None
    try:
        attempt = outbound.attempt(callback_id, attempt_key)
    except ValueError:
        return None
    job_state, job_error, job_age = "", "", 0.0
    try:
        job = Job.fetch(job_id(callback_id, attempt_key), connection=svc.redis)
        job_state = str(job.get_status(refresh=False) or "")
        job_state = job_state.split(".")[-1].lower()
        if job_state == "failed":
            result = job.latest_result()
            job_error = (getattr(result, "exc_string", "") or "") if result else ""
        if job.enqueued_at:
            enqueued = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=dt.timezone.utc)
            job_age = (dt.datetime.now(dt.timezone.utc) - enqueued).total_seconds()
    except NoSuchJobError:
        pass
    except Exception:  # noqa: BLE001 - a job that cannot be read: the attempt record still tells
        log.exception("call-patient job for callback %s cannot be read", callback_id)
    return callstatus.describe(attempt, job_state, job_error, job_age, now=time.time())


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
        if svc.voicemails.mark_listened(recording_sid, current_user().name):
            _listened(cb, vm)
    resp = Response(audio, mimetype="audio/wav")
    resp.headers["Cache-Control"] = "no-store"
    return resp.make_conditional(request, accept_ranges=True, complete_length=len(audio))


def _listened(cb: Callback, vm: Voicemail) -> None:
    """Someone has heard an unclear message: its callback goes back to its place by time, unless an urgent
    phrase (in this or another of its messages) keeps it urgent, or another unclear message is unheard."""
    if not vm.unclear or vm.urgent or not cb.urgent or urgent_reason(cb) != UNCLEAR_REASON:
        return
    others = [m for m in services.get().voicemails.for_callback(cb.id) if m.recording_sid != vm.recording_sid]
    if any(m.urgent or m.unclear_unheard for m in others):
        return
    services.get().callbacks.not_urgent(cb.id)


def _on_do_not_call(phone: str) -> bool:
    from ivr.store.followups import FollowupStore

    return FollowupStore(services.get().redis).opted_out(phone)


@bp.post("/console/callbacks/<callback_id>/outcome")
@login_required
def outcome(callback_id: str):
    svc = services.get()
    user = current_user()
    cb = _visible(callback_id)
    note = request.form.get("note", "").strip()[:500]
    try:
        result = Outcome(request.form.get("outcome", ""))
    except ValueError:
        _drafts().save(user.name, cb.id, "", note, _now())
        flash("Choose an outcome.", "error")
        return redirect(url_for("staff.callback", callback_id=cb.id))
    try:
        done = svc.callbacks.finish(cb.id, user.name, result, note, retry=RetryPolicy.for_clinic(svc.runtime.clinic))
    except LeaseExpired:
        _drafts().save(user.name, cb.id, result.value, note, _now())
        flash("Your claim on this callback expired, so it went back to its place in line. Your outcome and note "
              "are kept: take it again to save them.", "error")
        return redirect(url_for("staff.console"))
    except NotClaimed:
        _drafts().save(user.name, cb.id, result.value, note, _now())
        flash("This callback is not yours to finish (your outcome and note are kept on its page).", "error")
        return redirect(url_for("staff.console"))
    record(actions.OUTCOME, target=cb.id, detail=f"{result.value} -> {done.status.value}")
    _drafts().delete(user.name, cb.id)
    if done.status is Status.SCHEDULED:
        clinic = svc.runtime.clinic
        when = dt.datetime.fromtimestamp(done.not_before, clinic.zone)
        if done.department != cb.department:
            flash(f"No answer: this urgent callback is now in the {clinic.desks[done.department].name} queue, "
                  f"to be tried again at {when:%H:%M}.")
        elif done.urgent:
            flash(f"No answer: this urgent callback will be tried again at {when:%H:%M} and stays at the top of the queue.")
        else:
            flash(f"No answer: another try is scheduled for {when:%a %d %b %H:%M}.")
        send_later(svc.redis, "missed_callback", texts.CALLBACK, done.id, str(done.attempts))  # ivr.texts
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
        flash("Take this callback before calling the patient.", "error")
        return redirect(url_for("staff.console"))
    if not user.phone:
        flash("No call was placed: your account has no phone number to ring. Ask an administrator to add one.", "error")
        return redirect(url_for("staff.callback", callback_id=cb.id))
    try:
        twilio_rest.check(twilio_rest.settings_from_config(current_app.config))
    except twilio_rest.TwilioNotConfigured as exc:
        log.warning("call patient refused: %s", exc)
        flash(f"No call was placed: {readiness.in_words(exc)}. Ask an administrator: the Setup page says what to set.", "error")
        return redirect(url_for("staff.callback", callback_id=cb.id))
    attempt_key = request.form.get("attempt", "")
    try:
        enqueue_call_patient(Queue(HIGH_QUEUE, connection=svc.redis), cb.id, user.name, attempt_key)
    except ValueError:
        abort(400)
    svc.callbacks.renew(cb.id, user.name)
    record(actions.CALL_PATIENT, target=cb.id)
    # No "your phone will ring" here: the page shows where the call stands, as it changes.
    return redirect(url_for("staff.callback", callback_id=cb.id, call=attempt_key, _anchor="call-title"))


@bp.post("/console/callbacks/<callback_id>/release")
@login_required
def release(callback_id: str):
    svc = services.get()
    cb = _visible(callback_id)
    if svc.callbacks.release(cb.id, current_user().name):
        record(actions.RELEASE, target=cb.id)
        _drafts().delete(current_user().name, cb.id)
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
    flash("This number will get no more follow-up calls or texts.")
    return redirect(url_for("staff.callback", callback_id=cb.id))


def _now() -> float:
    return services.get().now().timestamp()


@bp.get("/console/callbacks/<callback_id>/call-status")
@api_login_required
def call_status(callback_id: str):
    """Where the call stands, in words. While it is under way and the user holds the claim, asking
    keeps her claim (and, as any request, her session) alive: a long call is activity."""
    svc = services.get()
    cb = _visible(callback_id)
    status = _call_status(cb.id, request.args.get("a", ""))
    if status is not None and status.active and _mine(cb):
        svc.callbacks.renew(cb.id, current_user().name)
    return jsonify(status=status.as_dict() if status else None, seconds_left=seconds_left())


@bp.post("/console/callbacks/<callback_id>/draft")
@api_login_required
def save_draft(callback_id: str):
    """Keep the outcome and note being typed (sent a moment after each change; CSRF in X-CSRFToken)."""
    svc = services.get()
    user = current_user()
    cb = _visible(callback_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(saved=False, error="expected a JSON object"), 400
    outcome, note = body.get("outcome") or "", body.get("note") or ""
    if not isinstance(outcome, str) or not isinstance(note, str) or (outcome and outcome not in set(Outcome)):
        return jsonify(saved=False, error="outcome must be one of the outcomes, note a text"), 400
    now = _now()
    _drafts().save(user.name, cb.id, outcome, note.strip()[:500], now)
    if _mine(cb):
        svc.callbacks.renew(cb.id, user.name)  # working on it: the claim stays hers
    saved = dt.datetime.fromtimestamp(now, svc.runtime.clinic.zone).strftime("%H:%M")
    return jsonify(saved=True, at=saved, seconds_left=seconds_left())

"""Webhooks of follow-up calls: the clinic calls a patient after a visit.

    POST /voice/followup/answer?ap=ID&n=N   the call was answered (AnsweredBy: human, machine_*, fax, unknown)
    POST /voice/followup/step?s=K           each answer of the patient (Gather actions of the flow)
    POST /voice/followup/status?ap=ID&n=N   status callbacks; a final one settles the attempt (a job)

A machine hears only the clinic's name and number (``followup_machine``),
nothing about the visit. A person hears the follow-up flow (clinic.yaml
``followups.flow``) in the patient's language; its first question confirms
who answered. The flow's notes (answers, opt-out, a nurse callback) are stored
before the reply that follows them is sent: "You will not receive these calls
again" is only said once the number is on the do-not-call list.

Whatever fails, the patient hears the short message with the clinic's number,
never an application error. Nothing here logs a phone number.
"""

from __future__ import annotations

import logging
import re

import phonenumbers
from flask import Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from ivr import services
from ivr.clinic.settings import ClinicSettings
from ivr.flows import CallState, Reply, start, step
from ivr.flows.actions import NOTES, AskCallback, OptOut, RecordAnswer
from ivr.store.followups import STATUS_RANK, FollowupStore, Outcome, Record
from ivr.voice import effects
from ivr.voice.security import twilio_signed
from ivr.voice.twiml import Renderer
from ivr.voice.views import _event, bp, twiml

log = logging.getLogger(__name__)

STEP_PATH = "/voice/followup/step"
APPOINTMENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,70}")
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")
FALLBACK_TEXT = "Hello, this is {clinic_name} calling. Please call us back at {clinic_number}. Goodbye."


def spoken_number(number: str, region: str = "US") -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(number, region), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return number


def _variables(clinic: ClinicSettings, rec: Record | None) -> dict[str, str]:
    values = {"clinic_name": clinic.name, "clinic_number": spoken_number(clinic.main_number, clinic.country)}
    if rec is not None:
        values["first_name"] = rec.first_name
    return values


def _renderer(clinic: ClinicSettings, rec: Record | None) -> Renderer:
    svc = services.get()
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    return Renderer(clinic, svc.runtime.prompts, base, step_path=STEP_PATH, variables=_variables(clinic, rec),
                    now=svc.now(), schedule=svc.runtime.schedule)


def short_message(lang: str = "en", rec: Record | None = None) -> Response:
    """The clinic's name and number, then hang up: for machines, and whenever anything fails."""
    response = VoiceResponse()
    try:
        svc = services.get()
        clinic = svc.runtime.clinic
        values = _variables(clinic, None)
        text = svc.runtime.prompts.text(lang, "followup_machine", values) or FALLBACK_TEXT.format(**values)
        voice = clinic.languages.get(lang) or next(iter(clinic.languages.values()))
        response.say(text, voice=voice.voice, language=voice.say_language)
    except Exception:  # noqa: BLE001 - the patient must still hear something sensible
        log.exception("follow-up short message could not be built")
        response.say("Hello, this is your clinic calling. Please call us back. Goodbye.")
    response.hangup()
    return twiml(str(response))


def _attempt_args() -> tuple[str, int] | None:
    appointment_id, n = request.args.get("ap", ""), request.args.get("n", "")
    if APPOINTMENT_ID.fullmatch(appointment_id) and n.isdigit() and 1 <= int(n) <= 20:
        return appointment_id, int(n)
    return None


@bp.post("/followup/answer")
@twilio_signed
def followup_answer():
    try:
        return _answered()
    except Exception:  # noqa: BLE001
        log.exception("follow-up answer webhook failed; the patient hears the short message")
        return short_message()


def _answered() -> Response:
    found = _attempt_args()
    call_sid = request.form.get("CallSid", "")
    if found is None or not call_sid.startswith("CA"):
        log.warning("follow-up answer without a valid appointment, attempt or CallSid")
        return short_message()
    appointment_id, n = found
    svc = services.get()
    store = FollowupStore(svc.redis)
    rec = store.get(appointment_id)
    # The guard must name this attempt's call (or be pending: this settles the doubt).
    if rec is None or not store.record_call(appointment_id, n, call_sid):
        log.warning("follow-up answer for %s attempt %s: not a call placed for it", appointment_id, n)
        return short_message()
    answered_by = request.form.get("AnsweredBy", "")
    store.note_status(appointment_id, n, "in-progress", answered_by)

    seq, saved, sent = svc.calls.load(call_sid, 0)
    if sent is not None:  # Twilio repeated the request: same answer
        return twiml(sent)
    if answered_by in MACHINE:
        store.note(appointment_id, "machine", attempt=n, answered_by=answered_by)
        log.info("follow-up %s attempt %s: answered by %s; short message", appointment_id, n, answered_by)
        return short_message(rec.lang, rec)

    runtime = svc.runtime
    runtime.refresh()
    clinic = runtime.clinic
    flow = runtime.flows.live(clinic.followups.flow)
    ctx = _context(call_sid)
    reply, state = start(flow, ctx, caller=rec.phone, lang=rec.lang)
    reply, state = effects.perform_effects(flow, reply, state, ctx, call_sid)
    return _finish(store, rec, n, call_sid, None, 0, reply, state)


@bp.post("/followup/step")
@twilio_signed
def followup_step():
    try:
        return _stepped()
    except Exception:  # noqa: BLE001
        log.exception("follow-up step webhook failed; the patient hears the short message")
        return short_message()


def _context(call_sid: str):
    """The engine's view of the world, with the queue questions a callback or hold node may ask.

    The follow-up flow is edited like any flow: a node an administrator adds (a
    voicemail for the nurse, a callback offer) works here as in an incoming call.
    """
    svc = services.get()
    return svc.runtime.context(
        svc.now(),
        call_key=call_sid,
        wait_seconds=svc.callbacks.estimated_wait_seconds,
        hold_position=svc.holds.position,
    )


def _stepped() -> Response:
    call_sid = request.form.get("CallSid", "")
    request_seq = request.args.get("s", type=int)
    svc = services.get()
    store = FollowupStore(svc.redis)
    found = store.attempt_for_call(call_sid) if call_sid.startswith("CA") else None
    if request_seq is None or request_seq < 1 or found is None:
        log.warning("follow-up step without a known call or a valid sequence number")
        return short_message()
    appointment_id, n = found
    rec = store.get(appointment_id)
    if rec is None:
        return short_message()
    seq, saved, sent = svc.calls.load(call_sid, request_seq)
    if sent is not None:
        return twiml(sent)
    if seq is None or saved is None or request_seq != seq:
        latest = svc.calls.reply(call_sid, seq - 1) if seq else None
        log.warning("out-of-order follow-up webhook for %s (request %s, call at %s)", call_sid, request_seq, seq)
        return twiml(latest) if latest else short_message(rec.lang)
    runtime = svc.runtime
    runtime.refresh()
    state = CallState.from_dict(saved)
    flow = runtime.flows.version(state.flow, state.version)
    ctx = _context(call_sid)
    reply, state = step(flow, state, _event(), ctx)
    reply, state = effects.perform_effects(flow, reply, state, ctx, call_sid)
    return _finish(store, rec, n, call_sid, seq, request_seq, reply, state)


def _finish(store: FollowupStore, rec: Record, n: int, call_sid: str, seq: int | None, request_seq: int,
            reply: Reply, state: CallState) -> Response:
    """Carry out the reply's notes (durably), then render and store the reply."""
    _perform_notes(store, rec, n, call_sid, reply)
    heard = Reply(tuple(a for a in reply.actions if not isinstance(a, NOTES)))
    state.seq = request_seq + 1
    body = _renderer(services.get().runtime.clinic, rec).render(heard, state.seq)
    if not services.get().calls.advance(call_sid, seq, state.to_dict(), request_seq, body):
        return twiml(services.get().calls.reply(call_sid, request_seq) or body)
    return twiml(body)


def _perform_notes(store: FollowupStore, rec: Record, n: int, call_sid: str, reply: Reply) -> None:
    svc = services.get()
    answers = dict(rec.answers)
    for action in reply.actions:
        if isinstance(action, RecordAnswer):
            store.record_answer(rec.id, action.field, action.value)
            answers[action.field] = action.value
        elif isinstance(action, OptOut):
            store.opt_out(rec.phone, source="call")
            store.complete(rec.id, Outcome.OPTED_OUT)
            store.note(rec.id, "opted_out", attempt=n, source="call")
            log.info("follow-up %s: the patient asked not to be called again", rec.id)
        elif isinstance(action, AskCallback):
            worse = answers.get("feeling") == "worse"
            placed = svc.callbacks.request(
                action.department, rec.phone, action.lang or rec.lang, caller_id=rec.phone, call_sid=call_sid,
                source="followup", urgent=worse, urgent_reason="feels worse after the visit" if worse else "",
            )
            store.record_answer(rec.id, "callback_id", placed.callback.id)
            store.note(rec.id, "callback_requested", attempt=n, department=action.department)
            log.info("follow-up %s: callback requested for %s", rec.id, action.department)


@bp.post("/followup/status")
@twilio_signed
def followup_status():
    found = _attempt_args()
    if found is None:
        return Response("ap and n are required\n", 400, mimetype="text/plain")
    appointment_id, n = found
    call_sid, call_status = request.form.get("CallSid", ""), request.form.get("CallStatus", "")
    if not call_sid.startswith("CA") or call_status not in STATUS_RANK:
        return Response("CallSid and CallStatus are required\n", 400, mimetype="text/plain")
    try:
        svc = services.get()
        store = FollowupStore(svc.redis)
        if not store.record_call(appointment_id, n, call_sid):
            log.warning("follow-up status for %s attempt %s: not its call; ignored", appointment_id, n)
            return Response(status=204)
        store.note_status(appointment_id, n, call_status, request.form.get("AnsweredBy", ""))
        if call_status in FINAL:
            from ivr.workers.followups import enqueue_settle

            enqueue_settle(svc.queue, appointment_id, n, call_status, store.attempt(appointment_id, n).get("answered_by", ""))
            svc.calls.expire_soon(call_sid)
    except Exception:  # noqa: BLE001 - Twilio only needs an error status; it is not a caller
        log.exception("follow-up status for %s could not be stored", appointment_id)
        return Response("status not stored\n", 500, mimetype="text/plain")
    return Response(status=204)

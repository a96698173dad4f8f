"""Webhooks for calls the system places: "Call patient" from the staff console.

    POST /voice/outbound/connect?cb=ID&a=KEY   the staff member answered: press 1, then dial the patient
    POST /voice/outbound/result?cb=ID&a=KEY    the patient leg ended: tell the staff member
    POST /voice/outbound/status?cb=ID&a=KEY    status callbacks of the staff leg (for the console)

The job in ivr.workers.callbacks has Twilio ring the staff member's phone with
these URLs. The listener here is staff, not a patient, so a failure gets its
own short message and a hang-up, not the callers' apology (which would ring
the front desk). Nothing here logs a phone number.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Response, request
from twilio.twiml.voice_response import VoiceResponse

from ivr import services
from ivr.clinic.settings import ClinicSettings
from ivr.store.callback_types import Status
from ivr.store.outbound import ATTEMPT_KEY, CALLBACK_ID, OutboundCalls
from ivr.voice.security import twilio_signed
from ivr.voice.views import bp, twiml

log = logging.getLogger(__name__)

DIAL_TIMEOUT = 30  # seconds the patient's phone rings
ENGLISH = ("Polly.Joanna", "en-US")  # when the clinic has no English voice configured

SCREEN = "You are returning a patient's callback. Press 1 to call the patient now."
NOT_PRESSED = "No key was pressed, so the patient was not called. Goodbye."
CONNECTING = "Connecting you to the patient. The call shows the clinic's number."
NOT_LINKED = "This call is not linked to a callback in the console, so nobody was called. Goodbye."
NOT_CLAIMED = (
    "This callback is no longer assigned to you, so the patient was not called. "
    "Please check the console. Goodbye."
)
CANNOT_CONNECT = "Sorry, the call to the patient could not be connected. Please try again from the console. Goodbye."
RESULTS = {
    "completed": "The call has ended.",
    "answered": "The call has ended.",
    "no-answer": "The patient did not answer.",
    "busy": "The line was busy.",
    "failed": "The call to the patient could not be connected.",
    "canceled": "The call was cancelled.",
}
REMINDER = "Please record the outcome in the console. Goodbye."


def _voice(clinic: ClinicSettings | None) -> tuple[str, str]:
    voice = clinic.languages.get("en") if clinic is not None else None
    return (voice.voice, voice.say_language) if voice is not None else ENGLISH


def _say_and_hang_up(*texts: str, clinic: ClinicSettings | None = None) -> Response:
    voice, language = _voice(clinic)
    response = VoiceResponse()
    for text in texts:
        response.say(text, voice=voice, language=language)
    response.hangup()
    return twiml(str(response))


def _attempt_args() -> tuple[str, str] | None:
    callback_id, attempt_key = request.args.get("cb", ""), request.args.get("a", "")
    if CALLBACK_ID.fullmatch(callback_id) and ATTEMPT_KEY.fullmatch(attempt_key):
        return callback_id, attempt_key
    return None


def _query(callback_id: str, attempt_key: str) -> str:
    return f"cb={quote(callback_id)}&a={quote(attempt_key)}"


@bp.post("/outbound/connect")
@twilio_signed
def outbound_connect():
    """The staff member answered their phone: dial the patient, showing the clinic's number."""
    clinic = None
    try:
        clinic = services.get().runtime.clinic
        return _connect(clinic)
    except Exception:  # noqa: BLE001 - the staff member must hear something sensible
        log.exception("outbound connect failed")
        return _say_and_hang_up(CANNOT_CONNECT, clinic=clinic)


def _connect(clinic: ClinicSettings) -> Response:
    found = _attempt_args()
    if found is None:
        log.warning("outbound connect without a valid callback and attempt")
        return _say_and_hang_up(NOT_LINKED, clinic=clinic)
    callback_id, attempt_key = found
    outbound = OutboundCalls(services.get().redis)
    attempt = outbound.attempt(callback_id, attempt_key)
    # Also settles an attempt left in doubt: this is its call.
    if attempt is None or not outbound.note_status(
        callback_id, attempt_key, request.form.get("CallSid", ""), "in-progress"
    ):
        log.warning("outbound connect for callback %s: not a call placed for attempt %s", callback_id, attempt_key)
        return _say_and_hang_up(NOT_LINKED, clinic=clinic)

    callbacks = services.get().callbacks
    cb = callbacks.get(callback_id)
    if (
        cb is None
        or cb.status is not Status.CLAIMED
        or cb.claimed_by != attempt.staff
        or not cb.phone
        or not callbacks.renew(callback_id, attempt.staff)  # they are calling now: keep the claim
    ):
        log.warning("outbound connect: callback %s is no longer claimed by its caller; not dialling", callback_id)
        return _say_and_hang_up(NOT_CLAIMED, clinic=clinic)

    voice, language = _voice(clinic)
    response = VoiceResponse()
    if request.form.get("Digits") != "1":
        # A person must press 1: a staff member's voicemail answering must never reach the patient.
        gather = response.gather(
            num_digits=1, timeout=8, action=f"/voice/outbound/connect?{_query(callback_id, attempt_key)}", method="POST"
        )
        gather.say(SCREEN, voice=voice, language=language)
        response.say(NOT_PRESSED, voice=voice, language=language)
        response.hangup()
        return twiml(str(response))
    response.say(CONNECTING, voice=voice, language=language)
    response.dial(
        cb.phone,
        caller_id=clinic.main_number,
        timeout=DIAL_TIMEOUT,
        action=f"/voice/outbound/result?{_query(callback_id, attempt_key)}",
        method="POST",
    )
    log.info("outbound call for callback %s attempt %s: dialling the patient", callback_id, attempt_key)
    return twiml(str(response))


@bp.post("/outbound/result")
@twilio_signed
def outbound_result():
    """The Dial to the patient ended: say how, remind the staff member to record the outcome."""
    dial_status = request.form.get("DialCallStatus", "")
    clinic = None
    try:
        clinic = services.get().runtime.clinic
        found = _attempt_args()
        if found is not None:
            callback_id, attempt_key = found
            outbound = OutboundCalls(services.get().redis)
            duration = request.form.get("DialCallDuration", "")
            if outbound.note_patient_result(callback_id, attempt_key, dial_status, duration):
                attempt = outbound.attempt(callback_id, attempt_key)
                if attempt is not None and attempt.staff:
                    services.get().callbacks.renew(callback_id, attempt.staff)  # time to record the outcome
            log.info("outbound call for callback %s attempt %s: patient leg %s", callback_id, attempt_key, dial_status)
    except Exception:  # noqa: BLE001 - the staff member still hears the result
        log.exception("outbound result could not be stored")
    return _say_and_hang_up(RESULTS.get(dial_status, "The call has ended."), REMINDER, clinic=clinic)


@bp.post("/outbound/status")
@twilio_signed
def outbound_status():
    """Status callbacks of the staff leg, kept per attempt for the console."""
    found = _attempt_args()
    if found is None:
        return Response("cb and a are required\n", 400, mimetype="text/plain")
    callback_id, attempt_key = found
    call_sid, call_status = request.form.get("CallSid", ""), request.form.get("CallStatus", "")
    try:
        stored = OutboundCalls(services.get().redis).note_status(callback_id, attempt_key, call_sid, call_status)
    except Exception:  # noqa: BLE001 - not a call in progress: Twilio only needs an error status
        log.exception("outbound status for callback %s could not be stored", callback_id)
        return Response("status not stored\n", 500, mimetype="text/plain")
    if not stored:
        log.warning(
            "outbound status %r for callback %s attempt %s ignored (unknown attempt or call)",
            call_status, callback_id, attempt_key,
        )
    return Response(status=204)

"""Where a "Call patient" attempt stands, in plain words with the next step, for the callback page.

Every state the job (ivr.workers.callbacks), Twilio's status callbacks and the
patient leg's result (ivr.voice.outbound) can leave an attempt in has a
sentence here; a code this module does not know is still shown in words
("Twilio reports: ..."), never as a bare code. ``describe`` is pure: the view
gathers the attempt record and the RQ job's state and passes them in.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ivr.operations import readiness
from ivr.store.outbound import Attempt

QUEUED_TOO_LONG = 60  # seconds a job may wait for a worker before the page says so
NO_NEWS = 3600  # seconds without a word from Twilio after which a call is no longer shown as in progress


@dataclass(frozen=True)
class CallStatus:
    state: str  # a short key, for tests and styling
    text: str  # what happened, one sentence
    next: str = ""  # what to do now
    tone: str = "info"  # info (in progress), ok, warn, error
    active: bool = False  # still moving: the page keeps asking (and the session stays alive)

    def as_dict(self) -> dict:
        return asdict(self)


CALLING = "Calling your phone…"
CALLING_NEXT = "Your phone rings in a few seconds. Answer it and press 1 to be connected to the patient."

REFUSALS = {
    "unknown callback": ("this callback no longer exists", "Go back to the queue."),
    "not claimed by this staff member": (
        "this callback is no longer yours (it was given back or its claim ran out)",
        "Take it again from the queue if it is still waiting.",
    ),
    "the claim has expired": ("your claim on this callback ran out", "Take it again from the queue."),
    "the callback has no phone number": ("the caller's number was withheld", "Listen to the message for a number."),
    "unknown or disabled staff member": ("your account is disabled", "Ask an administrator."),
    "no phone number on the staff member's account": (
        "your account has no phone number to ring",
        "Ask an administrator to add one to your account.",
    ),
}

# Twilio's error codes for a refused "create call" request, in words. The call's "To" is the staff phone.
TWILIO_ERRORS = {
    "20003": "it did not accept the clinic's Twilio account details (the account or its secret is wrong)",
    "20404": "it does not know the clinic's Twilio account (the account is wrong)",
    "21205": "the server's public address is not a valid web address",
    "21210": "the clinic's number is not a number of its Twilio account or a verified caller ID",
    "21212": "the clinic's number is not a valid caller ID",
    "21211": "the phone number on your account is not a valid number",
    "21214": "the phone number on your account cannot be reached",
    "21215": "the account is not allowed to call that country (Geo permissions in Twilio's console)",
    "21216": "the phone number on your account is blocked by Twilio",
    "21217": "the phone number on your account is not a valid phone number",
    "21219": "a trial account may only call verified numbers: verify your phone in Twilio's console, or upgrade",
    "21401": "the phone number on your account is not a valid number",
    "21606": "the clinic's number cannot place calls",
    "21609": "the server's public address is not a valid web address",
    "13223": "a phone number is not in a format Twilio accepts",
}
_TWILIO_DETAIL = re.compile(r"Twilio error (\d*) ?\(HTTP (\d+)\): ?(.*)", re.S)

PATIENT_RESULTS = {
    "completed": ("You spoke with the patient{duration}.", "Record the outcome below.", "ok"),
    "answered": ("You spoke with the patient{duration}.", "Record the outcome below.", "ok"),
    "busy": ("The patient's line was busy.", "Call again in a few minutes, or save “No answer” to schedule another try.", "warn"),
    "no-answer": (
        "The patient did not answer.",
        "Save “Left a message” if you left one, otherwise “No answer” to schedule another try.",
        "warn",
    ),
    "failed": (
        "The call to the patient could not be connected: the number may be wrong or out of service.",
        "Check the number and the caller's message; save “Wrong number” if it is wrong.",
        "error",
    ),
    "canceled": ("The call to the patient was cancelled before it connected (your call ended first).", "Press Call patient to try again.", "warn"),
}

STAFF_LEG = {
    "": (CALLING, CALLING_NEXT, "info", True),
    "queued": (CALLING, CALLING_NEXT, "info", True),
    "initiated": (CALLING, CALLING_NEXT, "info", True),
    "ringing": ("Your phone is ringing.", "Answer it and press 1 to be connected to the patient.", "info", True),
    "in-progress": (
        "You answered: once you press 1 the patient's phone rings.",
        "You are connected when the patient answers; they see the clinic's number.",
        "info",
        True,
    ),
    "completed": (
        "Your call ended before the patient was called (no key was pressed, or you hung up).",
        "Press Call patient to try again.",
        "warn",
        False,
    ),
    "busy": ("Your phone was busy, so the patient was not called.", "End your other call, then press Call patient again.", "warn", False),
    "no-answer": (
        "Your phone was not answered, so the patient was not called.",
        "Press Call patient again when you are ready to answer.",
        "warn",
        False,
    ),
    "failed": (
        "Twilio could not ring your phone, so the patient was not called.",
        "The phone number on your account may be wrong: ask an administrator to check it.",
        "error",
        False,
    ),
    "canceled": ("The call to your phone was cancelled before it connected.", "Press Call patient to try again.", "warn", False),
}

IN_DOUBT_NEXT = (
    "Check the call log in Twilio's console (Monitor, Calls) before calling again: calling again may ring "
    "the patient twice. If your phone rings, answer it."
)


def twilio_reason(detail: str) -> str:
    """Why Twilio refused a request, in words (from "Twilio error CODE (HTTP NNN): message")."""
    found = _TWILIO_DETAIL.match(detail or "")
    if not found:
        return f"Twilio said: {detail}" if detail else "Twilio gave no reason"
    code, status, message = found.groups()
    if code in TWILIO_ERRORS:
        return TWILIO_ERRORS[code]
    if status == "401":
        return TWILIO_ERRORS["20003"]
    return f"Twilio said: {message.strip() or 'no reason given'}" + (f" (error {code})" if code else "")


def _duration(seconds: str) -> str:
    try:
        total = int(float(seconds))
    except (TypeError, ValueError):
        return ""
    if total <= 0:
        return ""
    return f" for {total // 60} min {total % 60:02d} s" if total >= 60 else f" for {total} s"


def job_failure(error: str) -> CallStatus:
    """The job stopped with an exception (settings missing in the worker, a bug)."""
    last = (error or "").strip().splitlines()[-1:] or [""]
    line = last[0]
    if "TwilioNotConfigured" in line:
        setting = line.split(":", 1)[1].strip() if ":" in line else line
        return CallStatus(
            "not_configured",
            f"No call was placed: where calls are placed (the worker), {readiness.in_words(setting)}.",
            "Ask an administrator (the Setup page says what to set for the worker), then press Call patient again.",
            "error",
        )
    return CallStatus(
        "job_failed",
        "No call was placed: the service that places calls stopped with an error.",
        "Ask an administrator to look at the worker's log, then press Call patient again.",
        "error",
    )


def describe(attempt: Attempt | None, job_state: str = "", job_error: str = "", job_age: float = 0,
             now: float = 0) -> CallStatus | None:
    """The attempt's state in words; None when there is nothing to tell (no attempt and no job).

    ``job_state`` is the RQ job's status ("" when the job is gone or unknown), ``job_age``
    seconds since it was queued.
    """
    waiting = job_state in ("queued", "deferred", "scheduled", "started")
    if attempt is None or not attempt.result:
        if job_state == "failed":
            return job_failure(job_error)
        if waiting:
            if job_state != "started" and job_age > QUEUED_TOO_LONG:
                return CallStatus(
                    "worker_late",
                    "No call yet: the service that places calls (the worker) has not started it.",
                    "Wait a moment; if nothing happens, ask an administrator to check that the worker runs.",
                    "warn",
                    True,
                )
            return CallStatus("queued", CALLING, CALLING_NEXT, "info", True)
        return None
    result = attempt.result
    if result == "refused":
        why, step = REFUSALS.get(attempt.detail, (attempt.detail or "no reason recorded", "Go back to the queue."))
        return CallStatus("refused", f"No call was placed: {why}.", step, "error")
    if result == "rejected":
        return CallStatus(
            "rejected",
            f"Twilio refused the call, so nobody was called: {twilio_reason(attempt.detail)}.",
            "Ask an administrator to fix this; then press Call patient again.",
            "error",
        )
    if result == "in_doubt":
        return CallStatus("in_doubt", "Cannot tell whether the call was placed: Twilio did not answer in time.", IN_DOUBT_NEXT, "error")
    if result == "retrying":
        if job_state == "failed" or not waiting:
            return CallStatus(
                "unreachable",
                "Twilio could not be reached, so no call was placed.",
                "Try again in a minute; if it keeps failing, ask an administrator to check the server's internet "
                "connection and Twilio's status page.",
                "error",
            )
        return CallStatus("retrying", "Twilio cannot be reached right now; trying again in a few seconds…", CALLING_NEXT, "warn", True)
    if result == "dialing":
        if job_state == "failed":
            return CallStatus("in_doubt", "Cannot tell whether the call was placed: placing it stopped half-way.", IN_DOUBT_NEXT, "error")
        return CallStatus("dialing", CALLING, CALLING_NEXT, "info", True)
    if result == "placed":
        if attempt.patient_status:
            text, step, tone = PATIENT_RESULTS.get(
                attempt.patient_status,
                (f"The call to the patient ended (Twilio reports “{attempt.patient_status}”).", "Record the outcome below.", "warn"),
            )
            return CallStatus(f"patient_{attempt.patient_status}", text.format(duration=_duration(attempt.patient_duration)), step, tone)
        text, step, tone, active = STAFF_LEG.get(
            attempt.call_status,
            (f"Twilio reports the call as “{attempt.call_status}”.", "Record the outcome below when the call is over.", "warn", False),
        )
        if active and now and attempt.updated_at and now - attempt.updated_at > NO_NEWS:
            return CallStatus(
                "no_news",
                "No news from Twilio about this call for an hour.",
                "Check the call log in Twilio's console, then record the outcome or call again.",
                "warn",
            )
        state = {"": "placed", "queued": "placed", "initiated": "placed", "in-progress": "answered"}.get(
            attempt.call_status, attempt.call_status
        )
        return CallStatus(state, text, step, tone, active)
    return CallStatus("unknown", f"The call is in a state this page does not know (“{result}”).", IN_DOUBT_NEXT, "warn")

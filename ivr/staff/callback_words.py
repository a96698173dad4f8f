"""How a callback reads to staff: outcomes, history, state and source in words, sealed fields opened, the
caller's messages, and the template filters the queue and callback pages use (``transcript``, ``priority``,
``message_words``, ``clinic_time`` ...). The pages are ivr.staff.console (queues) and ivr.staff.callback_page."""

from __future__ import annotations

import datetime as dt
import logging
import time

from markupsafe import Markup

from ivr import services
from ivr.protection.sealing import TEXT_PREFIX, SealError
from ivr.speech.numbers import readable
from ivr.speech.urgency import UNCLEAR_REASON
from ivr.store.callback_types import Callback, Outcome, Status
from ivr.store.voicemails import Voicemail

from . import bp
from .durations import waited

log = logging.getLogger(__name__)


OUTCOME_LABELS: dict[str, str] = {
    Outcome.REACHED: "Reached the patient",
    Outcome.NO_ANSWER: "No answer",
    Outcome.LEFT_MESSAGE: "Left a message",
    Outcome.WRONG_NUMBER: "Wrong number",
}


EVENT_WORDS = {
    "requested": "asked for a callback",
    "requested_again": "asked again (kept their place)",
    "claimed": "taken by {staff}",
    "lease_expired": "back in line (claim expired)",
    "released": "given back to the queue",
    "retry_due": "back in line for another try",
    "outcome": "{staff}: {outcome}",
    "retry_scheduled": "another try scheduled",
    "escalated": "urgent and not reached: moved to the on-call desk",
    "closed": "closed",
    "urgent": "marked urgent",
    "not_urgent": "back to its place in line (the unclear message was listened to)",
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
def urgent_reason(cb: Callback) -> str:
    return unseal(cb.urgent_reason, f"callback-urgent:{cb.id}")


# What staff read for a message with speech the engine could not make out (ivr.speech.clarity), in the
# console's language and, for a Spanish-speaking caller, in Spanish beside it.
UNCLEAR_WORDS = {"en": "Unclear — listen to the recording", "es": "Poco claro — escuche la grabación"}


def unclear_words(lang: str) -> Markup:
    words = Markup("<strong>{}</strong>").format(UNCLEAR_WORDS["en"])
    spoken = (lang or "").split("-")[0]
    if spoken != "en" and spoken in UNCLEAR_WORDS:
        words += Markup(' <span lang="{}">({})</span>').format(spoken, UNCLEAR_WORDS[spoken])
    return words


@bp.app_template_filter("priority")
def _priority_filter(cb: Callback) -> Markup:
    """The priority cell: "Urgent: said ...", "Unclear — listen to the recording" (until someone has), or normal."""
    if not cb.urgent:
        return Markup("normal")
    why = urgent_reason(cb)
    if why == UNCLEAR_REASON:
        return unclear_words(cb.lang)
    return Markup("<strong>Urgent</strong>") + (Markup(": {}").format(why) if why else "")


@bp.app_template_filter("message_status")
def _message_status_filter(cb: Callback) -> str:
    """Where the caller's message stands ("no speech detected", ...), for a row with no transcript."""
    vm = services.get().voicemails.get(cb.reason_recording_sid)
    return vm.status_text if vm is not None else "message not found"


def messages_of(cb: Callback) -> list[dict]:
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
            "words": MESSAGE_WORDS.get(str(vm.status), vm.status_text.capitalize()) if not vm.unclear else UNCLEAR_WORDS["en"],
            "unclear": _unclear_note(vm, zone) if vm.unclear else "",
        }
        for vm in found
    ]


def _unclear_note(vm: Voicemail, zone) -> Markup:
    """An unclear message: the label, and who listened to it when someone has."""
    note = unclear_words(vm.lang)
    if vm.listened_at:
        when = dt.datetime.fromtimestamp(vm.listened_at, zone).strftime("%a %d %b %H:%M")
        note += Markup(" · listened to by {} at {}").format(vm.listened_by, when)
    else:
        note += Markup(" · nobody has listened yet: it waits with the urgent messages until someone does")
    return note


SOURCE_WORDS = {
    "call": "A call: the caller asked for a callback",
    "voicemail": "A voicemail",
    "followup": "A follow-up call after a visit",
}


def state_words(cb: Callback, mine: bool, zone) -> str:
    """Where the callback stands, in words."""
    if cb.status is Status.CLAIMED:
        if mine:
            return f"Taken by you: {waited(cb.lease_until - time.time())} left before it goes back to the queue"
        return f"Taken by {cb.claimed_by}"
    if cb.status is Status.WAITING:
        return "Waiting in the queue (read only: take it from the queue to see the number and call)"
    if cb.status is Status.SCHEDULED:
        when = dt.datetime.fromtimestamp(cb.not_before, zone).strftime("%a %d %b %H:%M")
        if cb.urgent:
            return f"Urgent, not reached after {cb.attempts} {'try' if cb.attempts == 1 else 'tries'}: another try at {when}"
        return f"Another try is scheduled for {when}"
    if cb.status is Status.DONE:
        return "Done: " + OUTCOME_LABELS.get(cb.outcome, cb.outcome).lower()
    return "Closed" + (f": {cb.note}" if cb.note else "")


@bp.app_template_filter("desk_name")
def _desk_name_filter(key: str) -> str:
    desk = services.get().runtime.clinic.desks.get(key)
    return desk.name if desk else key


@bp.app_template_filter("clinic_time")
def _clinic_time_filter(epoch: float) -> str:
    """'Mon 07 Dec 00:25', in the clinic's time."""
    return dt.datetime.fromtimestamp(epoch, services.get().runtime.clinic.zone).strftime("%a %d %b %H:%M")


@bp.app_template_filter("retries_scheduled")
def _retries_filter(n: int) -> str:
    """'no retries scheduled', '1 retry scheduled', '3 retries scheduled'."""
    n = int(n or 0)
    if n == 0:
        return "no retries scheduled"
    return f"{n} {'retry' if n == 1 else 'retries'} scheduled"


MESSAGE_WORDS = {
    "received": "Message left; not yet transcribed",
    "stored": "Message left; being transcribed",
    "transcribed": "Message left",
    "no_speech": "No message: the caller said nothing",
    "unreadable": "Message left, but its audio cannot be read",
    "failed": "Message left, not transcribed: listen to it",
    "fetch_failed": "Message left, still at Twilio: could not be fetched",
    "no_engine": "Message left in a language without a transcriber: listen to it",
    "no_audio": "No message: Twilio reported no audio",
}


@bp.app_template_filter("message_words")
def _message_words_filter(cb: Callback) -> str:
    """The caller's message for a row with no transcript, as a sentence ("No message: the caller said nothing")."""
    vm = services.get().voicemails.get(cb.reason_recording_sid)
    if vm is None:
        return "Message not found"
    if vm.unclear:
        return unclear_words(vm.lang)
    return MESSAGE_WORDS.get(str(vm.status.value if hasattr(vm.status, "value") else vm.status), vm.status_text.capitalize())

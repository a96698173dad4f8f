"""Twilio's webhooks for texts, signed like the voice ones: ``/sms/incoming`` (a patient's text) and
``/sms/status`` (where a sent text stands), and the callback page's lines about texts.

A patient's text lands on their callback: the one open for the number, else the one last texted about.
STOP (and its kin) puts the number on the do-not-call list at once; START takes a text's opt-out off;
HELP is answered; "cancel" closes the open callback and is confirmed; anything else is a note the nurse
sees. When Twilio's own opt-out handling has already answered (``OptOutType`` in the webhook), we record
it and send nothing. Answers go out from an RQ job; the webhook answers Twilio with empty TwiML.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, Flask, Response, request
from rq import Queue

from ivr import services
from ivr.store.audit import AuditLog
from ivr.store.texts import TextStore
from ivr.texts import inbound, messaging_service_sid, wording
from ivr.voice.security import twilio_signed
from ivr.workers import DEFAULT_QUEUE

log = logging.getLogger(__name__)

bp = Blueprint("texts", __name__)
EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
FINAL = ("delivered", "undelivered", "failed", "read")


def init_app(app: Flask, csrf, limiter) -> None:
    csrf.exempt(bp)  # signed by Twilio instead
    limiter.exempt(bp)
    app.register_blueprint(bp)


def _store() -> TextStore:
    svc = services.get()
    return TextStore(svc.redis, svc.sealer, clock=lambda: svc.now().timestamp())


def _twiml() -> Response:
    return Response(EMPTY, mimetype="text/xml")


@bp.post("/sms/incoming")
@twilio_signed
def incoming():
    svc = services.get()
    form = request.form
    phone, sid, body = form.get("From", ""), form.get("MessageSid") or form.get("SmsSid", ""), form.get("Body", "")
    if not body.strip() and form.get("NumMedia", "0") != "0":
        body = "(a picture or other attachment: not kept here)"  # MMS: the media stays at Twilio, unread
    if not phone.startswith("+") or not sid:
        return _twiml()
    store = _store()
    kind, said = inbound.classify(body)
    handled = (form.get("OptOutType") or "").upper()  # Twilio's opt-out handling answered already
    if handled in ("STOP", "START", "HELP") and kind != inbound.CANCEL:
        kind = handled.lower()
    in_line = svc.callbacks.open_for(phone)
    callback_id = in_line.id if in_line else store.latest_callback(phone) or ""
    cb = svc.callbacks.get(callback_id) if callback_id else None
    if not store.record_inbound(sid, phone, callback_id):
        return _twiml()  # the same webhook again
    lang = said or (cb.lang if cb else "") or next(iter(svc.runtime.clinic.languages))
    answer = _act(store, svc, kind, phone, body, cb, in_line is not None, handled)
    audit = AuditLog(svc.redis)
    audit.record("texts", "text_received", target=callback_id or f"message:{sid}", detail=f"{kind}, message {sid}")
    if answer and not (handled and answer in (wording.STOPPED, wording.STARTED, wording.HELP)) \
            and not (handled == "STOP" and answer == wording.CANCELLED) and messaging_service_sid(_config()):
        from ivr.workers.texts import enqueue_answer

        enqueue_answer(Queue(DEFAULT_QUEUE, connection=svc.redis), answer, sid, lang, callback_id)
    if cb is not None:
        svc.callbacks.live.publish("transcript", cb.id, cb.department)  # open consoles show the note
    return _twiml()


def _config():
    from flask import current_app

    return current_app.config


def _act(store: TextStore, svc, kind: str, phone: str, body: str, cb, open_: bool, handled: str) -> str:
    """Do what the text asks; the answer to send (``wording``), or ""."""
    if kind == inbound.STOP or (kind == inbound.CANCEL and handled == "STOP"):
        store.opt_out(phone, kind)
        if cb is not None:
            store.note(cb.id, "opted_out", word=body.strip()[:20] if kind == inbound.STOP else "CANCEL")
        if kind == inbound.STOP:
            return wording.STOPPED
    if kind == inbound.START:
        store.opt_in(phone)
        if cb is not None:
            store.note(cb.id, "opted_in")
        return wording.STARTED
    if kind == inbound.HELP:
        return wording.HELP
    if kind == inbound.CANCEL:
        if cb is None or not open_:
            return wording.NOTHING_TO_CANCEL
        store.note(cb.id, "reply", reply=body[:500])
        if svc.callbacks.cancel(cb.id, phone, "by text"):
            store.note(cb.id, "cancelled")
            return wording.CANCELLED
        return wording.NOTHING_TO_CANCEL
    if cb is not None:
        store.note(cb.id, "reply", reply=body[:500])
    return ""


@bp.post("/sms/status")
@twilio_signed
def status():
    form = request.form
    sid, state = form.get("MessageSid") or form.get("SmsSid", ""), form.get("MessageStatus") or form.get("SmsStatus", "")
    if not sid or not state:
        return Response("", 204)
    svc = services.get()
    callback_id = _store().set_status(sid, state, form.get("ErrorCode", ""))
    if callback_id and state in FINAL:
        AuditLog(svc.redis).record("texts", "text_status", target=callback_id if callback_id != "-" else f"message:{sid}",
                                   detail=f"message {sid}: {state}" + (f" (error {form['ErrorCode']})" if form.get("ErrorCode") else ""))
    return Response("", 204)


# The callback page's lines about texts ---------------------------------------------------------------

PURPOSE_WORDS = {
    wording.CONFIRM_CALLBACK: "that we will call back",
    wording.CONFIRM_VOICEMAIL: "that we got the message and will call back",
    wording.MISSED_CALLBACK: "that we tried to call, and when we will try again",
    wording.STOPPED: "that they will get no more texts or follow-up calls",
    wording.STARTED: "that they will get texts again",
    wording.HELP: "how to reach the clinic (they asked for help)",
    wording.CANCELLED: "that their callback is cancelled",
    wording.NOTHING_TO_CANCEL: "that they have no callback waiting",
}
STATUS_WORDS = {
    "accepted": "on its way", "scheduled": "on its way", "queued": "on its way", "sending": "on its way",
    "sent": "sent (the phone has not yet confirmed it)", "delivered": "delivered", "read": "read",
    "undelivered": "not delivered: the phone did not take it", "failed": "failed: Twilio could not send it",
    "canceled": "cancelled before it was sent",
}
ERROR_WORDS = {"30003": "the phone is off or out of reach", "30004": "the number blocks texts",
               "30005": "the number does not exist", "30006": "the number cannot take texts (a landline?)",
               "30007": "the carrier filtered it", "21610": "the patient has stopped texts"}
REASON_WORDS = {
    "not_mobile": "the number is not known to be a mobile phone",
    "landline": "the number is a landline",
    "declined": "the caller chose no texts on the keypad",
    "opted_out": "the patient asked for no texts or follow-up calls",
    "daily_limit": "the patient already had a text today",
    "weekly_limit": "the patient already had three texts this week",
    "outside_calling_hours": "it was outside calling hours in the patient's time zone",
    "holiday": "it was a clinic holiday",
    "not_set_up": "texts are not fully set up (ask an administrator)",
    "in_doubt": "Twilio did not say whether it was sent, so it was not sent again",
}


def _at(epoch: float) -> str:
    zone = services.get().runtime.clinic.zone
    return dt.datetime.fromtimestamp(float(epoch), zone).strftime("%a %d %b %H:%M")


def line_words(line: dict) -> str:
    """One line of the callback's texts, in words."""
    kind = line.get("kind")
    if kind == "sent":
        said = STATUS_WORDS.get(line.get("status", ""), line.get("status") or "on its way")
        if line.get("error") in ERROR_WORDS:
            said += f" ({ERROR_WORDS[line['error']]})"
        return f"Texted {PURPOSE_WORDS.get(line.get('purpose', ''), 'the patient')}: {said}."
    if kind == "not_sent":
        reason = line.get("reason", "")
        why = REASON_WORDS.get(reason) or (f"Twilio refused it (error {reason.split(':', 1)[1]})"
                                           if reason.startswith("refused:") else reason)
        return f"No text {PURPOSE_WORDS.get(line.get('purpose', ''), '')}: {why}."
    if kind == "held":
        return f"A text {PURPOSE_WORDS.get(line.get('purpose', ''), '')} waits for calling hours: {_at(line['until'])}."
    if kind == "reply":
        return f"The patient texted: “{line.get('reply', '')}”"
    if kind == "opted_out":
        return "The patient asked for no more texts (they get no follow-up calls either)."
    if kind == "opted_in":
        return "The patient asked for texts again."
    if kind == "cancelled":
        return "The patient cancelled this callback by text."
    return kind or ""


@bp.app_template_global("callback_texts")
def callback_texts(callback_id: str) -> list[tuple[str, str]]:
    """(when, what) for each line about texts on a callback, newest first."""
    return [(_at(line["at"]), line_words(line)) for line in _store().log(callback_id)]

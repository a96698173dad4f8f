"""Texts (SMS) where patients want them: a confirmation when a callback or voicemail is kept, a text after
an unanswered callback attempt (the next try, the number to call), and optionally one when a follow-up call
reached nobody; the patient's replies land on their callback as notes for the nurse.

The rules are built in (``ivr.workers.texts`` applies them when the text is about to go):

* only to the number the patient gave or called from (the callback's or appointment's own number);
* only to a mobile phone: the number type from Twilio's carrier lookup when it answers (a clinic may turn the
  lookup off: ``carrier_lookup``), else the caller's own choice on the keypad, else the numbering plan when it
  is certain (never a landline);
* at most ``PER_DAY`` text a day (in every zone the patient may be in) and ``PER_WEEK`` in any 7 days for
  these purposes; answers to the patient's own texts (STOP, HELP, cancel) are not counted;
* only within calling hours in the patient's zones (``ivr.clinic.calling_hours``, the zones the follow-ups use);
* never to a number on the do-not-call list, which STOP (ALTO, BAJA, CANCELAR, "no more texts") joins.

A text never blocks or delays a call: ``ivr.workers.texts.send_later`` only queues a job, only when texts are set up (a
Messaging Service SID), and swallows any failure with a log line.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

log = logging.getLogger(__name__)

PER_DAY = 1
PER_WEEK = 3

CALLBACK, FOLLOWUP = "callback", "followup"  # what a text is about (the job reads its number from it)


def current_settings() -> Mapping[str, Any]:
    """The web app's config inside a request, else the environment as workers read it."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config
    from ivr.config import environment_settings

    return environment_settings()


def messaging_service_sid(settings: Mapping[str, Any]) -> str:
    """IVR_TWILIO_MESSAGING_SERVICE_SID (or TWILIO_MESSAGING_SERVICE_SID); "" when texts are off."""
    return str(settings.get("TWILIO_MESSAGING_SERVICE_SID") or os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")).strip()


def _switch(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def followup_texts(settings: Mapping[str, Any]) -> bool:
    """Whether a follow-up call that reached nobody on any try is followed by a text."""
    return _switch(settings.get("TEXTS_AFTER_UNREACHED_FOLLOWUP", ""))


def carrier_lookup(settings: Mapping[str, Any]) -> bool:
    """Whether the number type is asked of Twilio's carrier lookup (on unless IVR_TEXTS_LOOKUP=0); off, the
    job does what it does when the lookup gives no answer: the caller's keypad choice, else the numbering plan."""
    return _switch(settings.get("TEXTS_LOOKUP", True))

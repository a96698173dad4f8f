"""Recordings Twilio holds that the clinic does not know: found and turned into voicemails.

A voicemail reaches us by a webhook (the recording status callback, or the
Record action of the call). When Redis refused the write (full, read-only, down)
the webhook could not keep it, and Twilio does not send it again. Twilio still
holds the recording (the pipeline deletes Twilio's copy only once ours is kept),
so every worker's sweep, one worker every RECOVER_SECONDS, lists the account's
recent recordings through the REST API and hands each one it does not know to
the voicemail pipeline (``voicemail.receive``): a voicemail with its callback
request and its transcription job. ``receive`` keeps a recording once by its
sid, so a recording is recovered exactly once however often this runs.

Only recordings made by the ``<Record>`` verb (voicemails, callback reasons)
and completed are taken: call recordings of other kinds are not messages.
The department is the clinic's fallback desk and the language its first one:
what the call was about is not in Twilio's recording.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

import requests
from rq import Queue
from twilio.base.exceptions import TwilioException, TwilioRestException

from ivr.telephony import twilio_rest
from ivr.store.callbacks import CallbackQueue
from ivr.store.voicemails import VoicemailStore
from ivr.workers import SPEECH_QUEUE, context
from ivr.workers import voicemail as voicemail_jobs

log = logging.getLogger(__name__)

RECOVER_SECONDS = 300.0  # how often one worker asks Twilio (IVR_RECORDINGS_RECOVER_SECONDS)
LOOKBACK = dt.timedelta(days=3)  # recordings older than this were known or recovered long ago
MAX_LISTED = 1000  # recordings read per round


def recover_seconds() -> float:
    return float(os.environ.get("IVR_RECORDINGS_RECOVER_SECONDS") or RECOVER_SECONDS)


def recover_recordings(now: dt.datetime | None = None) -> int:
    """Turn the recordings Twilio holds that we do not know into voicemails. Returns how many."""
    ctx = context.get()
    settings = twilio_rest.settings_from_env()
    try:
        client = twilio_rest.make_client(settings)
    except twilio_rest.TwilioNotConfigured:
        return 0
    clinic = ctx.clinic
    store = VoicemailStore(ctx.redis)
    callbacks = CallbackQueue(ctx.redis)
    queue = Queue(SPEECH_QUEUE, connection=ctx.redis)
    since = (now or dt.datetime.now(dt.timezone.utc)) - LOOKBACK
    recovered = 0
    try:
        for recording in client.recordings.list(date_created_after=since, limit=MAX_LISTED):
            if recording.status != "completed" or (recording.source or "RecordVerb") != "RecordVerb":
                continue
            if store.get(recording.sid) is not None:
                continue
            caller = _caller(client, recording.call_sid or "")
            form = {"RecordingSid": recording.sid, "CallSid": recording.call_sid or "",
                    "RecordingDuration": str(recording.duration or 0), "RecordingStatus": "completed"}
            vm, created = voicemail_jobs.receive(
                form, {"department": clinic.fallback_desk, "lang": ""}, caller, store, callbacks, queue, clinic)
            if created:
                store.update(vm.recording_sid, detail="recovered from Twilio: its webhook could not be kept")
                log.warning("recording %s (call %s) was not known: recovered as a voicemail with callback %s",
                            vm.recording_sid, vm.call_sid, vm.callback_id or "none")
                recovered += 1
    except (TwilioException, requests.RequestException) as exc:
        log.warning("recording recovery: %s talking to Twilio; next round", type(exc).__name__)
    finally:
        twilio_rest.close(client)
    return recovered


def _caller(client, call_sid: str) -> str:
    """The number that called, from Twilio's record of the call ("" when it cannot be read)."""
    if not call_sid.startswith("CA"):
        return ""
    try:
        return str(getattr(client.calls(call_sid).fetch(), "_from", "") or "")  # twilio-python names "from" _from
    except (TwilioRestException, requests.RequestException):
        return ""

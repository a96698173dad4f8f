"""Effects the engine asks for during a call, carried out by the voice webhooks.

The engine is pure: a callback request (RequestCallback) or a recorded
voicemail (SaveVoicemail) comes back from it as an effect. ``perform_effects``
stores it (a durable write) and steps the engine again with the result, so the
confirmation the caller hears is only ever rendered after it is safely stored:
with replication configured, on the replicas too (``ivr.store.durable``: the
callback queue's ``request`` waits; a voicemail waits here). A write that does
not reach them raises, and the caller gets the fallback (a person, then voicemail).
"""

from __future__ import annotations

import logging

import redis

from ivr import services, texts
from ivr.flows import CallState, Context, Event, Flow, Reply, step
from ivr.flows.actions import EFFECTS, CancelCallback, RequestCallback, SaveVoicemail
from ivr.store import durable
from ivr.store.texts import TextStore
from ivr.texts import wording
from ivr.workers.texts import send_later
from ivr.workers import voicemail as voicemail_jobs

log = logging.getLogger(__name__)

MAX_EFFECTS = 4  # per webhook; a flow cannot ask for more than this


def perform_effects(flow: Flow, reply: Reply, state: CallState, ctx: Context, call_sid: str) -> tuple[Reply, CallState]:
    """Carry out effects at the end of a reply and continue the flow with their results."""
    actions = list(reply.actions)
    for _ in range(MAX_EFFECTS):
        if not isinstance(actions[-1], EFFECTS):
            break
        effect = actions.pop()
        more, state = step(flow, state, _perform(effect, state, call_sid), ctx)
        actions.extend(more.actions)
    else:
        raise RuntimeError("flow asked for too many effects in one step")
    return Reply(tuple(actions)), state


def _perform(effect: RequestCallback | CancelCallback | SaveVoicemail, state: CallState, call_sid: str) -> Event:
    svc = services.get()
    if isinstance(effect, CancelCallback):
        cancelled = svc.callbacks.cancel(effect.callback_id, effect.phone)
        durable(svc.redis)  # out of line on the replicas too before "cancelled" is said
        return Event(callback_cancelled=cancelled)
    if isinstance(effect, SaveVoicemail):
        _receive(effect.recording_sid, effect.department, effect.lang, "voicemail", effect.duration, state, call_sid)
        durable(svc.redis)  # the voicemail (and its callback) on the replicas before "message saved"
        return Event(voicemail_saved=True)
    placed = svc.callbacks.request(
        effect.department,
        effect.phone,
        effect.lang,
        caller_id=state.caller,
        call_sid=call_sid,
        source="call",
        reason_recording_sid=effect.reason_recording_sid,
        reason_recording_url=effect.reason_recording_url,
    )
    if effect.reason_recording_sid:
        _receive(effect.reason_recording_sid, effect.department, effect.lang, "callback_reason", 0, state, call_sid)
    if effect.mobile:  # the caller's own answer on the keypad: the number type when the carrier lookup cannot tell
        try:
            TextStore(svc.redis).set_line_type(effect.phone, "mobile" if effect.mobile == "yes" else "declined", "keypad")
        except redis.RedisError:  # the callback is kept: only a text may be missed
            log.warning("the caller's answer about texts could not be kept")
    if placed.created:  # a confirmation text, when texts are set up (queued only; never fails the call)
        send_later(svc.redis, wording.CONFIRM_CALLBACK, texts.CALLBACK, placed.callback.id)
    return Event(callback_position=placed.position, callback_existing=not placed.created)


def _receive(sid: str, department: str, lang: str, purpose: str, duration: int, state: CallState, call_sid: str) -> None:
    """Hand a recording to the voicemail pipeline (the recording status callback may have done so already)."""
    svc = services.get()
    voicemail_jobs.receive(
        {"RecordingSid": sid, "CallSid": call_sid, "RecordingDuration": str(duration), "RecordingStatus": "completed"},
        {"department": department, "lang": lang, "purpose": purpose},
        state.caller,
        svc.voicemails,
        svc.callbacks,
        svc.speech_queue,
        svc.runtime.clinic,
    )

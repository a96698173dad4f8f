""""Try it": run a draft flow through the pure engine, one caller action at a time, without Twilio.

The page keeps the call state (the engine's CallState as JSON) and sends it
back with the next action, so nothing is stored on the server. Transfers,
voicemail and callback requests are shown as what would happen; nothing is
rung, recorded or queued.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from ivr.flows import CallState, Dial, Event, Flow, Gather, Hangup, Prompt, Record, start, step
from ivr.flows.actions import CancelCallback, Music, RequestCallback, SaveVoicemail
from ivr.clinic.hours import OpenStatus, Schedule
from ivr.clinic.prompts import PromptCatalog
from ivr.clinic.runtime import Runtime
from ivr.clinic.spoken_hours import spans_on
from ivr.voice.twiml import Renderer

CALLER = "+12025550123"  # the pretend caller's number (fictional, 555-01xx)
MAX_EFFECTS = 4
SEARCH_DAYS = 400  # how far "pretend the clinic is closed/open/on holiday" looks for such a time


@dataclass(frozen=True)
class FixedHours:
    """A schedule that answers one status whatever the time ("pretend the clinic is closed")."""

    value: OpenStatus

    def status(self, now: dt.datetime) -> OpenStatus:
        return self.value


def pretend_instant(schedule: Schedule, now: dt.datetime, status: OpenStatus) -> dt.datetime:
    """The first instant from ``now`` when the clinic really is ``status`` (``now`` if none within a year).

    "Pretend the clinic is closed" at 10 AM then says the hours a caller hears at 5 PM, not "open until 5".
    """
    if schedule.status(now) is status:
        return now
    local = schedule.local(now)
    for ahead in range(SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=ahead)
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=schedule.timezone)
        marks = {0} | {m for s in spans_on(schedule, day) for m in (s.start, s.end)}
        for minute in sorted(marks):  # the status only changes at these minutes
            when = (midnight + dt.timedelta(minutes=minute)).astimezone(dt.timezone.utc)
            if when >= now and minute < 24 * 60 and schedule.status(when) is status:
                return when
    return now


def event_from(data: dict) -> Event:
    """The caller's action as sent by the page: digits, speech, silence, a dial result or a recording."""
    kind = str(data.get("kind") or "")
    if kind == "press":
        return Event(digits=str(data.get("digits") or "")[:20])
    if kind == "say":
        return Event(speech=str(data.get("speech") or "")[:200], confidence=0.9)
    if kind == "dial":
        return Event(dial_status=str(data.get("status") or "no-answer"))
    if kind == "record":
        if data.get("empty"):
            return Event(record_empty=True)
        return Event(recording_url="try-it", recording_sid="RE-try-it", recording_duration=10)
    return Event()  # silence


def run(runtime: Runtime, flow: Flow, now: dt.datetime, state: dict | None, action: dict, hours: str = "",
        prompts: PromptCatalog | None = None, schedule: Schedule | None = None) -> dict:
    """One turn: start the call (no state) or answer the node it waits at. Returns what the page shows.

    ``prompts`` and ``schedule``: what the caller hears and the hours (a draft's, over the live ones);
    the live ones by default."""
    prompts = prompts or runtime.prompts
    schedule = schedule or runtime.schedule
    ports = {"call_key": "try-it", "wait_seconds": lambda department: 0, "hold_position": lambda desk, key: 1}
    ctx = dataclasses.replace(runtime.context(now, **ports), schedule=schedule)
    heard: list[dict] = []
    spoken_at = now  # the instant whose hours the prompts say ({hours_today}, {next_open})
    if hours in ("open", "closed", "holiday"):
        ctx = dataclasses.replace(ctx, schedule=FixedHours(OpenStatus(hours)))
        spoken_at = pretend_instant(schedule, now, OpenStatus(hours))
        if state is None and spoken_at != now:
            heard.append({"kind": "note", "text": f"The hours are said as a caller hears them on "
                          f"{schedule.local(spoken_at).strftime('%A %B %-d at %-I:%M %p')}, the next time the clinic is {hours}."})
        elif state is None and schedule.status(now) is not OpenStatus(hours):
            heard.append({"kind": "note", "text": f"The clinic is never {hours} in the coming year: the hours are said as now."})
    if state is None:
        reply, call = start(flow, ctx, caller=CALLER)
    else:
        reply, call = step(flow, CallState.from_dict(state), event_from(action), ctx)
    actions = list(reply.actions)
    for _ in range(MAX_EFFECTS):  # callback requests and voicemails: pretend they were stored, first in line
        if not actions or not isinstance(actions[-1], (RequestCallback, CancelCallback, SaveVoicemail)):
            break
        effect = actions.pop()
        heard.extend(_describe(runtime, prompts, actions, spoken_at, schedule))
        actions = []
        if isinstance(effect, CancelCallback):
            text = "Would cancel the caller's callback request (not stored in try-it)."
            result = Event(callback_cancelled=True)
        elif isinstance(effect, SaveVoicemail):
            text = f"Would keep the message and add a callback request to the {effect.department} queue (not stored in try-it)."
            result = Event(voicemail_saved=True)
        else:
            text = f"Would add a callback request to the {effect.department} queue (not stored in try-it)."
            result = Event(callback_position=1)
        heard.append({"kind": "effect", "text": text})
        more, call = step(flow, call, result, ctx)
        actions = list(more.actions)
    heard.extend(_describe(runtime, prompts, actions, spoken_at, schedule))
    last = actions[-1] if actions else Hangup()
    waiting = {Gather: "gather", Dial: "dial", Record: "record"}.get(type(last), "ended")
    return {"heard": heard, "waiting": waiting, "state": None if waiting == "ended" else call.to_dict(),
            "node": call.node, "lang": call.lang, "outcome": call.outcome}


def _describe(runtime: Runtime, prompts: PromptCatalog, actions: list, now: dt.datetime, schedule: Schedule) -> list[dict]:
    clinic = runtime.clinic
    # The words a real call hears at ``now`` (the real hours, even when the page pretends "closed").
    renderer = Renderer(clinic, prompts, "", now=now, schedule=schedule)
    out: list[dict] = []

    def say(p: Prompt) -> None:
        text, audio = renderer.words(p)
        recorded = audio is not None
        out.append({"kind": "say", "lang": p.lang, "prompt": p.id, "recorded": recorded,
                    "text": text if text is not None else f"(prompt {p.id} is missing in {p.lang})"})

    for action in actions:
        if isinstance(action, Prompt):
            say(action)
        elif isinstance(action, Gather):
            for p in action.prompts:
                say(p)
        elif isinstance(action, Dial):
            desk = clinic.desks.get(action.desk or "")
            who = desk.name if desk else action.number
            out.append({"kind": "dial", "text": f"Would ring {who} ({action.number}) for {action.timeout} seconds."})
        elif isinstance(action, Record):
            what = "the reason for the callback" if action.purpose == "callback_reason" else f"a voicemail for {action.department}"
            out.append({"kind": "record", "text": f"Beep: would record {what} (up to {action.max_length} s)."})
        elif isinstance(action, Music):
            out.append({"kind": "music", "text": "(hold music)"})
        elif isinstance(action, Hangup):
            out.append({"kind": "hangup", "text": "The call ends."})
    return out

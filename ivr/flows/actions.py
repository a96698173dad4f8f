"""What the engine says to a caller (actions), what the caller does (events),
and the per-call state kept between webhooks.

Actions are abstract: ``ivr.voice.twiml`` renders them as TwiML, the terminal
phone and the admin "try it" phone show them as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

from ivr.clinic.hours import Schedule


@dataclass(frozen=True)
class Prompt:
    """Speak (or play the recording of) prompt ``id`` in ``lang``.

    ``values`` fill the prompt's placeholders, e.g. {"minutes": "15"}.
    """

    id: str
    lang: str
    values: tuple[tuple[str, str], ...] = ()

    def with_values(self, **values: object) -> "Prompt":
        return Prompt(self.id, self.lang, tuple((k, str(v)) for k, v in values.items()))


@dataclass(frozen=True)
class Gather:
    """Play prompts and wait for keys or speech."""

    prompts: tuple[Prompt, ...]
    lang: str  # language the speech recogniser listens for
    timeout: int = 6
    num_digits: int | None = 1  # None: any number of keys, ended by finish_on_key
    hints: tuple[str, ...] = ()
    speech: bool = True
    finish_on_key: str = "#"


@dataclass(frozen=True)
class Dial:
    """Ring a number; the result comes back as an event."""

    number: str
    timeout: int
    desk: str | None = None


@dataclass(frozen=True)
class Record:
    """Record a message; the result comes back as an event."""

    max_length: int
    finish_on_key: str
    department: str
    lang: str
    purpose: str = "voicemail"  # or "callback_reason"


@dataclass(frozen=True)
class Music:
    """Hold music, played once: the recorded prompt ``hold_music`` if any, else the clinic's music."""

    lang: str


@dataclass(frozen=True)
class RequestCallback:
    """Effect: put the caller in a department's callback queue.

    The web layer performs it at once (a durable write) and steps the engine
    again with ``Event(callback_position=..., callback_existing=...)``, so the
    caller hears the confirmation only once the request is stored.
    """

    department: str
    phone: str
    lang: str
    reason_recording_sid: str = ""
    reason_recording_url: str = ""
    mobile: str = ""  # the caller's keypad answer to "is this a mobile phone, for a text?": yes, no, or ""


@dataclass(frozen=True)
class CancelCallback:
    """Effect: the caller cancels their callback ``callback_id`` (the one requested from ``phone``).

    Performed by the web layer like RequestCallback; the engine is stepped again with
    ``Event(callback_cancelled=...)``: True once it is out of line, False if it was no longer open.
    """

    callback_id: str
    phone: str


@dataclass(frozen=True)
class SaveVoicemail:
    """Effect: keep a recorded voicemail and make it a callback request in its department.

    Performed by the web layer like RequestCallback (the recording status
    callback does the same, whichever comes first); the engine is stepped again
    with ``Event(voicemail_saved=True)``.
    """

    recording_sid: str
    department: str
    lang: str
    duration: int = 0


@dataclass(frozen=True)
class Hangup:
    """End the call."""


@dataclass(frozen=True)
class RecordAnswer:
    """Note: the patient answered question ``field`` with ``value`` (follow-up calls)."""

    field: str
    value: str


@dataclass(frozen=True)
class OptOut:
    """Note: put the called number on the do-not-call list, at once (follow-up calls)."""


@dataclass(frozen=True)
class AskCallback:
    """Note: the patient wants a call from ``department`` (e.g. a nurse); file a callback request."""

    department: str
    lang: str


Action = (
    Prompt | Gather | Dial | Record | Hangup | Music | RequestCallback | CancelCallback | SaveVoicemail | RecordAnswer
    | OptOut | AskCallback
)
WAITING_ACTIONS = (Gather, Dial, Record, Hangup, RequestCallback, CancelCallback, SaveVoicemail)
EFFECTS = (RequestCallback, CancelCallback, SaveVoicemail)
# Notes need no answer: the web layer carries them out (durably) before it renders the reply,
# and drops them from what the caller hears. The flow goes on without waiting.
NOTES = (RecordAnswer, OptOut, AskCallback)


@dataclass(frozen=True)
class Event:
    """What happened since the last reply. Fields not relevant stay empty."""

    digits: str = ""
    speech: str = ""
    confidence: float = 0.0
    dial_status: str = ""
    recording_url: str = ""
    recording_duration: int = 0
    recording_sid: str = ""
    record_empty: bool = False
    callback_position: int = 0  # result of a RequestCallback effect
    callback_existing: bool = False
    callback_cancelled: bool = False  # result of a CancelCallback effect
    voicemail_saved: bool = False  # result of a SaveVoicemail effect

    @property
    def is_empty(self) -> bool:
        return not self.digits and not self.speech.strip()


def _no_wait(department: str) -> int:
    return 0


def _first_in_line(department: str, call_key: str) -> int:
    return 1


class InLine(Protocol):
    """A caller's callback already in line (``ivr.store.callback_types.InLine`` is one)."""

    id: str
    department: str
    phone: str
    lang: str
    position: int  # 1 = next
    wait_seconds: int  # the estimate at that place, as an offer would say it


def _nobody_in_line(phone: str) -> InLine | None:
    return None


@dataclass(frozen=True)
class Context:
    """The world outside the flow at the moment of a step (read-only inputs)."""

    now: dt.datetime
    schedule: Schedule
    desks: Mapping[str, str]  # desk id -> E.164 number
    region: str = "US"  # for phone numbers keyed in without a country code
    callback_regions: frozenset[str] = frozenset()  # countries callbacks may go to (empty: ``region`` only)
    long_wait_seconds: int = 300  # transfers with on_long_wait offer a callback above this
    wait_seconds: Callable[[str], int] = _no_wait  # department -> estimated wait
    # (department, call key) -> this call's place among callers holding for it
    hold_position: Callable[[str, str], int] = _first_in_line
    call_key: str = ""  # identifies the call to ``hold_position`` (the CallSid)
    # caller's number -> their callback already in line, if any (a ``returning`` node asks)
    in_line: Callable[[str], InLine | None] = _nobody_in_line
    languages: frozenset[str] = frozenset()  # languages calls may switch to (the clinic's voices)
    # desk id -> its own hours, for desks that keep them (a transfer outside them goes on as if unanswered)
    desk_schedules: Mapping[str, Schedule] = field(default_factory=dict)
    texts: bool = False  # texts to patients are set up (ivr.texts): a callback asks whether the phone takes them


@dataclass
class CallState:
    """Per-call state, stored in Redis by CallSid between webhooks."""

    flow: str
    version: str
    node: str
    lang: str
    seq: int = 0
    tries: int = 0
    path: list[str] = field(default_factory=list)
    outcome: str = ""
    caller: str = ""  # the caller's number (From); kept for callbacks, never logged
    data: dict[str, str] = field(default_factory=dict)  # the current node's own memory

    def to_dict(self) -> dict:
        """A plain copy (for JSON); by hand: ``dataclasses.asdict`` took a tenth of a millisecond per webhook."""
        return {
            "flow": self.flow, "version": self.version, "node": self.node, "lang": self.lang, "seq": self.seq,
            "tries": self.tries, "path": list(self.path), "outcome": self.outcome, "caller": self.caller,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "CallState":
        return cls(
            flow=str(data["flow"]),
            version=str(data["version"]),
            node=str(data["node"]),
            lang=str(data["lang"]),
            seq=int(data.get("seq", 0)),
            tries=int(data.get("tries", 0)),
            path=[str(p) for p in data.get("path", [])],
            outcome=str(data.get("outcome", "")),
            caller=str(data.get("caller", "")),
            data={str(k): str(v) for k, v in (data.get("data") or {}).items()},
        )

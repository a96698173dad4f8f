"""What the engine says to a caller (actions), what the caller does (events),
and the per-call state kept between webhooks.

Actions are abstract: ``ivr.voice.twiml`` renders them as TwiML, the terminal
phone and the admin "try it" phone show them as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Mapping

from ivr.hours import Schedule


@dataclass(frozen=True)
class Prompt:
    """Speak (or play the recording of) prompt ``id`` in ``lang``."""

    id: str
    lang: str


@dataclass(frozen=True)
class Gather:
    """Play prompts and wait for keys or speech."""

    prompts: tuple[Prompt, ...]
    lang: str  # language the speech recogniser listens for
    timeout: int = 6
    num_digits: int = 1
    hints: tuple[str, ...] = ()
    speech: bool = True


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


@dataclass(frozen=True)
class Hangup:
    """End the call."""


Action = Prompt | Gather | Dial | Record | Hangup
WAITING_ACTIONS = (Gather, Dial, Record, Hangup)


@dataclass(frozen=True)
class Event:
    """What happened since the last reply. Fields not relevant stay empty."""

    digits: str = ""
    speech: str = ""
    confidence: float = 0.0
    dial_status: str = ""
    recording_url: str = ""
    recording_duration: int = 0
    record_empty: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.digits and not self.speech.strip()


@dataclass(frozen=True)
class Context:
    """The world outside the flow at the moment of a step."""

    now: dt.datetime
    schedule: Schedule
    desks: Mapping[str, str]  # desk id -> E.164 number


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

    def to_dict(self) -> dict:
        return asdict(self)

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
        )

"""The schema of a flow file: one pydantic model per node kind.

A flow is plain data (YAML). These models check its shape; the graph rules
(targets, reachability, silence, loops, prompts) live in ``validate``.
New node kinds (callback offers, surveys) add a model here and a behaviour in
``nodes``; nothing else needs to know about them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

NODE_ID = r"^[a-z][a-z0-9_]{0,63}$"
KEYS = set("0123456789*#")

Keywords = Union[list[str], dict[str, list[str]]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_key(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value)
    if len(value) != 1 or value not in KEYS:
        raise ValueError(f"{value!r} is not a phone key (0-9, * or #)")
    return value


Key = Annotated[str | None, BeforeValidator(_check_key)]


class Choice(_Strict):
    """Something a caller can choose by key or by spoken keywords.

    ``keywords`` is either one list for every language or a list per language.
    """

    digit: Key = None
    keywords: Keywords = Field(default_factory=list)

    def keywords_for(self, lang: str) -> list[str]:
        if isinstance(self.keywords, dict):
            return list(self.keywords.get(lang, ()))
        return list(self.keywords)

    def all_keywords(self) -> list[str]:
        if isinstance(self.keywords, dict):
            return [k for words in self.keywords.values() for k in words]
        return list(self.keywords)


class MenuOption(Choice):
    next: str | None = None
    # Choosing it switches the call to this language (e.g. "Para español, oprima 9" in an English menu),
    # then goes to ``next``; the menu offers it in that language with its ``language_prompt``.
    language: str | None = None
    # Follow-up calls (ivr.voice.followup) act on these; other calls ignore them.
    answer: str | None = Field(default=None, max_length=40)  # recorded under the menu's ``field``
    opt_out: bool = False  # put the called number on the do-not-call list
    callback: str | None = None  # a department: file a callback request for the patient


class SayNode(_Strict):
    """Play one or more prompts, then go on."""

    type: Literal["say"]
    prompts: list[str] = Field(min_length=1)
    next: str | None = None


class MenuNode(_Strict):
    """Ask a question; the caller answers by key press or spoken keyword."""

    type: Literal["menu"]
    prompt: str
    options: list[MenuOption] = Field(min_length=1)
    # Played once on arrival, inside the menu's Gather (keys and speech work during it), after the
    # language offers and before ``prompt``: e.g. the emergency notice. Not repeated on retries or "*".
    intro: list[str] = Field(default_factory=list)
    language_prompt: str = "language_offer"  # offers each option with a ``language``, in that language
    repeat_digit: Key = "*"
    retries: int = Field(default=2, ge=0, le=5)
    # Silences heard again before ``on_failure`` (default: ``retries``); 0: a silent caller goes on at once,
    # e.g. to a person ("or stay on the line").
    no_input_retries: int | None = Field(default=None, ge=0, le=5)
    timeout: int = Field(default=6, ge=1, le=30)
    no_input_prompt: str = "no_input"
    invalid_prompt: str = "invalid_choice"
    failure_prompt: str | None = None
    on_failure: str | None = None
    field: str | None = Field(default=None, pattern=NODE_ID)  # follow-up answers: the question's name



class LanguageOption(Choice):
    language: str


class LanguageNode(_Strict):
    """Offer each language in that language; no answer keeps the current one."""

    type: Literal["language"]
    prompt: str
    options: list[LanguageOption] = Field(min_length=1)
    timeout: int = Field(default=4, ge=1, le=30)
    next: str | None = None


class TransferNode(_Strict):
    """Ring a desk; if nobody answers, go on to another node.

    With ``on_long_wait``, a caller whose estimated wait for the desk's
    department exceeds the clinic's threshold goes there (a callback offer)
    before the desk is rung.
    """

    type: Literal["transfer"]
    desk: str | None = None
    number: str | None = None
    prompt: str | None = None
    timeout: int = Field(default=25, ge=5, le=120)
    on_no_answer: str | None = None
    on_busy: str | None = None
    on_long_wait: str | None = None
    long_wait_minutes: int | None = Field(default=None, ge=0, le=240)  # default: the clinic's setting


class HoursNode(_Strict):
    """Branch on the clinic's business hours and holidays."""

    type: Literal["hours"]
    open: str | None = None
    closed: str | None = None
    holiday: str | None = None


class VoicemailNode(_Strict):
    """Record a message for a department's queue."""

    type: Literal["voicemail"]
    prompt: str
    department: str
    max_length: int = Field(default=120, ge=10, le=600)
    finish_on_key: str = "#"
    done_prompt: str = "voicemail_thanks"
    empty_prompt: str = "voicemail_empty"


class CallbackOption(Choice):
    """An answer to a callback offer: ``callback: true`` keeps the caller's place, else ``next``."""

    callback: bool = False
    next: str | None = None


class CallbackNode(_Strict):
    """Offer to keep the caller's place in line and call back (or hold, or voicemail).

    Choosing the callback confirms the caller's number (or takes another one,
    checked as a phone number), optionally records a short reason, stores the
    request, and tells the caller their place in line.
    """

    type: Literal["callback"]
    department: str
    prompt: str = "callback_offer"  # may say {minutes}
    options: list[CallbackOption] = Field(min_length=1)
    ask_reason: bool = True
    retries: int = Field(default=2, ge=0, le=5)
    timeout: int = Field(default=6, ge=1, le=30)
    no_input_prompt: str = "no_input"
    invalid_prompt: str = "invalid_choice"
    confirm_number_prompt: str = "callback_confirm_number"  # {last4}
    enter_number_prompt: str = "callback_enter_number"
    readback_prompt: str = "callback_readback"  # {digits}
    bad_number_prompt: str = "callback_bad_number"
    not_allowed_prompt: str = "callback_number_not_allowed"  # premium-rate, shared-cost, abroad...
    reason_prompt: str = "callback_reason"
    # When texts are set up: "if this is a mobile phone, press 1 for a text" (the number type when the
    # carrier lookup cannot tell; ivr.texts). False: never asked.
    ask_mobile: bool = True
    mobile_prompt: str = "callback_mobile"
    confirmed_prompt: str = "callback_confirmed"  # {position} {minutes} {last4}
    already_waiting_prompt: str = "callback_already_waiting"  # {position} {last4}
    on_failure: str | None = None


class ReturningNode(_Strict):
    """A caller whose number already has a callback in line hears so on arrival and keeps it or cancels it.

    Callers with none go straight on to ``next``, hearing nothing. Keeping it (``keep_digit`` or
    "keep") confirms their place (``kept_prompt``) and ends the call; cancelling it (``cancel_digit`` or
    "cancel") takes it out of line, says ``cancelled_prompt`` and goes on to ``next``. Silence keeps it
    and goes on to ``on_no_input`` (default ``next``) at once; a wrong answer after ``retries`` to ``next``. Said in the callback's
    language when the call can speak it.
    """

    type: Literal["returning"]
    prompt: str = "callback_returning"  # may say {position} {minutes}
    keep_digit: Key = "1"
    cancel_digit: Key = "2"
    retries: int = Field(default=1, ge=0, le=5)
    timeout: int = Field(default=5, ge=1, le=30)
    invalid_prompt: str = "invalid_choice"
    kept_prompt: str = "callback_kept"  # may say {position} {minutes} {last4}
    cancelled_prompt: str = "callback_cancelled"
    next: str | None = None
    # Where a caller who says and presses nothing goes, the callback kept (default ``next``): e.g. straight to
    # a person, so a silent returning caller is not made to hear the whole menu first.
    on_no_input: str | None = None


class HoldNode(_Strict):
    """Keep holding: announce the caller's place, play hold music, ring the desk again."""

    type: Literal["hold"]
    desk: str
    prompt: str = "hold_position"  # may say {position}
    ring_seconds: int = Field(default=20, ge=5, le=120)
    rounds: int = Field(default=5, ge=1, le=30)
    on_timeout: str | None = None


class HangupNode(_Strict):
    """Say goodbye and end the call."""

    type: Literal["hangup"]
    prompt: str | None = None


class GotoNode(_Strict):
    """Jump to another node."""

    type: Literal["goto"]
    next: str | None = None


Node = Annotated[
    Union[
        SayNode, MenuNode, LanguageNode, TransferNode, HoursNode, VoicemailNode, HangupNode, GotoNode,
        CallbackNode, HoldNode, ReturningNode,
    ],
    Field(discriminator="type"),
]


class FlowDocument(_Strict):
    """The top level of a flow file."""

    name: str = Field(pattern=NODE_ID)
    description: str = ""
    start: str
    languages: list[str] = Field(min_length=1)
    default_language: str | None = None
    nodes: dict[str, Node] = Field(min_length=1)


@dataclass(frozen=True)
class Flow:
    """A validated flow, ready to run."""

    name: str
    version: str
    start: str
    languages: tuple[str, ...]
    default_language: str
    nodes: dict[str, object]
    source: str = ""
    description: str = ""
    node_lines: dict[str, int] = field(default_factory=dict)
    text: str = ""

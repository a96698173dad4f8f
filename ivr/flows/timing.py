"""How long a caller waits: seconds from pickup to a person, a callback offer or a voicemail.

The figures come from the real engine (``ivr.flows.engine``): a simulated caller answers each
question the flow asks, so retries, sorry prompts, failure prompts, language switches and the
Gathers' timeouts count exactly as a call would meet them. Each prompt lasts as long as its text
(filled in as a call fills it) takes to say at a stated speaking rate:

    English  150 words per minute: the average conversational rate of US English speakers
             (National Center for Voice and Speech); a clear telephone voice is no faster.
    Spanish  140 words per minute: Spanish is said with more syllables per second than English
             (7.82 against 6.19, Pellegrino, Coupé & Marsico, "A cross-language perspective on
             speech information rate", Language 87(3), 2011) but its words are longer (about 2.0
             syllables against 1.45), so the same pace in words is about 8 % slower.

A number of three or more digits is read digit by digit ("911": three words). A recording is
assumed to last as long as its text. Twilio's time to fetch each webhook is not counted.

Callers (``CALLERS``):

    silent      says and presses nothing: each question plays to its end, then waits its timeout;
    invalid     presses a key no option uses as soon as each question has been said;
    first_time  listens to the whole first menu, then presses the key of one of its options
                (one path per option); the figures are upper bounds for a caller who presses
                as soon as their option is named.

A caller in another language than the flow's default first chooses it: as soon as the offer in
their language has been said (the menu's ``language_prompt`` or a language node's offer), they
press its key; then they behave as above.

"Reached" is when the desk's phone starts ringing (a Dial, after the "connecting you" prompt),
when a callback offer starts to speak, or when the voicemail tone sounds. ``first_choice`` is
when the first menu in the caller's language has been said to its end (greeting included);
``keys_from`` is when the call starts listening for keys and speech (0.0: from the first word).

No Flask, no I/O: give it a loaded flow and the prompt catalog.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from .actions import CallState, Context, Dial, Event, Gather, Hangup, Prompt, Record
from .engine import Reply, start, step
from .model import CallbackNode, Flow, LanguageNode, MenuNode

WORDS_PER_MINUTE: dict[str, float] = {"en": 150.0, "es": 140.0}
DEFAULT_WORDS_PER_MINUTE = 150.0  # a language without its own rate
CALLERS = ("silent", "invalid", "first_time")
MAX_QUESTIONS = 20  # a caller still not through after this many questions is "never" reached

_TOKEN = re.compile(r"\w+(?:'\w+)?")


def words(text: str) -> int:
    """Words as spoken: 'Press 1.' 2, 'dial 911' 4 (digit by digit from three digits on)."""
    count = 0
    for token in _TOKEN.findall(text):
        count += len(token) if token.isdigit() and len(token) >= 3 else 1
    return count


def speaking_seconds(text: str, lang: str, rates: Mapping[str, float] = WORDS_PER_MINUTE) -> float:
    return words(text) * 60.0 / rates.get(lang, DEFAULT_WORDS_PER_MINUTE)


@dataclass(frozen=True)
class Heard:
    """One stretch of the call: a prompt said, a wait for the caller, a key pressed, the goal reached."""

    start: float
    end: float
    what: str

    def __str__(self) -> str:
        return f"{self.start:5.1f}-{self.end:5.1f} s  {self.what}"


@dataclass(frozen=True)
class CallPath:
    """One simulated caller's way through the flow."""

    caller: str  # silent | invalid | first_time
    lang: str  # the language the caller speaks (chosen when it is not the default)
    when: str  # a label for the time of the call: open, closed, holiday...
    seconds: float  # pickup -> reached (math.inf: never)
    reached: str  # "person: front_desk", "callback offer: nurse", "voicemail: billing", "goodbye", "never"
    first_choice: float  # pickup -> the first menu in the caller's language said to its end (inf: no menu)
    keys_from: float  # pickup -> keys and speech are first taken (inf: the call asks nothing on this path)
    choice: str = ""  # first_time: the key pressed at the first menu
    in_language: bool = True  # False: the caller's language was never offered on this path
    timeline: tuple[Heard, ...] = ()

    @property
    def reached_person(self) -> bool:
        return self.reached.startswith(("person:", "callback offer:"))

    def describe(self) -> str:
        what = f"{self.caller}{' ' + self.choice if self.choice else ''} caller ({self.lang}, {self.when})"
        if not self.in_language:
            what += f", never offered {self.lang}"
        menu = f"first menu said by {self.first_choice:.1f} s" if math.isfinite(self.first_choice) else "no menu"
        keys = f"keys work from {self.keys_from:.1f} s" if math.isfinite(self.keys_from) else "no question asked"
        head = f"{what}: {self.reached} after {self.seconds:.1f} s; {menu}; {keys}"
        return "\n".join([head] + ["    " + str(h) for h in self.timeline])


class _AnyDesk(dict):
    """Desk numbers: the clinic's, or a stand-in, so any flow can be timed without ringing anyone."""

    def __missing__(self, key: str) -> str:
        return "+12025550100"


@dataclass
class _Run:
    flow: Flow
    ctx: Context
    say: Callable[[Prompt], str]
    rates: Mapping[str, float]
    lang: str
    caller: str
    choice: str = ""  # first_time: the key to press at the first menu in ``lang``
    clock: float = 0.0
    timeline: list[Heard] = field(default_factory=list)
    first_choice: float = math.inf
    keys_from: float = math.inf
    reached: str = ""
    at: float = math.inf
    _spoke: bool = False  # the call was in the caller's language at some point

    def _prompt(self, prompt: Prompt) -> float:
        seconds = speaking_seconds(self.say(prompt), prompt.lang, self.rates)
        self.timeline.append(Heard(self.clock, self.clock + seconds, f"{prompt.id} ({prompt.lang})"))
        self.clock += seconds
        return seconds

    def _reach(self, what: str) -> None:
        if not self.reached:
            self.reached, self.at = what, self.clock
            self.timeline.append(Heard(self.clock, self.clock, f"reached {what}"))

    @property
    def in_language(self) -> bool:
        return self._spoke

    def hear(self, reply: Reply, state: CallState) -> Gather | None:
        """Play a reply; return its Gather if the caller must answer (and nothing was reached)."""
        self._spoke = self._spoke or state.lang == self.lang
        node = self.flow.nodes.get(state.node)
        for action in reply.actions:
            if isinstance(action, Prompt):
                self._prompt(action)
            elif isinstance(action, Gather):
                self.keys_from = min(self.keys_from, self.clock)
                if isinstance(node, CallbackNode):
                    for prompt in action.prompts[:-1]:
                        self._prompt(prompt)
                    self._reach(f"callback offer: {node.department}")
                    return None
                return action
            elif isinstance(action, Dial):
                self._reach(f"person: {action.desk or action.number}")
            elif isinstance(action, Record):
                self._reach(f"voicemail: {action.department}")
            elif isinstance(action, Hangup):
                self._reach("goodbye")
            if self.reached:
                return None
        return None

    def answer(self, gather: Gather, state: CallState) -> Event:
        """Play the Gather's prompts as far as the caller listens; the caller's answer."""
        node = self.flow.nodes.get(state.node)
        wanted = self._language_key(node, state)
        if wanted is not None:  # choose the caller's language as soon as it is offered
            digit, offer = wanted
            said = [(p.id, p.lang) for p in gather.prompts]
            last = said.index(offer) if offer in said else len(said) - 1  # not said apart: wait for the end
            for prompt in gather.prompts[: last + 1]:
                self._prompt(prompt)
            return self._press(digit, f"chooses {self.lang}")
        for prompt in gather.prompts:
            self._prompt(prompt)
        is_menu = isinstance(node, MenuNode) and state.lang == self.lang
        if is_menu and math.isinf(self.first_choice):
            self.first_choice = self.clock
            if self.caller == "first_time":
                return self._press(self.choice, "first choice")
        if self.caller == "invalid" and node is not None:
            return self._press(_invalid_key(node), "a key that is not a choice")
        self.timeline.append(Heard(self.clock, self.clock + gather.timeout, f"silence ({gather.timeout} s timeout)"))
        self.clock += gather.timeout
        return Event()

    def _press(self, digit: str, why: str) -> Event:
        self.timeline.append(Heard(self.clock, self.clock, f"presses {digit}: {why}"))
        return Event(digits=digit)

    def _language_key(self, node, state: CallState) -> tuple[str, tuple[str, str]] | None:
        """(key, (prompt id, language) of the offer) when this question offers the caller's language."""
        if state.lang == self.lang:
            return None
        if isinstance(node, MenuNode):
            option = next((o for o in node.options if o.language == self.lang and o.digit), None)
            offer = (node.language_prompt, self.lang)
        elif isinstance(node, LanguageNode):
            option = next((o for o in node.options if o.language == self.lang and o.digit), None)
            offer = (node.prompt, self.lang)
        else:
            return None
        if option is None:
            return None
        return option.digit, offer


def _invalid_key(node) -> str:
    used = {o.digit for o in getattr(node, "options", ()) if o.digit}
    used.add(getattr(node, "repeat_digit", None))
    return next(k for k in "0123456789#" if k not in used)


def _run(flow: Flow, ctx: Context, say: Callable[[Prompt], str], rates: Mapping[str, float],
         caller: str, lang: str, when: str, choice: str = "") -> CallPath:
    run = _Run(flow, ctx, say, rates, lang, caller, choice)
    reply, state = start(flow, ctx, caller="+12025550123")
    for _ in range(MAX_QUESTIONS):
        gather = run.hear(reply, state)
        if gather is None:
            break
        event = run.answer(gather, state)
        reply, state = step(flow, state, event, ctx)
    return CallPath(
        caller=caller, lang=lang, when=when, seconds=run.at, reached=run.reached or "never",
        first_choice=run.first_choice, keys_from=run.keys_from, choice=choice,
        in_language=run.in_language, timeline=tuple(run.timeline),
    )


def _first_menu_keys(flow: Flow, ctx: Context, say, rates, lang: str) -> list[str]:
    """The keys of the first menu a caller in ``lang`` meets (language switches left out)."""
    probe = _Run(flow, ctx, say, rates, lang, "silent")
    reply, state = start(flow, ctx, caller="+12025550123")
    for _ in range(MAX_QUESTIONS):
        gather = probe.hear(reply, state)
        if gather is None:
            return []
        node = flow.nodes.get(state.node)
        if isinstance(node, MenuNode) and state.lang == lang:
            return [o.digit for o in node.options if o.digit and not o.language]
        reply, state = step(flow, state, probe.answer(gather, state), ctx)
    return []


def time_to_person(
    flow: Flow,
    prompts,
    times: Mapping[str, dt.datetime],
    schedule,
    desks: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    languages: Iterable[str] | None = None,
    rates: Mapping[str, float] = WORDS_PER_MINUTE,
    wait_seconds: Callable[[str], int] = lambda department: 0,
    in_line: Callable[[str], object] | None = None,
    desk_schedules: Mapping[str, object] | None = None,
) -> list[CallPath]:
    """Every caller of ``CALLERS`` in every language of the flow at every labelled time of ``times``
    (e.g. {"open": a Tuesday at 10, "closed": a Tuesday at 22}), on the clinic's ``schedule``.

    ``prompts``: the prompt catalog (``ivr.clinic.prompts.load_prompts``); ``variables`` fill its
    placeholders as calls do ({"clinic_name": ...}); ``wait_seconds``: the desks' estimated waits
    (0: free, so transfers ring; long: a transfer with ``on_long_wait`` offers a callback first);
    ``in_line``: the caller's callback already in line (``Context.in_line``; default none: a new caller);
    ``desk_schedules``: the desks that keep their own hours (``ClinicSettings.desk_schedules``): a transfer to
    one of them outside its hours goes where a call goes then (its ``on_no_answer``), not to a ringing phone.
    """
    paths: list[CallPath] = []
    for when, now in times.items():
        ctx = Context(now=now, schedule=schedule, desks=_AnyDesk(desks or {}), wait_seconds=wait_seconds,
                      languages=frozenset(flow.languages), desk_schedules=dict(desk_schedules or {}),
                      **({"in_line": in_line} if in_line else {}))
        say = prompt_text(prompts, variables, schedule, now)
        for lang in languages or flow.languages:
            paths.append(_run(flow, ctx, say, rates, "silent", lang, when))
            paths.append(_run(flow, ctx, say, rates, "invalid", lang, when))
            keys = _first_menu_keys(flow, ctx, say, rates, lang)
            if not keys:  # no menu in this language: the first-time caller is a silent one
                paths.append(_run(flow, ctx, say, rates, "first_time", lang, when))
            for key in keys:
                paths.append(_run(flow, ctx, say, rates, "first_time", lang, when, choice=key))
    return paths


def prompt_text(prompts, variables: Mapping[str, str] | None = None, schedule=None,
                now: dt.datetime | None = None) -> Callable[[Prompt], str]:
    """What a call at ``now`` says for a prompt: its text filled with ``variables``, the prompt's own
    values and, where the clinic's spoken hours exist (``ivr.clinic.spoken_hours``), those at ``now``."""
    try:
        from ivr.clinic.spoken_hours import prompt_values
    except ImportError:  # pragma: no cover - a checkout without spoken hours
        prompt_values = None

    def say(prompt: Prompt) -> str:
        values: dict = {**(variables or {}), **dict(prompt.values)}
        if prompt_values is not None and schedule is not None:
            values = prompt_values(schedule, now, prompt.lang, values)
        return prompts.text(prompt.lang, prompt.id, values) or ""

    return say

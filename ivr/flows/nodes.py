"""Behaviour of each node kind, and the facts about it that validation needs.

A kind answers four questions:
- ``edges``: where can the call go from here, and does it need the caller to
  act first? (A missing required edge is a path that ends in silence.)
- ``prompts``: which prompt ids it speaks, and in which languages.
- ``enter``: what happens when the call arrives at the node.
- ``handle``: what happens when the caller (or Twilio) answers the node.
Kinds live in ``KINDS``, keyed by the ``type`` field of the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import phonenumbers

from ivr.clinic.hours import OpenStatus

from . import matching
from .actions import (
    Action,
    AskCallback,
    CallState,
    CancelCallback,
    Context,
    Dial,
    Event,
    Gather,
    Hangup,
    Music,
    OptOut,
    Prompt,
    Record,
    RecordAnswer,
    RequestCallback,
    SaveVoicemail,
)
from .model import (
    CallbackNode,
    Choice,
    GotoNode,
    HoldNode,
    HangupNode,
    HoursNode,
    LanguageNode,
    MenuNode,
    ReturningNode,
    SayNode,
    TransferNode,
    VoicemailNode,
)


@dataclass(frozen=True)
class Edge:
    """A way out of a node. ``target`` None means the field is missing."""

    field: str
    target: str | None
    needs_input: bool  # taken only after the caller pressed or said something
    silence: str = ""  # message if missing: why the caller would hear silence


@dataclass
class Transition:
    """Result of entering or handling a node."""

    actions: list[Action] = field(default_factory=list)
    goto: str | None = None  # continue at this node now
    outcome: str = ""  # set when the call reaches its end (person, voicemail, goodbye)

    @property
    def waits(self) -> bool:
        return self.goto is None


class Kind(Protocol):
    def edges(self, node) -> list[Edge]: ...
    def prompts(self, node, languages: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]: ...
    def enter(self, node, call: CallState, ctx: Context) -> Transition: ...
    def handle(self, node, call: CallState, event: Event, ctx: Context) -> Transition: ...


def _no_event(node, call, event, ctx) -> Transition:  # pragma: no cover - guarded by engine
    raise RuntimeError(f"node kind {node.type!r} does not wait for the caller")


def choose_option(options: Sequence[Choice], event: Event, lang: str):
    """The option a caller picked by key, spoken digit or keyword, or None."""
    digit = event.digits[:1] or matching.spoken_digit(event.speech, (lang,))
    if digit:
        return next((o for o in options if o.digit == digit), None)
    return matching.best_match(event.speech, [(o, o.keywords_for(lang)) for o in options])


class Say:
    def edges(self, node: SayNode):
        return [Edge("next", node.next, False, "nothing follows these prompts")]

    def prompts(self, node: SayNode, languages):
        return [(p, languages) for p in node.prompts]

    def enter(self, node: SayNode, call, ctx):
        return Transition([Prompt(p, call.lang) for p in node.prompts], goto=node.next)

    handle = staticmethod(_no_event)


class Goto:
    def edges(self, node: GotoNode):
        return [Edge("next", node.next, False, "it does not say where to go")]

    def prompts(self, node, languages):
        return []

    def enter(self, node: GotoNode, call, ctx):
        return Transition(goto=node.next)

    handle = staticmethod(_no_event)


class Hours:
    def edges(self, node: HoursNode):
        edges = [
            Edge("open", node.open, False, "callers during opening hours have nowhere to go"),
            Edge("closed", node.closed, False, "callers after hours have nowhere to go"),
        ]
        if node.holiday is not None:
            edges.append(Edge("holiday", node.holiday, False))
        return edges

    def prompts(self, node, languages):
        return []

    def enter(self, node: HoursNode, call, ctx: Context):
        status = ctx.schedule.status(ctx.now)
        if status is OpenStatus.OPEN:
            return Transition(goto=node.open)
        if status is OpenStatus.HOLIDAY and node.holiday:
            return Transition(goto=node.holiday)
        return Transition(goto=node.closed)

    handle = staticmethod(_no_event)


class Menu:
    def edges(self, node: MenuNode):
        edges = [
            Edge(f"options[{i}].next", opt.next, True, "choosing this option leads nowhere")
            for i, opt in enumerate(node.options)
        ]
        edges.append(
            Edge(
                "on_failure",
                node.on_failure,
                False,
                "a caller who stays silent or keeps pressing wrong keys has nowhere to go",
            )
        )
        return edges

    def prompts(self, node: MenuNode, languages):
        ids = [*node.intro, node.prompt, node.no_input_prompt, node.invalid_prompt]
        if node.failure_prompt:
            ids.append(node.failure_prompt)
        said = [(p, languages) for p in ids]
        offered = _offered(node)
        if offered:
            said.append((node.language_prompt, offered))
        return said

    @staticmethod
    def _words(option, lang: str) -> list[str]:
        # A language option answers to its words in any language: the caller does not speak this one yet.
        return option.all_keywords() if option.language else option.keywords_for(lang)

    def _gather(self, node: MenuNode, call: CallState, before: list[Prompt], arriving: bool = False) -> Gather:
        """Sorry (``before``), then each other language's offer in that language, the intro on arrival, the prompt."""
        hints = tuple(k for opt in node.options for k in self._words(opt, call.lang))
        offers = [Prompt(node.language_prompt, lang) for lang in _offered(node) if lang != call.lang]
        intro = [Prompt(p, call.lang) for p in node.intro] if arriving else []
        return Gather(
            prompts=tuple(before) + tuple(offers) + tuple(intro) + (Prompt(node.prompt, call.lang),),
            lang=call.lang,
            timeout=node.timeout,
            hints=hints,
        )

    def _choose(self, node: MenuNode, event: Event, lang: str):
        digit = event.digits[:1] or matching.spoken_digit(event.speech, (lang,))
        if digit:
            return next((o for o in node.options if o.digit == digit), None)
        return matching.best_match(event.speech, [(o, self._words(o, lang)) for o in node.options])

    def enter(self, node: MenuNode, call, ctx):
        return Transition([self._gather(node, call, [], arriving=True)])

    def handle(self, node: MenuNode, call: CallState, event: Event, ctx):
        repeat = node.repeat_digit
        if repeat and (
            event.digits == repeat or matching.spoken_digit(event.speech, (call.lang,)) == repeat
        ):
            return Transition([self._gather(node, call, [])])
        option = None if event.is_empty else self._choose(node, event, call.lang)
        if option is not None:
            if option.language:
                call.lang = option.language
            return Transition(self._notes(node, option, call), goto=option.next)
        call.tries += 1
        silences = int(call.data.get("silences", "0")) + event.is_empty
        call.data["silences"] = str(silences)
        silence_limit = node.retries if node.no_input_retries is None else node.no_input_retries
        if call.tries > node.retries or (event.is_empty and silences > silence_limit):
            said = [Prompt(node.failure_prompt, call.lang)] if node.failure_prompt else []
            return Transition(said, goto=node.on_failure)
        sorry = node.no_input_prompt if event.is_empty else node.invalid_prompt
        return Transition([self._gather(node, call, [Prompt(sorry, call.lang)])])

    @staticmethod
    def _notes(node: MenuNode, option, call: CallState) -> list[Action]:
        notes: list[Action] = []
        if node.field and option.answer is not None:
            notes.append(RecordAnswer(node.field, option.answer))
        if option.opt_out:
            notes.append(OptOut())
        if option.callback:
            notes.append(AskCallback(option.callback, call.lang))
        return notes


def _offered(node: MenuNode) -> tuple[str, ...]:
    """The languages a menu's options switch to, in order."""
    return tuple(dict.fromkeys(o.language for o in node.options if o.language))


class Language:
    def edges(self, node: LanguageNode):
        # Taken with or without input: silence keeps the current language.
        return [Edge("next", node.next, False, "nothing follows the language choice")]

    def prompts(self, node: LanguageNode, languages):
        return [(node.prompt, tuple(o.language for o in node.options))]

    def enter(self, node: LanguageNode, call: CallState, ctx):
        return Transition(
            [
                Gather(
                    prompts=tuple(Prompt(node.prompt, o.language) for o in node.options),
                    lang=call.lang,
                    timeout=node.timeout,
                    hints=tuple(k for o in node.options for k in o.all_keywords()),
                )
            ]
        )

    def handle(self, node: LanguageNode, call: CallState, event: Event, ctx):
        langs = tuple(o.language for o in node.options)
        digit = event.digits[:1] or matching.spoken_digit(event.speech, langs)
        if digit:
            chosen = next((o for o in node.options if o.digit == digit), None)
        else:
            chosen = matching.best_match(event.speech, [(o, o.all_keywords()) for o in node.options])
        if chosen is not None:
            call.lang = chosen.language
        return Transition(goto=node.next)


class Transfer:
    def edges(self, node: TransferNode):
        edges = [
            Edge(
                "on_no_answer",
                node.on_no_answer,
                False,
                "if nobody answers, the caller would hear silence (add on_no_answer, e.g. voicemail)",
            )
        ]
        if node.on_busy is not None:
            edges.append(Edge("on_busy", node.on_busy, False))
        if node.on_long_wait is not None:
            edges.append(Edge("on_long_wait", node.on_long_wait, False))
        return edges

    def prompts(self, node: TransferNode, languages):
        return [(node.prompt, languages)] if node.prompt else []

    def enter(self, node: TransferNode, call: CallState, ctx: Context):
        if node.on_long_wait and node.desk:
            limit = ctx.long_wait_seconds if node.long_wait_minutes is None else node.long_wait_minutes * 60
            if ctx.wait_seconds(node.desk) > limit:
                return Transition(goto=node.on_long_wait)
        own_hours = ctx.desk_schedules.get(node.desk or "")
        if own_hours is not None and own_hours.status(ctx.now) != OpenStatus.OPEN and node.on_no_answer:
            return Transition(goto=node.on_no_answer)  # the desk is closed now: nobody would answer
        number = node.number or ctx.desks[node.desk or ""]
        said: list[Action] = [Prompt(node.prompt, call.lang)] if node.prompt else []
        return Transition(said + [Dial(number=number, timeout=node.timeout, desk=node.desk)])

    def handle(self, node: TransferNode, call: CallState, event: Event, ctx):
        status = event.dial_status
        if status in ("completed", "answered"):
            return Transition([Hangup()], outcome=f"answered:{node.desk or 'number'}")
        if status == "busy" and node.on_busy:
            return Transition(goto=node.on_busy)
        return Transition(goto=node.on_no_answer)


class Voicemail:
    def edges(self, node):
        return []  # a voicemail is an end: the message reaches a person later

    def prompts(self, node: VoicemailNode, languages):
        return [(p, languages) for p in (node.prompt, node.done_prompt, node.empty_prompt)]

    def enter(self, node: VoicemailNode, call: CallState, ctx):
        return Transition(
            [
                Prompt(node.prompt, call.lang),
                Record(node.max_length, node.finish_on_key, node.department, call.lang),
            ]
        )

    def handle(self, node: VoicemailNode, call: CallState, event: Event, ctx):
        if event.voicemail_saved:
            return Transition(
                [Prompt(node.done_prompt, call.lang), Hangup()],
                outcome=f"voicemail:{node.department}",
            )
        if event.record_empty or not event.recording_url or not event.recording_sid:
            return Transition(
                [Prompt(node.empty_prompt, call.lang), Hangup()], outcome="voicemail_empty"
            )
        return Transition(
            [SaveVoicemail(event.recording_sid, node.department, call.lang, event.recording_duration)]
        )


class HangupKind:
    def edges(self, node):
        return []

    def prompts(self, node: HangupNode, languages):
        return [(node.prompt, languages)] if node.prompt else []

    def enter(self, node: HangupNode, call: CallState, ctx):
        said: list[Action] = [Prompt(node.prompt, call.lang)] if node.prompt else []
        return Transition(said + [Hangup()], outcome="goodbye")

    handle = staticmethod(_no_event)


MINUTE_WORDS = {"en": ("minute", "minutes"), "es": ("minuto", "minutos")}


def wait_minutes(seconds: float) -> int:
    """A wait in whole minutes, as callers hear it and the console shows it (at least one minute).

    The one rounding of an estimate: the phone's "about 1 minute" and the console's "a new caller
    would wait about 1 min" are this figure, never a floor on one side and a round on the other.
    """
    return max(1, round(seconds / 60))


def minutes_phrase(seconds: int, lang: str) -> str:
    """A wait as the caller hears it: '1 minute', '12 minutos' (``wait_minutes``)."""
    minutes = wait_minutes(seconds)
    one, many = MINUTE_WORDS.get(lang, MINUTE_WORDS["en"])
    return f"{minutes} {one if minutes == 1 else many}"


def _spaced(digits: str) -> str:
    """'4567' -> '4 5 6 7', so text-to-speech reads digits one by one."""
    return " ".join(digits)


def _national_digits(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return "".join(c for c in number if c.isdigit())
    return str(parsed.national_number)


NOT_A_NUMBER = "not_a_number"
NOT_ALLOWED = "not_allowed"
# Number types a clinic never calls back: the call costs the clinic (premium rate, shared cost) or
# reaches no patient (pager, voicemail access, unknown). Toll-free, fixed, mobile and VoIP are fine.
REFUSED_TYPES = frozenset({
    phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.UAN, phonenumbers.PhoneNumberType.PAGER,
    phonenumbers.PhoneNumberType.VOICEMAIL, phonenumbers.PhoneNumberType.UNKNOWN,
})


def callback_number(raw: str, region: str, regions: frozenset[str] = frozenset()) -> tuple[str | None, str]:
    """(+E.164, "") if ``raw`` (caller ID or keyed digits) is a number the clinic may call back, else
    (None, why): NOT_A_NUMBER, or NOT_ALLOWED for premium-rate, shared-cost and similar numbers and
    for numbers outside ``regions`` (by default the clinic's own country, ``region``)."""
    raw = raw.strip()
    if not raw or not any(c.isdigit() for c in raw):
        return None, NOT_A_NUMBER  # anonymous, restricted, unknown caller ID
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, NOT_A_NUMBER
    if not phonenumbers.is_valid_number(parsed):
        return None, NOT_A_NUMBER
    if phonenumbers.number_type(parsed) in REFUSED_TYPES:
        return None, NOT_ALLOWED
    if phonenumbers.region_code_for_number(parsed) not in (regions or {region}):
        return None, NOT_ALLOWED
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), ""



YES = {"en": ("yes", "yeah", "correct", "right"), "es": ("si", "correcto", "claro")}
NO = {"en": ("no", "nope", "wrong", "different", "another"), "es": ("no", "otro", "otra", "diferente")}


class Callback:
    """A callback offer and the short dialogue that files the request.

    Stages (kept in ``call.data["stage"]``): offer -> confirm (caller ID) or
    enter (key in a number) -> readback -> reason (optional recording) ->
    placing (the RequestCallback effect) -> confirmation and goodbye.
    """

    # What this kind fills in, per prompt field (``Prompt.with_values`` below): a prompt said there may use
    # these in braces besides the ones every call has (validation checks prompts against this).
    values = {
        "prompt": frozenset({"minutes"}),
        "confirm_number_prompt": frozenset({"last4"}),
        "readback_prompt": frozenset({"digits"}),
        "confirmed_prompt": frozenset({"position", "minutes", "last4"}),
        "already_waiting_prompt": frozenset({"position", "last4"}),
    }

    def edges(self, node: CallbackNode):
        edges = [
            Edge(f"options[{i}].next", opt.next, True, "choosing this option leads nowhere")
            for i, opt in enumerate(node.options)
            if not opt.callback
        ]
        edges.append(Edge("on_failure", node.on_failure, False, "a caller who cannot answer has nowhere to go"))
        return edges

    def prompts(self, node: CallbackNode, languages):
        ids = [
            node.prompt, node.no_input_prompt, node.invalid_prompt, node.confirm_number_prompt,
            node.enter_number_prompt, node.readback_prompt, node.bad_number_prompt, node.not_allowed_prompt,
            node.confirmed_prompt, node.already_waiting_prompt,
        ]
        if node.ask_reason:
            ids.append(node.reason_prompt)
        if node.ask_mobile:
            ids.append(node.mobile_prompt)
        return [(p, languages) for p in ids]

    # Stages --------------------------------------------------------------

    def enter(self, node: CallbackNode, call: CallState, ctx: Context):
        call.data["stage"] = "offer"
        return Transition([self._offer(node, call, ctx, [])])

    def _offer(self, node: CallbackNode, call: CallState, ctx: Context, before: list[Prompt]) -> Gather:
        wait = ctx.wait_seconds(node.department)
        call.data["wait"] = str(wait)  # the confirmation repeats this figure (a request made since must not change it)
        offer = Prompt(node.prompt, call.lang).with_values(minutes=minutes_phrase(wait, call.lang))
        hints = tuple(k for opt in node.options for k in opt.keywords_for(call.lang))
        return Gather(tuple(before) + (offer,), call.lang, node.timeout, hints=hints)

    def _ask(self, node: CallbackNode, call: CallState, ctx: Context, stage: str, before: list[Prompt]) -> Transition:
        """Move to ``stage`` (or repeat it) and ask its question."""
        if call.data.get("stage") != stage:
            call.tries = 0
        call.data["stage"] = stage
        lang = call.lang
        if stage == "confirm":
            last4 = _national_digits(call.data["phone"], ctx.region)[-4:]
            ask = Prompt(node.confirm_number_prompt, lang).with_values(last4=_spaced(last4))
            hints = YES.get(lang, ()) + NO.get(lang, ())
            return Transition([Gather(tuple(before) + (ask,), lang, node.timeout, hints=hints)])
        if stage == "enter":
            ask = Prompt(node.enter_number_prompt, lang)
            return Transition([Gather(tuple(before) + (ask,), lang, timeout=10, num_digits=None, speech=False)])
        if stage == "readback":
            digits = _national_digits(call.data["phone"], ctx.region)
            ask = Prompt(node.readback_prompt, lang).with_values(digits=_spaced(digits))
            hints = YES.get(lang, ()) + NO.get(lang, ())
            return Transition([Gather(tuple(before) + (ask,), lang, node.timeout, hints=hints)])
        if stage == "mobile":
            ask = Prompt(node.mobile_prompt, lang)
            return Transition([Gather(tuple(before) + (ask,), lang, node.timeout, speech=False)])
        if stage == "reason":
            return Transition(
                list(before)
                + [Prompt(node.reason_prompt, lang), Record(30, "#", node.department, lang, purpose="callback_reason")]
            )
        # placing
        return Transition(
            list(before)
            + [
                RequestCallback(
                    department=node.department,
                    phone=call.data["phone"],
                    lang=lang,
                    reason_recording_sid=call.data.get("reason_sid", ""),
                    reason_recording_url=call.data.get("reason_url", ""),
                    mobile=call.data.get("mobile", ""),
                )
            ]
        )

    def _after_number(self, node: CallbackNode, call: CallState, ctx: Context) -> Transition:
        if ctx.texts and node.ask_mobile:
            return self._ask(node, call, ctx, "mobile", [])
        return self._after_mobile(node, call, ctx)

    def _after_mobile(self, node: CallbackNode, call: CallState, ctx: Context) -> Transition:
        return self._ask(node, call, ctx, "reason" if node.ask_reason else "placing", [])

    def _retry(self, node: CallbackNode, call: CallState, ctx: Context, event: Event, sorry: str | None = None):
        call.tries += 1
        if call.tries > node.retries:
            return Transition(goto=node.on_failure)
        sorry_id = sorry or (node.no_input_prompt if event.is_empty else node.invalid_prompt)
        before = [Prompt(sorry_id, call.lang)]
        stage = call.data.get("stage", "offer")
        if stage == "offer":
            return Transition([self._offer(node, call, ctx, before)])
        return self._ask(node, call, ctx, stage, before)

    def _yes_no(self, event: Event, lang: str) -> bool | None:
        """1 or "yes" -> True, 2 or "no" -> False, else None."""
        if event.digits:
            return {"1": True, "2": False}.get(event.digits[:1])
        return matching.best_match(event.speech, [(True, YES.get(lang, ())), (False, NO.get(lang, ()))])

    def handle(self, node: CallbackNode, call: CallState, event: Event, ctx: Context):
        stage = call.data.get("stage", "offer")
        if stage == "offer":
            option = None if event.is_empty else choose_option(node.options, event, call.lang)
            if option is None:
                return self._retry(node, call, ctx, event)
            if not option.callback:
                return Transition(goto=option.next)
            caller, why = callback_number(call.caller, ctx.region, ctx.callback_regions)
            if caller:
                call.data["phone"] = caller
                return self._ask(node, call, ctx, "confirm", [])
            before = [Prompt(node.not_allowed_prompt, call.lang)] if why == NOT_ALLOWED else []
            return self._ask(node, call, ctx, "enter", before)
        if stage in ("confirm", "readback"):
            answer = self._yes_no(event, call.lang)
            if answer is None:
                return self._retry(node, call, ctx, event)
            if answer:
                return self._after_number(node, call, ctx)
            return self._ask(node, call, ctx, "enter", [])
        if stage == "enter":
            number, why = callback_number(event.digits.rstrip("#*"), ctx.region, ctx.callback_regions) if event.digits else (None, "")
            if number is None:
                sorry = node.not_allowed_prompt if why == NOT_ALLOWED else node.bad_number_prompt
                return self._retry(node, call, ctx, event, None if event.is_empty else sorry)
            call.data["phone"] = number
            return self._ask(node, call, ctx, "readback", [])
        if stage == "mobile":  # 1: a mobile, text me; 2: no; silence or another key: not asked again
            call.data["mobile"] = {"1": "yes", "2": "no"}.get(event.digits[:1], "")
            return self._after_mobile(node, call, ctx)
        if stage == "reason":
            if event.recording_url and event.recording_sid and not event.record_empty:
                call.data["reason_sid"] = event.recording_sid
                call.data["reason_url"] = event.recording_url
            return self._ask(node, call, ctx, "placing", [])
        # placing: the effect's result
        last4 = _spaced(_national_digits(call.data["phone"], ctx.region)[-4:])
        # The figure the offer said: asked again now, the estimate would count this caller's own request
        # ("about 5 minutes", then "in about 10 minutes").
        wait = int(call.data.get("wait") or ctx.wait_seconds(node.department))
        if event.callback_existing:
            said = Prompt(node.already_waiting_prompt, call.lang).with_values(
                position=event.callback_position, last4=last4
            )
        else:
            said = Prompt(node.confirmed_prompt, call.lang).with_values(
                position=event.callback_position, minutes=minutes_phrase(wait, call.lang), last4=last4
            )
        return Transition([said, Hangup()], outcome=f"callback:{node.department}")


KEEP = {"en": ("keep", "keep it", "keep my place"),
        "es": ("mantener", "mantenerla", "conservar", "conservarla", "guardar", "guardela")}
CANCEL = {"en": ("cancel", "cancel it", "no longer"), "es": ("cancelar", "cancelarla", "cancelela", "anular", "ya no")}


class Returning:
    """A caller who already has a callback in line: told so on arrival, keeps it or cancels it.

    The question comes from ``ctx.in_line(caller)`` (the web layer reads it in the first round trip
    of a new call). Stages (``call.data["stage"]``): ask -> keeping (a RequestCallback for the same
    number and department: the same callback, its place kept, a scheduled retry back in line now)
    -> kept and goodbye; or ask -> cancelling (CancelCallback) -> cancelled, then ``next``.
    """

    values = {  # as Callback.values
        "prompt": frozenset({"position", "minutes"}),
        "kept_prompt": frozenset({"position", "minutes", "last4"}),
    }

    def edges(self, node: ReturningNode):
        edges = [Edge("next", node.next, False, "callers without a callback in line have nowhere to go")]
        if node.on_no_input is not None:
            edges.append(Edge("on_no_input", node.on_no_input, False))
        return edges

    def prompts(self, node: ReturningNode, languages):
        return [(p, languages) for p in (node.prompt, node.invalid_prompt, node.kept_prompt, node.cancelled_prompt)]

    def enter(self, node: ReturningNode, call: CallState, ctx: Context):
        found = ctx.in_line(call.caller) if call.caller else None
        if found is None:
            return Transition(goto=node.next)
        if found.lang and found.lang in ctx.languages:
            call.lang = found.lang  # asked in Spanish, told in Spanish
        call.data.update(
            stage="ask", id=found.id, department=found.department, phone=found.phone,
            position=str(found.position), wait=str(found.wait_seconds),
        )
        return Transition([self._ask(node, call, [])])

    def _ask(self, node: ReturningNode, call: CallState, before: list[Prompt]) -> Gather:
        said = Prompt(node.prompt, call.lang).with_values(
            position=call.data["position"], minutes=minutes_phrase(int(call.data["wait"]), call.lang)
        )
        hints = KEEP.get(call.lang, ()) + CANCEL.get(call.lang, ())
        return Gather(tuple(before) + (said,), call.lang, node.timeout, hints=hints)

    def _choose(self, node: ReturningNode, event: Event, lang: str) -> str | None:
        digit = event.digits[:1] or matching.spoken_digit(event.speech, (lang,))
        if digit:
            return {node.keep_digit: "keep", node.cancel_digit: "cancel"}.get(digit)
        return matching.best_match(event.speech, [("keep", KEEP.get(lang, ())), ("cancel", CANCEL.get(lang, ()))])

    def handle(self, node: ReturningNode, call: CallState, event: Event, ctx: Context):
        stage, data = call.data.get("stage"), call.data
        if stage == "keeping":  # the request's result: the same callback, at its place
            position = event.callback_position or int(data["position"])
            last4 = _spaced(_national_digits(data["phone"], ctx.region)[-4:])
            said = Prompt(node.kept_prompt, call.lang).with_values(
                position=position, minutes=minutes_phrase(int(data["wait"]), call.lang), last4=last4
            )
            return Transition([said, Hangup()], outcome=f"callback_kept:{data['department']}")
        if stage == "cancelling":  # out of line (or no longer open: gone either way)
            return Transition([Prompt(node.cancelled_prompt, call.lang)], goto=node.next)
        if event.is_empty:
            return Transition(goto=node.on_no_input or node.next)  # silence keeps it; on to a person
        choice = self._choose(node, event, call.lang)
        if choice == "keep":
            data["stage"] = "keeping"
            return Transition([RequestCallback(department=data["department"], phone=data["phone"], lang=call.lang)])
        if choice == "cancel":
            data["stage"] = "cancelling"
            return Transition([CancelCallback(data["id"], data["phone"])])
        call.tries += 1
        if call.tries > node.retries:
            return Transition(goto=node.next)  # kept; on to the menu
        return Transition([self._ask(node, call, [Prompt(node.invalid_prompt, call.lang)])])


class Hold:
    """Hold with the caller's place announced, music, and the desk rung again each round."""

    values = {"prompt": frozenset({"position"})}  # as Callback.values

    def edges(self, node: HoldNode):
        return [Edge("on_timeout", node.on_timeout, False, "a caller still holding after the last round has nowhere to go")]

    def prompts(self, node: HoldNode, languages):
        return [(node.prompt, languages)]

    def _round(self, node: HoldNode, call: CallState, ctx: Context) -> Transition:
        call.data["hold"] = node.desk  # so the web layer can take the call off the hold line later
        position = ctx.hold_position(node.desk, ctx.call_key)
        return Transition(
            [
                Prompt(node.prompt, call.lang).with_values(position=position),
                Music(call.lang),
                Dial(number=ctx.desks[node.desk], timeout=node.ring_seconds, desk=node.desk),
            ]
        )

    def enter(self, node: HoldNode, call: CallState, ctx: Context):
        own_hours = ctx.desk_schedules.get(node.desk)
        if own_hours is not None and own_hours.status(ctx.now) != OpenStatus.OPEN and node.on_timeout:
            return Transition(goto=node.on_timeout)  # the desk is closed now: holding would reach nobody
        return self._round(node, call, ctx)

    def handle(self, node: HoldNode, call: CallState, event: Event, ctx: Context):
        if event.dial_status in ("completed", "answered"):
            return Transition([Hangup()], outcome=f"answered:{node.desk}")
        call.tries += 1
        if call.tries >= node.rounds:
            return Transition(goto=node.on_timeout)
        return self._round(node, call, ctx)


KINDS: dict[str, Kind] = {
    "say": Say(),
    "goto": Goto(),
    "hours": Hours(),
    "menu": Menu(),
    "language": Language(),
    "transfer": Transfer(),
    "voicemail": Voicemail(),
    "hangup": HangupKind(),
    "callback": Callback(),
    "hold": Hold(),
    "returning": Returning(),
}

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

from ivr.clinic.hours import OpenStatus

from . import matching
from .actions import (
    Action,
    AskCallback,
    CallState,
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
    SaveVoicemail,
)
from .model import (
    GotoNode,
    HoldNode,
    HangupNode,
    HoursNode,
    LanguageNode,
    MenuNode,
    SayNode,
    TransferNode,
    VoicemailNode,
)
from .callback_nodes import Callback, Returning
from .transitions import Edge, Kind, Transition


def _no_event(node, call, event, ctx) -> Transition:  # pragma: no cover - guarded by engine
    raise RuntimeError(f"node kind {node.type!r} does not wait for the caller")


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

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
from typing import Protocol

from ivr.hours import OpenStatus

from . import matching
from .actions import Action, CallState, Context, Dial, Event, Gather, Hangup, Prompt, Record
from .model import (
    GotoNode,
    HangupNode,
    HoursNode,
    LanguageNode,
    MenuNode,
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
        ids = [node.prompt, node.no_input_prompt, node.invalid_prompt]
        if node.failure_prompt:
            ids.append(node.failure_prompt)
        return [(p, languages) for p in ids]

    def _gather(self, node: MenuNode, call: CallState, before: list[Prompt]) -> Gather:
        hints = tuple(k for opt in node.options for k in opt.keywords_for(call.lang))
        return Gather(
            prompts=tuple(before) + (Prompt(node.prompt, call.lang),),
            lang=call.lang,
            timeout=node.timeout,
            hints=hints,
        )

    def enter(self, node: MenuNode, call, ctx):
        return Transition([self._gather(node, call, [])])

    def choose(self, node: MenuNode, event: Event, lang: str):
        digit = event.digits[:1] or matching.spoken_digit(event.speech, (lang,))
        if digit:
            return next((o for o in node.options if o.digit == digit), None)
        return matching.best_match(event.speech, [(o, o.keywords_for(lang)) for o in node.options])

    def handle(self, node: MenuNode, call: CallState, event: Event, ctx):
        repeat = node.repeat_digit
        if repeat and (
            event.digits == repeat or matching.spoken_digit(event.speech, (call.lang,)) == repeat
        ):
            return Transition([self._gather(node, call, [])])
        option = None if event.is_empty else self.choose(node, event, call.lang)
        if option is not None:
            return Transition(goto=option.next)
        call.tries += 1
        if call.tries > node.retries:
            said = [Prompt(node.failure_prompt, call.lang)] if node.failure_prompt else []
            return Transition(said, goto=node.on_failure)
        sorry = node.no_input_prompt if event.is_empty else node.invalid_prompt
        return Transition([self._gather(node, call, [Prompt(sorry, call.lang)])])


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
        return edges

    def prompts(self, node: TransferNode, languages):
        return [(node.prompt, languages)] if node.prompt else []

    def enter(self, node: TransferNode, call: CallState, ctx: Context):
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
        if event.record_empty or not event.recording_url:
            return Transition(
                [Prompt(node.empty_prompt, call.lang), Hangup()], outcome="voicemail_empty"
            )
        return Transition(
            [Prompt(node.done_prompt, call.lang), Hangup()],
            outcome=f"voicemail:{node.department}",
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


KINDS: dict[str, Kind] = {
    "say": Say(),
    "goto": Goto(),
    "hours": Hours(),
    "menu": Menu(),
    "language": Language(),
    "transfer": Transfer(),
    "voicemail": Voicemail(),
    "hangup": HangupKind(),
}

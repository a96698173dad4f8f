"""What a node kind gives the engine: its ways out (``Edge``) and what entering or answering it does
(``Transition``), and the four questions every kind answers (``Kind``, see ``ivr.flows.nodes``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .actions import Action, CallState, Context, Event


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

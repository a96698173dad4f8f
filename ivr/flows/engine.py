"""The flow engine: ``start`` and ``step`` are pure functions.

    reply, state = start(flow, ctx)
    reply, state = step(flow, state, event, ctx)

A reply is the list of actions the caller hears until the engine needs the
caller (a Gather), Twilio (a Dial or Record result) or the call ends (Hangup).
Nodes that need nobody (say, hours, goto) run straight through; prompts said
just before a Gather are moved into it, so keys and speech work during them.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

from .actions import WAITING_ACTIONS, Action, CallState, Context, Event, Gather, Hangup, Prompt
from .model import Flow
from .nodes import KINDS
from .transitions import Transition

#: Bound on nodes entered in one step; validation forbids input-free loops,
#: this only guards a flow that skipped validation.
MAX_HOPS = 64


class FlowRuntimeError(RuntimeError):
    """The flow cannot go on (e.g. a state from an unknown node)."""


#: Nodes remembered per call (for statistics); older ones are dropped.
MAX_PATH = 64


@dataclass(frozen=True)
class Reply:
    actions: tuple[Action, ...]

    @property
    def ends_call(self) -> bool:
        return isinstance(self.actions[-1], Hangup)


def start(flow: Flow, ctx: Context, caller: str = "", lang: str = "") -> tuple[Reply, CallState]:
    """Begin a call from ``caller`` (the number Twilio gives as From) at the flow's start node.

    ``lang``: the language to begin in when it is known (a follow-up call to a patient), if the flow has it.
    """
    state = CallState(
        flow=flow.name,
        version=flow.version,
        node=flow.start,
        lang=lang if lang in flow.languages else flow.default_language,
        path=[flow.start],
        caller=caller,
    )
    node = flow.nodes[flow.start]
    return _follow(flow, state, KINDS[node.type].enter(node, state, ctx), ctx)


def step(flow: Flow, state: CallState, event: Event, ctx: Context) -> tuple[Reply, CallState]:
    """Handle the caller's (or Twilio's) answer to the node the call waits at."""
    state = copy.deepcopy(state)
    node = flow.nodes.get(state.node)
    if node is None:
        raise FlowRuntimeError(f"flow {flow.name!r} has no node {state.node!r}")
    return _follow(flow, state, KINDS[node.type].handle(node, state, event, ctx), ctx)


def _follow(flow: Flow, state: CallState, t: Transition, ctx: Context) -> tuple[Reply, CallState]:
    actions: list[Action] = list(t.actions)
    hops = 0
    while t.goto is not None:
        hops += 1
        if hops > MAX_HOPS:
            raise FlowRuntimeError(f"flow {flow.name!r} loops without waiting for the caller")
        node = flow.nodes.get(t.goto)
        if node is None:
            raise FlowRuntimeError(f"flow {flow.name!r} has no node {t.goto!r}")
        state.node, state.tries, state.data = t.goto, 0, {}
        state.path.append(t.goto)
        del state.path[:-MAX_PATH]
        t = KINDS[node.type].enter(node, state, ctx)
        actions.extend(t.actions)
    if t.outcome:
        state.outcome = t.outcome
    if not actions or not isinstance(actions[-1], WAITING_ACTIONS):
        raise FlowRuntimeError(f"node {state.node!r} left the caller in silence")
    return Reply(tuple(_answerable(actions))), state


def _answerable(actions: list[Action]) -> list[Action]:
    """Prompts said just before a question become part of it: a caller who knows the menu can press
    a key or speak during the greeting (a say node) instead of waiting for it to end."""
    if not isinstance(actions[-1], Gather):
        return actions
    first = len(actions) - 1
    while first > 0 and isinstance(actions[first - 1], Prompt):
        first -= 1
    if first == len(actions) - 1:
        return actions
    gather = actions[-1]
    return actions[:first] + [dataclasses.replace(gather, prompts=tuple(actions[first:-1]) + gather.prompts)]

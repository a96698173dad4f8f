"""Effects the engine asks for during a call, carried out by the voice webhooks.

The engine is pure: a callback request comes back from it as an effect
(RequestCallback). ``perform_effects`` stores the request (a durable write)
and steps the engine again with the result, so the confirmation the caller
hears is only ever rendered after the request is safely stored.
"""

from __future__ import annotations

from ivr import services
from ivr.flows import CallState, Context, Event, Flow, Reply, step
from ivr.flows.actions import EFFECTS, RequestCallback

MAX_EFFECTS = 4  # per webhook; a flow cannot ask for more than this


def perform_effects(flow: Flow, reply: Reply, state: CallState, ctx: Context, call_sid: str) -> tuple[Reply, CallState]:
    """Carry out effects at the end of a reply and continue the flow with their results."""
    actions = list(reply.actions)
    for _ in range(MAX_EFFECTS):
        if not isinstance(actions[-1], EFFECTS):
            break
        effect = actions.pop()
        more, state = step(flow, state, _perform(effect, state, call_sid), ctx)
        actions.extend(more.actions)
    else:
        raise RuntimeError("flow asked for too many effects in one step")
    return Reply(tuple(actions)), state


def _perform(effect: RequestCallback, state: CallState, call_sid: str) -> Event:
    placed = services.get().callbacks.request(
        effect.department,
        effect.phone,
        effect.lang,
        caller_id=state.caller,
        call_sid=call_sid,
        source="call",
        reason_recording_sid=effect.reason_recording_sid,
        reason_recording_url=effect.reason_recording_url,
    )
    return Event(callback_position=placed.position, callback_existing=not placed.created)

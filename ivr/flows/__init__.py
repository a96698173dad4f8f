"""The flow engine: phone menus as validated data, run by pure functions.

Nothing here knows about Flask, Redis or Twilio's HTTP; ``ivr.voice`` renders
the engine's actions as TwiML and keeps call state in Redis.
"""

from .actions import CallState, Context, Dial, Event, Gather, Hangup, Prompt, Record
from .engine import FlowRuntimeError, Reply, start, step
from .model import Flow
from .registry import CheckReport, FlowRegistry, check_folder
from .validate import Environment, FlowInvalid, Issue, load_flow

__all__ = [
    "CallState", "CheckReport", "Context", "Dial", "Environment", "Event", "Flow", "FlowInvalid",
    "FlowRegistry", "FlowRuntimeError", "Gather", "Hangup", "Issue", "Prompt", "Record", "Reply",
    "check_folder", "load_flow", "start", "step",
]

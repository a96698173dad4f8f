"""Jobs about finished calls."""

from __future__ import annotations

import datetime as dt
import logging

from ivr.store import CallStore, StatsStore
from ivr.workers import context

log = logging.getLogger(__name__)


def summarize_call(call_sid: str, call_status: str, duration: str = "0") -> dict[str, int]:
    """Count a finished call in the day's statistics (no patient data), then let its state expire.

    Outcome is where the call ended: answered by a desk, voicemail, goodbye, or
    ``abandoned`` if the caller hung up inside the menu.
    """
    ctx = context.get()
    calls = CallStore(ctx.redis)
    state = calls.state(call_sid) or {}
    outcome = (state.get("outcome") or "abandoned") if state else f"unanswered:{call_status}"
    day = dt.datetime.now(dt.timezone.utc).astimezone(ctx.clinic.zone).date()
    fields = ["calls", f"outcome:{outcome}"]
    if state.get("lang"):
        fields.append(f"lang:{state['lang']}")
    StatsStore(ctx.redis).count_call(call_sid, day, fields)
    calls.expire_soon(call_sid)
    log.info("call %s ended (%s, %ss): %s", call_sid, call_status, duration, outcome)
    return StatsStore(ctx.redis).day(day)

"""Urgent callbacks never wait in a queue nobody works: they go to the on-call desk (issue 29).

An urgent callback moves to ``callbacks.urgent_on_call_desk`` after its set number of unanswered
tries (``CallbackQueue.finish``), and, checked by the sweep once a minute, as soon as its desk has
nobody on duty: no staff member whose role works that desk has used a session within the staff
idle time (IVR_STAFF_IDLE_MINUTES). Admins do not count: they can see every queue, but they are not
who calls patients back at night. The on-call desk keeps what it has even with nobody logged in
(the supervisor view shows it as "Urgent, not reached").
"""

from __future__ import annotations

import logging
import time

import redis

from ivr.clinic.settings import ClinicSettings
from ivr.store.callbacks import CallbackQueue
from ivr.store.sessions import SessionStore
from ivr.store.users import UserStore

log = logging.getLogger(__name__)

TURN_SECONDS = 60  # how often one of the workers checks


def unattended_desks(conn: redis.Redis, clinic: ClinicSettings, now: float, idle_seconds: float) -> list[str]:
    """The desks (other than the on-call one) whose staff roles have nobody logged in and active."""
    on_call = clinic.callbacks.urgent_on_call_desk
    users = [u for u in UserStore(conn).list() if not u.disabled]
    sessions = SessionStore(conn)
    return [
        key for key, desk in clinic.desks.items()
        if key != on_call and not sessions.anyone_in([u.name for u in users if u.role in desk.roles], now, idle_seconds)
    ]


def escalate_unattended(conn: redis.Redis, clinic: ClinicSettings, idle_seconds: float, now: float | None = None) -> int:
    """Move the urgent callbacks of every unattended desk to the on-call desk; how many moved."""
    on_call = clinic.callbacks.urgent_on_call_desk
    if not on_call:
        return 0
    now = time.time() if now is None else now
    queue = CallbackQueue(conn, clock=lambda: now)
    moved = 0
    for desk in unattended_desks(conn, clinic, now, idle_seconds):
        moved += len(queue.escalate_unattended(desk, on_call))
    if moved:
        log.warning("%d urgent callback(s) moved to %s: their desk has nobody on duty", moved, on_call)
    return moved

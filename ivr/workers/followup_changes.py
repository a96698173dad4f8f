"""Appointments the scheduling system sends (a CSV import, the API): new ones stored with their first
follow-up call scheduled, changed ones (same id, a new time or number) moved with their call, cancelled
ones cancelled. Sending the same thing again changes nothing. The calls themselves are
ivr.workers.followups."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Iterable

from rq import Queue

from ivr.clinic.settings import ClinicSettings
from ivr.followups.appointments import Appointment, Cancellation
from ivr.store import audit as actions
from ivr.store import keys
from ivr.store.followups import FollowupStore, Record
from ivr.workers.followups import enqueue_attempt, first_call_time

log = logging.getLogger(__name__)

SCHEDULE_BATCH = 500


@dataclass
class Changes:
    """What an import or API request did: counts, and the appointments refused with why."""

    imported: int = 0
    updated: int = 0  # moved (a new time, number, ...)
    unchanged: int = 0
    cancelled: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line or index, reason)


MOVE_REFUSED = {
    "calling": "a follow-up call is under way; send the change again in a few minutes",
    "finished": "its follow-up call is already over; the change is not applied",
    "changed": "it changed while this was applied; send it again",
    "unknown": "it is not known",
}


CANCEL_REFUSED = {
    "finished": "its follow-up call is already over",
    "unknown": "no such appointment",
}


def schedule_new(
    queue: Queue, store: FollowupStore, appointments: Iterable[Appointment], clinic: ClinicSettings, now: dt.datetime
) -> tuple[int, int]:
    """Store appointments; schedule the first call of each new one, move changed ones. (added, unchanged)."""
    changes = apply_changes(queue, store, enumerate(appointments), clinic, now)
    return changes.imported, changes.unchanged + changes.updated


def apply_changes(
    queue: Queue, store: FollowupStore, items: Iterable[tuple[int, Appointment | Cancellation]],
    clinic: ClinicSettings, now: dt.datetime, actor: str = "", audit=None,
) -> Changes:
    """Store what the scheduling system sent: new appointments get their first call scheduled,
    changed ones (same id, new time or number...) are moved, cancellations cancel. Sending the
    same thing again changes nothing. Moves and cancellations go to ``audit`` (an AuditLog)."""
    changes = Changes()
    batch: list[tuple[int, Appointment]] = []

    def flush() -> None:
        # Each first call's time is known before anything is stored: an item it fails for is refused
        # alone, never leaving the others stored without their job (issue 31).
        timed = []
        for where, a in batch:
            try:
                timed.append((where, a, first_call_time(a.at, a.timezone, clinic, now, a.phone)))
            except (OverflowError, ValueError) as exc:
                changes.refused.append((where, f"no call time can be found for it ({exc})"))
        created = store.add_many([a for _, a, _ in timed])
        pipe = queue.connection.pipeline()
        existing = []
        for (where, a, when), new in zip(timed, created):
            if not new:
                existing.append((where, a))
                continue
            changes.imported += 1
            enqueue_attempt(queue, when, a.id, 1, pipeline=pipe)
            store_pipe_schedule(pipe, a.id, when)
        pipe.execute()
        for where, a in existing:
            _change(queue, store, where, a, clinic, now, changes, actor, audit)
        batch.clear()

    for where, item in items:
        if isinstance(item, Cancellation):
            if batch:
                flush()
            result = cancel(store, item.id, actor, audit)
            if result in CANCEL_REFUSED:
                changes.refused.append((where, CANCEL_REFUSED[result]))
            elif result == "unchanged":
                changes.unchanged += 1
            else:
                changes.cancelled += 1
            continue
        batch.append((where, item))
        if len(batch) >= SCHEDULE_BATCH:
            flush()
    if batch:
        flush()
    return changes


def _change(queue, store: FollowupStore, where: int, a: Appointment, clinic: ClinicSettings, now: dt.datetime,
            changes: Changes, actor: str, audit) -> None:
    """An appointment sent again: unchanged, reopened after a cancellation, or moved."""
    different = store.differences(a)
    rec = store.get(a.id)
    if not different and rec is not None and _unscheduled(rec):
        _repair(queue, store, rec, clinic, now)
        changes.imported += 1
        return
    if not different and (rec is None or rec.status != "cancelled"):
        changes.unchanged += 1
        return
    result = store.move(a)
    if result != "moved":
        changes.refused.append((where, MOVE_REFUSED.get(result, result)))
        return
    rec = store.get(a.id)
    assert rec is not None
    when = first_call_time(a.at, a.timezone, clinic, now, a.phone)
    n = rec.attempts + 1
    enqueue_attempt(queue, when, a.id, n, gen=rec.gen)
    store.schedule(a.id, when.timestamp(), "moved")
    store.note(a.id, "moved", changed=", ".join(different) or "reopened", next_try=when.isoformat())
    if audit is not None and actor:
        audit.record(actor, actions.APPOINTMENT_MOVE, target=a.id, detail="changed: " + (", ".join(different) or "reopened"))
    log.info("follow-up %s: appointment changed (%s); next try %s", a.id, ", ".join(different) or "reopened", when.isoformat())
    changes.updated += 1


def _unscheduled(rec: Record) -> bool:
    """Stored but never given its first call (a request that failed between the two): sent again, it gets it."""
    return rec.status == "scheduled" and not rec.next_try_at and not rec.attempts


def _repair(queue, store: FollowupStore, rec: Record, clinic: ClinicSettings, now: dt.datetime) -> None:
    when = first_call_time(rec.at, rec.timezone, clinic, now, rec.phone)
    enqueue_attempt(queue, when, rec.id, 1, gen=rec.gen)
    store.schedule(rec.id, when.timestamp(), "scheduled again: it had no call")
    store.note(rec.id, "rescheduled", reason="stored without a call", next_try=when.isoformat())
    log.warning("follow-up %s: was stored without a call; first try %s", rec.id, when.isoformat())


def cancel(store: FollowupStore, appointment_id: str, actor: str = "", audit=None) -> str:
    """Cancel an appointment's follow-up: 'cancelled', 'cancelled_calling', 'unchanged', 'finished', 'unknown'."""
    result = store.cancel(appointment_id)
    if result.startswith("cancelled"):
        store.note(appointment_id, "cancelled", during_call=result == "cancelled_calling")
        if audit is not None and actor:
            audit.record(actor, actions.APPOINTMENT_CANCEL, target=appointment_id)
        log.info("follow-up %s: cancelled by the scheduling system", appointment_id)
    return result


def store_pipe_schedule(pipe, appointment_id: str, when: dt.datetime) -> None:
    pipe.hset(keys.FOLLOWUP_APPOINTMENT.format(appointment_id), "next_try_at", repr(when.timestamp()))

"""Jobs for follow-up calls after appointments.

``place_followup(appointment_id, n)`` places attempt ``n`` of an
appointment's follow-up call; ``settle_attempt(appointment_id, n, status,
answered_by)`` decides what a finished attempt means (reached, message left,
retry later, give up). Both take ids, never phone numbers, and log ids only.

Before every call, in order: the rules gate (ivr.followups.rules: opt-out,
deadline, calling hours in the patient's zone, holidays, per-day and per-week
limits; a "no" is logged with its reason and the attempt is rescheduled at the
gate's next allowed time), the account's calls-per-second limiter shared by all
workers (ivr.store.call_rate), then the attempt's dial guard, taken in one
script that re-checks opt-out and the limits (ivr.store.followups). Only then
the REST request. A guard found already taken (a repeated job, a crash after
the request) means: never call again for this attempt.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable
from zoneinfo import ZoneInfo

import requests
from rq import Queue, Retry
from rq.job import Job
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from ivr import twilio_rest
from ivr.calling_hours import CallingHours
from ivr.clinic import ClinicSettings, FollowupSettings
from ivr.followups import rules
from ivr.followups.appointments import Appointment
from ivr.logging_setup import mask_numbers
from ivr.store.call_rate import CallRateLimiter
from ivr.store.followups import FollowupStore, Outcome, Record
from ivr.workers import DEFAULT_QUEUE, context
from ivr.workers.callbacks import _RQ_UNIQUE, DuplicateJobError, TransientDialError, _never_sent

log = logging.getLogger(__name__)

UTC = dt.timezone.utc
RING_SECONDS = 30
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
RETRY = Retry(max=3, interval=[5, 15, 30])  # TransientDialError: the request never reached Twilio
JOB_TIMEOUT = 180  # the rate limiter may make a job wait up to RATE_WAIT_LIMIT first
RATE_WAIT_LIMIT = 60.0  # seconds a job waits for the limiter before it puts itself back for later
RATE_DEFER = dt.timedelta(seconds=15)
RESULT_TTL = 86400
SCHEDULE_BATCH = 500


class Placed:
    PLACED = "placed"
    ALREADY = "already_placed"
    IN_DOUBT = "in_doubt"
    DEFERRED = "deferred"
    STOPPED = "stopped"
    FINISHED = "finished"
    REJECTED = "rejected"


def job_id(appointment_id: str, n: int, defer: int = 0) -> str:
    return f"followup-{appointment_id}-{n}" + (f"-d{defer}" if defer else "")


def calling_hours(settings: FollowupSettings, clinic: ClinicSettings, timezone: str) -> CallingHours:
    """The patient's calling window in their own zone, minus the clinic's all-day holidays."""
    closed = frozenset(h.date for h in clinic.holidays if not h.hours)
    return CallingHours(ZoneInfo(timezone), settings.calling_window, closed)


def limits(settings: FollowupSettings) -> rules.Limits:
    return rules.Limits(settings.max_calls_per_day, settings.max_calls_per_week)


def deadline(at: dt.datetime, settings: FollowupSettings) -> dt.datetime:
    return at + dt.timedelta(days=settings.give_up_after_days)


def first_call_time(at: dt.datetime, timezone: str, clinic: ClinicSettings, now: dt.datetime) -> dt.datetime:
    """When to try first: ``delay_hours`` after the appointment (not before now), moved into calling hours."""
    settings = clinic.followups
    when = max(at.astimezone(UTC) + dt.timedelta(hours=settings.delay_hours), now)
    hours = calling_hours(settings, clinic, timezone)
    decision = rules.decide(when, hours, deadline=deadline(at, settings))
    if decision.allowed:
        return when
    return decision.not_before or when  # past the deadline: the job finds that out and stops


def schedule_new(
    queue: Queue, store: FollowupStore, appointments: Iterable[Appointment], clinic: ClinicSettings, now: dt.datetime
) -> tuple[int, int]:
    """Store appointments; schedule the first call of each new one. (added, unchanged); re-adding changes nothing."""
    added = unchanged = 0
    batch: list[Appointment] = []

    def flush() -> None:
        nonlocal added, unchanged
        created = store.add_many(batch)
        pipe = queue.connection.pipeline()
        for a, new in zip(batch, created):
            if not new:
                unchanged += 1
                continue
            added += 1
            when = first_call_time(a.at, a.timezone, clinic, now)
            _enqueue(queue, when, a.id, 1, pipeline=pipe)
            store_pipe_schedule(pipe, a.id, when)
        pipe.execute()
        batch.clear()

    for a in appointments:
        batch.append(a)
        if len(batch) >= SCHEDULE_BATCH:
            flush()
    if batch:
        flush()
    return added, unchanged


def store_pipe_schedule(pipe, appointment_id: str, when: dt.datetime) -> None:
    from ivr.store import keys

    pipe.hset(keys.FOLLOWUP_APPOINTMENT.format(appointment_id), "next_try_at", repr(when.timestamp()))


def _enqueue(queue: Queue, when: dt.datetime, appointment_id: str, n: int, defer: int = 0, pipeline=None):
    return queue.enqueue_at(
        when.astimezone(UTC), place_followup, appointment_id, n,
        job_id=job_id(appointment_id, n, defer), retry=RETRY, job_timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL,
        failure_ttl=30 * 86400, description=f"follow-up call {appointment_id} attempt {n}", pipeline=pipeline,
    )


def _queue(ctx) -> Queue:
    return Queue(DEFAULT_QUEUE, connection=ctx.redis)


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _defer(queue: Queue, store: FollowupStore, rec: Record, n: int, when: dt.datetime, reason: str) -> str:
    defer = store.bump_defers(rec.id)
    _enqueue(queue, when, rec.id, n, defer)
    store.schedule(rec.id, when.timestamp(), reason)
    store.set_status(rec.id, "scheduled")
    store.note(rec.id, "deferred", attempt=n, reason=reason, until=when.isoformat())
    log.info("follow-up %s attempt %s: not now (%s); next try %s", rec.id, n, reason, when.isoformat())
    return Placed.DEFERRED


def _stop(store: FollowupStore, rec: Record, reason: str) -> str:
    outcome = Outcome.OPTED_OUT if reason == rules.OPTED_OUT else Outcome.EXPIRED
    store.complete(rec.id, outcome, status="stopped")
    store.note(rec.id, "stopped", reason=reason)
    log.info("follow-up %s: not calling (%s); stopped", rec.id, reason)
    return Placed.STOPPED


def _gate(store: FollowupStore, clinic: ClinicSettings, rec: Record, now: dt.datetime) -> rules.Decision:
    settings = clinic.followups
    return rules.decide(
        now,
        calling_hours(settings, clinic, rec.timezone),
        store.past_calls(rec.phone),
        limits(settings),
        opted_out=store.opted_out(rec.phone),
        deadline=deadline(rec.at, settings),
    )


def place_followup(appointment_id: str, n: int) -> str:
    """Place attempt ``n`` of the appointment's follow-up call, if the rules allow it now."""
    settings = twilio_rest.settings_from_env()
    base = twilio_rest.public_url(settings)
    client = twilio_rest.make_client(settings)
    try:
        return _place(client, base, appointment_id, int(n))
    finally:
        twilio_rest.close(client)


def _place(client: Client, base: str, appointment_id: str, n: int, now: dt.datetime | None = None) -> str:
    ctx = context.get()
    clinic = ctx.clinic
    store = FollowupStore(ctx.redis, clock=lambda: _now().timestamp())
    queue = _queue(ctx)
    rec = store.get(appointment_id)
    if rec is None or rec.status in ("done", "stopped"):
        return Placed.FINISHED
    state = store.dial_state(appointment_id, n)
    if state is not None:
        return _already(store, appointment_id, n, state)
    if not clinic.followups.enabled:
        return _defer(queue, store, rec, n, _now() + dt.timedelta(hours=1), "disabled")

    decision = _gate(store, clinic, rec, now or _now())
    if not decision.allowed:
        if decision.not_before is None:
            return _stop(store, rec, decision.reason)
        return _defer(queue, store, rec, n, decision.not_before, decision.reason)

    limiter = CallRateLimiter(ctx.redis, clinic.followups.calls_per_second)
    if not limiter.wait(RATE_WAIT_LIMIT):
        return _defer(queue, store, rec, n, _now() + RATE_DEFER, "rate_limit")

    now = now or _now()
    local = now.astimezone(ZoneInfo(rec.timezone))
    day_start = dt.datetime.combine(local.date(), dt.time(0), local.tzinfo)
    claim = store.claim_dial(appointment_id, n, rec.phone, day_start, clinic.followups.max_calls_per_day,
                             clinic.followups.max_calls_per_week)
    if claim == "guarded":
        return _already(store, appointment_id, n, store.dial_state(appointment_id, n) or "pending")
    if claim in ("finished", "unknown"):
        return Placed.FINISHED
    if claim == "opted_out":
        return _stop(store, rec, rules.OPTED_OUT)
    if claim != "ok":  # another worker called this patient meanwhile: ask the gate again
        decision = _gate(store, clinic, rec, now)
        if decision.not_before is None:
            return _stop(store, rec, decision.reason or claim)
        return _defer(queue, store, rec, n, decision.not_before, claim)

    query = f"ap={appointment_id}&n={n}"
    try:
        call = client.calls.create(
            to=rec.phone,
            from_=clinic.main_number,
            url=f"{base}/voice/followup/answer?{query}",
            method="POST",
            status_callback=f"{base}/voice/followup/status?{query}",
            status_callback_event=STATUS_EVENTS,
            status_callback_method="POST",
            machine_detection="DetectMessageEnd",
            timeout=RING_SECONDS,
        )
    except TwilioRestException as exc:
        detail = mask_numbers(f"Twilio error {exc.code or ''} (HTTP {exc.status}): {exc.msg}")
        if exc.status == 429:
            store.release_dial(appointment_id, n, rec.phone, "retrying", detail, status="scheduled")
            raise TransientDialError(detail) from None
        if 400 <= exc.status < 500:
            store.release_dial(appointment_id, n, rec.phone, "rejected", detail)
            store.complete(appointment_id, Outcome.REJECTED)
            store.note(appointment_id, "rejected", attempt=n, detail=detail)
            log.error("follow-up %s attempt %s: Twilio refused the call: %s", appointment_id, n, detail)
            return Placed.REJECTED
        return _in_doubt(store, appointment_id, n, detail)
    except requests.RequestException as exc:
        detail = f"{type(exc).__name__} talking to Twilio"
        if _never_sent(exc):
            store.release_dial(appointment_id, n, rec.phone, "retrying", detail, status="scheduled")
            raise TransientDialError(detail) from None
        return _in_doubt(store, appointment_id, n, detail)
    # Anything else raised above leaves the guard pending: a rerun finds it and does not call.

    store.record_call(appointment_id, n, call.sid)
    store.note(appointment_id, "placed", attempt=n, call=call.sid)
    log.info("follow-up %s attempt %s: call %s placed", appointment_id, n, call.sid)
    return Placed.PLACED


def _in_doubt(store: FollowupStore, appointment_id: str, n: int, detail: str) -> str:
    store.mark_attempt(appointment_id, n, result="in_doubt", detail=detail)
    store.note(appointment_id, "in_doubt", attempt=n, detail=detail)
    log.error("follow-up %s attempt %s: call in doubt, never placed again: %s", appointment_id, n, detail)
    return Placed.IN_DOUBT


def _already(store: FollowupStore, appointment_id: str, n: int, state: str) -> str:
    if state != "pending":
        log.info("follow-up %s attempt %s: already placed (call %s); not calling again", appointment_id, n, state)
        return Placed.ALREADY
    if store.attempt(appointment_id, n).get("result") == "dialing":
        store.mark_attempt(appointment_id, n, result="in_doubt",
                           detail="an earlier run may have placed this call; it is not placed again")
    log.warning("follow-up %s attempt %s: an earlier run may have placed it; not calling again", appointment_id, n)
    return Placed.IN_DOUBT


# Settling a finished attempt ------------------------------------------------------

def enqueue_settle(queue: Queue, appointment_id: str, n: int, call_status: str, answered_by: str = ""):
    """Queue ``settle_attempt`` once per attempt (Twilio may repeat a status callback)."""
    jid = f"followup-settle-{appointment_id}-{int(n)}"
    options: dict = {"unique": True} if _RQ_UNIQUE else {}
    if not _RQ_UNIQUE and Job.exists(jid, connection=queue.connection):
        return None  # (settle_attempt itself also runs once per attempt)
    try:
        return queue.enqueue(
            settle_attempt, appointment_id, int(n), call_status, answered_by,
            job_id=jid, result_ttl=RESULT_TTL, **options,
        )
    except DuplicateJobError:
        return None


def settle_attempt(appointment_id: str, n: int, call_status: str, answered_by: str = "", now: dt.datetime | None = None) -> str:
    """A call ended: complete the follow-up, or schedule the next attempt. Runs once per attempt."""
    ctx = context.get()
    clinic = ctx.clinic
    settings = clinic.followups
    store = FollowupStore(ctx.redis, clock=lambda: _now().timestamp())
    n = int(n)
    rec = store.get(appointment_id)
    if rec is None or not store.settle_once(appointment_id, n):
        return "ignored"
    store.mark_attempt(appointment_id, n, final_status=call_status, answered_by=answered_by)
    if rec.status in ("done", "stopped"):
        return rec.outcome or "finished"
    if call_status == "completed":
        if answered_by.startswith("machine") or answered_by == "fax":
            outcome = Outcome.MESSAGE_LEFT
        else:
            outcome = {"confirmed": Outcome.REACHED, "not_patient": Outcome.WRONG_PERSON}.get(
                rec.answers.get("identity", ""), Outcome.NOT_CONFIRMED
            )
        store.complete(appointment_id, outcome)
        store.note(appointment_id, "finished", attempt=n, outcome=outcome)
        log.info("follow-up %s attempt %s: %s", appointment_id, n, outcome)
        return outcome
    # busy, no-answer, failed, canceled
    if n >= 1 + settings.retry_attempts:
        store.complete(appointment_id, Outcome.UNREACHED)
        store.note(appointment_id, "finished", attempt=n, outcome=Outcome.UNREACHED, status=call_status)
        log.info("follow-up %s attempt %s: %s, no tries left", appointment_id, n, call_status)
        return Outcome.UNREACHED
    earliest = (now or _now()).astimezone(UTC) + dt.timedelta(minutes=settings.retry_spacing_minutes)
    decision = _gate(store, clinic, rec, earliest)
    if not decision.allowed and decision.not_before is None:
        _stop(store, rec, decision.reason)
        return "stopped"
    when = earliest if decision.allowed else decision.not_before
    _enqueue(_queue(ctx), when, appointment_id, n + 1)
    store.schedule(appointment_id, when.timestamp(), call_status)
    store.set_status(appointment_id, "scheduled")
    store.note(appointment_id, "retry", attempt=n + 1, status=call_status, at=when.isoformat())
    log.info("follow-up %s attempt %s: %s; attempt %s at %s", appointment_id, n, call_status, n + 1, when.isoformat())
    return "retry"

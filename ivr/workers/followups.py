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

Nothing is lost silently:

* settings outbound calls need (credentials, the public URL) missing, or a
  refusal from Twilio that would refuse every call (``twilio_rest.account_wide``),
  put the follow-up in the ``blocked`` state with the reason; ``resume_blocked``
  (every worker's sweep) releases them once the settings are there, trying one
  first (a probe) after an account-wide refusal; a refusal about one number
  stays final;
* ``reconcile_calls`` (ivr.workers.followup_reconcile) asks Twilio what became of
  calls whose final status never came (looked up by CallSid, or for a call in doubt by number and time) and
  settles them; a call whose fate stays unknown is never placed again;
* ``apply_changes`` (ivr.workers.followup_changes) stores new, moved and cancelled
  appointments: a moved visit moves its call (jobs carry the appointment's generation; an older one does
  nothing), a cancelled one cancels it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Iterable

import requests
from rq import Queue, Retry
from rq.job import Job
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from ivr import texts
from ivr.clinic.calling_hours import CallingHours, zone_named
from ivr.clinic.settings import ClinicSettings, FollowupSettings
from ivr.followups import rules
from ivr.followups.rules import patient_zones
from ivr.protection.logging_setup import mask_numbers
from ivr.store import keys
from ivr.store.call_rate import CallRateLimiter
from ivr.store.followups import DONE_STATUSES, FollowupStore, Outcome, Record
from ivr.telephony import twilio_rest
from ivr.workers import DEFAULT_QUEUE, context
from ivr.workers.callbacks import _RQ_UNIQUE, DuplicateJobError, TransientDialError, _never_sent
from ivr.workers.texts import send_later

log = logging.getLogger(__name__)


UTC = dt.timezone.utc
RING_SECONDS = 30
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
RETRY = Retry(max=3, interval=[5, 15, 30])  # TransientDialError: the request never reached Twilio
JOB_TIMEOUT = 180  # the rate limiter may make a job wait up to RATE_WAIT_LIMIT first
RATE_WAIT_LIMIT = 60.0  # seconds a job waits for the limiter before it puts itself back for later
RATE_DEFER = dt.timedelta(seconds=15)
RESULT_TTL = 86400
PROBE_SECONDS = 300  # after an account-wide refusal, one blocked follow-up is tried again this often
BLOCKED_SETTINGS = "settings"
BLOCKED_ACCOUNT = "account"


class Placed:
    PLACED = "placed"
    ALREADY = "already_placed"
    IN_DOUBT = "in_doubt"
    DEFERRED = "deferred"
    STOPPED = "stopped"
    FINISHED = "finished"
    REJECTED = "rejected"
    BLOCKED = "blocked"
    MOVED = "moved"  # a job for the appointment's earlier time or number: nothing to do


def job_id(appointment_id: str, n: int, defer: int = 0, gen: int = 0) -> str:
    return f"followup-{appointment_id}-{n}" + (f"-g{gen}" if gen else "") + (f"-d{defer}" if defer else "")


def calling_hours(settings: FollowupSettings, clinic: ClinicSettings, timezone: str, phone: str = "",
                  at: dt.datetime | None = None) -> CallingHours:
    """The patient's calling window in every zone they may be in (``rules.patient_zones``), minus the
    clinic's all-day holidays: a call is allowed only when it is inside the window in each."""
    closed = frozenset(h.date for h in clinic.holidays if not h.hours)
    main, *also = (zone_named(z) for z in patient_zones(timezone, phone, at))
    return CallingHours(main, settings.calling_window, closed, also=tuple(also))


def limits(settings: FollowupSettings) -> rules.Limits:
    return rules.Limits(settings.max_calls_per_day, settings.max_calls_per_week)


def deadline(at: dt.datetime, settings: FollowupSettings) -> dt.datetime:
    return at + dt.timedelta(days=settings.give_up_after_days)


def first_call_time(at: dt.datetime, timezone: str, clinic: ClinicSettings, now: dt.datetime,
                    phone: str = "") -> dt.datetime:
    """When to try first: ``delay_hours`` after the appointment (not before now), moved into calling hours."""
    settings = clinic.followups
    when = max(at.astimezone(UTC) + dt.timedelta(hours=settings.delay_hours), now)
    hours = calling_hours(settings, clinic, timezone, phone, at)
    decision = rules.decide(when, hours, deadline=deadline(at, settings))
    if decision.allowed:
        return when
    return decision.not_before or when  # past the deadline: the job finds that out and stops


def enqueue_attempt(queue: Queue, when: dt.datetime, appointment_id: str, n: int, defer: int = 0, pipeline=None, gen: int = 0):
    return queue.enqueue_at(
        when.astimezone(UTC), place_followup, appointment_id, n, gen,
        job_id=job_id(appointment_id, n, defer, gen), retry=RETRY, job_timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL,
        failure_ttl=30 * 86400, description=f"follow-up call {appointment_id} attempt {n}", pipeline=pipeline,
    )


def default_queue(ctx) -> Queue:
    return Queue(DEFAULT_QUEUE, connection=ctx.redis)


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _defer(queue: Queue, store: FollowupStore, rec: Record, n: int, when: dt.datetime, reason: str) -> str:
    defer = store.bump_defers(rec.id)
    enqueue_attempt(queue, when, rec.id, n, defer, gen=rec.gen)
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


def day_zones(store: FollowupStore, rec: Record) -> tuple[dt.tzinfo, ...]:
    """Zones of the patient's other follow-ups that called this number: one local day is judged in each."""
    names = {z for tz, phone, at in store.past_call_zones(rec.phone) for z in patient_zones(tz, phone, at)}
    zones = []
    for name in sorted(names):
        try:
            zones.append(zone_named(name))
        except ValueError:
            continue
    return tuple(zones)


def _gate(store: FollowupStore, clinic: ClinicSettings, rec: Record, now: dt.datetime) -> rules.Decision:
    settings = clinic.followups
    return rules.decide(
        now,
        calling_hours(settings, clinic, rec.timezone, rec.phone, rec.at),
        store.past_calls(rec.phone),
        limits(settings),
        opted_out=store.opted_out(rec.phone),
        deadline=deadline(rec.at, settings),
        day_zones=day_zones(store, rec),
    )


def _no_common_hours(store: FollowupStore, rec: Record, n: int) -> str:
    """The zones the patient may be in share no calling minute: never dialled; waits for a corrected
    appointment (sent again with the right zone, it is moved and scheduled as usual)."""
    zones = ", ".join(patient_zones(rec.timezone, rec.phone, rec.at))
    store.schedule(rec.id, 0, rules.NO_COMMON_HOURS)
    store.set_status(rec.id, "scheduled")
    store.note(rec.id, "not_scheduled", attempt=n, reason=rules.NO_COMMON_HOURS, zones=zones)
    log.warning("follow-up %s attempt %s: no calling time in every zone the patient may be in (%s); not called",
                rec.id, n, zones)
    return Placed.STOPPED


def place_followup(appointment_id: str, n: int, gen: int | None = None) -> str:
    """Place attempt ``n`` of the appointment's follow-up call, if the rules allow it now.

    ``gen``: the appointment's generation the job was queued for (None for jobs queued
    before appointments could move: they count as generation 0).
    """
    settings = twilio_rest.settings_from_env()
    problems = twilio_rest.problems(settings)
    if problems:
        return _place(None, "", appointment_id, int(n), gen=gen, blocked_by="; ".join(problems))
    client = twilio_rest.make_client(settings)
    try:
        return _place(client, twilio_rest.public_url(settings), appointment_id, int(n), gen=gen)
    finally:
        twilio_rest.close(client)


def _place(client: Client | None, base: str, appointment_id: str, n: int, now: dt.datetime | None = None,
           gen: int | None = None, blocked_by: str = "") -> str:
    ctx = context.get()
    clinic = ctx.clinic
    store = FollowupStore(ctx.redis, clock=lambda: _now().timestamp())
    queue = default_queue(ctx)
    rec = store.get(appointment_id)
    if rec is None or rec.status in DONE_STATUSES:
        return Placed.FINISHED
    if int(gen or 0) != rec.gen:
        log.info("follow-up %s attempt %s: the appointment moved since this job was queued; nothing to do", rec.id, n)
        return Placed.MOVED
    state = store.dial_state(appointment_id, n)
    if state is not None:
        return _already(store, appointment_id, n, state)
    if not clinic.followups.enabled:
        return _defer(queue, store, rec, n, _now() + dt.timedelta(hours=1), "disabled")

    decision = _gate(store, clinic, rec, now or _now())
    if not decision.allowed:
        if decision.reason == rules.NO_COMMON_HOURS:
            return _no_common_hours(store, rec, n)
        if decision.not_before is None:
            return _stop(store, rec, decision.reason)
        return _defer(queue, store, rec, n, decision.not_before, decision.reason)
    if blocked_by or client is None:
        return _block(store, rec, n, blocked_by or "no Twilio client", BLOCKED_SETTINGS)

    limiter = CallRateLimiter(ctx.redis, clinic.followups.calls_per_second)
    if not limiter.wait(RATE_WAIT_LIMIT):
        return _defer(queue, store, rec, n, _now() + RATE_DEFER, "rate_limit")

    now = now or _now()
    hours = calling_hours(clinic.followups, clinic, rec.timezone, rec.phone, rec.at)
    day_start = rules.day_start(hours, now, day_zones(store, rec))  # the earliest midnight among the patient's zones
    claim = store.claim_dial(appointment_id, n, rec.phone, day_start, clinic.followups.max_calls_per_day,
                             clinic.followups.max_calls_per_week, gen=rec.gen)
    if claim == "guarded":
        return _already(store, appointment_id, n, store.dial_state(appointment_id, n) or "pending")
    if claim in ("finished", "unknown"):
        return Placed.FINISHED
    if claim == "moved":
        return Placed.MOVED
    if claim == "opted_out":
        return _stop(store, rec, rules.OPTED_OUT)
    if claim != "ok":  # another worker called this patient meanwhile: ask the gate again
        decision = _gate(store, clinic, rec, now)
        if decision.not_before is None:
            return _stop(store, rec, decision.reason or claim)
        return _defer(queue, store, rec, n, decision.not_before, claim)
    # The last word: the patient's own clock, now, inside the legal and the clinic's window, in every zone.
    if not hours.allows(_now()):
        store.release_dial(appointment_id, n, rec.phone, "retrying", "outside calling hours at dial time", status="scheduled")
        decision = _gate(store, clinic, rec, _now())
        if decision.not_before is None:
            return _stop(store, rec, decision.reason)
        return _defer(queue, store, rec, n, decision.not_before, decision.reason or rules.OUTSIDE_HOURS)

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
        if twilio_rest.account_wide(exc.status, exc.code):
            store.release_dial(appointment_id, n, rec.phone, "blocked", detail, status="scheduled")
            return _block(store, rec, n, f"Twilio refused the request for the whole account: {detail}", BLOCKED_ACCOUNT)
        if 400 <= exc.status < 500:
            store.release_dial(appointment_id, n, rec.phone, "rejected", detail)
            store.complete(appointment_id, Outcome.REJECTED)
            store.note(appointment_id, "rejected", attempt=n, detail=detail)
            log.error("follow-up %s attempt %s: Twilio refused the call: %s", appointment_id, n, detail)
            _release_after_probe(store, queue)
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
    _release_after_probe(store, queue)
    return Placed.PLACED


def _block(store: FollowupStore, rec: Record, n: int, reason: str, kind: str) -> str:
    if store.block(rec.id, n, reason, kind, rec.gen):
        store.note(rec.id, "blocked", attempt=n, reason=reason)
        log.error("follow-up %s attempt %s: blocked until fixed: %s", rec.id, n, reason)
    return Placed.BLOCKED


def _release_after_probe(store: FollowupStore, queue: Queue) -> None:
    """A call went through to Twilio: whatever blocked the others is fixed; they all go again."""
    if store.blocked_count():
        resumed = _resume(store, queue, store.blocked_ids())
        log.warning("follow-ups: Twilio accepts calls again; %d blocked follow-up(s) resumed", resumed)


def _resume(store: FollowupStore, queue: Queue, ids: Iterable[str]) -> int:
    resumed = 0
    for appointment_id in ids:
        taken = store.unblock(appointment_id)
        if taken is None:
            continue
        n, gen = taken
        when = _now()
        enqueue_attempt(queue, when, appointment_id, n, store.bump_defers(appointment_id), gen=gen)
        store.schedule(appointment_id, when.timestamp(), "resumed")
        store.note(appointment_id, "resumed", attempt=n)
        resumed += 1
    return resumed


def resume_blocked(conn, environ=None, probe_seconds: float | None = None) -> int:
    """Release blocked follow-ups whose cause may be fixed (the sweep runs this). Returns how many.

    Settings missing: nothing until this worker's settings are complete, then every one blocked
    for them. Refused by Twilio for the account: one is tried again at most every
    ``probe_seconds``; when its call goes through, the rest follow (``_release_after_probe``).
    """
    store = FollowupStore(conn, clock=lambda: _now().timestamp())
    if not store.blocked_count():
        return 0
    if twilio_rest.problems(twilio_rest.settings_from_env(environ)):
        return 0
    queue = Queue(DEFAULT_QUEUE, connection=conn)
    ids = store.blocked_ids()
    kinds = {i: conn.hget(keys.FOLLOWUP_APPOINTMENT.format(i), "blocked_kind") for i in ids}
    for_settings = [i for i in ids if (kinds[i] or b"").decode() != BLOCKED_ACCOUNT]
    resumed = _resume(store, queue, for_settings)
    for_account = [i for i in ids if i not in for_settings]
    if for_account:
        seconds = probe_seconds if probe_seconds is not None else float(os.environ.get("IVR_FOLLOWUP_PROBE_SECONDS") or PROBE_SECONDS)
        if store.take_probe(int(seconds)):
            resumed += _resume(store, queue, for_account[:1])
    if resumed:
        log.warning("follow-ups: %d blocked follow-up(s) tried again", resumed)
    return resumed


def _in_doubt(store: FollowupStore, appointment_id: str, n: int, detail: str) -> str:
    store.mark_attempt(appointment_id, n, result="in_doubt", detail=detail)
    store.set_reason(appointment_id, Outcome.IN_DOUBT)  # shown as in doubt until reconciliation settles it
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
    if rec.status in DONE_STATUSES:
        return rec.outcome or "finished"
    if call_status == "canceled":  # someone cancelled the call itself (Twilio's console, the API): not retried
        store.complete(appointment_id, Outcome.CANCELLED)
        store.note(appointment_id, "finished", attempt=n, outcome=Outcome.CANCELLED, status=call_status)
        return Outcome.CANCELLED
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
        send_later(ctx.redis, "followup_unreached", texts.FOLLOWUP, appointment_id)  # only if turned on
        return Outcome.UNREACHED
    earliest = (now or _now()).astimezone(UTC) + dt.timedelta(minutes=settings.retry_spacing_minutes)
    decision = _gate(store, clinic, rec, earliest)
    if not decision.allowed and decision.not_before is None:
        _stop(store, rec, decision.reason)
        return "stopped"
    when = earliest if decision.allowed else decision.not_before
    enqueue_attempt(default_queue(ctx), when, appointment_id, n + 1, gen=rec.gen)
    store.schedule(appointment_id, when.timestamp(), call_status)
    store.set_status(appointment_id, "scheduled")
    store.note(appointment_id, "retry", attempt=n + 1, status=call_status, until=when.isoformat())
    log.info("follow-up %s attempt %s: %s; attempt %s at %s", appointment_id, n, call_status, n + 1, when.isoformat())
    return "retry"

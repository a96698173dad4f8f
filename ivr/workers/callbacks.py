"""Jobs for the callback queue: "Call patient" from the staff console.

Twilio first rings the staff member's own phone; when they answer, the
``/voice/outbound/connect`` webhook dials the patient with the clinic's main
number as caller ID (see ivr.voice.outbound).

Placing a call is not idempotent, so each attempt (a callback id and an
attempt key, one per click) is guarded (ivr.store.outbound): the guard is
written before the REST request, and a retried or repeated job that finds it
never calls again. A request that certainly did not reach Twilio (no
connection, or Twilio's 429) drops the guard and raises
``TransientDialError`` so that RQ retries it (``RETRY``); anything that may
have created a call leaves the attempt "in doubt" for a person to resolve.

Job arguments and logs carry no phone numbers: the staff phone comes from
their account (ivr.store.users), the patient's from the callback.
"""

from __future__ import annotations

import inspect
import logging
import secrets
from enum import StrEnum

import requests
from rq import Queue, Retry
from rq.job import Job
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from urllib3.exceptions import MaxRetryError, NewConnectionError

from ivr.telephony import twilio_rest
from ivr.protection.logging_setup import mask_numbers
from ivr.store.callback_types import Status
from ivr.store.callbacks import CallbackQueue
from ivr.store.outbound import PENDING, OutboundCalls, Result, check_attempt
from ivr.store.users import UserStore
from ivr.workers import context

try:
    from rq.exceptions import DuplicateJobError
except ImportError:  # an RQ without unique jobs: see enqueue_call_patient

    class DuplicateJobError(Exception):  # type: ignore[no-redef]
        """Never raised."""

log = logging.getLogger(__name__)

RING_SECONDS = 30  # how long Twilio rings the staff member's phone
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
RETRY = Retry(max=3, interval=[5, 15, 30])  # for TransientDialError: the request never reached Twilio
JOB_TIMEOUT = 60  # seconds; one REST request takes at most twilio_rest.REQUEST_TIMEOUT
RESULT_TTL = 3600  # the finished job (and its id, which stops a double click) is kept this long
_RQ_UNIQUE = "unique" in inspect.signature(Queue.enqueue_call).parameters  # RQ's atomic check (newer RQ)


class DialResult(StrEnum):
    """What ``call_patient`` returns."""

    PLACED = "placed"  # Twilio accepted the call; its CallSid is recorded
    ALREADY_PLACED = "already_placed"  # this attempt's call was placed before: not called again
    IN_DOUBT = "in_doubt"  # an earlier run may have placed it (crash, timeout, 5xx): not called again
    REFUSED = "refused"  # not claimed by this staff member, lease expired, no staff phone...
    REJECTED = "rejected"  # Twilio refused the request (4xx): no call was made


class TransientDialError(RuntimeError):
    """The request certainly did not reach Twilio, or Twilio asked us to slow down: retry later."""


def new_attempt_key() -> str:
    """A fresh attempt key for one "Call patient" click (put it in the console's form)."""
    return secrets.token_urlsafe(12)


def job_id(callback_id: str, attempt_key: str) -> str:
    return f"call-patient-{callback_id}-{attempt_key}"


def enqueue_call_patient(queue: Queue, callback_id: str, staff: str, attempt_key: str) -> Job:
    """Queue ``call_patient`` once per attempt (a double click gets the job already queued).

    Use the ``high`` queue: the staff member is waiting for their phone to ring.
    """
    check_attempt(callback_id, attempt_key)
    jid = job_id(callback_id, attempt_key)
    options: dict = {"unique": True} if _RQ_UNIQUE else {}
    if not _RQ_UNIQUE and Job.exists(jid, connection=queue.connection):
        return Job.fetch(jid, connection=queue.connection)  # (racy without RQ's unique: the guard still holds)
    try:
        return queue.enqueue_call(
            call_patient,
            args=(callback_id, staff, attempt_key),
            job_id=jid,
            retry=RETRY,
            timeout=JOB_TIMEOUT,
            result_ttl=RESULT_TTL,
            description=f"call patient for callback {callback_id}",
            **options,
        )
    except DuplicateJobError:
        return Job.fetch(jid, connection=queue.connection)


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request certainly never reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError)  # refused, unreachable, name not resolved
    return False


def _staff_phone(queue: CallbackQueue, users: UserStore, callback_id: str, staff: str) -> tuple[str, str]:
    """(the phone to ring, "") if ``staff`` may call this callback's patient now, else ("", why not)."""
    cb = queue.get(callback_id)
    if cb is None:
        return "", "unknown callback"
    if cb.status is not Status.CLAIMED or cb.claimed_by != staff:
        return "", "not claimed by this staff member"
    if cb.lease_until <= queue.clock():
        return "", "the claim has expired"
    if not cb.phone:
        return "", "the callback has no phone number"
    user = users.get(staff)
    if user is None or user.disabled:
        return "", "unknown or disabled staff member"
    if not user.phone:
        return "", "no phone number on the staff member's account"
    return user.phone, ""


def call_patient(callback_id: str, staff: str, attempt_key: str) -> str:
    """Ring ``staff``'s phone; on answer Twilio fetches /voice/outbound/connect, which dials the patient.

    Only while ``staff`` holds the callback's claim with a live lease. Returns a
    ``DialResult`` value. Raises TwilioNotConfigured (credentials, public URL)
    before anything else, and TransientDialError when RQ should retry.
    """
    check_attempt(callback_id, attempt_key)
    settings = twilio_rest.settings_from_env()
    base = twilio_rest.public_url(settings)
    client = twilio_rest.make_client(settings)
    try:
        return _call_patient(client, base, callback_id, staff, attempt_key)
    finally:
        twilio_rest.close(client)


def _call_patient(client: Client, base: str, callback_id: str, staff: str, attempt_key: str) -> str:
    """The job's work once settings are known: guard, checks, the REST request, bookkeeping."""
    ctx = context.get()
    outbound = OutboundCalls(ctx.redis)
    state = outbound.dial_state(callback_id, attempt_key)
    if state is not None:
        return _already(outbound, callback_id, attempt_key, state)

    queue = CallbackQueue(ctx.redis, lease_seconds=ctx.clinic.callbacks.lease_minutes * 60)
    staff_phone, refusal = _staff_phone(queue, UserStore(ctx.redis), callback_id, staff)
    if refusal:
        outbound.refuse(callback_id, attempt_key, staff, refusal)
        log.warning("callback %s attempt %s: not calling (%s)", callback_id, attempt_key, refusal)
        return DialResult.REFUSED.value

    if not outbound.claim_dial(callback_id, attempt_key, staff):  # another run got here first
        return _already(outbound, callback_id, attempt_key, outbound.dial_state(callback_id, attempt_key) or PENDING)

    query = f"cb={callback_id}&a={attempt_key}"
    try:
        call = client.calls.create(
            to=staff_phone,
            from_=ctx.clinic.main_number,
            url=f"{base}/voice/outbound/connect?{query}",
            method="POST",
            status_callback=f"{base}/voice/outbound/status?{query}",
            status_callback_event=STATUS_EVENTS,
            status_callback_method="POST",
            timeout=RING_SECONDS,
        )
    except TwilioRestException as exc:
        detail = mask_numbers(f"Twilio error {exc.code or ''} (HTTP {exc.status}): {exc.msg}")
        if exc.status == 429:
            outbound.release_dial(callback_id, attempt_key, Result.RETRYING, detail)
            raise TransientDialError(detail) from None
        if 400 <= exc.status < 500:
            outbound.release_dial(callback_id, attempt_key, Result.REJECTED, detail)
            log.error("callback %s attempt %s: Twilio refused the call: %s", callback_id, attempt_key, detail)
            return DialResult.REJECTED.value
        outbound.mark_in_doubt(callback_id, attempt_key, detail)
        log.error("callback %s attempt %s: call in doubt, not retried: %s", callback_id, attempt_key, detail)
        return DialResult.IN_DOUBT.value
    except requests.RequestException as exc:
        detail = mask_numbers(f"{type(exc).__name__} talking to Twilio")
        if _never_sent(exc):
            outbound.release_dial(callback_id, attempt_key, Result.RETRYING, detail)
            raise TransientDialError(detail) from None
        outbound.mark_in_doubt(callback_id, attempt_key, detail)
        log.error("callback %s attempt %s: call in doubt, not retried: %s", callback_id, attempt_key, detail)
        return DialResult.IN_DOUBT.value
    # Anything else raised above leaves the guard pending: a retry reports "in doubt".

    outbound.record_call(callback_id, attempt_key, call.sid)
    log.info("callback %s attempt %s: ringing %s's phone (call %s)", callback_id, attempt_key, staff, call.sid)
    return DialResult.PLACED.value


def _already(outbound: OutboundCalls, callback_id: str, attempt_key: str, state: str) -> str:
    """A repeated run of an attempt whose guard exists: never call again, say what is known."""
    if state != PENDING:
        log.info("callback %s attempt %s: already placed (call %s), not calling again", callback_id, attempt_key, state)
        return DialResult.ALREADY_PLACED.value
    outbound.mark_in_doubt(
        callback_id, attempt_key, "an earlier run may have placed this call; it is not placed again"
    )
    log.warning("callback %s attempt %s: already placed or in doubt, not calling again", callback_id, attempt_key)
    return DialResult.IN_DOUBT.value

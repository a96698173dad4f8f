"""Jobs that text patients through Twilio's Messages API (a Messaging Service), with the rules of ivr.texts.

``send_text`` is one text about a callback or a follow-up; ``send_answer`` answers a patient's own text
(STOP, START, HELP, cancel). Each reads the number from its record, never from its arguments, so job
arguments and logs carry no phone number, and no job logs or stores a text's body.

Sending is not idempotent, so each text (purpose and reference) has a guard, taken in the same Redis script
that re-checks the do-not-call list and the limits, before the REST request (``ivr.store.texts``). A
request that certainly did not reach Twilio frees the guard and is retried by RQ; one that may have sent
the text keeps it: the patient is never texted twice for one purpose.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Any, Mapping

import phonenumbers
import requests
from rq import Queue, Retry
from rq.job import Job
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from ivr import texts as texts_module
from ivr.telephony import twilio_rest
from ivr.clinic.calling_hours import CallingHours, NoCallingTime, zone_named
from ivr.followups import rules
from ivr.followups.appointments import zones_of_number
from ivr.followups.rules import patient_zones
from ivr.store.audit import AuditLog
from ivr.store.callback_types import OPEN_STATUSES, Status
from ivr.store.callbacks import CallbackQueue
from ivr.store.followups import FollowupStore
from ivr.store.followups import Outcome as FollowupOutcome
from ivr.store.texts import TextStore
from ivr.texts import wording
from ivr.workers import DEFAULT_QUEUE, context
from ivr.workers.callbacks import _RQ_UNIQUE, DuplicateJobError, _never_sent

log = logging.getLogger(__name__)

UTC = dt.timezone.utc
RETRY = Retry(max=3, interval=[10, 30, 60])  # only for TransientTextError: the request never reached Twilio
JOB_TIMEOUT = 60
RESULT_TTL = 3600
MAX_HOLD = 16 * 3600  # a text kept back by quiet hours goes at the next calling time, if that is this soon
ACTOR = "texts"  # the audit log's actor for texts the system sends
LIMITS = rules.Limits(texts_module.PER_DAY, texts_module.PER_WEEK)
# Twilio errors that say the number cannot take texts, or has unsubscribed (STOP sent to Twilio itself).
NOT_MOBILE_ERRORS = frozenset({21614, 21407, 30006})
UNSUBSCRIBED = 21610
# Twilio errors about the Messaging Service itself (it does not exist, has no sender number...): every text fails.
SERVICE_ERRORS = frozenset({21606, 21701, 21702, 21703, 21704, 21705})


class TransientTextError(RuntimeError):
    """The request certainly did not reach Twilio, or Twilio asked us to slow down: retry later."""


def settings() -> dict[str, str]:
    """Twilio settings as workers read them, with the Messaging Service, whether to ask the carrier lookup and
    an optional Lookup base URL."""
    from ivr.config import environment_settings

    env = environment_settings()
    found = twilio_rest.settings_from_env()
    found["MESSAGING_SERVICE_SID"] = texts_module.messaging_service_sid(env)
    found["LOOKUP"] = "1" if texts_module.carrier_lookup(env) else ""
    found["LOOKUPS_BASE_URL"] = os.environ.get("IVR_TWILIO_LOOKUPS_BASE_URL") or os.environ.get("TWILIO_LOOKUPS_BASE_URL", "")
    return found


def job_id(purpose: str, about: str, record_id: str, ref: str, held: int = 0) -> str:
    return f"text-{purpose}-{about}-{record_id}-{ref or '0'}" + (f"-h{held}" if held else "")


def enqueue(queue: Queue, purpose: str, about: str, record_id: str, ref: str = "", at: dt.datetime | None = None,
            held: int = 0) -> Job:
    """Queue ``send_text`` (now, or ``at``); the same text asked for twice is one job."""
    jid = job_id(purpose, about, record_id, ref, held)
    description = f"text {purpose} about {about} {record_id}"
    if at is not None:
        return queue.enqueue_at(at, send_text, purpose, about, record_id, ref, held, job_id=jid, retry=RETRY,
                                job_timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL, description=description)
    if not _RQ_UNIQUE and Job.exists(jid, connection=queue.connection):
        return Job.fetch(jid, connection=queue.connection)
    try:
        return queue.enqueue_call(send_text, args=(purpose, about, record_id, ref, held), job_id=jid, retry=RETRY,
                                  timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL, description=description,
                                  **({"unique": True} if _RQ_UNIQUE else {}))
    except DuplicateJobError:  # asked twice (a replayed webhook): the job already queued
        return Job.fetch(jid, connection=queue.connection)


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass
class Target:
    """Who a text goes to and what it says, read from its record when the job runs."""

    phone: str
    lang: str
    callback_id: str  # "" for a follow-up
    timezone: str  # the patient's zone: the appointment's; for a callback the number's area's, else the clinic's
    hours: Any  # the window (ivr.clinic.hours.Span) of the part that calls them
    when: dt.datetime | None = None  # when the clinic will call (for the wording)
    why_not: str = ""  # the text is no longer wanted (the callback closed, the visit reached...)


def _callback_target(ctx, purpose: str, callback_id: str, ref: str, now: dt.datetime) -> Target | None:
    clinic = ctx.clinic
    queue = CallbackQueue(ctx.redis, clock=now.timestamp)
    cb = queue.get(callback_id)
    if cb is None or not cb.phone.startswith("+"):
        return None
    # The patient's zone: the number's area's when it has one (a 206 number is in Seattle), else the clinic's.
    zone = next(iter(zones_of_number(cb.phone)), clinic.timezone)
    target = Target(cb.phone, cb.lang, cb.id, zone, clinic.callbacks.calling_window)
    if cb.status not in OPEN_STATUSES:
        target.why_not = "closed"
    elif purpose == wording.MISSED_CALLBACK:
        if cb.status is not Status.SCHEDULED or str(cb.attempts) != ref:
            target.why_not = "tried again"
        else:
            target.when = dt.datetime.fromtimestamp(cb.not_before, UTC)
    elif cb.status is Status.WAITING:
        position = queue.position(cb.id)
        wait = queue.estimated_wait_seconds(cb.department, position)
        target.when = _callable(clinic, now + dt.timedelta(seconds=wait))
    elif cb.status is Status.SCHEDULED:
        target.when = dt.datetime.fromtimestamp(cb.not_before, UTC)
    return target


def _callable(clinic, when: dt.datetime) -> dt.datetime | None:
    """The first moment at or after ``when`` the clinic calls patients back."""
    try:
        return CallingHours.for_clinic(clinic).next_allowed(when)
    except NoCallingTime:
        return None


def _followup_target(ctx, appointment_id: str) -> Target | None:
    rec = FollowupStore(ctx.redis).get(appointment_id)
    if rec is None or not rec.phone:
        return None
    target = Target(rec.phone, rec.lang, "", rec.timezone, ctx.clinic.followups.calling_window)
    if rec.outcome != FollowupOutcome.UNREACHED:
        target.why_not = "reached"
    return target


def _hours(clinic, target: Target) -> CallingHours:
    """The patient's calling window in every zone they may be in, minus the clinic's all-day holidays."""
    closed = frozenset(h.date for h in clinic.holidays if not h.hours)
    main, *also = (zone_named(z) for z in patient_zones(target.timezone, target.phone))
    return CallingHours(main, target.hours, closed, also=tuple(also))


def send_text(purpose: str, about: str, record_id: str, ref: str = "", held: int = 0) -> str:
    """Send one text if every rule allows it now; what happened, in a word (also on the callback's page)."""
    found = settings()
    if not found["MESSAGING_SERVICE_SID"]:
        return "off"
    ctx = context.get()
    now = _now()
    target = (_followup_target(ctx, record_id) if about == texts_module.FOLLOWUP
              else _callback_target(ctx, purpose, record_id, ref, now))
    if target is None:
        return "unknown"
    if target.why_not:
        return target.why_not
    store = TextStore(ctx.redis, clock=now.timestamp)
    if store.guarded(purpose, ref or record_id):
        return "already_sent"
    hours = _hours(ctx.clinic, target)
    decision = rules.decide(now, hours, [dt.datetime.fromtimestamp(t, UTC) for t in store.past_texts(target.phone)],
                            LIMITS, opted_out=store.opted_out(target.phone))
    if not decision.allowed:
        later = decision.not_before
        if decision.reason in (rules.OUTSIDE_HOURS, rules.HOLIDAY) and later is not None and not held \
                and (later - now).total_seconds() <= MAX_HOLD:
            enqueue(Queue(DEFAULT_QUEUE, connection=ctx.redis), purpose, about, record_id, ref, at=later, held=1)
            _note(store, ctx, target, record_id, "held", purpose=purpose, until=later.timestamp())
            return "held"
        return _not_sent(store, ctx, target, record_id, purpose, decision.reason)
    try:
        base = twilio_rest.public_url(found)
        client = twilio_rest.make_client(found)
    except twilio_rest.TwilioNotConfigured as exc:
        log.warning("text %s about %s %s not sent: %s", purpose, about, record_id, exc)
        return _not_sent(store, ctx, target, record_id, purpose, "not_set_up")
    try:
        return _send(client, found, base, ctx, store, target, hours, purpose, about, record_id, ref, now)
    finally:
        twilio_rest.close(client)


def _send(client: Client, found, base, ctx, store: TextStore, target: Target, hours: CallingHours, purpose: str,
          about: str, record_id: str, ref: str, now: dt.datetime) -> str:
    line = line_type(client, found, store, target.phone, ctx.clinic.country)
    if line != "mobile":
        why = line if line in ("landline", "declined") else "not_mobile"
        return _not_sent(store, ctx, target, record_id, purpose, why)
    local_now = now.astimezone(hours.timezone)
    body = wording.text_for(purpose, target.lang, ctx.clinic.name, ctx.clinic.main_number,
                            wording.when_words(target.when.astimezone(hours.timezone) if target.when else None,
                                               local_now, target.lang))
    verdict = store.claim(target.phone, purpose, ref or record_id, rules.day_start(hours, now).timestamp(),
                          LIMITS.per_day, LIMITS.per_week)
    if verdict == "guarded":
        return "already_sent"
    if verdict != "ok":
        return _not_sent(store, ctx, target, record_id, purpose, verdict)
    try:
        message = client.messages.create(to=target.phone, messaging_service_sid=found["MESSAGING_SERVICE_SID"],
                                         body=body, status_callback=f"{base}/sms/status")
    except TwilioRestException as exc:
        return _refused(store, ctx, target, record_id, purpose, ref or record_id, exc.status, exc.code)
    except requests.RequestException as exc:
        if _never_sent(exc):
            store.release(target.phone, purpose, ref or record_id, guard=True)
            raise TransientTextError(f"{type(exc).__name__} talking to Twilio") from None
        _note(store, ctx, target, record_id, "not_sent", purpose=purpose, reason="in_doubt")
        log.error("text %s about %s %s: not known whether Twilio sent it; not sent again", purpose, about, record_id)
        return "in_doubt"
    store.sent(target.callback_id, target.phone, purpose, ref or record_id, message.sid, message.status or "queued")
    if not target.callback_id:
        FollowupStore(ctx.redis).note(record_id, "text", purpose=purpose, message=message.sid)
    AuditLog(ctx.redis).record(ACTOR, "text_sent", target=target.callback_id or f"appointment:{record_id}",
                               detail=f"{purpose} ({wording.language(target.lang)}), message {message.sid}")
    log.info("text %s about %s %s: sent (message %s)", purpose, about, record_id, message.sid)
    return "sent"


def _refused(store: TextStore, ctx, target: Target, record_id: str, purpose: str, ref: str, status: int,
             code: int | None) -> str:
    if status == 429:
        store.release(target.phone, purpose, ref, guard=True)
        raise TransientTextError("Twilio asked us to slow down (429)")
    store.release(target.phone, purpose, ref, guard=False)  # not sent: it does not count, and is not tried again
    if code == UNSUBSCRIBED:  # the patient sent STOP to Twilio itself: the same list as ours
        store.opt_out(target.phone, "twilio")
        return _not_sent(store, ctx, target, record_id, purpose, "opted_out")
    if code in SERVICE_ERRORS:  # said on the Setup page and /healthz until a text goes
        store.refused_by_service(code)
    if code in NOT_MOBILE_ERRORS:
        store.set_line_type(target.phone, "landline", "twilio")
        return _not_sent(store, ctx, target, record_id, purpose, "not_mobile")
    return _not_sent(store, ctx, target, record_id, purpose, f"refused:{code or status}")


def _note(store: TextStore, ctx, target: Target, record_id: str, kind: str, **details: Any) -> None:
    if target.callback_id:
        store.note(target.callback_id, kind, **details)
    else:
        FollowupStore(ctx.redis).note(record_id, f"text_{kind}", **details)


def _not_sent(store: TextStore, ctx, target: Target, record_id: str, purpose: str, reason: str) -> str:
    _note(store, ctx, target, record_id, "not_sent", purpose=purpose, reason=reason)
    AuditLog(ctx.redis).record(ACTOR, "text_not_sent", target=target.callback_id or f"appointment:{record_id}",
                               detail=f"{purpose}: {reason}")
    log.info("text %s about %s: not sent (%s)", purpose, target.callback_id or record_id, reason)
    return reason.split(":")[0]


# The number type -----------------------------------------------------------------------------------


def line_type(client: Client, found, store: TextStore, phone: str, country: str) -> str:
    """``mobile``, ``landline``, ... : the carrier lookup's answer (kept 30 days) when it gives one, else
    the caller's choice on the keypad, else the numbering plan when it is certain, else ``unknown``;
    ``declined`` when the caller pressed "no texts" on the keypad, whatever the lookup would say. With the
    lookup turned off (``found["LOOKUP"]`` empty) Twilio is not asked: as when it gives no answer."""
    kind, source = store.line_type(phone)
    if kind and (source != "keypad" or kind == "declined"):  # a caller who said no on the keypad is never texted
        return kind
    looked_up = _lookup(client, found, phone) if found.get("LOOKUP") else ""
    if looked_up:
        store.set_line_type(phone, looked_up, "lookup")
        return looked_up
    if kind:
        return kind
    try:
        plan = phonenumbers.number_type(phonenumbers.parse(phone, country))
    except phonenumbers.NumberParseException:
        return "unknown"
    return {phonenumbers.PhoneNumberType.MOBILE: "mobile",
            phonenumbers.PhoneNumberType.FIXED_LINE: "landline"}.get(plan, "unknown")


def _lookup(client: Client, found, phone: str) -> str:
    """Twilio Lookup's line type for ``phone`` ("" when the lookup is not available or does not say)."""
    if found.get("LOOKUPS_BASE_URL"):
        client.lookups.base_url = found["LOOKUPS_BASE_URL"].rstrip("/")
    try:
        result = client.lookups.v2.phone_numbers(phone).fetch(fields="line_type_intelligence")
    except (TwilioRestException, requests.RequestException) as exc:
        log.info("carrier lookup not available (%s): using the caller's choice", type(exc).__name__)
        return ""
    info = result.line_type_intelligence or {}
    kind = str(info.get("type") or "")
    return {"mobile": "mobile", "landline": "landline"}.get(kind, kind and "other")


# Answers to the patient's own texts ---------------------------------------------------------------


def enqueue_answer(queue: Queue, answer: str, inbound_sid: str, lang: str, callback_id: str = "") -> Job:
    return queue.enqueue_call(send_answer, args=(answer, inbound_sid, lang, callback_id),
                              job_id=f"text-answer-{answer}-{inbound_sid}", retry=RETRY, timeout=JOB_TIMEOUT,
                              result_ttl=RESULT_TTL, description=f"text answer {answer}")


def send_answer(answer: str, inbound_sid: str, lang: str, callback_id: str = "") -> str:
    """Answer a patient's text at once (any hour, not counted toward the limits), once per inbound text."""
    found = settings()
    if not found["MESSAGING_SERVICE_SID"]:
        return "off"
    ctx = context.get()
    store = TextStore(ctx.redis)
    phone = store.inbound_sender(inbound_sid)
    if not phone:
        return "unknown"
    if answer != wording.STOPPED and answer != wording.HELP and store.opted_out(phone):
        return "opted_out"
    if not store.claim_answer(answer, inbound_sid):
        return "already_sent"
    client = twilio_rest.make_client(found)
    try:
        base = twilio_rest.public_url(found)
        message = client.messages.create(
            to=phone, messaging_service_sid=found["MESSAGING_SERVICE_SID"],
            body=wording.text_for(answer, lang, ctx.clinic.name, ctx.clinic.main_number),
            status_callback=f"{base}/sms/status")
    except TwilioRestException as exc:
        if exc.status == 429:
            store.release_answer(answer, inbound_sid)
            raise TransientTextError("Twilio asked us to slow down (429)") from None
        log.warning("answer %s to a text: Twilio refused it (%s)", answer, exc.code or exc.status)
        if exc.code == UNSUBSCRIBED:  # they sent STOP to Twilio itself: never texted again
            store.opt_out(phone, "twilio")
            return "opted_out"
        return "refused"
    except requests.RequestException as exc:
        if _never_sent(exc):
            store.release_answer(answer, inbound_sid)
            raise TransientTextError(f"{type(exc).__name__} talking to Twilio") from None
        return "in_doubt"
    finally:
        twilio_rest.close(client)
    store.answered(callback_id, answer, message.sid, message.status or "queued")
    AuditLog(ctx.redis).record(ACTOR, "text_sent", target=callback_id or f"message:{inbound_sid}",
                               detail=f"answer {answer} ({wording.language(lang)}), message {message.sid}")
    return "sent"


def send_later(conn, purpose: str, about: str, record_id: str, ref: str = "",
               settings: Mapping[str, Any] | None = None) -> bool:
    """Queue the text ``purpose`` about a callback or follow-up (``about``, ``record_id``) if texts are set up.

    ``ref`` tells this text apart from another of the same purpose (an attempt number). Never raises:
    whatever fails here, the call goes on. True if a job was queued.
    """
    try:
        settings = texts_module.current_settings() if settings is None else settings
        if not texts_module.messaging_service_sid(settings):
            return False
        if about == texts_module.FOLLOWUP and not texts_module.followup_texts(settings):
            return False
        enqueue(Queue(DEFAULT_QUEUE, connection=conn), purpose, about, record_id, ref)
        return True
    except Exception:  # noqa: BLE001 - a text never fails the call or the page that asked for it
        log.warning("text %s about %s %s could not be queued", purpose, about, record_id, exc_info=True)
        return False

"""Follow-up calls whose final status never came: Twilio is asked what became of them (the workers'
sweep runs ``reconcile_calls``), and each is settled as its status callback would have settled it, or
tried again if Twilio never placed it."""

from __future__ import annotations

import datetime as dt
import logging
import os

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from ivr.clinic.settings import ClinicSettings
from ivr.store.followups import FINAL, FollowupStore, Record
from ivr.telephony import twilio_rest
from ivr.workers import context, followups  # followups._now: the one clock of the follow-up jobs
from ivr.workers.followups import UTC, default_queue, enqueue_attempt, settle_attempt

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 900  # a dialled call with no final status this long is looked up (Twilio ends ringing at 30 s)


def reconcile_seconds() -> float:
    """How long a dialled call may go without a final status before Twilio is asked (IVR_FOLLOWUP_RECONCILE_SECONDS)."""
    return float(os.environ.get("IVR_FOLLOWUP_RECONCILE_SECONDS") or RECONCILE_SECONDS)


def reconcile_calls(after_seconds: float | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """Settle follow-up calls whose final status never arrived, by asking Twilio (REST).

    A call with a CallSid is fetched: a final status settles the attempt as its status
    callback would have. A call in doubt (the request may have reached Twilio, no CallSid
    came back) is looked up among the calls to the patient's number since it was dialled:
    found, it is recorded and settled; not there ``after_seconds`` later, it was never placed,
    and the attempt is tried again. Until then nothing calls that patient again.
    """
    ctx = context.get()
    settings = twilio_rest.settings_from_env()
    if twilio_rest.problems(settings):
        return {}
    after = after_seconds if after_seconds is not None else reconcile_seconds()
    now = now or followups._now()
    store = FollowupStore(ctx.redis, clock=lambda: followups._now().timestamp())
    counts = {"settled": 0, "found": 0, "not_placed": 0, "still_open": 0}
    due = store.in_flight(now.timestamp() - after)
    if not due:
        return counts
    client = twilio_rest.make_client(settings)
    try:
        for appointment_id, n in due:
            try:
                counts[_reconcile_one(client, store, ctx.clinic, appointment_id, n)] += 1
            except TwilioRestException as exc:
                log.warning("follow-up %s attempt %s: Twilio lookup refused (HTTP %s %s)", appointment_id, n, exc.status, exc.code or "")
                if twilio_rest.account_wide(exc.status, exc.code) and exc.status != 404:
                    break
            except (requests.RequestException, TwilioException) as exc:
                log.warning("follow-up reconciliation: %s talking to Twilio; next round", type(exc).__name__)
                break
    finally:
        twilio_rest.close(client)
    if any(counts.values()):
        log.info("follow-up reconciliation: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


def _reconcile_one(client: Client, store: FollowupStore, clinic: ClinicSettings, appointment_id: str, n: int) -> str:
    attempt = store.attempt(appointment_id, n)
    rec = store.get(appointment_id)
    if rec is None or attempt.get("settled_at"):
        store.landed(appointment_id, n)
        return "settled"
    state = store.dial_state(appointment_id, n) or ""
    sid = attempt.get("call_sid") or (state if state.startswith("CA") else "")
    if not sid:
        sid = _find_call(client, rec, clinic, float(attempt.get("started_at") or 0))
        if sid is None:
            store.release_dial(appointment_id, n, rec.phone, "not_placed",
                               "Twilio has no record of this call: it was never placed", status="scheduled")
            store.landed(appointment_id, n)
            store.note(appointment_id, "reconciled", attempt=n, result="never placed; tried again")
            if rec.status == "calling":
                enqueue_attempt(default_queue(context.get()), followups._now(), appointment_id, n, store.bump_defers(appointment_id), gen=rec.gen)
            return "not_placed"
        store.record_call(appointment_id, n, sid)
    call = client.calls(sid).fetch()
    status = str(call.status or "")
    if status not in FINAL:
        return "still_open"
    answered_by = str(call.answered_by or "")
    store.note_status(appointment_id, n, status, answered_by)
    outcome = settle_attempt(appointment_id, n, status, answered_by)
    store.note(appointment_id, "reconciled", attempt=n, call=sid, status=status, result=outcome)
    log.info("follow-up %s attempt %s: no status came; Twilio says %s (%s)", appointment_id, n, status, outcome)
    return "settled" if outcome != "ignored" else "found"


def _find_call(client: Client, rec: Record, clinic: ClinicSettings, started_at: float) -> str | None:
    """The CallSid of the call to the patient placed from ``started_at`` on, if Twilio has one."""
    since = dt.datetime.fromtimestamp(started_at - 120, UTC)
    for call in client.calls.list(to=rec.phone, from_=clinic.main_number, start_time_after=since.date(), limit=50):
        created = call.date_created
        if call.to == rec.phone and (created is None or created >= since):
            return call.sid
    return None

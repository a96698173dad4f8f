"""Follow-up results for administrators: one summary, what needs attention, the latest appointments,
each appointment's page, CSV export, the do-not-call count.

    GET /admin/followups                 summary (chart and table), needs attention, latest appointments
    GET /admin/followups/<id>            one appointment: state, next try, attempts, answers, history in words
    GET /admin/followups/export.csv      every appointment with its answers, outcome, attempts and state in words

Every figure comes from one classification of each appointment (``classify``):
the chart's bars and the table's rows are drawn from the same list of counts,
so they cannot disagree. Codes (statuses, outcomes, reasons, events, Twilio
statuses) are put in plain words here; a code this module does not know is
shown as it is, never an error.

Admins only; numbers are masked; views and exports go to the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

import redis
from flask import Blueprint, Response, abort, render_template

from ivr import services
from ivr.protection.logging_setup import mask_numbers
from ivr.staff.auth import current_user, role_required
from ivr.staff.pages import staff_pages, writes_refused
from ivr.store import audit as actions
from ivr.followups.rules import NO_COMMON_HOURS, patient_zones
from ivr.store.followups import DONE_STATUSES, FollowupStore, Outcome, Record

bp = Blueprint("followups_admin", __name__, url_prefix="/admin/followups")
bp.register_error_handler(redis.ResponseError, writes_refused)  # Redis refusing writes: said in words

ROWS = 200
EXPORT_COLUMNS = [
    "id", "name", "phone", "appointment_time", "timezone", "provider", "department", "language", "status",
    "outcome", "attempts", "identity", "feeling", "rating", "nurse", "completed_at",
    "result", "status_text", "next_try_at",
]
PATIENT_TIME = "patient's time"


staff_pages(bp)


# Classification: the one class each appointment counts under ---------------------------

# key -> short label (the chart's bars and the table's rows), in the order shown.
STATES: dict[str, str] = {
    "scheduled": "Waiting for the next try",
    "calling": "Calling now",
    "blocked": "Blocked",
    Outcome.REACHED: "Reached",
    Outcome.MESSAGE_LEFT: "Message left",
    Outcome.NOT_CONFIRMED: "Answered, did not confirm",
    Outcome.WRONG_PERSON: "Someone else answered",
    Outcome.UNREACHED: "Not reached",
    Outcome.IN_DOUBT: "Call in doubt",
    Outcome.REJECTED: "Refused by Twilio",
    Outcome.OPTED_OUT: "Opted out",
    Outcome.EXPIRED: "Too late to call",
    Outcome.CANCELLED: "Visit cancelled",
    NO_COMMON_HOURS: "Not called: time zones disagree",
}
# Classes someone must look at: nothing more happens by itself, or not until something is fixed.
ATTENTION = ("blocked", Outcome.IN_DOUBT, Outcome.REJECTED, NO_COMMON_HOURS)


def classify(rec: Record) -> tuple[str, str]:
    """The one class an appointment counts under and its short label: the outcome once finished, else the status."""
    if rec.outcome or rec.status in DONE_STATUSES:
        key = rec.outcome or rec.status
    elif rec.status == "calling" and rec.last_reason == Outcome.IN_DOUBT:
        key = Outcome.IN_DOUBT  # until Twilio says what became of the call (reconciliation)
    elif rec.status == "scheduled" and rec.last_reason == NO_COMMON_HOURS:
        key = NO_COMMON_HOURS  # never dialled until the scheduling system sends the right zone
    else:
        key = rec.status or "unknown"
    return key, STATES.get(key, key)


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    value: int


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    counts: list[Count]


@dataclass(frozen=True)
class Summary:
    total: int
    groups: list[Group]  # "where they stand" (each appointment once; sums to total), then "what patients said"
    attention: int

    @property
    def max(self) -> int:
        return max([c.value for g in self.groups for c in g.counts] + [1])


# What patients said: (key, label, test on the answers); an appointment may count under several.
ANSWER_COUNTS: list[tuple[str, str, Callable[[dict[str, str]], bool]]] = [
    ("satisfied", "Satisfied (rated 4-5)", lambda a: a.get("rating") in ("4", "5")),
    ("unsatisfied", "Rated 1-3", lambda a: a.get("rating") in ("1", "2", "3")),
    ("worse", "Feeling worse", lambda a: a.get("feeling") == "worse"),
    ("nurse", "Asked for a nurse", lambda a: a.get("nurse") == "yes"),
]


def summary(records: Iterable[Record]) -> Summary:
    """Every figure of the results page, from one pass and one classification of each appointment."""
    states: Counter[str] = Counter()
    labels: dict[str, str] = dict(STATES)
    said: Counter[str] = Counter()
    total = 0
    for rec in records:
        total += 1
        key, label = classify(rec)
        states[key] += 1
        labels.setdefault(key, label)
        for name, _, test in ANSWER_COUNTS:
            said[name] += test(rec.answers)
    where = [Count(k, labels[k], states[k]) for k in labels]
    answers = [Count(name, label, said[name]) for name, label, _ in ANSWER_COUNTS]
    return Summary(
        total=total,
        groups=[Group("where", "Where each appointment stands", where), Group("said", "What patients said", answers)],
        attention=sum(states[k] for k in ATTENTION),
    )


# Plain words ----------------------------------------------------------------------------------

OUTCOME_TEXT = {
    Outcome.REACHED: "Reached and confirmed",
    Outcome.WRONG_PERSON: "Someone else answered; nothing about the visit was said",
    Outcome.NOT_CONFIRMED: "Someone answered but did not confirm who they are",
    Outcome.MESSAGE_LEFT: "Left a short message on an answering machine",
    Outcome.UNREACHED: "No answer on every try",
    Outcome.OPTED_OUT: "Not called: the number is on the do-not-call list",
    Outcome.EXPIRED: "Not called: no allowed calling time was left before the deadline",
    Outcome.REJECTED: "Twilio refused the call for this number (see detail)",
    Outcome.IN_DOUBT: "Call may have been placed; not placed again (see detail)",
    Outcome.CANCELLED: "Cancelled by the scheduling system",
}
REASON_TEXT = {
    "outside_calling_hours": "outside calling hours",
    "holiday": "a clinic holiday",
    "daily_limit": "already called as often as allowed that day",
    "weekly_limit": "already called as often as allowed that week",
    "past_deadline": "past the deadline for follow-up calls",
    "no_calling_time": "no calling time left before the deadline",
    NO_COMMON_HOURS: "no time is within calling hours in every time zone the patient may be in",
    "opted_out": "the number is on the do-not-call list",
    "disabled": "follow-up calls are switched off in settings",
    "rate_limit": "too many calls at the same moment",
    "busy": "the line was busy",
    "no-answer": "nobody answered",
    "failed": "the call failed",
    "canceled": "the call was cancelled before it connected",
    "moved": "the visit moved",
    "resumed": "what blocked it was fixed",
}
ATTEMPT_RESULT_TEXT = {
    "dialing": "Being placed",
    "placed": "Call placed",
    "in_doubt": "May have been placed; not placed again",
    "retrying": "Not placed; tried again later",
    "rejected": "Refused by Twilio",
    "blocked": "Not placed: blocked",
    "not_placed": "Never placed (Twilio has no record of it)",
}
CALL_STATUS_TEXT = {
    "queued": "Queued at Twilio",
    "initiated": "Dialling",
    "ringing": "Ringing",
    "in-progress": "In progress",
    "answered": "Answered",
    "completed": "Answered and ended",
    "busy": "Busy",
    "no-answer": "No answer",
    "failed": "Failed",
    "canceled": "Cancelled before it connected",
}
ANSWERED_BY_TEXT = {
    "human": "A person",
    "machine_start": "An answering machine",
    "machine_end_beep": "An answering machine",
    "machine_end_silence": "An answering machine",
    "machine_end_other": "An answering machine",
    "fax": "A fax machine",
    "unknown": "Could not tell",
}
IDENTITY_TEXT = {"confirmed": "Confirmed who they are", "not_patient": "Said they are not the patient"}
NURSE_TEXT = {"yes": "Asked for a nurse", "no": "Did not want a nurse to call"}
ANSWER_ORDER = ("identity", "feeling", "rating", "nurse", "callback_id")


ACCOUNT_REFUSED = "Twilio refused the request for the whole account: "  # ivr.workers.followups


def blocked_text(reason: str) -> str:
    """Why follow-ups wait, for the manager: the setting's name and Twilio's own words stay in the log."""
    from ivr.operations import readiness
    from ivr.staff.callstatus import twilio_reason

    if reason.startswith(ACCOUNT_REFUSED):
        return f"Twilio refuses calls for the whole account: {twilio_reason(reason[len(ACCOUNT_REFUSED):])}"
    return readiness.in_words(reason) or "no reason recorded"


def reason_text(code: str) -> str:
    """Why the next try is later, in words ("" for none; an unknown code as it is)."""
    return REASON_TEXT.get(code, code)


def local_time(when: float | str | None, zone: str) -> dt.datetime | None:
    """An epoch (or ISO time) in the patient's zone; None for none or nonsense."""
    if when in (None, "", 0, 0.0, "0"):
        return None
    try:
        moment = dt.datetime.fromtimestamp(float(when), dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        try:
            moment = dt.datetime.fromisoformat(str(when))
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
    try:
        return moment.astimezone(ZoneInfo(zone or "UTC"))
    except (KeyError, ValueError):
        return moment


def when_text(moment: dt.datetime | None) -> str:
    """A time as shown on these pages: Tue 25 Nov 10:00."""
    return moment.strftime("%a %d %b %H:%M") if moment else "—"


def next_try(rec: Record) -> dt.datetime | None:
    """When the next try is due (patient's zone), for an appointment still waiting; else None."""
    key, _ = classify(rec)
    if key not in ("scheduled", "blocked"):
        return None
    return local_time(rec.next_try_at, rec.timezone)


def state_text(rec: Record) -> str:
    """Where the appointment stands, in one sentence."""
    key, label = classify(rec)
    if key == "scheduled":
        when = next_try(rec)
        why = reason_text(rec.last_reason)
        if when is None:
            return "Waiting to be scheduled" + (f": {why}" if why else "")
        return f"Will call {when_text(when)} ({PATIENT_TIME})" + (f": {why}" if why else "")
    if key == "calling":
        return f"Calling now (attempt {rec.attempts})" if rec.attempts else "Calling now"
    if key == "blocked":
        return f"Blocked: {blocked_text(rec.blocked_reason)} — resumes by itself once fixed"
    if key == NO_COMMON_HOURS:
        return no_common_hours_text(rec)
    return OUTCOME_TEXT.get(key, label)


def no_common_hours_text(rec: Record) -> str:
    """Why a follow-up is never dialled: its zone and its number's area share no calling hours."""
    declared, *area = patient_zones(rec.timezone, rec.phone, rec.at)
    return (f"Not called: the appointment's time zone ({declared}) and the phone number's area "
            f"({', '.join(area) or 'unknown'}) share no time inside calling hours. "
            "Send the appointment again with the patient's real time zone and it is scheduled as usual")


def answer_texts(answers: dict[str, str]) -> list[str]:
    """The patient's answers in words, in the order the call asks them."""
    out = []
    for name in [*ANSWER_ORDER, *sorted(set(answers) - set(ANSWER_ORDER))]:
        value = answers.get(name)
        if value is None:
            continue
        if name == "identity":
            out.append(IDENTITY_TEXT.get(value, f"Identity: {value}"))
        elif name == "feeling":
            out.append(f"Feeling: {value}")
        elif name == "rating":
            out.append(f"Rated the visit {value} of 5")
        elif name == "nurse":
            out.append(NURSE_TEXT.get(value, f"Nurse: {value}"))
        elif name == "callback_id":
            out.append("A call back was queued for the nurse")
        else:
            out.append(f"{name.replace('_', ' ').capitalize()}: {value}")
    return out


def _detail_time(value: str, zone: str) -> str:
    moment = local_time(value, zone)
    return f"{when_text(moment)} ({PATIENT_TIME})" if moment else value


def _attempt(d: dict[str, str]) -> str:
    return f"Attempt {d['attempt']}: " if d.get("attempt") else ""


def _with(text: str, extra: str) -> str:
    return f"{text} ({extra})" if extra else text


def _ev_deferred(d: dict[str, str], zone: str) -> str:
    text = _attempt(d) + "put off"
    if d.get("until"):
        text += f" until {_detail_time(d['until'], zone)}"
    return text + (f": {reason_text(d['reason'])}" if d.get("reason") else "")


def _ev_retry(d: dict[str, str], zone: str) -> str:
    text = f"Will try again (attempt {d.get('attempt', '?')})"
    if d.get("until"):
        text += f" at {_detail_time(d['until'], zone)}"
    return text + (f": {reason_text(d['status'])}" if d.get("status") else "")


def _ev_finished(d: dict[str, str], zone: str) -> str:
    outcome = d.get("outcome", "")
    text = _attempt(d) + "finished: " + OUTCOME_TEXT.get(outcome, outcome or "no outcome recorded")
    return _with(text, reason_text(d.get("status", "")))


def _ev_callback(d: dict[str, str], zone: str) -> str:
    desk = d.get("department", "").replace("_", " ")
    return _attempt(d) + "asked for a call back" + (f" from the {desk} desk" if desk else "")


def _ev_blocked(d: dict[str, str], zone: str) -> str:
    why = d.get("detail") or reason_text(d.get("reason", "")) or "no reason recorded"
    return f"Blocked: {why} — resumes by itself once fixed"


def _ev_moved(d: dict[str, str], zone: str) -> str:
    changed = d.get("changed", "")
    text = "Booked again after a cancellation" if changed == "reopened" else _with("The visit changed", changed)
    when = d.get("next_try") or d.get("until")
    return text + (f"; next try {_detail_time(when, zone)}" if when else "")


def _ev_cancelled(d: dict[str, str], zone: str) -> str:
    during = " during a call" if d.get("during_call") == "True" else ""
    return f"Cancelled by the scheduling system{during}"


def _ev_reconciled(d: dict[str, str], zone: str) -> str:
    status, result = d.get("status", ""), d.get("result", "")
    settled = {**OUTCOME_TEXT, "retry": "will try again", "stopped": "stopped", "ignored": "already settled"}
    found = [CALL_STATUS_TEXT.get(status, status), settled.get(result, result), d.get("detail", "")]
    return _attempt(d) + _with("no status came from Twilio; asked it", "; ".join(x for x in found if x))


EVENT_TEXT: dict[str, Callable[[dict[str, str], str], str]] = {
    "deferred": _ev_deferred,
    "retry": _ev_retry,
    "finished": _ev_finished,
    "callback_requested": _ev_callback,
    "blocked": _ev_blocked,
    "moved": _ev_moved,
    "reconciled": _ev_reconciled,
    "stopped": lambda d, z: "Stopped, not called" + (f": {reason_text(d['reason'])}" if d.get("reason") else ""),
    "placed": lambda d, z: _with(_attempt(d) + "call placed", d.get("call", "")),
    "rejected": lambda d, z: _with(_attempt(d) + "Twilio refused the call", d.get("detail", "")),
    "in_doubt": lambda d, z: _with(_attempt(d) + "the call may have been placed; not placed again",
                                   d.get("detail", "")),
    "machine": lambda d, z: _attempt(d) + ANSWERED_BY_TEXT.get(d.get("answered_by", ""), "A machine") + " answered",
    "opted_out": lambda d, z: _attempt(d) + "the patient asked not to be called again",
    "resumed": lambda d, z: _attempt(d) + "what blocked it was fixed; trying again",
    "cancelled": _ev_cancelled,
    "not_scheduled": lambda d, z: _attempt(d) + "not called: no time is within calling hours in all of "
                                  + (d.get("zones") or "the patient's time zones"),
    # Texts after a follow-up that reached nobody (ivr.texts; IVR_TEXTS_AFTER_UNREACHED_FOLLOWUP).
    "text": lambda d, z: "Texted the patient the clinic's number to call",
    "text_not_sent": lambda d, z: "No text to the patient: " + _text_reason(d.get("reason", "")),
    "text_held": lambda d, z: "A text to the patient waits for calling hours in their time zone",
}


def _text_reason(reason: str) -> str:
    from ivr.texts.webhooks import REASON_WORDS

    return REASON_WORDS.get(reason) or (f"Twilio refused it (error {reason.split(':', 1)[1]})"
                                        if reason.startswith("refused:") else reason or "not sent")


def event_text(event: dict, zone: str) -> str:
    """One history entry in words (an unknown event: its name and details as they are)."""
    name = str(event.get("event", ""))
    details = {k: str(v) for k, v in event.items() if k not in ("at", "event")}
    if not isinstance(event.get("at"), (int, float)) and event.get("at"):
        details.setdefault("until", str(event["at"]))  # "retry" notes its next time as "at" (over the note's own)
    words = EVENT_TEXT.get(name)
    if words is not None:
        text = words(details, zone)
    else:
        text = "; ".join([name or "event", *(f"{k}: {v}" for k, v in sorted(details.items()))])
    return mask_numbers(text)


# Views of records, as the templates show them ------------------------------------------------

@dataclass(frozen=True)
class Row:
    rec: Record
    key: str
    label: str
    text: str
    next_try: dt.datetime | None
    answers: list[str]


def row(rec: Record) -> Row:
    key, label = classify(rec)
    return Row(rec, key, label, state_text(rec), next_try(rec), answer_texts(rec.answers))


@dataclass(frozen=True)
class AttemptView:
    n: int
    started: dt.datetime | None
    result: str
    status: str
    answered_by: str
    call_sid: str
    detail: str


def attempt_view(n: int, raw: dict[str, str], zone: str) -> AttemptView:
    status = raw.get("final_status") or raw.get("call_status") or ""
    answered = raw.get("answered_by", "")
    return AttemptView(
        n=n,
        started=local_time(raw.get("started_at"), zone),
        result=ATTEMPT_RESULT_TEXT.get(raw.get("result", ""), raw.get("result", "") or "—"),
        status=CALL_STATUS_TEXT.get(status, status or "—"),
        answered_by=ANSWERED_BY_TEXT.get(answered, answered or "—"),
        call_sid=raw.get("call_sid", ""),
        detail=mask_numbers(raw.get("detail", "")),
    )


@dataclass(frozen=True)
class EventView:
    at: dt.datetime | None
    name: str
    text: str


def event_view(event: dict, zone: str) -> EventView:
    at = event.get("at")
    moment = local_time(at, zone) if isinstance(at, (int, float)) else None
    return EventView(moment, str(event.get("event", "")), event_text(event, zone))


# Pages ------------------------------------------------------------------------------------------

def _audit(detail: str, target: str = "") -> None:
    user = current_user()
    if user is not None:
        services.get().audit.record(user.name, actions.VIEW_FOLLOWUPS, target=target, detail=detail)


@bp.get("")
@bp.get("/")
@role_required("admin")
def index():
    store = FollowupStore(services.get().redis)
    records = list(store.iter_all())
    latest = sorted(records, key=lambda r: r.at, reverse=True)[:ROWS]
    attention = sorted((r for r in records if classify(r)[0] in ATTENTION), key=lambda r: r.updated_at, reverse=True)
    _audit("results page")
    return render_template(
        "admin/followups.html",
        summary=summary(records),
        rows=[row(r) for r in latest],
        attention=[row(r) for r in attention[:ROWS]],
        do_not_call=store.do_not_call_count(),
        patient_time=PATIENT_TIME,
        attention_keys=ATTENTION,
    )


@bp.get("/<appointment_id>")
@role_required("admin")
def detail(appointment_id: str):
    store = FollowupStore(services.get().redis)
    rec = store.get(appointment_id)
    if rec is None:
        abort(404)
    zone = rec.timezone
    _audit("appointment page", target=rec.id)
    return render_template(
        "admin/followup.html",
        r=row(rec),
        rec=rec,
        attempts=[attempt_view(n, a, zone) for n, a in enumerate(store.attempts(rec.id, rec.attempts), 1) if a],
        events=[event_view(e, zone) for e in store.events(rec.id)],
        completed=local_time(rec.completed_at, zone),
        updated=local_time(rec.updated_at, zone),
        patient_time=PATIENT_TIME,
    )


def _csv_row(rec: Record) -> list[str]:
    completed = dt.datetime.fromtimestamp(rec.completed_at, dt.timezone.utc).isoformat() if rec.completed_at else ""
    when = next_try(rec)
    return [
        rec.id, rec.name, rec.masked_phone, rec.at.isoformat(), rec.timezone, rec.provider, rec.department, rec.lang,
        rec.status, rec.outcome, str(rec.attempts), rec.answers.get("identity", ""), rec.answers.get("feeling", ""),
        rec.answers.get("rating", ""), rec.answers.get("nurse", ""), completed,
        classify(rec)[0], state_text(rec), when.isoformat() if when else "",
    ]


def _safe(cell: str) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ is read as text."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") and not cell.startswith("+*") else cell


@bp.get("/export.csv")
@role_required("admin")
def export():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for rec in FollowupStore(services.get().redis).iter_all():
        writer.writerow([_safe(c) for c in _csv_row(rec)])
    _audit("CSV export")
    return Response(
        out.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="followups.csv"'},
    )

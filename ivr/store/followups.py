"""Follow-up calls in Redis: appointments, attempts and their dial guards, answers, do-not-call list.

Appointments are keyed by a stable id (ivr.followups.appointments): adding one
that exists changes nothing. Each call attempt ("{id}:{n}", n = 1, 2, ...)
has a *dial guard* like "Call patient" (ivr.store.outbound): written with
SET NX **before** the REST request, in the same script that re-checks the
do-not-call list and the patient's calls per day and week, so two workers can
never both call. A guard is dropped only when no call was certainly placed.

Statuses of an appointment: ``scheduled`` (a job will try at ``next_try_at``),
``calling`` (a call is placed or being placed), ``blocked`` (no call can be
placed until something outside the appointment is fixed: settings, the Twilio
account; ``blocked_reason`` says what, and it resumes by itself), ``done``
(finished: see ``outcome``), ``stopped`` (not called: opted out, past the
deadline), ``cancelled`` (the scheduling system cancelled the visit).
``completed_at`` is written once (HSETNX): one completed follow-up per appointment.

``gen`` counts changes of time or number: a job carries the generation it was
queued for, and a job for an older one (a moved visit's old time) does nothing.

Patients are known by ``patient_key(phone)`` (sha256) in counters and the
do-not-call list; the number itself is only in the appointment's hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import redis

from ivr.followups.appointments import Appointment
from ivr.protection.logging_setup import mask_number

from . import keys

TTL = 400 * 86400  # attempts and guards: longer than any retry, kept for the results pages
EVENTS_KEPT = 50
DONE_STATUSES = ("done", "stopped", "cancelled")
UTC = dt.timezone.utc

# Twilio's call statuses in order; final ones share the last rank.
STATUS_RANK = {"queued": 0, "initiated": 1, "ringing": 2, "in-progress": 3, "answered": 3,
               "completed": 4, "busy": 4, "no-answer": 4, "failed": 4, "canceled": 4}
FINAL = ("completed", "busy", "no-answer", "failed", "canceled")


class Outcome:
    REACHED = "reached"  # the patient confirmed who they are
    WRONG_PERSON = "wrong_person"  # someone else answered: nothing about the visit was said
    NOT_CONFIRMED = "not_confirmed"  # a person answered but did not confirm (hung up, no answer)
    MESSAGE_LEFT = "message_left"  # a machine answered: the short message without health details
    UNREACHED = "unreached"  # busy / no answer / failed on every try
    OPTED_OUT = "opted_out"  # on the do-not-call list before it could be called
    EXPIRED = "expired"  # no allowed time left before the give-up deadline
    REJECTED = "rejected"  # Twilio refused the request
    IN_DOUBT = "in_doubt"  # a call may have been placed but nothing confirms it: not called again
    CANCELLED = "cancelled"  # the scheduling system cancelled the visit before it was called about


def patient_key(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()[:32]


def attempt_name(appointment_id: str, n: int) -> str:
    return f"{appointment_id}:{int(n)}"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: dict) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


@dataclass(frozen=True)
class Record:
    """An appointment as stored, with its follow-up state."""

    id: str
    name: str
    phone: str
    at: dt.datetime
    timezone: str
    provider: str
    department: str
    lang: str
    status: str
    outcome: str = ""
    attempts: int = 0
    answers: dict[str, str] = field(default_factory=dict)
    next_try_at: float = 0
    last_reason: str = ""
    completed_at: float = 0
    blocked_reason: str = ""  # status "blocked": what must be fixed (settings, the Twilio account)
    updated_at: float = 0
    gen: int = 0  # changes of time or number so far (jobs for an older generation do nothing)
    department_name: str = ""  # as the scheduling system names it (``department`` is the desk)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    @property
    def masked_phone(self) -> str:
        return mask_number(self.phone)


# KEYS: appointment, index.  ARGV: id, at, fields... (pairs)
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: dial, attempt, appointment, patient calls, dnc, in flight.
# ARGV: ttl, now, n, attempt name, day_start, week_start, per_day, per_week, patient, gen
_CLAIM = """
local status = redis.call('HGET', KEYS[3], 'status')
if not status then return 'unknown' end
if status == 'done' or status == 'stopped' or status == 'cancelled' then return 'finished' end
if ARGV[10] ~= '' and (redis.call('HGET', KEYS[3], 'gen') or '0') ~= ARGV[10] then return 'moved' end
if redis.call('HEXISTS', KEYS[5], ARGV[9]) == 1 then return 'opted_out' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'guarded' end
if redis.call('ZCOUNT', KEYS[4], ARGV[5], '+inf') >= tonumber(ARGV[7]) then return 'daily_limit' end
if redis.call('ZCOUNT', KEYS[4], '(' .. ARGV[6], '+inf') >= tonumber(ARGV[8]) then return 'weekly_limit' end
redis.call('SET', KEYS[1], 'pending', 'EX', ARGV[1])
redis.call('HSET', KEYS[2], 'started_at', ARGV[2], 'result', 'dialing', 'updated_at', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[3], 'status', 'calling', 'updated_at', ARGV[2])
if tonumber(redis.call('HGET', KEYS[3], 'attempts') or '0') < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[3], 'attempts', ARGV[3])
end
return 'ok'
"""

# KEYS: dial, attempt, call map.  ARGV: ttl, now, call_sid, attempt name
_RECORD = """
local dial = redis.call('GET', KEYS[1])
if not dial then return 0 end
if dial ~= 'pending' and dial ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[1])
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[1])
redis.call('HSET', KEYS[2], 'call_sid', ARGV[3], 'updated_at', ARGV[2])
if redis.call('HGET', KEYS[2], 'result') == 'dialing' or redis.call('HGET', KEYS[2], 'result') == 'in_doubt' then
  redis.call('HSET', KEYS[2], 'result', 'placed')
end
return 1
"""

# KEYS: dial, attempt, patient calls, appointment, in flight.  ARGV: now, result, detail, attempt name, status
# The call certainly was not placed: drop the guard and the call from the patient's count.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= 'pending' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('ZREM', KEYS[5], ARGV[4])
redis.call('HSET', KEYS[2], 'result', ARGV[2], 'detail', ARGV[3], 'updated_at', ARGV[1])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[4], 'status', ARGV[5]) end
return 1
"""

# KEYS: appointment, blocked.  ARGV: now, outcome, status, id
_COMPLETE = """
if redis.call('HSETNX', KEYS[1], 'completed_at', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'outcome', ARGV[2], 'status', ARGV[3], 'updated_at', ARGV[1], 'next_try_at', '0',
           'blocked_reason', '')
redis.call('ZREM', KEYS[2], ARGV[4])
return 1
"""

# KEYS: appointment, blocked.  ARGV: now, id, attempt, reason, kind, gen
# Only a follow-up still to be called (scheduled or calling: the attempt's guard was released) is blocked.
_BLOCK = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'scheduled' and status ~= 'calling' and status ~= 'blocked' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'blocked', 'blocked_reason', ARGV[4], 'blocked_kind', ARGV[5],
           'blocked_attempt', ARGV[3], 'blocked_gen', ARGV[6], 'next_try_at', '0', 'updated_at', ARGV[1])
if redis.call('ZSCORE', KEYS[2], ARGV[2]) == false then redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2]) end
return 1
"""

# KEYS: appointment, blocked.  ARGV: now, id.  Returns {attempt, gen} of a blocked follow-up, now scheduled.
_UNBLOCK = """
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('HGET', KEYS[1], 'status') ~= 'blocked' then return false end
local n = redis.call('HGET', KEYS[1], 'blocked_attempt') or '1'
local gen = redis.call('HGET', KEYS[1], 'blocked_gen') or '0'
redis.call('HSET', KEYS[1], 'status', 'scheduled', 'blocked_reason', '', 'updated_at', ARGV[1])
return {n, gen}
"""

# KEYS: appointment, index, blocked.  ARGV: now, at, expected updated_at, id, fields... (pairs)
# Moves a follow-up not yet finished or in a call: new fields, next generation, status scheduled.
_MOVE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'unknown' end
if (redis.call('HGET', KEYS[1], 'updated_at') or '') ~= ARGV[3] then return 'changed' end
if status == 'calling' then return 'calling' end
if status == 'done' or status == 'stopped' then return 'finished' end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('HDEL', KEYS[1], 'completed_at', 'outcome', 'blocked_reason')
redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'status', 'scheduled', 'updated_at', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[4])
return 'moved'
"""

# KEYS: appointment, blocked.  ARGV: now, id
_CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'unknown' end
if status == 'cancelled' then return 'unchanged' end
if status == 'done' or status == 'stopped' then return 'finished' end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'outcome', 'cancelled', 'completed_at', ARGV[1],
           'next_try_at', '0', 'blocked_reason', '', 'updated_at', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('ZREM', KEYS[2], ARGV[2])
return status == 'calling' and 'cancelled_calling' or 'cancelled'
"""

# KEYS: attempt.  ARGV: status, rank, now, answered_by
_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local rank = tonumber(redis.call('HGET', KEYS[1], 'call_rank') or '-1')
if tonumber(ARGV[2]) >= rank then
  redis.call('HSET', KEYS[1], 'call_status', ARGV[1], 'call_rank', ARGV[2])
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'answered_by', ARGV[4]) end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])
return 1
"""


class FollowupStore:
    def __init__(self, conn: redis.Redis, clock: Callable[[], float] = time.time, ttl: int = TTL) -> None:
        self.conn = conn
        self.clock = clock
        self.ttl = ttl
        self._add = conn.register_script(_ADD)
        self._claim = conn.register_script(_CLAIM)
        self._record = conn.register_script(_RECORD)
        self._release = conn.register_script(_RELEASE)
        self._complete = conn.register_script(_COMPLETE)
        self._status = conn.register_script(_STATUS)
        self._block = conn.register_script(_BLOCK)
        self._unblock = conn.register_script(_UNBLOCK)
        self._move = conn.register_script(_MOVE)
        self._cancel = conn.register_script(_CANCEL)

    # Appointments -----------------------------------------------------------

    @staticmethod
    def _fields(a: Appointment, now: float) -> list[str]:
        pairs = {
            "id": a.id, "name": a.name, "phone": a.phone, "at": repr(a.at.timestamp()), "tz": a.timezone,
            "provider": a.provider, "department": a.department, "lang": a.language,
            "department_name": a.department_name or a.department,
            "status": "scheduled", "attempts": "0", "created_at": repr(now), "updated_at": repr(now),
        }
        return [x for kv in pairs.items() for x in kv]

    def add_many(self, appointments: Iterable[Appointment]) -> list[bool]:
        """Store new appointments in one round trip; True for each one added, False if it existed."""
        items = list(appointments)
        if not items:
            return []
        now = self.clock()
        pipe = self.conn.pipeline(transaction=False)
        for a in items:
            self._add(keys=[keys.FOLLOWUP_APPOINTMENT.format(a.id), keys.FOLLOWUP_APPOINTMENTS],
                      args=[a.id, repr(a.at.timestamp()), *self._fields(a, now)], client=pipe)
        return [bool(r) for r in pipe.execute()]

    def add(self, appointment: Appointment) -> bool:
        return self.add_many([appointment])[0]

    def get(self, appointment_id: str) -> Record | None:
        raw = self.conn.hgetall(keys.FOLLOWUP_APPOINTMENT.format(appointment_id))
        return self._record_of(_decode(raw)) if raw else None

    @staticmethod
    def _record_of(f: dict[str, str]) -> Record:
        from ivr.clinic.calling_hours import zone_named

        zone = zone_named(f.get("tz") or "UTC")
        return Record(
            id=f["id"], name=f.get("name", ""), phone=f.get("phone", ""),
            at=dt.datetime.fromtimestamp(float(f.get("at") or 0), zone), timezone=f.get("tz", "UTC"),
            provider=f.get("provider", ""), department=f.get("department", ""), lang=f.get("lang", "en"),
            status=f.get("status", ""), outcome=f.get("outcome", ""), attempts=int(f.get("attempts") or 0),
            answers={k[4:]: v for k, v in f.items() if k.startswith("ans:")},
            next_try_at=float(f.get("next_try_at") or 0), last_reason=f.get("last_reason", ""),
            completed_at=float(f.get("completed_at") or 0), blocked_reason=f.get("blocked_reason", ""),
            updated_at=float(f.get("updated_at") or 0), gen=int(f.get("gen") or 0),
            department_name=f.get("department_name") or f.get("department", ""),
        )

    def list(self, limit: int = 200, offset: int = 0, newest_first: bool = True) -> list[Record]:
        ids = (self.conn.zrevrange if newest_first else self.conn.zrange)(
            keys.FOLLOWUP_APPOINTMENTS, offset, offset + limit - 1
        )
        return self._many([_text(i) for i in ids])

    def between(self, start: float, end: float, batch: int = 500):
        """Appointments whose time is in [start, end), by time (the reports' range), read ``batch`` at a time."""
        ids = [_text(i) for i in self.conn.zrangebyscore(keys.FOLLOWUP_APPOINTMENTS, start, f"({end}")]
        for first in range(0, len(ids), batch):
            yield from self._many(ids[first:first + batch])

    def all_ids(self) -> list[str]:
        return [_text(i) for i in self.conn.zrange(keys.FOLLOWUP_APPOINTMENTS, 0, -1)]

    def _many(self, ids: list[str]) -> list[Record]:
        pipe = self.conn.pipeline(transaction=False)
        for i in ids:
            pipe.hgetall(keys.FOLLOWUP_APPOINTMENT.format(i))
        return [self._record_of(_decode(raw)) for raw in pipe.execute() if raw]

    def iter_all(self, batch: int = 500):
        ids = self.all_ids()
        for start in range(0, len(ids), batch):
            yield from self._many(ids[start:start + batch])

    def count(self) -> int:
        return int(self.conn.zcard(keys.FOLLOWUP_APPOINTMENTS))

    def note(self, appointment_id: str, event: str, **details: object) -> None:
        """An event in the appointment's history (gate refusals, attempts); never a phone number."""
        entry = json.dumps({"at": self.clock(), "event": event, **{k: str(v) for k, v in details.items()}})
        key = keys.FOLLOWUP_EVENTS.format(appointment_id)
        pipe = self.conn.pipeline(transaction=False)
        pipe.lpush(key, entry)
        pipe.ltrim(key, 0, EVENTS_KEPT - 1)
        pipe.expire(key, self.ttl)
        pipe.execute()

    def events(self, appointment_id: str) -> list[dict]:
        return [json.loads(e) for e in self.conn.lrange(keys.FOLLOWUP_EVENTS.format(appointment_id), 0, -1)]

    def schedule(self, appointment_id: str, when: float, reason: str = "") -> None:
        self.conn.hset(keys.FOLLOWUP_APPOINTMENT.format(appointment_id),
                       mapping={"next_try_at": repr(when), "last_reason": reason, "updated_at": repr(self.clock())})

    def set_reason(self, appointment_id: str, reason: str) -> None:
        self.conn.hset(keys.FOLLOWUP_APPOINTMENT.format(appointment_id), "last_reason", reason)

    def set_status(self, appointment_id: str, status: str) -> None:
        self.conn.hset(keys.FOLLOWUP_APPOINTMENT.format(appointment_id), "status", status)

    def bump_defers(self, appointment_id: str) -> int:
        return int(self.conn.hincrby(keys.FOLLOWUP_APPOINTMENT.format(appointment_id), "defers", 1))

    def complete(self, appointment_id: str, outcome: str, status: str = "done") -> bool:
        """Finish the appointment's follow-up once (False if it was already finished)."""
        return bool(self._complete(keys=[keys.FOLLOWUP_APPOINTMENT.format(appointment_id), keys.FOLLOWUP_BLOCKED],
                                   args=[repr(self.clock()), outcome, status, appointment_id]))

    # Changes from the scheduling system ---------------------------------------------

    CHANGED_FIELDS = ("name", "phone", "at", "tz", "provider", "department", "department_name", "lang")

    def differences(self, a: Appointment) -> list[str]:
        """The stored fields ``a`` would change (empty: nothing new), for an appointment that exists."""
        stored = _decode(self.conn.hgetall(keys.FOLLOWUP_APPOINTMENT.format(a.id)))
        new = dict(zip(self._fields(a, 0)[::2], self._fields(a, 0)[1::2]))
        if "department_name" not in stored:
            stored["department_name"] = stored.get("department", "")
        return [f for f in self.CHANGED_FIELDS if stored.get(f) != new[f]]

    def move(self, a: Appointment) -> str:
        """Store a changed appointment (a new time, number...): 'moved', or why not: 'calling' (a call
        is under way), 'finished' (its follow-up is over), 'changed' (changed meanwhile), 'unknown'."""
        key = keys.FOLLOWUP_APPOINTMENT.format(a.id)
        expected = self.conn.hget(key, "updated_at")
        fields = {k: v for k, v in zip(self._fields(a, 0)[::2], self._fields(a, 0)[1::2]) if k in self.CHANGED_FIELDS}
        pairs = [x for kv in fields.items() for x in kv]
        return _text(self._move(
            keys=[key, keys.FOLLOWUP_APPOINTMENTS, keys.FOLLOWUP_BLOCKED],
            args=[repr(self.clock()), repr(a.at.timestamp()), _text(expected) if expected is not None else "", a.id, *pairs],
        ))

    def cancel(self, appointment_id: str) -> str:
        """Cancel the follow-up: 'cancelled', 'cancelled_calling' (a call was under way), or why
        nothing changed: 'unchanged' (already cancelled), 'finished', 'unknown'."""
        return _text(self._cancel(keys=[keys.FOLLOWUP_APPOINTMENT.format(appointment_id), keys.FOLLOWUP_BLOCKED],
                                  args=[repr(self.clock()), appointment_id]))

    # Blocked follow-ups ---------------------------------------------------------------

    def block(self, appointment_id: str, n: int, reason: str, kind: str, gen: int) -> bool:
        """Hold the follow-up until ``reason`` is fixed (kind 'settings' or 'account'); attempt ``n`` resumes then."""
        return bool(self._block(keys=[keys.FOLLOWUP_APPOINTMENT.format(appointment_id), keys.FOLLOWUP_BLOCKED],
                                args=[repr(self.clock()), appointment_id, int(n), reason[:300], kind, int(gen)]))

    def blocked_ids(self, limit: int = 1000) -> list[str]:
        """Blocked follow-ups, the longest waiting first."""
        return [_text(i) for i in self.conn.zrange(keys.FOLLOWUP_BLOCKED, 0, limit - 1)]

    def blocked_count(self) -> int:
        return int(self.conn.zcard(keys.FOLLOWUP_BLOCKED))

    def unblock(self, appointment_id: str) -> tuple[int, int] | None:
        """Take a follow-up out of the blocked state: (attempt, gen) to try, or None if it was not blocked."""
        got = self._unblock(keys=[keys.FOLLOWUP_APPOINTMENT.format(appointment_id), keys.FOLLOWUP_BLOCKED],
                            args=[repr(self.clock()), appointment_id])
        if not got:
            return None
        return int(_text(got[0])), int(_text(got[1]))

    def take_probe(self, seconds: int) -> bool:
        """True for one caller per ``seconds``: the turn to try a blocked follow-up again."""
        return bool(self.conn.set(keys.FOLLOWUP_PROBE, repr(self.clock()), nx=True, ex=max(1, int(seconds))))

    def end_probe(self) -> None:
        self.conn.delete(keys.FOLLOWUP_PROBE)

    # Calls in flight ------------------------------------------------------------------

    def in_flight(self, older_than: float) -> list[tuple[str, int]]:
        """Attempts dialled before ``older_than`` (epoch) and not yet settled: (appointment id, n)."""
        out = []
        for name in self.conn.zrangebyscore(keys.FOLLOWUP_INFLIGHT, "-inf", older_than):
            appointment_id, _, n = _text(name).rpartition(":")
            out.append((appointment_id, int(n)))
        return out

    def landed(self, appointment_id: str, n: int) -> None:
        """The attempt is settled (or certainly never placed): no longer in flight."""
        self.conn.zrem(keys.FOLLOWUP_INFLIGHT, attempt_name(appointment_id, n))

    def record_answer(self, appointment_id: str, name: str, value: str) -> None:
        self.conn.hset(keys.FOLLOWUP_APPOINTMENT.format(appointment_id), f"ans:{name}", value[:100])

    # Patients ---------------------------------------------------------------

    def past_calls(self, phone: str) -> list[dt.datetime]:
        """When this number was called for follow-ups (the gate's history)."""
        raw = self.conn.zrange(keys.FOLLOWUP_PATIENT_CALLS.format(patient_key(phone)), 0, -1, withscores=True)
        return [dt.datetime.fromtimestamp(score, UTC) for _, score in raw]

    def past_call_zones(self, phone: str) -> list[tuple[str, str, dt.datetime]]:
        """(zone, number, time) of the appointment behind each follow-up call to this number in the last week:
        a patient's local day is judged in the zones of all their appointments, not one."""
        members = self.conn.zrangebyscore(keys.FOLLOWUP_PATIENT_CALLS.format(patient_key(phone)),
                                          self.clock() - 8 * 86400, "+inf")
        ids = sorted({_text(m).rsplit(":", 1)[0] for m in members})
        if not ids:
            return []
        pipe = self.conn.pipeline(transaction=False)
        for appointment_id in ids:
            pipe.hmget(keys.FOLLOWUP_APPOINTMENT.format(appointment_id), "tz", "phone", "at")
        return [(_text(tz), _text(number or b""), dt.datetime.fromtimestamp(float(at or 0), UTC))
                for tz, number, at in pipe.execute() if tz]

    def opt_out(self, phone: str, source: str) -> bool:
        """Put the number on the do-not-call list (True if it was not on it)."""
        entry = json.dumps({"at": self.clock(), "source": source, "last4": phone[-4:]})
        return bool(self.conn.hsetnx(keys.FOLLOWUP_DO_NOT_CALL, patient_key(phone), entry))

    def opted_out(self, phone: str) -> bool:
        return bool(self.conn.hexists(keys.FOLLOWUP_DO_NOT_CALL, patient_key(phone)))

    def do_not_call_count(self) -> int:
        return int(self.conn.hlen(keys.FOLLOWUP_DO_NOT_CALL))

    # Attempts and their guard -------------------------------------------------

    def claim_dial(self, appointment_id: str, n: int, phone: str, day_start: dt.datetime, per_day: int, per_week: int,
                   gen: int | None = None) -> str:
        """Take attempt ``n``'s guard if every rule still allows it. 'ok', or why not: 'finished',
        'moved' (not generation ``gen`` any more), 'opted_out', 'guarded' (an earlier run has it),
        'daily_limit', 'weekly_limit', 'unknown'."""
        name = attempt_name(appointment_id, n)
        now = self.clock()
        patient = patient_key(phone)
        result = self._claim(
            keys=[keys.FOLLOWUP_DIAL.format(name), keys.FOLLOWUP_ATTEMPT.format(name),
                  keys.FOLLOWUP_APPOINTMENT.format(appointment_id), keys.FOLLOWUP_PATIENT_CALLS.format(patient),
                  keys.FOLLOWUP_DO_NOT_CALL, keys.FOLLOWUP_INFLIGHT],
            args=[self.ttl, repr(now), int(n), name, repr(day_start.timestamp()), repr(now - 7 * 86400),
                  per_day, per_week, patient, "" if gen is None else int(gen)],
        )
        return _text(result)

    def dial_state(self, appointment_id: str, n: int) -> str | None:
        value = self.conn.get(keys.FOLLOWUP_DIAL.format(attempt_name(appointment_id, n)))
        return _text(value) if value is not None else None

    def record_call(self, appointment_id: str, n: int, call_sid: str) -> bool:
        """The call exists (Twilio's answer, or a webhook for it): the guard becomes its CallSid."""
        name = attempt_name(appointment_id, n)
        return bool(self._record(
            keys=[keys.FOLLOWUP_DIAL.format(name), keys.FOLLOWUP_ATTEMPT.format(name), keys.FOLLOWUP_CALL.format(call_sid)],
            args=[self.ttl, repr(self.clock()), call_sid, name],
        ))

    def release_dial(self, appointment_id: str, n: int, phone: str, result: str, detail: str, status: str = "") -> bool:
        """No call was placed (refused before sending, Twilio said no): drop the guard and the count."""
        name = attempt_name(appointment_id, n)
        return bool(self._release(
            keys=[keys.FOLLOWUP_DIAL.format(name), keys.FOLLOWUP_ATTEMPT.format(name),
                  keys.FOLLOWUP_PATIENT_CALLS.format(patient_key(phone)), keys.FOLLOWUP_APPOINTMENT.format(appointment_id),
                  keys.FOLLOWUP_INFLIGHT],
            args=[repr(self.clock()), result, detail, name, status],
        ))

    def mark_attempt(self, appointment_id: str, n: int, **fields: str) -> None:
        key = keys.FOLLOWUP_ATTEMPT.format(attempt_name(appointment_id, n))
        self.conn.hset(key, mapping={**fields, "updated_at": repr(self.clock())})
        self.conn.expire(key, self.ttl)

    def settle_once(self, appointment_id: str, n: int) -> bool:
        """True the first time an attempt's final status is handled (status callbacks may repeat)."""
        key = keys.FOLLOWUP_ATTEMPT.format(attempt_name(appointment_id, n))
        first = bool(self.conn.hsetnx(key, "settled_at", repr(self.clock())))
        self.landed(appointment_id, n)
        return first

    def note_status(self, appointment_id: str, n: int, status: str, answered_by: str = "") -> bool:
        if status not in STATUS_RANK:
            return False
        key = keys.FOLLOWUP_ATTEMPT.format(attempt_name(appointment_id, n))
        return bool(self._status(keys=[key], args=[status, STATUS_RANK[status], repr(self.clock()), answered_by]))

    def attempt(self, appointment_id: str, n: int) -> dict[str, str]:
        return _decode(self.conn.hgetall(keys.FOLLOWUP_ATTEMPT.format(attempt_name(appointment_id, n))))

    def attempts(self, appointment_id: str, upto: int) -> list[dict[str, str]]:
        return [self.attempt(appointment_id, n) for n in range(1, upto + 1)]

    def attempt_for_call(self, call_sid: str) -> tuple[str, int] | None:
        value = self.conn.get(keys.FOLLOWUP_CALL.format(call_sid))
        if value is None:
            return None
        appointment_id, _, n = _text(value).rpartition(":")
        return appointment_id, int(n)

    # API keys -------------------------------------------------------------------
    # Kept for callers of this store; the keys live in ivr.store.api_keys (records, rotation, revocation).

    def new_api_key(self, name: str, created_by: str = "") -> str:
        """A new key for the scheduling system; only its hash is stored. Returns the key (shown once).

        Refused (ivr.store.api_keys.ApiKeyExists) if NAME has an active key: rotate or revoke it."""
        from .api_keys import ApiKeyStore

        return ApiKeyStore(self.conn).create(name, created_by)[1]

    def api_key_name(self, key: str) -> str | None:
        """The name of ``key`` if it is valid now (not revoked), else None."""
        from .api_keys import ApiKeyStore

        return ApiKeyStore(self.conn).name_of(key)

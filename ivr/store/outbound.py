"""Calls the system places ("Call patient" in the console): the guard that rings a patient once, and bookkeeping.

Placing a call through Twilio's REST API is not idempotent: the same request
twice rings twice. So every attempt (one click in the console: a callback id
and an attempt key) has a *dial guard*, written with SET NX **before** the REST
request and never removed once the request may have reached Twilio:

* no guard          nobody has tried this attempt: the job may call.
* ``pending``       a job took the guard and is placing the call, or crashed or
                    timed out doing so: the call may or may not exist ("in
                    doubt"). Nobody calls again for this attempt.
* a CallSid         the call was placed (Twilio answered with its sid, or a
                    status callback for it arrived).

The guard is removed only when the call certainly was not placed (the request
never left, or Twilio refused it), so that a retry may try again.

Alongside, a hash per attempt for the console: ``staff``, ``result``
(see ``Result``), ``detail``, ``call_sid``, ``call_status`` (the staff leg as
Twilio reports it: initiated, ringing, in-progress, completed, busy,
no-answer, failed, canceled), ``patient_status`` and ``patient_duration``
(the Dial to the patient), ``started_at`` and ``updated_at`` (epoch seconds).
Nothing here stores or logs a phone number.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Callable

import redis

from . import keys

ATTEMPT_TTL = 30 * 86400  # guard and record of an attempt: far longer than any retry or console view
PENDING = "pending"
ATTEMPT_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
CALLBACK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")

# Twilio's call statuses in the order a call goes through them; final ones share the last rank.
STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}


class Result(StrEnum):
    """What became of an attempt, as far as the system knows."""

    DIALING = "dialing"  # guard taken, REST request under way (or the job died: see IN_DOUBT)
    PLACED = "placed"  # Twilio created the call; call_sid is known
    IN_DOUBT = "in_doubt"  # the request may have created a call: never placed again automatically
    RETRYING = "retrying"  # the request certainly did not reach Twilio; the job will be retried
    REJECTED = "rejected"  # Twilio refused the request (4xx): no call
    REFUSED = "refused"  # our own checks refused (not claimed, lease expired, no staff phone...): no call


def check_attempt(callback_id: str, attempt_key: str) -> None:
    """ValueError unless both are safe in key names and URLs."""
    if not isinstance(callback_id, str) or not CALLBACK_ID.fullmatch(callback_id):
        raise ValueError("invalid callback id")
    if not isinstance(attempt_key, str) or not ATTEMPT_KEY.fullmatch(attempt_key):
        raise ValueError("invalid attempt key: 8-64 letters, digits, '-' or '_'")


def _name(callback_id: str, attempt_key: str) -> str:
    check_attempt(callback_id, attempt_key)
    return f"{callback_id}:{attempt_key}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Attempt:
    """One "Call patient" attempt as the console shows it."""

    callback_id: str
    attempt_key: str
    staff: str = ""
    result: str = ""
    detail: str = ""
    call_sid: str = ""
    call_status: str = ""
    patient_status: str = ""
    patient_duration: str = ""
    started_at: float = 0
    updated_at: float = 0


# KEYS: dial, attempt, attempts.  ARGV: ttl, now, staff, attempt_key
_CLAIM = """
if not redis.call('SET', KEYS[1], 'pending', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], 'staff', ARGV[3], 'result', 'dialing', 'detail', '', 'started_at', ARGV[2],
           'updated_at', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[1])
return 1
"""

# KEYS: dial, attempt, call map.  ARGV: ttl, now, call_sid, attempt name
_RECORD = """
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[1])
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[1])
redis.call('HSET', KEYS[2], 'call_sid', ARGV[3], 'result', 'placed', 'detail', '', 'updated_at', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""

# KEYS: dial, attempt.  ARGV: now, result, detail
# Only while the guard is still 'pending' (the call is certainly not placed, or still in doubt).
_IF_PENDING = """
if redis.call('GET', KEYS[1]) ~= 'pending' then return 0 end
if ARGV[2] == 'retrying' or ARGV[2] == 'rejected' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[2], 'result', ARGV[2], 'detail', ARGV[3], 'updated_at', ARGV[1])
return 1
"""

# KEYS: dial, attempt, call map (of the CallSid given).  ARGV: ttl, now, call_sid, status, rank, attempt name
# Status callbacks may come out of order: a status never moves back to an earlier rank.
# A status for a pending guard settles the doubt: the call exists, and this is its sid.
_STATUS = """
local dial = redis.call('GET', KEYS[1])
if not dial then return 0 end
if dial == 'pending' then
  redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
  redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[1])
  redis.call('HSET', KEYS[2], 'call_sid', ARGV[3], 'result', 'placed',
             'detail', 'confirmed by Twilio status callback')
elseif dial ~= ARGV[3] then
  return -1
end
local rank = tonumber(redis.call('HGET', KEYS[2], 'call_rank') or '-1')
if tonumber(ARGV[5]) >= rank then
  redis.call('HSET', KEYS[2], 'call_status', ARGV[4], 'call_rank', ARGV[5])
end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[2])
return 1
"""


class OutboundCalls:
    """Dial guards and attempt records over one Redis connection."""

    def __init__(self, conn: redis.Redis, ttl: int = ATTEMPT_TTL, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.ttl = ttl
        self.clock = clock
        self._claim = conn.register_script(_CLAIM)
        self._record = conn.register_script(_RECORD)
        self._if_pending = conn.register_script(_IF_PENDING)
        self._status = conn.register_script(_STATUS)

    # The guard ------------------------------------------------------------

    def claim_dial(self, callback_id: str, attempt_key: str, staff: str = "") -> bool:
        """Take the attempt's guard (SET NX, ``ttl``) before placing its call. False: someone already has."""
        name = _name(callback_id, attempt_key)
        return bool(
            self._claim(
                keys=[keys.OUTBOUND_DIAL.format(name), keys.OUTBOUND_ATTEMPT.format(name),
                      keys.OUTBOUND_ATTEMPTS.format(callback_id)],
                args=[self.ttl, repr(self.clock()), staff, attempt_key],
            )
        )

    def dial_state(self, callback_id: str, attempt_key: str) -> str | None:
        """None (never tried), ``PENDING`` (placing, or in doubt) or the CallSid."""
        value = self.conn.get(keys.OUTBOUND_DIAL.format(_name(callback_id, attempt_key)))
        return _text(value) if value is not None else None

    def record_call(self, callback_id: str, attempt_key: str, call_sid: str) -> None:
        """Twilio created the call: the guard becomes its CallSid."""
        if not CALL_SID.fullmatch(call_sid or ""):
            raise ValueError("not a CallSid")
        name = _name(callback_id, attempt_key)
        self._record(
            keys=[keys.OUTBOUND_DIAL.format(name), keys.OUTBOUND_ATTEMPT.format(name),
                  keys.OUTBOUND_CALL.format(call_sid)],
            args=[self.ttl, repr(self.clock()), call_sid, name],
        )

    def call_for(self, callback_id: str, attempt_key: str) -> str | None:
        """The CallSid placed for this attempt, if known."""
        state = self.dial_state(callback_id, attempt_key)
        return state if state not in (None, PENDING) else None

    def release_dial(self, callback_id: str, attempt_key: str, result: Result, detail: str = "") -> bool:
        """The call was certainly not placed: drop the guard (a retry may call) and note why.

        ``result`` is RETRYING or REJECTED. Does nothing (False) once a CallSid is recorded.
        """
        if result not in (Result.RETRYING, Result.REJECTED):
            raise ValueError("release_dial is only for requests that certainly placed no call")
        return self._mark_pending(callback_id, attempt_key, result, detail)

    def mark_in_doubt(self, callback_id: str, attempt_key: str, detail: str) -> bool:
        """The request may have placed a call: keep the guard, tell the console. False if settled meanwhile."""
        return self._mark_pending(callback_id, attempt_key, Result.IN_DOUBT, detail)

    def _mark_pending(self, callback_id: str, attempt_key: str, result: Result, detail: str) -> bool:
        name = _name(callback_id, attempt_key)
        return bool(
            self._if_pending(
                keys=[keys.OUTBOUND_DIAL.format(name), keys.OUTBOUND_ATTEMPT.format(name)],
                args=[repr(self.clock()), result.value, detail],
            )
        )

    def refuse(self, callback_id: str, attempt_key: str, staff: str, detail: str) -> None:
        """Our own checks refused the attempt (no guard is taken): note why for the console."""
        name = _name(callback_id, attempt_key)
        now = repr(self.clock())
        pipe = self.conn.pipeline(transaction=True)
        attempt = keys.OUTBOUND_ATTEMPT.format(name)
        pipe.hsetnx(attempt, "started_at", now)
        pipe.hset(attempt, mapping={"staff": staff, "result": Result.REFUSED.value, "detail": detail, "updated_at": now})
        pipe.expire(attempt, self.ttl)
        pipe.zadd(keys.OUTBOUND_ATTEMPTS.format(callback_id), {attempt_key: float(now)}, nx=True)
        pipe.expire(keys.OUTBOUND_ATTEMPTS.format(callback_id), self.ttl)
        pipe.execute()

    # Twilio's reports -------------------------------------------------------

    def note_status(self, callback_id: str, attempt_key: str, call_sid: str, status: str) -> bool:
        """A status callback for the staff leg. False if the attempt is unknown or the sid is not its call."""
        if not CALL_SID.fullmatch(call_sid or "") or status not in STATUS_RANK:
            return False
        name = _name(callback_id, attempt_key)
        found = self._status(
            keys=[keys.OUTBOUND_DIAL.format(name), keys.OUTBOUND_ATTEMPT.format(name),
                  keys.OUTBOUND_CALL.format(call_sid)],
            args=[self.ttl, repr(self.clock()), call_sid, status, STATUS_RANK[status], name],
        )
        return int(found) == 1

    def note_patient_result(self, callback_id: str, attempt_key: str, dial_status: str, duration: str = "") -> bool:
        """How the Dial to the patient ended (Twilio's DialCallStatus). False if the attempt is unknown."""
        name = _name(callback_id, attempt_key)
        attempt = keys.OUTBOUND_ATTEMPT.format(name)
        if not self.conn.exists(keys.OUTBOUND_DIAL.format(name)):
            return False
        self.conn.hset(
            attempt,
            mapping={"patient_status": dial_status, "patient_duration": duration, "updated_at": repr(self.clock())},
        )
        return True

    # Reading ----------------------------------------------------------------

    def attempt(self, callback_id: str, attempt_key: str) -> Attempt | None:
        raw = self.conn.hgetall(keys.OUTBOUND_ATTEMPT.format(_name(callback_id, attempt_key)))
        if not raw:
            return None
        f = {_text(k): _text(v) for k, v in raw.items()}
        return Attempt(
            callback_id=callback_id,
            attempt_key=attempt_key,
            staff=f.get("staff", ""),
            result=f.get("result", ""),
            detail=f.get("detail", ""),
            call_sid=f.get("call_sid", ""),
            call_status=f.get("call_status", ""),
            patient_status=f.get("patient_status", ""),
            patient_duration=f.get("patient_duration", ""),
            started_at=float(f.get("started_at") or 0),
            updated_at=float(f.get("updated_at") or 0),
        )

    def latest(self, callback_id: str) -> Attempt | None:
        """The callback's most recent attempt (what the console shows next to it)."""
        newest = self.conn.zrange(keys.OUTBOUND_ATTEMPTS.format(callback_id), -1, -1)
        return self.attempt(callback_id, _text(newest[0])) if newest else None

    def attempt_for_call(self, call_sid: str) -> tuple[str, str] | None:
        """(callback id, attempt key) of a call this system placed."""
        value = self.conn.get(keys.OUTBOUND_CALL.format(call_sid))
        if value is None:
            return None
        callback_id, _, attempt_key = _text(value).rpartition(":")
        return callback_id, attempt_key

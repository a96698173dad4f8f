"""Callbacks instead of hold: per-department queues, claims as leases, retries, history, statistics.

Layout (names in ``keys``):

* ``CALLBACK:{id}``            hash: the fields of :class:`Callback` as strings, plus ``place``
                               (its score in the queue) and ``first_claimed_at``.
* ``CALLBACK_QUEUE:{dept}``    zset of waiting ids. Score = *place*: ``requested_at`` (epoch
                               seconds, the time the patient asked), minus ``URGENT_SHIFT`` (1e10 s,
                               ~317 years) when urgent. So urgent ones come first, each group
                               oldest first; a callback keeps its place however often it comes
                               back (lease expiry, release, retry).
* ``CALLBACK_LEASES:{dept}``   zset claimed id -> lease deadline; ``CALLBACK_SCHEDULED:{dept}``
                               zset retry id -> not_before.
* ``CALLBACK_PHONES:{dept}``   hash phone -> id of the open (waiting/claimed/scheduled)
                               callback: one per number and department.
* ``CALLBACK_CALL:{dept}:{CallSid}`` -> id for a day: a replayed webhook gets the same request.
* ``CALLBACK_STAFF:{staff}``   set of ids a staff member holds.
* ``CALLBACK_HISTORY:{sha1(phone)}`` capped list of JSON events, newest first (the key
                               name carries a digest, not the number). Each event has
                               ``event``, ``id``, ``department``, ``at`` (epoch s), and per kind:
                               requested / requested_again (source), claimed (staff, attempt),
                               lease_expired / released / retry_due (back in line), outcome
                               (staff, outcome, note, status, attempts), retry_scheduled
                               (not_before, attempt), closed (note), urgent, escalated,
                               cancelled (by the patient on the phone: ``cancel``).
* ``CALLBACK_EVENTS:{dept}``   zset ``kind|id|seconds`` by time for statistics: ``claim``
                               (first claim; seconds waited), ``done``, ``closed`` and
                               ``cancelled`` (seconds from request to the end).
* ``CALLBACK_HANDLING:{dept}`` last ``HANDLING_KEEP`` claim->finish durations;
  ``CALLBACK_FINISHERS:{dept}`` staff -> their last finish (who is working the queue).

Every change of state is one Lua script, so it is atomic; after it, a small event
(department, kind, id: no patient data) goes to the open consoles (``ivr.store.events``). Scripts that act on
callbacks found while running build key names from the ``keys`` templates
(the part before ``{0}``): fine on a single Redis, not on Redis Cluster.
Phone numbers are patient data: nothing here logs them, and key names carry
only an (unsalted, so not secret) digest of them.

Durability: a request is in Redis when ``request`` returns; with the append-only
file and ``appendfsync everysec`` it is on disk within about a second, before a
caller has finished hearing the confirmation prompt. With replication configured
(IVR_REDIS_SENTINELS / IVR_REDIS_MIN_REPLICAS) ``request`` also returns only once
the request is on that many replicas (``ivr.store.durable``), else it raises and
the caller is never told "we will call you back": losing the primary loses no
confirmed request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Callable, Sequence

import redis

from ivr.clinic.calling_hours import CallingHours

from . import durable, keys, records
from .events import LiveEvents

if TYPE_CHECKING:  # pragma: no cover
    from ivr.clinic.settings import ClinicSettings

log = logging.getLogger(__name__)

URGENT_SHIFT = 1e10  # subtracted from an urgent callback's place: ahead of every non-urgent one
DEFAULT_HANDLING_SECONDS = 300  # assumed time per callback before a department has any history
HANDLING_KEEP = 50  # recent handling durations kept per department
STAFF_WINDOW = 3600  # staff who finished a callback this recently count as working the queue
HISTORY_CAP = 200  # events kept per phone number
HISTORY_TTL = 400 * 86400
FINISHED_TTL = 35 * 86400  # a done or closed callback's hash is deleted after this
EVENTS_KEEP = 35 * 86400  # statistics events kept (stats windows longer than this see less)
CALL_TTL = 86400  # how long a CallSid maps to its request
SWEEP_LIMIT = 100  # expired leases / due retries moved per department per script run


class CallbackError(Exception):
    """A callback operation that cannot be done."""


class UnknownCallback(CallbackError):
    """No callback with this id (never existed, or finished long ago)."""


class NotClaimed(CallbackError):
    """The staff member does not hold this callback's claim."""


class LeaseExpired(NotClaimed):
    """The claim ran out; the callback is (or is about to be) back in its queue."""


class Outcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    LEFT_MESSAGE = "left_message"
    WRONG_NUMBER = "wrong_number"


class Status(StrEnum):
    WAITING = "waiting"
    CLAIMED = "claimed"
    SCHEDULED = "scheduled"
    DONE = "done"
    CLOSED = "closed"


OPEN_STATUSES = (Status.WAITING, Status.CLAIMED, Status.SCHEDULED)


@dataclass
class Callback:
    """One patient's request to be called back; ``requested_at`` is their place in line."""

    id: str
    department: str
    phone: str
    lang: str
    requested_at: float
    caller_id: str = ""
    call_sid: str = ""
    source: str = "call"  # call | voicemail | followup
    urgent: bool = False
    urgent_reason: str = ""
    reason_recording_sid: str = ""
    reason_recording_url: str = ""
    reason_transcript: str = ""
    status: Status = Status.WAITING
    claimed_by: str = ""
    claimed_at: float = 0
    lease_until: float = 0
    attempts: int = 0
    not_before: float = 0
    outcome: str = ""
    note: str = ""
    finished_at: float = 0
    escalated_from: str = ""  # the desk whose tries did not reach an urgent callback (now on call's)

    def masked_phone(self) -> str:
        """The number with all but its last four digits hidden, e.g. "(•••) •••-4567"."""
        digits = "".join(c for c in self.phone if c.isdigit())
        if not self.phone.startswith("+"):
            return "no caller ID"
        if len(digits) < 4:
            return "•••"
        if self.phone.startswith("+1") and len(digits) == 11:
            return f"(•••) •••-{digits[-4:]}"
        return f"+•• ••• {digits[-4:]}"

    @property
    def place(self) -> float:
        """Score in its department's queue: urgent first, then oldest."""
        return place_of(self.requested_at, self.urgent)

    def to_fields(self) -> dict[str, str]:
        """The hash to store: empty text fields are left out (they read back as "")."""
        out = {f.name: records.encode(getattr(self, f.name)) for f in fields(self)}
        out["place"] = repr(self.place)
        return {k: v for k, v in out.items() if v != "" or k in _ALWAYS}

    @classmethod
    def from_fields(cls, raw: dict[Any, Any]) -> "Callback":
        return cls(**records.decode(cls, raw))


_ALWAYS = frozenset({"id", "department", "phone", "lang", "status", "claimed_by"})


@dataclass(frozen=True)
class Placed:
    """The answer to a request: the callback, whether it is new, and its place (1 = next)."""

    callback: Callback
    created: bool
    position: int


@dataclass(frozen=True)
class InLine:
    """A caller's open callback, as the phone tells them on arrival (``CallbackQueue.open_for``)."""

    id: str
    department: str
    phone: str
    lang: str
    status: Status
    position: int  # 1 = next (or being called now)
    wait_seconds: int  # ``estimate_seconds`` at that position: what the offer would say there


def estimate_seconds(position: int, durations: Sequence[Any], staff: int) -> int:
    """Seconds until a patient at ``position`` has been called: ``position * mean handling / staff``.

    The one estimate of a wait: the callback offer, the confirmation, a returning caller and the
    console's "a new caller would wait" all come from it (``CallbackQueue.estimated_wait_seconds``).
    ``durations``: recent claim->finish seconds (DEFAULT_HANDLING_SECONDS when none); ``staff``: those
    working the queue (at least 1).
    """
    handled = [float(d) for d in durations]
    mean = sum(handled) / len(handled) if handled else DEFAULT_HANDLING_SECONDS
    return int(round(max(position, 0) * mean / max(int(staff), 1)))


@dataclass(frozen=True)
class RetryPolicy:
    """No answer: call again after ``spacing_seconds`` (within ``hours``), ``attempts`` calls in all.

    An urgent callback is never closed for want of an answer: it is tried again ``urgent_spacing_seconds``
    later whatever the hour (the patient asked to be called about something urgent), and after
    ``urgent_tries_before_on_call`` unanswered tries it moves to the ``on_call`` desk's queue.
    ``urgent_spacing_seconds`` 0: urgent ones are retried like routine ones.
    """

    attempts: int
    spacing_seconds: int
    hours: CallingHours
    urgent_spacing_seconds: int = 0
    urgent_tries_before_on_call: int = 0
    on_call: str = ""

    @classmethod
    def for_clinic(cls, clinic: "ClinicSettings") -> "RetryPolicy":
        cb = clinic.callbacks
        return cls(cb.retry_attempts, cb.retry_spacing_minutes * 60, CallingHours.for_clinic(clinic),
                   cb.urgent_retry_minutes * 60, cb.urgent_tries_before_on_call, cb.urgent_on_call_desk)


def place_of(requested_at: float, urgent: bool) -> float:
    return requested_at - URGENT_SHIFT if urgent else requested_at


def phone_digest(phone: str) -> str:
    """The history key's name part for a number (Lua computes the same with redis.sha1hex)."""
    return hashlib.sha1(phone.encode()).hexdigest()


_text = records.text


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _prefix(template: str) -> str:
    assert template.endswith("{0}"), template
    return template[:-3]


# Lua ------------------------------------------------------------------------------

_PRELUDE = f"""
local K_CB = {json.dumps(_prefix(keys.CALLBACK))}
local K_QUEUE = {json.dumps(_prefix(keys.CALLBACK_QUEUE))}
local K_LEASES = {json.dumps(_prefix(keys.CALLBACK_LEASES))}
local K_SCHEDULED = {json.dumps(_prefix(keys.CALLBACK_SCHEDULED))}
local K_PHONES = {json.dumps(_prefix(keys.CALLBACK_PHONES))}
local K_STAFF = {json.dumps(_prefix(keys.CALLBACK_STAFF))}
local K_HISTORY = {json.dumps(_prefix(keys.CALLBACK_HISTORY))}
local K_EVENTS = {json.dumps(_prefix(keys.CALLBACK_EVENTS))}
local K_HANDLING = {json.dumps(_prefix(keys.CALLBACK_HANDLING))}
local K_FINISHERS = {json.dumps(_prefix(keys.CALLBACK_FINISHERS))}
local K_DEPARTMENTS = {json.dumps(keys.CALLBACK_DEPARTMENTS)}
local URGENT_SHIFT = {URGENT_SHIFT!r}
local HISTORY_CAP = {HISTORY_CAP}
local HISTORY_TTL = {HISTORY_TTL}
local SWEEP_LIMIT = {SWEEP_LIMIT}

-- Append an event to the phone number's history (newest first, capped).
local function log_event(phone, event)
  local key = K_HISTORY .. redis.sha1hex(phone)
  redis.call('LPUSH', key, cjson.encode(event))
  redis.call('LTRIM', key, 0, HISTORY_CAP - 1)
  redis.call('EXPIRE', key, HISTORY_TTL)
end

-- A claimed or scheduled callback goes back into its queue, at its own place.
local function requeue(id, now, why)
  local h = K_CB .. id
  local f = redis.call('HMGET', h, 'department', 'claimed_by', 'place', 'phone')
  local dept, staff = f[1], f[2] or ''
  redis.call('ZREM', K_LEASES .. dept, id)
  redis.call('ZREM', K_SCHEDULED .. dept, id)
  if staff ~= '' then redis.call('SREM', K_STAFF .. staff, id) end
  redis.call('HSET', h, 'status', 'waiting', 'claimed_by', '', 'claimed_at', '0', 'lease_until', '0')
  redis.call('ZADD', K_QUEUE .. dept, f[3], id)
  log_event(f[4], {{event = why, id = id, department = dept, at = tonumber(now), staff = staff}})
end

-- Expired leases and due retries of one department back into its queue.
local function sweep(dept, now)
  local moved = 0
  for _, pair in ipairs({{{{K_LEASES, 'lease_expired'}}, {{K_SCHEDULED, 'retry_due'}}}}) do
    local zkey = pair[1] .. dept
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', zkey, '-inf', now, 'LIMIT', 0, SWEEP_LIMIT)) do
      if redis.call('EXISTS', K_CB .. id) == 1 then
        requeue(id, now, pair[2])
        moved = moved + 1
      else
        redis.call('ZREM', zkey, id)
      end
    end
  end
  return moved
end
"""

# KEYS: phones, queue, scheduled, new hash, call key
# ARGV: dept, phone, id, now, has_call, call_ttl, requested_at, urgent, urgent_reason,
#       recording_sid, recording_url, place, source, field/value pairs of the new hash...
_REQUEST = _PRELUDE + """
local dept, phone, id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function answer(cid, created)
  local rank = redis.call('ZRANK', KEYS[2], cid)
  local position = 1  -- claimed: being called now, nobody is ahead
  if rank then position = rank + 1 end
  if created == 1 then return {cid, created, position} end  -- the caller has the fields
  return {cid, created, position, redis.call('HGETALL', K_CB .. cid)}
end
if ARGV[5] == '1' then
  local cid = redis.call('GET', KEYS[5])
  if cid and redis.call('EXISTS', K_CB .. cid) == 1 then return answer(cid, 0) end
end
local cid = redis.call('HGET', KEYS[1], phone)
if cid then
  local h = K_CB .. cid
  local f = redis.call('HMGET', h, 'status', 'requested_at', 'urgent',
                       'reason_recording_sid', 'reason_recording_url')
  if f[1] == 'waiting' or f[1] == 'claimed' or f[1] == 'scheduled' then
    -- Already in line: it keeps the earlier place; an urgent request makes it urgent.
    local old_at, new_at = tonumber(f[2]), tonumber(ARGV[7])
    local urgent = f[3] == '1' or ARGV[8] == '1'
    if new_at < old_at or (urgent and f[3] ~= '1') then
      local at = math.min(old_at, new_at)
      local place = at
      if urgent then place = at - URGENT_SHIFT end
      redis.call('HSET', h, 'requested_at', at, 'place', place)
      if f[3] ~= '1' and urgent then redis.call('HSET', h, 'urgent', '1', 'urgent_reason', ARGV[9]) end
      if f[1] == 'waiting' then redis.call('ZADD', KEYS[2], place, cid) end
    end
    if (f[4] or '') == '' and ARGV[10] ~= '' then
      redis.call('HSET', h, 'reason_recording_sid', ARGV[10], 'reason_recording_url', ARGV[11])
    end
    if f[1] == 'scheduled' then
      -- The patient is on the line again: no need to wait for the retry time.
      requeue(cid, now, 'retry_due')
    end
    if ARGV[5] == '1' then redis.call('SET', KEYS[5], cid, 'EX', ARGV[6]) end
    log_event(phone, {event = 'requested_again', id = cid, department = dept, at = tonumber(now),
                      source = ARGV[13]})
    return answer(cid, 0)
  end
end
redis.call('HSET', KEYS[4], unpack(ARGV, 14))
redis.call('ZADD', KEYS[2], ARGV[12], id)
redis.call('HSET', KEYS[1], phone, id)
if ARGV[5] == '1' then redis.call('SET', KEYS[5], id, 'EX', ARGV[6]) end
redis.call('SADD', K_DEPARTMENTS, dept)
log_event(phone, {event = 'requested', id = id, department = dept, at = tonumber(now),
                  source = ARGV[13], urgent = ARGV[8] == '1'})
return answer(id, 1)
"""

# ARGV: now, lease_until, staff, most she may hold (0: no limit), departments...
# Returns the callback's fields, false if nobody is waiting, or 'full' if she already holds ``most``.
_CLAIM = _PRELUDE + """
local now, lease_until, staff, most = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
for i = 5, #ARGV do sweep(ARGV[i], now) end
if most > 0 then
  local held = 0
  for _, id in ipairs(redis.call('SMEMBERS', K_STAFF .. staff)) do
    local f = redis.call('HMGET', K_CB .. id, 'status', 'claimed_by')
    if f[1] == 'claimed' and f[2] == staff then held = held + 1 end
  end
  if held >= most then return 'full' end
end
for _ = 1, 10 do
  local best, best_score, best_dept
  for i = 5, #ARGV do
    local head = redis.call('ZRANGE', K_QUEUE .. ARGV[i], 0, 0, 'WITHSCORES')
    if head[1] then
      local score = tonumber(head[2])
      if not best or score < best_score then best, best_score, best_dept = head[1], score, ARGV[i] end
    end
  end
  if not best then return false end
  redis.call('ZREM', K_QUEUE .. best_dept, best)
  local h = K_CB .. best
  if redis.call('EXISTS', h) == 1 then
    redis.call('HSET', h, 'status', 'claimed', 'claimed_by', staff, 'claimed_at', now,
               'lease_until', lease_until)
    redis.call('ZADD', K_LEASES .. best_dept, lease_until, best)
    redis.call('SADD', K_STAFF .. staff, best)
    local f = redis.call('HMGET', h, 'requested_at', 'phone', 'attempts')
    if redis.call('HSETNX', h, 'first_claimed_at', now) == 1 then
      local waited = tonumber(now) - tonumber(f[1])
      redis.call('ZADD', K_EVENTS .. best_dept, now, 'claim|' .. best .. '|' .. tostring(waited))
    end
    log_event(f[2], {event = 'claimed', id = best, department = best_dept, at = tonumber(now),
                     staff = staff, attempt = tonumber(f[3]) + 1})
    return redis.call('HGETALL', h)
  end
end
return false
"""

# ARGV: id, staff, now, outcome, note, max_attempts (0: no retries), not_before,
#       finished_ttl, handling_keep, staff_window, events_keep,
#       urgent_not_before (0: urgent ones as routine), urgent tries before on call, on-call department
_FINISH = _PRELUDE + """
local id, staff, now, outcome, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local h = K_CB .. id
local f = redis.call('HMGET', h, 'status', 'claimed_by', 'lease_until', 'department', 'phone',
                     'attempts', 'requested_at', 'claimed_at', 'urgent')
local urgent_retry = f[9] == '1' and tonumber(ARGV[12]) > 0 and tonumber(ARGV[6]) > 0
if not f[1] then return {'unknown'} end
if f[1] ~= 'claimed' or f[2] ~= staff then return {'not_claimed', f[1]} end
if tonumber(f[3]) <= tonumber(now) then return {'expired', f[1]} end
local dept, phone, t = f[4], f[5], tonumber(now)
redis.call('ZREM', K_LEASES .. dept, id)
redis.call('SREM', K_STAFF .. staff, id)
redis.call('LPUSH', K_HANDLING .. dept, tostring(t - tonumber(f[8])))
redis.call('LTRIM', K_HANDLING .. dept, 0, tonumber(ARGV[9]) - 1)
redis.call('ZADD', K_FINISHERS .. dept, now, staff)
redis.call('ZREMRANGEBYSCORE', K_FINISHERS .. dept, '-inf', '(' .. tostring(t - tonumber(ARGV[10])))
local attempts = tonumber(f[6])
local status = 'done'
if outcome == 'wrong_number' then
  status = 'closed'
elseif outcome == 'no_answer' and urgent_retry then
  -- Urgent: never closed for want of an answer, tried again within minutes whatever the hour.
  attempts = attempts + 1
  status = 'scheduled'
  ARGV[7] = ARGV[12]
elseif outcome == 'no_answer' then
  attempts = attempts + 1
  if attempts < tonumber(ARGV[6]) then
    status = 'scheduled'
  else
    status = 'closed'
    local closing = 'no answer after ' .. attempts .. (attempts == 1 and ' attempt' or ' attempts')
    if note ~= '' then note = closing .. '; ' .. note else note = closing end
  end
end
log_event(phone, {event = 'outcome', id = id, department = dept, at = t, staff = staff,
                  outcome = outcome, note = note, attempts = attempts, status = status})
if status == 'scheduled' then
  redis.call('HSET', h, 'status', status, 'attempts', attempts, 'not_before', ARGV[7],
             'claimed_by', '', 'claimed_at', '0', 'lease_until', '0', 'outcome', outcome, 'note', note)
  local on_call = ARGV[14]
  if urgent_retry and attempts >= tonumber(ARGV[13]) and on_call ~= '' and on_call ~= dept then
    -- Not reached after the set tries: the on-call desk's queue has it from now on.
    if redis.call('HGET', K_PHONES .. dept, phone) == id then redis.call('HDEL', K_PHONES .. dept, phone) end
    if not redis.call('HGET', K_PHONES .. on_call, phone) then redis.call('HSET', K_PHONES .. on_call, phone, id) end
    redis.call('HSET', h, 'department', on_call, 'escalated_from', dept)
    redis.call('SADD', K_DEPARTMENTS, on_call)
    log_event(phone, {event = 'escalated', id = id, department = on_call, at = t, from = dept, attempts = attempts})
    dept = on_call
  end
  redis.call('ZADD', K_SCHEDULED .. dept, ARGV[7], id)
  log_event(phone, {event = 'retry_scheduled', id = id, department = dept, at = t,
                    not_before = tonumber(ARGV[7]), attempt = attempts + 1})
else
  redis.call('HSET', h, 'status', status, 'attempts', attempts, 'lease_until', '0',
             'outcome', outcome, 'note', note, 'finished_at', now)
  if redis.call('HGET', K_PHONES .. dept, phone) == id then redis.call('HDEL', K_PHONES .. dept, phone) end
  local kind = status
  redis.call('ZADD', K_EVENTS .. dept, now, kind .. '|' .. id .. '|' .. tostring(t - tonumber(f[7])))
  redis.call('ZREMRANGEBYSCORE', K_EVENTS .. dept, '-inf', '(' .. tostring(t - tonumber(ARGV[11])))
  redis.call('EXPIRE', h, ARGV[8])
  if status == 'closed' then
    log_event(phone, {event = 'closed', id = id, department = dept, at = t, note = note})
  end
end
return {'ok', redis.call('HGETALL', h)}
"""

# ARGV: id, staff, now, lease_until
_RENEW = _PRELUDE + """
local h = K_CB .. ARGV[1]
local f = redis.call('HMGET', h, 'status', 'claimed_by', 'lease_until', 'department')
if f[1] ~= 'claimed' or f[2] ~= ARGV[2] or tonumber(f[3]) <= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', h, 'lease_until', ARGV[4])
redis.call('ZADD', K_LEASES .. f[4], ARGV[4], ARGV[1])
return 1
"""

# ARGV: id, staff, now
_RELEASE = _PRELUDE + """
local f = redis.call('HMGET', K_CB .. ARGV[1], 'status', 'claimed_by')
if f[1] ~= 'claimed' or f[2] ~= ARGV[2] then return 0 end
requeue(ARGV[1], ARGV[3], 'released')
return 1
"""

# ARGV: now
_SWEEP_ALL = _PRELUDE + """
local moved = 0
for _, dept in ipairs(redis.call('SMEMBERS', K_DEPARTMENTS)) do moved = moved + sweep(dept, ARGV[1]) end
return moved
"""

# ARGV: id, transcript, urgent, urgent_reason, now
_TRANSCRIPT = _PRELUDE + """
local h = K_CB .. ARGV[1]
local f = redis.call('HMGET', h, 'status', 'department', 'requested_at', 'urgent', 'phone')
if not f[1] then return 0 end
redis.call('HSET', h, 'reason_transcript', ARGV[2])
if ARGV[3] == '1' and f[4] ~= '1' then
  local place = tonumber(f[3]) - URGENT_SHIFT
  redis.call('HSET', h, 'urgent', '1', 'urgent_reason', ARGV[4], 'place', place)
  if f[1] == 'waiting' then redis.call('ZADD', K_QUEUE .. f[2], place, ARGV[1]) end
  log_event(f[5], {event = 'urgent', id = ARGV[1], department = f[2], at = tonumber(ARGV[5])})
end
return 1
"""

# ARGV: id, now. An urgent callback back to its place by request time (the reason it was urgent is gone).
_NOT_URGENT = _PRELUDE + """
local h = K_CB .. ARGV[1]
local f = redis.call('HMGET', h, 'status', 'department', 'requested_at', 'urgent', 'phone')
if not f[1] then return 0 end
if f[4] ~= '1' then return 1 end
local place = tonumber(f[3])
redis.call('HSET', h, 'urgent', '0', 'urgent_reason', '', 'place', place)
if f[1] == 'waiting' then redis.call('ZADD', K_QUEUE .. f[2], place, ARGV[1]) end
log_event(f[5], {event = 'not_urgent', id = ARGV[1], department = f[2], at = tonumber(ARGV[2])})
return 1
"""

# ARGV: id
_POSITION = _PRELUDE + """
local f = redis.call('HMGET', K_CB .. ARGV[1], 'status', 'department')
if f[1] ~= 'waiting' then return false end
local rank = redis.call('ZRANK', K_QUEUE .. f[2], ARGV[1])
if not rank then return false end
return rank + 1
"""

# Run with EVAL inside the pipeline a new call already makes (``open_for_into``), so it needs no
# round trip of its own and no SCRIPT LOAD: its own short prelude, not _PRELUDE.
# ARGV: phone, now, staff window, handling keep.
# Returns false, or {id, department, status, lang, position, staff working the queue, durations...}:
# the caller's open callback (the one longest in line if several), its place (1 when claimed: being called
# now; a scheduled retry: where it comes back, the patient being on the line), and what the wait needs.
_OPEN_FOR = f"""
local K_CB, K_QUEUE = {json.dumps(_prefix(keys.CALLBACK))}, {json.dumps(_prefix(keys.CALLBACK_QUEUE))}
local K_PHONES, K_DEPARTMENTS = {json.dumps(_prefix(keys.CALLBACK_PHONES))}, {json.dumps(keys.CALLBACK_DEPARTMENTS)}
local K_HANDLING = {json.dumps(_prefix(keys.CALLBACK_HANDLING))}
local K_FINISHERS = {json.dumps(_prefix(keys.CALLBACK_FINISHERS))}
""" + """
local phone, now = ARGV[1], tonumber(ARGV[2])
local best
for _, dept in ipairs(redis.call('SMEMBERS', K_DEPARTMENTS)) do
  local cid = redis.call('HGET', K_PHONES .. dept, phone)
  if cid then
    local f = redis.call('HMGET', K_CB .. cid, 'status', 'place', 'lang', 'department')
    if (f[1] == 'waiting' or f[1] == 'claimed' or f[1] == 'scheduled') and f[4] == dept then
      if not best or tonumber(f[2]) < tonumber(best[5]) then best = {cid, dept, f[1], f[3] or '', f[2]} end
    end
  end
end
if not best then return false end
local position = 1
if best[3] ~= 'claimed' then position = redis.call('ZCOUNT', K_QUEUE .. best[2], '-inf', '(' .. best[5]) + 1 end
local staff = redis.call('ZCOUNT', K_FINISHERS .. best[2], now - tonumber(ARGV[3]), '+inf')
local out = {best[1], best[2], best[3], best[4], position, staff}
for _, d in ipairs(redis.call('LRANGE', K_HANDLING .. best[2], 0, tonumber(ARGV[4]) - 1)) do out[#out + 1] = d end
return out
"""

# ARGV: id, phone, now, finished_ttl, events_keep
# The patient cancels an open callback of theirs (the phone number must be the callback's).
_CANCEL = _PRELUDE + """
local id, phone, now = ARGV[1], ARGV[2], ARGV[3]
local h = K_CB .. id
local f = redis.call('HMGET', h, 'status', 'department', 'phone', 'claimed_by', 'requested_at')
if f[1] ~= 'waiting' and f[1] ~= 'claimed' and f[1] ~= 'scheduled' then return false end
if f[3] ~= phone then return false end
local dept, t = f[2], tonumber(now)
redis.call('ZREM', K_QUEUE .. dept, id)
redis.call('ZREM', K_LEASES .. dept, id)
redis.call('ZREM', K_SCHEDULED .. dept, id)
if (f[4] or '') ~= '' then redis.call('SREM', K_STAFF .. f[4], id) end
redis.call('HSET', h, 'status', 'closed', 'claimed_by', '', 'lease_until', '0',
           'note', 'cancelled by the patient ' .. (ARGV[6] or 'on the phone'), 'finished_at', now)
if redis.call('HGET', K_PHONES .. dept, phone) == id then redis.call('HDEL', K_PHONES .. dept, phone) end
redis.call('ZADD', K_EVENTS .. dept, now, 'cancelled|' .. id .. '|' .. tostring(t - tonumber(f[5])))
redis.call('ZREMRANGEBYSCORE', K_EVENTS .. dept, '-inf', '(' .. tostring(t - tonumber(ARGV[5])))
redis.call('EXPIRE', h, ARGV[4])
log_event(phone, {event = 'cancelled', id = id, department = dept, at = t, status = f[1]})
return dept
"""

# Urgent callbacks waiting (or between tries) in a desk nobody works now move to the on-call desk,
# each at its own place: ARGV = from, to, now, reason. Returns the ids moved.
_ESCALATE_UNATTENDED = _PRELUDE + """
local from, to, now, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local moved = {}
local function move(id, zfrom, zto, score)
  local h = K_CB .. id
  local f = redis.call('HMGET', h, 'urgent', 'phone', 'department')
  if f[1] ~= '1' or f[3] ~= from then return end
  redis.call('ZREM', zfrom .. from, id)
  redis.call('ZADD', zto .. to, score, id)
  local phone = f[2]
  if redis.call('HGET', K_PHONES .. from, phone) == id then redis.call('HDEL', K_PHONES .. from, phone) end
  if not redis.call('HGET', K_PHONES .. to, phone) then redis.call('HSET', K_PHONES .. to, phone, id) end
  redis.call('HSET', h, 'department', to, 'escalated_from', from)
  log_event(phone, {event = 'escalated', id = id, department = to, at = tonumber(now), from = from, reason = reason})
  table.insert(moved, id)
end
-- Waiting: urgent ones have the lowest places (requested_at - URGENT_SHIFT < 0).
local waiting = redis.call('ZRANGEBYSCORE', K_QUEUE .. from, '-inf', '(0', 'WITHSCORES', 'LIMIT', 0, SWEEP_LIMIT * 2)
for i = 1, #waiting, 2 do move(waiting[i], K_QUEUE, K_QUEUE, waiting[i + 1]) end
local scheduled = redis.call('ZRANGE', K_SCHEDULED .. from, 0, -1, 'WITHSCORES')
for i = 1, #scheduled, 2 do move(scheduled[i], K_SCHEDULED, K_SCHEDULED, scheduled[i + 1]) end
if #moved > 0 then redis.call('SADD', K_DEPARTMENTS, to) end
return moved
"""


# The queue ----------------------------------------------------------------------------


class HoldsTooMany(Exception):
    """A claim refused: the staff member already holds as many callbacks as she may."""

    def __init__(self, staff: str, most: int) -> None:
        super().__init__(f"{staff} already holds {most} callback{'s' if most != 1 else ''}")
        self.staff, self.most = staff, most


class CallbackQueue:
    """Per-department callback queues over one Redis connection."""

    def __init__(
        self,
        conn: redis.Redis,
        lease_seconds: int | Callable[[], int] = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conn = conn
        self._lease = lease_seconds
        self.clock = clock
        self._request = conn.register_script(_REQUEST)
        self._claim = conn.register_script(_CLAIM)
        self._finish = conn.register_script(_FINISH)
        self._renew = conn.register_script(_RENEW)
        self._release = conn.register_script(_RELEASE)
        self._sweep_all = conn.register_script(_SWEEP_ALL)
        self._transcript = conn.register_script(_TRANSCRIPT)
        self._not_urgent = conn.register_script(_NOT_URGENT)
        self._position = conn.register_script(_POSITION)
        self._cancel = conn.register_script(_CANCEL)
        self._escalate_unattended = conn.register_script(_ESCALATE_UNATTENDED)
        self.live = LiveEvents(conn)  # tells open consoles about each change (ivr.store.events)

    # Callers ------------------------------------------------------------

    @property
    def lease_seconds(self) -> int:
        """How long a claim lasts; a callable given at construction is asked each time (live settings)."""
        return int(self._lease() if callable(self._lease) else self._lease)

    def request(
        self,
        department: str,
        phone: str,
        lang: str,
        *,
        caller_id: str = "",
        call_sid: str = "",
        source: str = "call",
        urgent: bool = False,
        urgent_reason: str = "",
        reason_recording_sid: str = "",
        reason_recording_url: str = "",
        requested_at: float | None = None,
    ) -> Placed:
        """Put a patient in line, or find them already there (``created`` False).

        Already open in this department (waiting, claimed or scheduled): the
        existing callback is returned and keeps the earlier place; an urgent
        request makes it urgent, a missing recording is filled in, and a
        scheduled retry comes back into the queue now (the patient is
        reachable). The same ``call_sid`` and department twice: the first
        request, whatever became of it.
        """
        if not department or not phone:
            raise ValueError("a callback needs a department and a phone number")
        now = self.clock()
        at = now if requested_at is None else float(requested_at)
        cb = Callback(
            id=secrets.token_hex(8),
            department=department,
            phone=phone,
            lang=lang,
            requested_at=at,
            caller_id=caller_id,
            call_sid=call_sid,
            source=source,
            urgent=urgent,
            urgent_reason=urgent_reason,
            reason_recording_sid=reason_recording_sid,
            reason_recording_url=reason_recording_url,
        )
        flat = [x for kv in cb.to_fields().items() for x in kv]
        reply = self._request(
            keys=[
                keys.CALLBACK_PHONES.format(department),
                keys.CALLBACK_QUEUE.format(department),
                keys.CALLBACK_SCHEDULED.format(department),
                keys.CALLBACK.format(cb.id),
                keys.CALLBACK_CALL.format(f"{department}:{call_sid}"),
            ],
            args=[
                department, phone, cb.id, repr(now), "1" if call_sid else "", CALL_TTL,
                repr(at), "1" if urgent else "0", urgent_reason,
                reason_recording_sid, reason_recording_url, repr(cb.place), source, *flat,
            ],
        )
        created, position = bool(reply[1]), int(reply[2])
        placed = Placed(cb if created else Callback.from_fields(_pairs(reply[3])), created, position)
        durable(self.conn)  # on the replicas too before anyone is told (raises NotReplicated)
        self.live.publish("urgent" if urgent else "request", placed.callback.id, department)
        return placed

    def open_for_into(self, pipe: redis.client.Pipeline, phone: str) -> None:
        """Queue the question "has ``phone`` a callback in line?" on ``pipe`` (read by ``parse_open_for``).

        One EVAL of a short script: it adds no round trip to the pipeline it joins (a new call's
        first read), and needs no script loaded beforehand.
        """
        pipe.eval(_OPEN_FOR, 0, phone, repr(self.clock()), STAFF_WINDOW, HANDLING_KEEP)

    @staticmethod
    def parse_open_for(raw: Any, phone: str) -> InLine | None:
        if not raw:
            return None
        cid, dept, status, lang, position, staff, *durations = raw
        position = int(position)
        return InLine(_text(cid), _text(dept), phone, _text(lang), Status(_text(status)), position,
                      estimate_seconds(position, durations, int(staff)))

    def open_for(self, phone: str) -> InLine | None:
        """The open (waiting, claimed or scheduled) callback for ``phone`` in any department, or None;
        the one longest in line when there are several."""
        if not phone:
            return None
        pipe = self.conn.pipeline(transaction=False)
        self.open_for_into(pipe, phone)
        return self.parse_open_for(pipe.execute()[0], phone)

    def cancel(self, callback_id: str, phone: str, how: str = "on the phone") -> bool:
        """The patient calling (or texting, ``how``) from ``phone`` cancels their open callback: it leaves the
        queue (closed, "cancelled by the patient on the phone"). False if it is not open or not that number's."""
        dept = self._cancel(args=[callback_id, phone, repr(self.clock()), FINISHED_TTL, EVENTS_KEEP, how])
        if not dept:
            return False
        self.live.publish("outcome", callback_id, _text(dept))  # closed, as a console sees it
        return True

    def set_transcript(
        self,
        callback_id: str,
        transcript: str,
        urgent: bool = False,
        urgent_reason: str = "",
        *,
        pipeline: redis.client.Pipeline | None = None,
    ) -> None:
        """Attach the transcript of the patient's message; ``urgent`` moves it ahead of non-urgent ones.

        An urgent callback stays urgent. With ``pipeline`` the command is only
        queued there (and an unknown id is not reported).
        """
        args = [callback_id, transcript, "1" if urgent else "0", urgent_reason, repr(self.clock())]
        kind = "urgent" if urgent else "transcript"
        if pipeline is not None:
            self._transcript(args=args, client=pipeline)
            self.live.publish(kind, callback_id, pipeline=pipeline)
            return
        if not self._transcript(args=args):
            raise UnknownCallback(f"no callback {callback_id}")
        self.live.publish(kind, callback_id)

    def not_urgent(self, callback_id: str) -> None:
        """Back to its place by request time: what made it urgent is settled (an unclear message someone
        has now listened to, ivr.speech.clarity)."""
        if not self._not_urgent(args=[callback_id, repr(self.clock())]):
            raise UnknownCallback(f"no callback {callback_id}")
        self.live.publish("transcript", callback_id)

    # Reading ------------------------------------------------------------

    def get(self, callback_id: str) -> Callback | None:
        raw = self.conn.hgetall(keys.CALLBACK.format(callback_id))
        return Callback.from_fields(raw) if raw else None

    def _get_many(self, ids: Sequence[Any]) -> list[Callback]:
        pipe = self.conn.pipeline(transaction=False)
        for cid in ids:
            pipe.hgetall(keys.CALLBACK.format(_text(cid)))
        return [Callback.from_fields(raw) for raw in pipe.execute() if raw]

    def find_for_call(self, department: str, call_sid: str) -> str | None:
        """The id of the request a call made in a department (kept for a day), if any."""
        found = self.conn.get(keys.CALLBACK_CALL.format(f"{department}:{call_sid}"))
        return _text(found) if found else None

    def position(self, callback_id: str) -> int | None:
        """1-based place among the waiting callbacks of its department; None if not waiting."""
        found = self._position(args=[callback_id])
        return int(found) if found is not None else None

    def waiting_count(self, department: str) -> int:
        return int(self.conn.zcard(keys.CALLBACK_QUEUE.format(department)))

    def waiting(self, department: str, limit: int = 100, offset: int = 0) -> list[Callback]:
        """Waiting callbacks in queue order: urgent first, then oldest request."""
        if limit <= 0:
            return []
        ids = self.conn.zrange(keys.CALLBACK_QUEUE.format(department), offset, offset + limit - 1)
        return self._get_many(ids)

    def scheduled(self, department: str, limit: int = 100) -> list[Callback]:
        """Retries waiting for their time, soonest first."""
        ids = self.conn.zrange(keys.CALLBACK_SCHEDULED.format(department), 0, limit - 1)
        return self._get_many(ids)

    def claimed_by(self, staff: str) -> list[Callback]:
        """The callbacks ``staff`` holds, oldest claim first (an expired lease shows until swept)."""
        ids = self.conn.smembers(keys.CALLBACK_STAFF.format(staff))
        held = [cb for cb in self._get_many(sorted(ids)) if cb.status is Status.CLAIMED and cb.claimed_by == staff]
        return sorted(held, key=lambda cb: cb.claimed_at)

    def history(self, phone: str, limit: int = 50) -> list[dict]:
        """Events for this number across departments, newest first (see the module docstring)."""
        if limit <= 0:
            return []
        raw = self.conn.lrange(keys.CALLBACK_HISTORY.format(phone_digest(phone)), 0, limit - 1)
        return [json.loads(item) for item in raw]

    # Staff --------------------------------------------------------------

    def claim_next(self, departments: Sequence[str], staff: str, most: int = 0) -> Callback | None:
        """Atomically take the best waiting callback of these departments (urgent, then oldest).

        Expired leases and due retries of these departments are put back in
        line first. The claim lasts ``lease_seconds`` unless renewed. With
        ``most``, a staff member who already holds that many gets
        ``HoldsTooMany`` instead, decided in the same script as the claim, so
        two "Take next" at once cannot both succeed.
        """
        if not staff:
            raise ValueError("claim_next needs the staff member's name")
        if not departments:
            return None
        now = self.clock()
        raw = self._claim(args=[repr(now), repr(now + self.lease_seconds), staff, most, *departments])
        if raw == b"full":
            raise HoldsTooMany(staff, most)
        if not raw:
            return None
        claimed = Callback.from_fields(_pairs(raw))
        self.live.publish("claim", claimed.id, claimed.department)
        return claimed

    def renew(self, callback_id: str, staff: str) -> bool:
        """Extend ``staff``'s unexpired claim by a full lease. False if they do not hold it."""
        now = self.clock()
        return bool(self._renew(args=[callback_id, staff, repr(now), repr(now + self.lease_seconds)]))

    def release(self, callback_id: str, staff: str) -> bool:
        """Give the callback back: it returns to its own place in line now."""
        released = bool(self._release(args=[callback_id, staff, repr(self.clock())]))
        if released:
            self.live.publish("release", callback_id)
        return released

    def finish(
        self,
        callback_id: str,
        staff: str,
        outcome: Outcome,
        note: str = "",
        retry: RetryPolicy | None = None,
    ) -> Callback:
        """Record the outcome of ``staff``'s call.

        reached / left_message: done. wrong_number: closed. no_answer: one more
        attempt; while fewer than ``retry.attempts`` it is scheduled for
        ``retry.hours.next_allowed(now + spacing)`` and comes back at its
        original place, else closed with "no answer after N attempts" (no
        ``retry``: closed at once). An urgent one is scheduled for
        ``now + retry.urgent_spacing_seconds`` at any hour, never closed for
        want of an answer, and moved to ``retry.on_call``'s queue after
        ``retry.urgent_tries_before_on_call`` tries (see RetryPolicy).
        Raises UnknownCallback, NotClaimed or LeaseExpired.
        """
        outcome = Outcome(outcome)
        now = self.clock()
        max_attempts, not_before, urgent_not_before = 0, 0.0, 0.0
        if outcome is Outcome.NO_ANSWER and retry is not None:
            due = dt.datetime.fromtimestamp(now + retry.spacing_seconds, dt.timezone.utc)
            max_attempts, not_before = retry.attempts, retry.hours.next_allowed(due).timestamp()
            if retry.urgent_spacing_seconds > 0:
                urgent_not_before = now + retry.urgent_spacing_seconds
        before = self.get(callback_id)
        reply = self._finish(
            args=[
                callback_id, staff, repr(now), outcome.value, note, max_attempts, repr(not_before),
                FINISHED_TTL, HANDLING_KEEP, STAFF_WINDOW, EVENTS_KEEP,
                repr(urgent_not_before), retry.urgent_tries_before_on_call if retry else 0, retry.on_call if retry else "",
            ]
        )
        verdict = _text(reply[0])
        if verdict == "unknown":
            raise UnknownCallback(f"no callback {callback_id}")
        if verdict == "expired":
            raise LeaseExpired(f"callback {callback_id}: the claim by {staff} has expired")
        if verdict == "not_claimed":
            raise NotClaimed(f"callback {callback_id} is {_text(reply[1])}, not claimed by {staff}")
        done = Callback.from_fields(_pairs(reply[1]))
        if done.status in (Status.DONE, Status.CLOSED):
            self._keep_lifecycle(_pairs(reply[1]))
        if before is not None and before.department != done.department:  # moved to the on-call desk
            self.live.publish("outcome", done.id, before.department)
            self.live.publish("urgent", done.id, done.department)
        else:
            self.live.publish("outcome", done.id, done.department)
        return done

    def escalate_unattended(self, department: str, on_call: str, reason: str = "nobody on duty") -> list[str]:
        """Move ``department``'s urgent callbacks that wait or wait for their next try (not one a
        person holds) to the ``on_call`` desk, each keeping its place; the ids moved."""
        if not on_call or on_call == department:
            return []
        moved = [_text(i) for i in self._escalate_unattended(args=[department, on_call, repr(self.clock()), reason])]
        for callback_id in moved:
            self.live.publish("outcome", callback_id, department)
            self.live.publish("urgent", callback_id, on_call)
        return moved

    def _keep_lifecycle(self, fields: dict[str, str]) -> None:
        """Its times for the reports (ivr.store.call_records.CallbackLifecycle); never fails the outcome."""
        from .call_records import CallbackLifecycle

        try:
            CallbackLifecycle(self.conn).record(fields)
        except redis.RedisError:
            log.warning("callback %s: its lifecycle could not be kept for the reports", fields.get("id", ""))

    def release_expired(self) -> int:
        """Put expired claims and due retries of every department back in line; how many moved."""
        moved = int(self._sweep_all(args=[repr(self.clock())]))
        if moved:
            self.live.publish("requeue", "", "*")  # which departments is not known here: every console looks
        return moved

    # Figures ------------------------------------------------------------

    def estimated_wait_seconds(self, department: str, position: int | None = None) -> int:
        """Seconds until a patient at ``position`` (default: joining now, at the end) has been called.

        ``position * mean handling time / staff``: the mean of the department's
        last HANDLING_KEEP claim->finish durations (DEFAULT_HANDLING_SECONDS
        before there are any), shared among the distinct staff who finished one
        of its callbacks in the last STAFF_WINDOW seconds (at least 1).
        """
        now = self.clock()
        pipe = self.conn.pipeline(transaction=False)
        pipe.zcard(keys.CALLBACK_QUEUE.format(department))
        pipe.lrange(keys.CALLBACK_HANDLING.format(department), 0, HANDLING_KEEP - 1)
        pipe.zcount(keys.CALLBACK_FINISHERS.format(department), now - STAFF_WINDOW, "+inf")
        depth, durations, staff = pipe.execute()
        return estimate_seconds(position if position is not None else int(depth) + 1, durations, int(staff))

    def stats(
        self, department: str, now: float | None = None, target_seconds: int = 3600, window_seconds: int = 86400
    ) -> dict:
        """A department's queue figures for the last ``window_seconds``.

        waiting_now, scheduled_now, claimed_now; claimed (first claims in the
        window) and average_wait_seconds (request -> first claim; 0 when none);
        completed (reached or message left), completed_within_target (request
        -> done within ``target_seconds``); abandoned (closed unreached: no
        answer after all attempts, or wrong number); oldest_waiting_seconds.
        """
        now = self.clock() if now is None else now
        queue = keys.CALLBACK_QUEUE.format(department)
        pipe = self.conn.pipeline(transaction=False)
        pipe.zcard(queue)
        pipe.zcard(keys.CALLBACK_SCHEDULED.format(department))
        pipe.zcard(keys.CALLBACK_LEASES.format(department))
        pipe.zrangebyscore(keys.CALLBACK_EVENTS.format(department), now - window_seconds, now)
        pipe.zrange(queue, 0, 0, withscores=True)
        pipe.zrangebyscore(queue, 0, "+inf", start=0, num=1, withscores=True)
        waiting, scheduled, claimed_now, events, head, oldest_plain = pipe.execute()
        waits, done, abandoned = [], [], 0
        for member in events:
            kind, _, seconds = _text(member).split("|")
            if kind == "claim":
                waits.append(float(seconds))
            elif kind == "done":
                done.append(float(seconds))
            elif kind == "closed":
                abandoned += 1
        oldest = [score + URGENT_SHIFT for _, score in head if score < 0]
        oldest += [score for _, score in oldest_plain]
        return {
            "waiting_now": int(waiting),
            "scheduled_now": int(scheduled),
            "claimed_now": int(claimed_now),
            "claimed": len(waits),
            "average_wait_seconds": int(round(sum(waits) / len(waits))) if waits else 0,
            "completed": len(done),
            "completed_within_target": sum(1 for s in done if s <= target_seconds),
            "abandoned": abandoned,
            "oldest_waiting_seconds": int(max(0.0, now - min(oldest))) if oldest else 0,
        }

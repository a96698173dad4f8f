"""The callback queue's Lua scripts (``ivr.store.callbacks.CallbackQueue`` runs them): every change of a
callback's state is one script, so it is atomic. Key names come from the ``keys`` templates (the part before
``{0}``), as the queue's docstring lays out."""

from __future__ import annotations

import json

from . import keys
from .callback_types import URGENT_SHIFT

HISTORY_CAP = 200  # events kept per phone number
HISTORY_TTL = 400 * 86400
SWEEP_LIMIT = 100  # expired leases / due retries moved per department per script run


def _prefix(template: str) -> str:
    assert template.endswith("{0}"), template
    return template[:-3]


PRELUDE = f"""
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
REQUEST = PRELUDE + """
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
CLAIM = PRELUDE + """
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
FINISH = PRELUDE + """
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
RENEW = PRELUDE + """
local h = K_CB .. ARGV[1]
local f = redis.call('HMGET', h, 'status', 'claimed_by', 'lease_until', 'department')
if f[1] ~= 'claimed' or f[2] ~= ARGV[2] or tonumber(f[3]) <= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', h, 'lease_until', ARGV[4])
redis.call('ZADD', K_LEASES .. f[4], ARGV[4], ARGV[1])
return 1
"""

# ARGV: id, staff, now
RELEASE = PRELUDE + """
local f = redis.call('HMGET', K_CB .. ARGV[1], 'status', 'claimed_by')
if f[1] ~= 'claimed' or f[2] ~= ARGV[2] then return 0 end
requeue(ARGV[1], ARGV[3], 'released')
return 1
"""

# ARGV: now
SWEEP_ALL = PRELUDE + """
local moved = 0
for _, dept in ipairs(redis.call('SMEMBERS', K_DEPARTMENTS)) do moved = moved + sweep(dept, ARGV[1]) end
return moved
"""

# ARGV: id, transcript, urgent, urgent_reason, now
TRANSCRIPT = PRELUDE + """
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
NOT_URGENT = PRELUDE + """
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
POSITION = PRELUDE + """
local f = redis.call('HMGET', K_CB .. ARGV[1], 'status', 'department')
if f[1] ~= 'waiting' then return false end
local rank = redis.call('ZRANK', K_QUEUE .. f[2], ARGV[1])
if not rank then return false end
return rank + 1
"""

# Run with EVAL inside the pipeline a new call already makes (``open_for_into``), so it needs no
# round trip of its own and no SCRIPT LOAD: its own short prelude, not PRELUDE.
# ARGV: phone, now, staff window, handling keep.
# Returns false, or {id, department, status, lang, position, staff working the queue, durations...}:
# the caller's open callback (the one longest in line if several), its place (1 when claimed: being called
# now; a scheduled retry: where it comes back, the patient being on the line), and what the wait needs.
OPEN_FOR = f"""
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
CANCEL = PRELUDE + """
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
ESCALATE_UNATTENDED = PRELUDE + """
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

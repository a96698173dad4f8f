"""Call state, call statistics and voicemail recordings in Redis.

Per-call state lives in one hash per call, ``ivr:call:{CallSid}``:
    seq      number of the reply the call is waiting on
    state    the engine's CallState as JSON
    r:{n}    the TwiML already sent for request n (so a replayed webhook gets
             exactly the same answer and changes nothing)
The hash expires ``ttl`` seconds after the last webhook.
"""

from __future__ import annotations

import datetime as dt
import json

import redis

from . import keys

CALL_TTL = 6 * 3600  # Twilio ends calls after 4 hours
STATS_TTL = 400 * 86400

# Compare-and-set: apply a reply only if the call still waits on the same request.
_ADVANCE = """
local cur = redis.call('HGET', KEYS[1], 'seq')
if (cur or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'state', ARGV[3], 'r:' .. ARGV[4], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
-- Marks for the call's report record (ivr.store.call_records.Marks): "+name" adds, else the first value stays.
for i = 7, #ARGV - 1, 2 do
  local name = ARGV[i]
  if string.sub(name, 1, 1) == '+' then redis.call('HINCRBY', KEYS[1], string.sub(name, 2), ARGV[i + 1])
  else redis.call('HSETNX', KEYS[1], name, ARGV[i + 1]) end
end
return 1
"""


class CallStore:
    """Call state and replies by CallSid."""

    def __init__(self, conn: redis.Redis, ttl: int = CALL_TTL) -> None:
        self.conn = conn
        self.ttl = ttl
        self._advance = conn.register_script(_ADVANCE)

    def load(self, call_sid: str, request_seq: int) -> tuple[int | None, dict | None, str | None]:
        """(current seq, state, reply already sent for ``request_seq``) for a call."""
        return self.parse_load(self.conn.hmget(keys.CALL.format(call_sid), "seq", "state", f"r:{request_seq}"))

    @staticmethod
    def load_into(pipe: redis.client.Pipeline, call_sid: str, request_seq: int) -> None:
        """Queue ``load``'s read on ``pipe`` (one round trip with other reads); ``parse_load`` its answer."""
        pipe.hmget(keys.CALL.format(call_sid), "seq", "state", f"r:{request_seq}")

    @staticmethod
    def parse_load(raw: list) -> tuple[int | None, dict | None, str | None]:
        seq, state, reply = raw
        return (
            int(seq) if seq is not None else None,
            json.loads(state) if state is not None else None,
            reply.decode() if reply is not None else None,
        )

    def advance(
        self, call_sid: str, expected_seq: int | None, state: dict, request_seq: int, reply: str,
        marks: list[str] | None = None,
    ) -> bool:
        """Store the new state and the reply to ``request_seq`` if nobody else did first."""
        done = self._advance(
            keys=[keys.CALL.format(call_sid)],
            args=[
                "" if expected_seq is None else str(expected_seq),
                str(state["seq"]),
                json.dumps(state, separators=(",", ":")),
                str(request_seq),
                reply,
                self.ttl,
                *(marks or ()),
            ],
        )
        return bool(done)

    def reply(self, call_sid: str, request_seq: int) -> str | None:
        raw = self.conn.hget(keys.CALL.format(call_sid), f"r:{request_seq}")
        return raw.decode() if raw is not None else None

    def ended(self, call_sid: str, fields: tuple[str, ...]) -> tuple[dict | None, dict[str, str]]:
        """The call's state and its report marks (``fields``), in one round trip."""
        raw = self.conn.hmget(keys.CALL.format(call_sid), "state", *fields)
        state = json.loads(raw[0]) if raw[0] is not None else None
        return state, {f: v.decode() for f, v in zip(fields, raw[1:]) if v is not None}

    def mark(self, call_sid: str, **fields: str) -> None:
        """Note things about the call for its record (a fallback, the emergency switch), each kept only
        the first time: one round trip."""
        pipe = self.conn.pipeline(transaction=False)
        for name, value in fields.items():
            pipe.hsetnx(keys.CALL.format(call_sid), f"m:{name}", value)
        pipe.expire(keys.CALL.format(call_sid), self.ttl)
        pipe.execute()

    def state(self, call_sid: str) -> dict | None:
        raw = self.conn.hget(keys.CALL.format(call_sid), "state")
        return json.loads(raw) if raw is not None else None

    def expire_soon(self, call_sid: str, seconds: int = 3600) -> None:
        """The call ended: keep its state a little while for late callbacks, then drop it."""
        self.conn.expire(keys.CALL.format(call_sid), seconds)


# Count a call once, however often its status callback (or the job) runs.
_COUNT_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', 86400) then return 0 end
for i = 1, #ARGV - 1 do redis.call('HINCRBY', KEYS[2], ARGV[i], 1) end
redis.call('EXPIRE', KEYS[2], ARGV[#ARGV])
return 1
"""


class StatsStore:
    """Daily call counters (no patient data: outcomes and languages only)."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._count_once = conn.register_script(_COUNT_ONCE)

    def count_call(self, call_sid: str, day: dt.date, fields: list[str]) -> bool:
        """Add one to each field of the day's counters, once per call. True if counted now."""
        names = [keys.CALL_COUNTED.format(call_sid), keys.CALL_STATS.format(day.isoformat())]
        return bool(self._count_once(keys=names, args=[*fields, STATS_TTL]))

    def day(self, day: dt.date) -> dict[str, int]:
        raw = self.conn.hgetall(keys.CALL_STATS.format(day.isoformat()))
        return {k.decode(): int(v) for k, v in raw.items()}

"""Staff sessions and failed logins in Redis.

Sessions (``SessionStore``). The browser holds only a random session id; the
record is here:

* ``STAFF_SESSION:{id}``       hash: ``user``, ``created`` and ``seen`` (seconds since the
                               epoch, the app's clock), ``key`` (fingerprint of the password
                               hash when the session began). Its TTL runs ``TTL_GRACE``
                               seconds past the moment it would be refused, as a backstop:
                               ``touch`` is what refuses (and deletes) a dead record, so the
                               user can be told why (idle, lifetime).
* ``STAFF_SESSIONS_OF:{user}`` set of that user's session ids, so disabling the user or
                               setting a new password (``ivr.store.users``) ends every one
                               of them at once.

``touch`` checks and renews in one Lua script: a session deleted by logout,
idleness, its lifetime or ``end_all`` is never brought back by a request that
was already under way.

Failed logins (``LoginFailures``): one sorted set of failure times per
username and client address, and one per username from every address; the
throttling rules that read them are described in ``ivr.staff.limits``.
Scripts build key names from the ``keys`` templates (the part before ``{0}``):
fine on a single Redis, not on Redis Cluster.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

import redis

from . import keys
from .events import publish_session_end

TTL_GRACE = 60  # seconds a dead record may linger before Redis drops it (the check refuses it at once)

_PREFIX = keys.STAFF_SESSION.format("")
_SETS = keys.STAFF_SESSIONS_OF.format("")

# KEYS[1] session, KEYS[2] the user's set; ARGV user, created, key, record ttl, set ttl, sid, session prefix
_CREATE = """
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created', ARGV[2], 'seen', ARGV[2], 'key', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('EXISTS', ARGV[7] .. sid) == 0 then redis.call('SREM', KEYS[2], sid) end
end
redis.call('SADD', KEYS[2], ARGV[6])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[5]) then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
return 1
"""

# KEYS[1] session; ARGV now, idle, lifetime, grace, sid, sets prefix, set ttl (lifetime + grace)
# -> {'ok', user, created, key} | {'idle' | 'lifetime', user} | {'missing'}
_TOUCH = """
local r = redis.call('HMGET', KEYS[1], 'user', 'created', 'seen', 'key')
if not r[1] then return {'missing'} end
local now, idle, life = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local created, seen = tonumber(r[2]) or 0, tonumber(r[3]) or 0
local why = nil
if now - seen > idle then why = 'idle' elseif now - created > life then why = 'lifetime' end
if why then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', ARGV[6] .. r[1], ARGV[5])
  return {why, r[1]}
end
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
local left = math.min(idle, created + life - now)
redis.call('EXPIRE', KEYS[1], math.ceil(left) + tonumber(ARGV[4]))
return {'ok', r[1], r[2], r[4] or ''}
"""

# KEYS[1] session; ARGV sid, sets prefix -> the user it belonged to, or false
_DELETE = """
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1])
if user then redis.call('SREM', ARGV[2] .. user, ARGV[1]) end
return user
"""

# KEYS[1] the user's set; ARGV session prefix -> how many live sessions were ended
_END_ALL = """
local ended = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  ended = ended + redis.call('DEL', ARGV[1] .. sid)
end
redis.call('DEL', KEYS[1])
return ended
"""


@dataclass(frozen=True)
class Touched:
    """What ``touch`` found: ``state`` is ok, idle, lifetime (both now deleted) or missing."""

    state: str
    user: str = ""
    created: float = 0.0
    key: str = ""


class SessionStore:
    """Create, check-and-renew, and end staff sessions."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._create = conn.register_script(_CREATE)
        self._touch = conn.register_script(_TOUCH)
        self._delete = conn.register_script(_DELETE)
        self._end_all = conn.register_script(_END_ALL)

    def create(self, user: str, key: str, now: float, idle: float, lifetime: float) -> str:
        """A new session for ``user`` (``key``: the password fingerprint); returns its random id."""
        sid = secrets.token_urlsafe(32)
        self._create(
            keys=[keys.STAFF_SESSION.format(sid), keys.STAFF_SESSIONS_OF.format(user)],
            args=[
                user,
                repr(float(now)),
                key,
                math.ceil(min(idle, lifetime)) + TTL_GRACE,  # the record: until it would be idle
                math.ceil(lifetime) + TTL_GRACE,  # the set: as long as any session of the user could live
                sid,
                _PREFIX,
            ],
        )
        return sid

    def touch(self, sid: str, now: float, idle: float, lifetime: float) -> Touched:
        """Check session ``sid`` at ``now`` and count this request as activity; a dead one is deleted."""
        if not _valid(sid):
            return Touched("missing")
        raw = self._touch(
            keys=[keys.STAFF_SESSION.format(sid)],
            args=[repr(float(now)), repr(float(idle)), repr(float(lifetime)), TTL_GRACE, sid, _SETS],
        )
        state, *rest = [x.decode() if isinstance(x, bytes) else x for x in raw]
        if state == "ok":
            return Touched(state, rest[0], float(rest[1]), rest[2])
        return Touched(state, rest[0] if rest else "")

    def get(self, sid: str) -> dict[str, str] | None:
        """The stored record (for tests and tools), without renewing it."""
        if not _valid(sid):
            return None
        raw = self.conn.hgetall(keys.STAFF_SESSION.format(sid))
        return {k.decode(): v.decode() for k, v in raw.items()} or None

    def delete(self, sid: str) -> str | None:
        """End one session (logout); returns whose it was."""
        if not _valid(sid):
            return None
        user = self._delete(keys=[keys.STAFF_SESSION.format(sid)], args=[sid, _SETS])
        if not user:
            return None
        publish_session_end(self.conn, user.decode())
        return user.decode()

    def end_all(self, user: str, pipeline: redis.client.Pipeline | None = None) -> int | None:
        """End every session of ``user``; how many were live (None when queued on ``pipeline``)."""
        result = self._end_all(keys=[keys.STAFF_SESSIONS_OF.format(user)], args=[_PREFIX], client=pipeline or self.conn)
        publish_session_end(self.conn, user, pipeline=pipeline)
        return None if pipeline is not None else int(result)

    def anyone_in(self, users: list[str], now: float, idle: float) -> bool:
        """Whether any of ``users`` has a session in use within ``idle`` seconds of ``now`` (read only)."""
        pipe = self.conn.pipeline(transaction=False)
        for user in users:
            pipe.smembers(keys.STAFF_SESSIONS_OF.format(user))
        sids = [sid.decode() for found in (pipe.execute() if users else []) for sid in found]
        for sid in sids:
            pipe.hget(keys.STAFF_SESSION.format(sid), "seen")
        return any(seen is not None and float(seen) >= now - idle for seen in (pipe.execute() if sids else []))

    def of_user(self, user: str) -> list[str]:
        """Ids of the user's sessions (some may have just expired)."""
        return sorted(s.decode() for s in self.conn.smembers(keys.STAFF_SESSIONS_OF.format(user)))


def _valid(sid: object) -> bool:
    return isinstance(sid, str) and 20 <= len(sid) <= 64 and sid.replace("-", "").replace("_", "").isalnum()


# KEYS[1] failures from this address, KEYS[2] failures from everywhere; ARGV now,
# pair amount, pair window, user amount, user window, member -> seconds to wait ('0': counted, go on)
_ATTEMPT = """
local now = tonumber(ARGV[1])
local pair_n, pair_w = tonumber(ARGV[2]), tonumber(ARGV[3])
local user_n, user_w = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - pair_w))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - user_w))
local times = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local n = #times / 2
local wait = 0
if n >= pair_n then
  wait = tonumber(times[2 * (n - pair_n + 1)]) + pair_w - now
end
if n >= 1 and redis.call('ZCARD', KEYS[2]) >= user_n then
  wait = math.max(wait, tonumber(times[2 * n]) + pair_w - now)
end
if wait > 0 then return tostring(wait) end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(user_n + 1))
redis.call('EXPIRE', KEYS[1], math.ceil(pair_w) + 1)
redis.call('EXPIRE', KEYS[2], math.ceil(user_w) + 1)
return '0'
"""


class LoginFailures:
    """Failed logins per username and address, and per username from everywhere.

    An attempt is counted as failed when it starts (``attempt``), atomically
    with the check, so parallel guesses cannot slip past the limit; a correct
    password takes it back (``succeeded``).
    """

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._attempt = conn.register_script(_ATTEMPT)

    def attempt(
        self, user: str, address: str, now: float, pair: tuple[int, float], total: tuple[int, float]
    ) -> tuple[float, str]:
        """(seconds to wait, "") if refused, else (0, a token for ``succeeded``), the attempt counted.

        ``pair``: at most that many failures in that many seconds from one address;
        ``total``: from every address; beyond it, an address with a failure for this
        user must wait the ``pair`` window after its last one (one guess per window).
        """
        token = f"{now:.6f}:{secrets.token_hex(4)}"
        wait = float(
            self._attempt(
                keys=[keys.LOGIN_FAILED_FROM.format(user, address[:64]), keys.LOGIN_FAILED.format(user)],
                args=[repr(float(now)), pair[0], repr(float(pair[1])), total[0], repr(float(total[1])), token],
            )
        )
        return (wait, "") if wait > 0 else (0.0, token)

    def succeeded(self, user: str, address: str, token: str) -> None:
        """The password was right: forget this address's failures for ``user``, and take this attempt back."""
        pipe = self.conn.pipeline(transaction=True)
        pipe.delete(keys.LOGIN_FAILED_FROM.format(user, address[:64]))
        pipe.zrem(keys.LOGIN_FAILED.format(user), token)
        pipe.execute()

    def count(self, user: str, address: str | None = None) -> int:
        """Failures kept for ``user`` (from ``address``, else from everywhere)."""
        key = keys.LOGIN_FAILED.format(user) if address is None else keys.LOGIN_FAILED_FROM.format(user, address[:64])
        return int(self.conn.zcard(key))

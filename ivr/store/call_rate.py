"""The Twilio calls-per-second limit, shared by every worker: a GCRA limiter in one Redis key.

Each grant moves the key's *theoretical arrival time* (TAT) on by one
interval (1 / calls_per_second, plus a small margin for the time between the
grant and Twilio receiving the request). A grant is given only when the TAT is
not in the future, so grants are at least one interval apart on Redis's own
clock (``TIME`` inside the script): workers on several machines with skewed
clocks still share one limit. No burst: the limit holds in every window.

``acquire`` never sleeps; it answers 0 (go) or how long to wait. ``wait``
loops on it, sleeping, up to a bound.
"""

from __future__ import annotations

import time
from typing import Callable

import redis

from . import keys

MARGIN = 0.05  # grants are 5 % further apart than the limit requires: request jitter stays under it

# KEYS: tat.  ARGV: interval (microseconds). Returns 0 (granted) or microseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then return tat - now end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%d', now + interval), 'PX', math.ceil(interval / 1000) + 1000)
return 0
"""


class CallRateLimiter:
    def __init__(self, conn: redis.Redis, calls_per_second: float, margin: float = MARGIN, key: str = keys.FOLLOWUP_RATE) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        self.conn = conn
        self.key = key
        self.interval_us = int(1_000_000 * (1 + margin) / calls_per_second)
        self._acquire = conn.register_script(_ACQUIRE)

    def acquire(self) -> float:
        """0.0 if this caller may place a call now (the grant is taken), else seconds to wait first."""
        return int(self._acquire(keys=[self.key], args=[self.interval_us])) / 1_000_000

    def wait(self, limit: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Take a grant, sleeping as needed for up to ``limit`` seconds. False if none came in time."""
        deadline = time.monotonic() + limit
        while True:
            delay = self.acquire()
            if delay <= 0:
                return True
            if time.monotonic() + delay > deadline:
                return False
            sleep(delay)

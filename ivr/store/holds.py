"""Callers holding for a desk, in the order they started holding (for position announcements)."""

from __future__ import annotations

import time
from typing import Callable

import redis

from . import keys

STALE_SECONDS = 4 * 3600  # Twilio ends calls after 4 hours


class HoldLine:
    def __init__(self, conn: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock

    def position(self, desk: str, call_sid: str) -> int:
        """Join the desk's hold line if not in it yet; 1-based place in it."""
        key = keys.HOLD_LINE.format(desk)
        now = self.clock()
        pipe = self.conn.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", now - STALE_SECONDS)
        pipe.zadd(key, {call_sid: now}, nx=True)
        pipe.zrank(key, call_sid)
        rank = pipe.execute()[-1]
        return int(rank) + 1

    def leave(self, desk: str, call_sid: str) -> None:
        self.conn.zrem(keys.HOLD_LINE.format(desk), call_sid)

    def count(self, desk: str) -> int:
        return int(self.conn.zcard(keys.HOLD_LINE.format(desk)))

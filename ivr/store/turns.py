"""Turns: work every worker could do, done by one of them per period (asking Twilio, for instance)."""

from __future__ import annotations

import redis

from . import keys


def take_turn(conn: redis.Redis, name: str, seconds: float) -> bool:
    """True for one caller per ``seconds`` under ``name``; the others are told it is not their turn."""
    return bool(conn.set(keys.TURN.format(name), "1", nx=True, ex=max(1, int(seconds))))

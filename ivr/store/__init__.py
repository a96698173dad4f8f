"""All Redis access: the connection, key names (``keys``) and one module per concern.

Nothing outside this package names a Redis key.
"""

from __future__ import annotations

import redis

from .calls import CALL_TTL, CallStore, StatsStore


def connect(url: str, timeout: float = 1.0) -> redis.Redis:
    """A client with short timeouts, so an outage turns into a quick fallback, not a hung call."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
    )


__all__ = ["CALL_TTL", "CallStore", "StatsStore", "connect"]

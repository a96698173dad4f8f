"""Where Flask-Limiter keeps the login rate-limit counters: the app's Redis, under ``ivr:limits``."""

from __future__ import annotations

from . import keys


def limiter_storage(url: str, timeout: float = 1.0) -> tuple[str, dict]:
    """Flask-Limiter's storage URI and options for the Redis at ``url``.

    The ``limits`` library names a Redis Unix socket ``redis+unix://``; redis-py
    (and REDIS_URL) say ``unix://``.
    """
    uri = "redis+unix://" + url.removeprefix("unix://") if url.startswith("unix://") else url
    options = {"key_prefix": keys.RATE_LIMITS, "socket_timeout": timeout, "socket_connect_timeout": timeout}
    return uri, options

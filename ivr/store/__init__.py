"""All Redis access: the connection, key names (``keys``) and one module per concern.

Nothing outside this package names a Redis key.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

import redis

from . import keys
from .calls import CALL_TTL, CallStore, StatsStore

SENTINEL_SCHEME = "redis+sentinel://"
DURABLE_MARK = keys.PREFIX + "durable"  # written by ``durable`` just before WAIT (see there)


class Client(redis.Redis):
    """redis.Redis carrying how many replicas a confirmed write must reach (``durable``)."""

    min_replicas = 0
    replica_wait_ms = 500


class NotReplicated(redis.RedisError):
    """A write reached the primary but not enough replicas in time: it must not be confirmed to anyone."""


def connect(url: str, timeout: float = 1.0) -> Client:
    """A client with short timeouts, so an outage turns into a quick fallback, not a hung call.

    ``url`` is what ``ivr.config.redis_url`` gives: REDIS_URL, the embedded server's socket, or with
    IVR_REDIS_SENTINELS a ``redis+sentinel://host:port,.../service?min_replicas=N`` address. Then the
    client is the service's primary as the Sentinels name it, asked again whenever a connection
    breaks: after a failover it talks to the new primary, and until one is promoted commands fail
    fast (callers get the fallback). The client carries ``min_replicas`` for ``durable``.
    """
    if url.startswith(SENTINEL_SCHEME):
        return _sentinel_client(url, timeout)
    return Client.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
    )


def connect_from_config(config: Mapping[str, Any], timeout: float | None = None) -> Client:
    """The client for a process's settings (the app's config, or ``ivr.config.environment_settings()``);
    ``timeout`` defaults to REDIS_TIMEOUT."""
    from ivr import config as config_module

    timeout = float(config.get("REDIS_TIMEOUT") or 1.0) if timeout is None else timeout
    return connect(config_module.redis_url(dict(config)), timeout=timeout)


def _sentinel_client(url: str, timeout: float) -> Client:
    from redis.sentinel import Sentinel

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    netloc = parts.netloc
    password = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        password = unquote(auth.partition(":")[2]) or None
    sentinels = []
    for item in netloc.split(","):
        host, _, port = item.rpartition(":")
        sentinels.append((host.strip("[]"), int(port)))
    service = unquote(parts.path.strip("/")) or "mymaster"
    manager = Sentinel(
        sentinels,
        sentinel_kwargs={
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "password": query.get("sentinel_password") or None,
        },
    )
    client = manager.master_for(
        service,
        redis_class=Client,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=False,
        password=password,
    )
    client.min_replicas = int(query.get("min_replicas", 1))
    client.replica_wait_ms = int(query.get("replica_wait_ms", 500))
    return client


def durable(conn: redis.Redis) -> None:
    """Return once this process's writes so far are on ``conn.min_replicas`` replicas too, else raise
    NotReplicated (a RedisError). Call it after a write and before confirming it to a caller ("we will
    call you back"), so losing the primary loses nothing confirmed. Without replication it does nothing.

    WAIT counts the replicas that acknowledged the last write *of the connection it is sent on*, and a
    pool may hand another connection to the next command (threads): so a small write goes first on
    the same connection. It follows every earlier write in the replication stream, so its
    acknowledgement covers them all.
    """
    need = int(getattr(conn, "min_replicas", 0) or 0)
    if need <= 0:
        return
    wait_ms = int(getattr(conn, "replica_wait_ms", 500) or 500)
    pipe = conn.pipeline(transaction=False)
    pipe.incr(DURABLE_MARK)
    pipe.execute_command("WAIT", need, wait_ms)
    _, acked = pipe.execute()
    if int(acked) < need:
        raise NotReplicated(f"{acked} of {need} replica(s) acknowledged the write within {wait_ms} ms")


__all__ = ["CALL_TTL", "CallStore", "Client", "NotReplicated", "StatsStore", "connect", "connect_from_config", "durable"]

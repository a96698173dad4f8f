"""Can this install keep what callers leave? Redis refusing writes and a full data disk, in words.

Redis answers PING and reads while it refuses every write: full (``OOM``), unable to save to its own
disk (``MISCONF``), a read-only replica (``READONLY``), or short of replicas (``NOREPLICAS``). A full
data disk stops recordings being kept. Calls still get the safe answer meanwhile (a person, or a
message Twilio keeps, recovered by the workers once writes work again); these words say why, on
/healthz, /metrics (``ivr_writes_refused``) and the admin banner.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import redis

PROBE_KEY = "ivr:health:write-probe"  # a one-byte key with a minute's life, written at each check
MIN_FREE_MB = 64  # below this the data disk counts as full (IVR_MIN_FREE_MB)
AFTERWARDS = ("callers get the safe fallback (a person, or a message Twilio keeps), "
              "recovered from Twilio once writes work again")
REFUSALS = {
    "MISCONF": "Redis cannot save to its disk (MISCONF: disk full or not writable) and refuses every write",
    "READONLY": "Redis is a read-only replica (READONLY) and refuses every write",
    "NOREPLICAS": "Redis has fewer replicas than min-replicas-to-write (NOREPLICAS) and refuses every write",
    "OOM": "Redis is out of memory (OOM, maxmemory) and refuses writes",
}


def redis_problem(conn: redis.Redis) -> str:
    """Why Redis refuses a write now ("" when it takes one); other Redis errors propagate."""
    try:
        conn.set(PROBE_KEY, b"1", ex=60)
    except redis.ResponseError as exc:
        text = str(exc)
        reason = next((words for code, words in REFUSALS.items() if text.startswith(code)),
                      f"Redis refuses writes ({text.split(' ', 1)[0]})")
        return f"{reason}: {AFTERWARDS}"
    return ""


def disk_problem(data_dir: str | Path, min_free_mb: float = MIN_FREE_MB) -> str:
    """Why the data folder cannot take recordings now ("" when it has room)."""
    try:
        free = shutil.disk_usage(data_dir).free
    except OSError as exc:
        return f"the data folder cannot be read ({exc.strerror}): recordings cannot be kept"
    if free < min_free_mb * 1024 * 1024:
        return (f"the data disk is full ({free // (1024 * 1024)} MB free, {min_free_mb:g} MB needed): "
                f"recordings cannot be written; {AFTERWARDS}")
    return ""


def problems(conn: redis.Redis, data_dir: str | Path, min_free_mb: float = MIN_FREE_MB) -> dict[str, str]:
    """{"redis": why, "disk": why} for what refuses writes now (empty: all is well)."""
    found = {"redis": redis_problem(conn), "disk": disk_problem(data_dir, min_free_mb)}
    return {what: why for what, why in found.items() if why}


def from_app() -> dict[str, str]:
    """``problems`` for this web process's Redis and data folder; a Redis it cannot reach counts as refusing."""
    from flask import current_app

    from ivr import services

    min_free = float(current_app.config.get("MIN_FREE_MB") or MIN_FREE_MB)
    try:
        return problems(services.get().redis, current_app.config["DATA_DIR"], min_free)
    except redis.RedisError as exc:
        return {"redis": f"Redis cannot be reached ({exc.__class__.__name__}): {AFTERWARDS}",
                **({"disk": d} if (d := disk_problem(current_app.config["DATA_DIR"], min_free)) else {})}

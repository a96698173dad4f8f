"""Which RQ workers are alive, told by their heartbeats (for /healthz).

RQ lists a worker in its registry from birth to a clean death. A worker killed
with SIGKILL never says it died: its entry stays until its key expires and a
later worker's maintenance (every 10 minutes) drops it, so counting the registry
counts the dead. Our workers heartbeat at least every ``HEARTBEAT_SECONDS``
(idle or busy, see ``ivr.workers.runner``); one not heard from for
``LIVE_SECONDS`` is not counted.
"""

from __future__ import annotations

import datetime as dt

import redis
from rq import Worker
from rq.utils import as_text, utcparse

# RQ's worker_ttl: an idle worker's blocking wait for a job ends, and it heartbeats, every
# WORKER_TTL - 15 seconds (with RQ's default of 420 s, every 405 s: too seldom to tell the dead).
WORKER_TTL = 30
HEARTBEAT_SECONDS = WORKER_TTL - 15
# A busy worker heartbeats this often while its job runs (RQ's job_monitoring_interval).
JOB_MONITORING_INTERVAL = HEARTBEAT_SECONDS
# Unheard of for this long (four heartbeats missed): not alive.
LIVE_SECONDS = 4 * HEARTBEAT_SECONDS


def live_workers(conn: redis.Redis, now: dt.datetime, queue: str | None = None) -> int:
    """How many registered workers (of ``queue``, when given) have heartbeated within ``LIVE_SECONDS`` of ``now`` (aware)."""
    names = sorted(Worker.all_keys(connection=conn))
    if not names:
        return 0
    pipe = conn.pipeline(transaction=False)
    for key in names:
        pipe.hmget(key, "last_heartbeat", "death", "queues")
    live = 0
    for heartbeat, death, queues in pipe.execute():
        if heartbeat is None or death is not None:  # key expired, or a clean death not yet unlisted
            continue
        if queue is not None and queue not in as_text(queues or b"").split(","):
            continue
        try:
            age = (now - utcparse(as_text(heartbeat))).total_seconds()
        except ValueError:
            continue
        if age <= LIVE_SECONDS:
            live += 1
    return live

"""Worker entry point: set up once per process, then RQ's fork-per-job loop."""

from __future__ import annotations

import logging
import os
import threading

import redis
from rq import Queue, Worker

from ivr.store.callbacks import CallbackQueue
from ivr.workers import QUEUES, context

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # how often lapsed claims and due retries go back in line (IVR_SWEEP_SECONDS)


def sweep_forever(conn: redis.Redis, interval: float, stop: threading.Event) -> None:
    """Put callbacks whose claim lapsed, and retries now due, back in line, every ``interval`` s.

    Claims and console views also do this for their own queues; the sweep keeps
    positions and waits right for callers when nobody is looking. Every worker
    may sweep: the script is atomic, so doing it twice changes nothing.
    """
    queue = CallbackQueue(conn)
    while not stop.wait(interval):
        try:
            moved = queue.release_expired()
        except redis.RedisError as exc:
            log.warning("callback sweep failed: %s", exc.__class__.__name__)
            continue
        if moved:
            log.info("callback sweep: %d back in line", moved)


def run(burst: bool = False, with_scheduler: bool = True, queues: tuple[str, ...] = QUEUES) -> bool:
    """Work the clinic's queues (highest first). Returns whether any job ran."""
    ctx = context.get()  # Redis + clinic settings; later, speech models, loaded before forking
    worker = Worker(
        [Queue(name, connection=ctx.redis) for name in queues],
        connection=ctx.redis,
        log_job_description=False,  # job arguments may identify patients; RQ logs bypass our masking
    )
    stop = threading.Event()
    if not burst:
        interval = float(os.environ.get("IVR_SWEEP_SECONDS") or SWEEP_SECONDS)
        threading.Thread(target=sweep_forever, args=(ctx.redis, interval, stop), daemon=True, name="sweep").start()
    try:
        return worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        stop.set()

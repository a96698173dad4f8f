"""Worker entry point: set up once per process, then RQ's fork-per-job loop."""

from __future__ import annotations

import logging
import os
import threading

import redis
from rq import Queue, Worker

from ivr.store.callbacks import CallbackQueue
from ivr.store.voicemails import VoicemailStore
from ivr.workers import DEFAULT_QUEUE, QUEUES, context
from ivr.workers import voicemail as voicemail_jobs

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # how often lapsed claims and due retries go back in line (IVR_SWEEP_SECONDS)


def sweep_forever(conn: redis.Redis, interval: float, stop: threading.Event, voicemail_attempts: int = 5) -> None:
    """Every ``interval`` s: callbacks whose claim lapsed, and retries now due, go back in line;
    voicemails whose job was lost (a worker killed mid-run) are queued again.

    Claims and console views also do the first for their own queues; the sweep keeps
    positions and waits right for callers when nobody is looking. Every worker
    may sweep: the scripts are atomic, so doing it twice changes nothing.
    """
    queue = CallbackQueue(conn)
    voicemails = VoicemailStore(conn)
    jobs = Queue(DEFAULT_QUEUE, connection=conn)
    while not stop.wait(interval):
        try:
            moved = queue.release_expired()
            requeued = voicemail_jobs.requeue_stalled(voicemails, jobs, voicemail_attempts)
        except redis.RedisError as exc:
            log.warning("sweep failed: %s", exc.__class__.__name__)
            continue
        if moved:
            log.info("callback sweep: %d back in line", moved)
        if requeued:
            log.warning("voicemail sweep: %d stalled voicemails queued again", requeued)


def preload_speech(ctx: context.JobContext) -> list[str]:
    """Load each clinic language's speech engine now, once, so forked job processes share it."""
    from ivr import speech

    loaded = []
    for lang in ctx.clinic.languages:
        try:
            engine = speech.transcriber_for(lang, voicemail_jobs.models_dir(ctx.data_dir))
        except speech.TranscriberUnavailable as exc:
            log.warning("no speech engine for %s: voicemails in it are kept untranscribed (%s)", lang, exc)
            continue
        loaded.append(f"{lang}: {engine.name}")
    if loaded:
        log.info("speech engines ready: %s", "; ".join(loaded))
    return loaded


def run(burst: bool = False, with_scheduler: bool = True, queues: tuple[str, ...] = QUEUES) -> bool:
    """Work the clinic's queues (highest first). Returns whether any job ran."""
    ctx = context.get()  # Redis, clinic settings and the data key
    preload_speech(ctx)  # before RQ forks a process per job: models load once per worker
    worker = Worker(
        [Queue(name, connection=ctx.redis) for name in queues],
        connection=ctx.redis,
        log_job_description=False,  # job arguments may identify patients; RQ logs bypass our masking
    )
    stop = threading.Event()
    if not burst:
        interval = float(os.environ.get("IVR_SWEEP_SECONDS") or SWEEP_SECONDS)
        threading.Thread(
            target=sweep_forever,
            args=(ctx.redis, interval, stop, ctx.clinic.voicemail.attempts),
            daemon=True,
            name="sweep",
        ).start()
    try:
        return worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        stop.set()

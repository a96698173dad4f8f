"""Worker entry point: set up once per process, then RQ's fork-per-job loop."""

from __future__ import annotations

from rq import Queue, Worker

from ivr.workers import QUEUES, context


def run(burst: bool = False, with_scheduler: bool = True, queues: tuple[str, ...] = QUEUES) -> bool:
    """Work the clinic's queues (highest first). Returns whether any job ran."""
    ctx = context.get()  # Redis + clinic settings; later, speech models, loaded before forking
    worker = Worker(
        [Queue(name, connection=ctx.redis) for name in queues],
        connection=ctx.redis,
        log_job_description=False,  # job arguments may identify patients; RQ logs bypass our masking
    )
    return worker.work(burst=burst, with_scheduler=with_scheduler)

"""Worker entry points: RQ's fork-per-job loop for most jobs; a speech worker for voicemails.

A speech worker (``ivr worker --speech``) loads each clinic language's speech engine once and runs
voicemail jobs in its own process, one at a time: CTranslate2's threads do not survive a fork (a
job forked from a process that had loaded Whisper hung), and one process holding the models keeps
memory bounded: each speech worker is one transcription at a time within the engine's budget.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import redis
from rq import Queue, SimpleWorker, Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

from ivr.operations.redis_server import die_with_parent
from ivr.store.callbacks import CallbackQueue
from ivr.store.turns import take_turn
from ivr.store.voicemails import VoicemailStore
from ivr.workers import QUEUES, SPEECH_QUEUE, context, presence
from ivr.workers import voicemail as voicemail_jobs

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0  # how often lapsed claims and due retries go back in line (IVR_SWEEP_SECONDS)
RECONCILE_TURN_SECONDS = 60.0  # one worker a minute asks Twilio about calls with no final status
PUBSUB_POLL_SECONDS = 1.0  # longest wait for the command listener to stop when the worker quits


class WorkerScheduler(RQScheduler):
    """RQ's scheduler, forked by a worker, that ends when its worker does.

    RQ's scheduler process loops until it is sent SIGTERM, which its worker does
    on a clean exit. A worker killed with SIGKILL sends nothing: the scheduler
    lived on as an orphan (parent 1), holding the scheduler locks. Here it asks
    Linux for SIGTERM when its parent dies (PR_SET_PDEATHSIG), and also checks
    its parent at every round (once a second), for a parent that died before
    the request and for systems without prctl. SIGTERM stops it as RQ does:
    locks released, registration removed.
    """

    worker_pid = 0

    def start(self):
        self.worker_pid = os.getpid()  # before the fork: the child stops once its parent is anyone else
        return super().start()

    def work(self):
        self._install_signal_handlers()  # first: SIGTERM must stop the loop, not kill it still holding its locks
        die_with_parent(signal.SIGTERM)
        self._check_parent()
        super().work()

    def heartbeat(self):
        self._check_parent()
        super().heartbeat()

    def _check_parent(self) -> None:
        if self.worker_pid and os.getppid() != self.worker_pid and not self._stop_requested:
            self.log.warning("Scheduler: worker %s is gone; stopping", self.worker_pid)
            self.request_stop()


class _EndsWhenTold:
    """Two fixes to how RQ's workers end, for both kinds of ``ivr worker``.

    - It quits when told to: RQ stops its command listener thread by sending
      UNSUBSCRIBE and then joining the thread, and redis-py 8 joins with no
      timeout. When the thread has read the reply before it is told to stop, it
      waits its full poll (60 s in RQ) for a message that never comes; `ivr
      worker --burst` said "done, quitting" and hung. Polling every
      ``PUBSUB_POLL_SECONDS`` bounds that wait.
    - Its scheduler process ends with it (``WorkerScheduler``).
    """

    def subscribe(self):
        """RQ's subscribe, with a short poll so the listener can be stopped promptly."""
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ):
        """RQ's own, with ``WorkerScheduler`` in place of ``RQScheduler``, that also moves the voicemail
        queue's retries when they are due: speech workers run no scheduler of their own (a scheduler
        forked from a process holding the speech models was a second resident copy of them)."""
        queues = list(self.queues)
        if SPEECH_QUEUE not in self.queue_names():
            queues.append(Queue(SPEECH_QUEUE, connection=self.connection, serializer=self.serializer))
        self.scheduler = WorkerScheduler(
            queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:  # burst: enqueue what is due now, in this process, and let go
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()


def sweep_forever(conn: redis.Redis, interval: float, stop: threading.Event, voicemail_attempts: int = 5) -> None:
    """Every ``interval`` s: callbacks whose claim lapsed, and retries now due, go back in line;
    voicemails whose job was lost (a worker killed mid-run) are queued again; recordings Twilio holds
    that were never kept become voicemails (one worker every few minutes); urgent callbacks of a desk
    with nobody on duty go to the on-call desk (one worker a minute); blocked follow-ups
    go again once their cause is fixed; (one worker a minute) follow-up calls with no final
    status are looked up at Twilio; recordings this data folder holds go up to the bucket; and
    (hourly per data folder) voicemails past the clinic's keep_days are deleted.

    Claims and console views also do the first for their own queues; the sweep keeps
    positions and waits right for callers when nobody is looking. Every worker
    may sweep: the scripts are atomic, so doing it twice changes nothing.
    """
    queue = CallbackQueue(conn)
    voicemails = VoicemailStore(conn)
    jobs = Queue(SPEECH_QUEUE, connection=conn)
    recover_now = False  # Redis failed us: messages Twilio kept meanwhile are recovered as soon as it works
    while not stop.wait(interval):
        try:
            moved = queue.release_expired()
            requeued = voicemail_jobs.requeue_stalled(voicemails, jobs, voicemail_attempts)
        except redis.RedisError as exc:
            log.warning("sweep failed: %s", exc.__class__.__name__)
            recover_now = True
            continue
        recover_now = _twilio_rounds(conn, recover_now)
        _escalation_round(conn)
        _recordings_round(conn)
        if moved:
            log.info("callback sweep: %d back in line", moved)
        if requeued:
            log.warning("voicemail sweep: %d stalled voicemails queued again", requeued)


def _recordings_round(conn: redis.Redis) -> None:
    """Recordings this data folder still holds go to the bucket (when one is set); once an hour per data
    folder, what is older than the clinic keeps is deleted (ivr.workers.retention)."""
    from ivr.workers import retention

    try:
        voicemail_jobs.upload_pending(voicemail_jobs.vault(), VoicemailStore(conn))
        retention.run_turn(conn)
    except Exception:  # noqa: BLE001 - the sweep must go on; the next round tries again
        log.exception("recordings sweep failed")


def _escalation_round(conn: redis.Redis) -> None:
    """Once a minute among all workers: urgent callbacks of desks nobody works go to the on-call desk."""
    from ivr.config import environment_settings
    from ivr.workers import escalation

    try:
        if take_turn(conn, "urgent-escalation", escalation.TURN_SECONDS):
            idle = float(environment_settings()["STAFF_IDLE_MINUTES"]) * 60
            escalation.escalate_unattended(conn, context.get().clinic, idle)
    except Exception:  # noqa: BLE001 - the sweep must go on; the next round tries again
        log.exception("urgent escalation failed")


def _twilio_rounds(conn: redis.Redis, recover_now: bool = False) -> bool:
    """The sweep's Twilio part: follow-ups and recordings; an error here is logged and never stops the sweep.

    ``recover_now``: Redis refused writes (or was out of reach) lately, so the recordings Twilio kept
    meanwhile are recovered now, not at the next turn (every IVR_RECORDINGS_RECOVER_SECONDS). Returns
    whether that is still to do: True while Redis keeps failing the recovery.
    """
    from ivr.workers import followup_reconcile, followups, recordings

    still_to_do = False
    try:
        if recover_now or take_turn(conn, "recordings-recover", recordings.recover_seconds()):
            recordings.recover_recordings()
    except redis.RedisError as exc:
        log.warning("recording recovery waits for Redis: %s", exc.__class__.__name__)
        still_to_do = True
    except Exception:  # noqa: BLE001 - the sweep must go on; the next round tries again
        log.exception("recording recovery failed")
    try:
        followups.resume_blocked(conn)
        if take_turn(conn, "followup-reconcile", min(RECONCILE_TURN_SECONDS, followup_reconcile.reconcile_seconds())):
            followup_reconcile.reconcile_calls()
    except Exception:  # noqa: BLE001 - the sweep must go on; the next round tries again
        log.exception("follow-up sweep failed")
    return still_to_do


class ClinicWorker(_EndsWhenTold, Worker):
    """RQ's worker, a fork per job (``ivr worker``)."""


class SpeechWorker(_EndsWhenTold, SimpleWorker):
    """A worker that runs each job in its own process (no fork), where the speech models live
    (``ivr worker --speech``). RQ's SimpleWorker sends no heartbeat while a job runs: here a thread
    does, so /healthz still counts a worker busy with a long message."""

    def execute_job(self, job, queue):
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(presence.HEARTBEAT_SECONDS):
                try:
                    self.heartbeat()
                except redis.RedisError as exc:
                    log.warning("heartbeat failed: %s", exc.__class__.__name__)

        threading.Thread(target=beat, daemon=True, name="heartbeat").start()
        try:
            return super().execute_job(job, queue)
        finally:
            stop.set()


def preload_speech(ctx: context.JobContext) -> list[str]:
    """Load each clinic language's speech engine now, once for this process."""
    from ivr import speech

    loaded = []
    for lang in ctx.clinic.languages:
        try:
            engine = speech.transcriber_for(lang, voicemail_jobs.models_dir(ctx.data_dir), ctx.clinic.voicemail.engines.get(lang, ""))
        except (speech.TranscriberUnavailable, speech.ModelFileError) as exc:
            log.warning("no speech engine for %s: voicemails in it are kept untranscribed (%s)", lang, exc)
            continue
        loaded.append(f"{lang}: {engine.name}")
    if loaded:
        log.info("speech engines ready: %s", "; ".join(loaded))
    return loaded


def run(burst: bool = False, with_scheduler: bool = True, queues: tuple[str, ...] = QUEUES, speech: bool = False) -> bool:
    """Work the clinic's queues (highest first), or with ``speech`` the voicemail queue. Returns whether any job ran."""
    ctx = context.get()  # Redis, clinic settings and the data key
    if not speech:
        from ivr.operations import readiness

        readiness.warn_worker(ctx.clinic.followups.enabled)
    if speech:
        preload_speech(ctx)  # once per process: jobs run here, never in a fork
        queues = (SPEECH_QUEUE,)
    worker = (SpeechWorker if speech else ClinicWorker)(
        [Queue(name, connection=ctx.redis) for name in queues],
        connection=ctx.redis,
        log_job_description=False,  # job arguments may identify patients; RQ logs bypass our masking
        # Heartbeats every 15 s, idle or busy, so /healthz can tell a killed worker (ivr.workers.presence).
        worker_ttl=presence.WORKER_TTL,
        job_monitoring_interval=presence.JOB_MONITORING_INTERVAL,
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
        # Speech workers: no scheduler (see _start_scheduler); the clinic's RQ workers schedule for them.
        return worker.work(burst=burst, with_scheduler=with_scheduler and not speech)
    finally:
        stop.set()

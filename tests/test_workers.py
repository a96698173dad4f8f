"""Jobs run by a real RQ worker in its own process."""

from __future__ import annotations

import datetime as dt

from ivr.store import StatsStore

from .conftest import CLINIC_TZ
from .processes import run_ivr


def worker_burst(redis_server, **extra):
    """Run `ivr worker --burst` (a real RQ worker) until the queues are empty."""
    result = run_ivr("worker", "--burst", "--no-scheduler", REDIS_URL=redis_server.url, **extra)
    assert result.returncode == 0, result.stderr
    return result


def today_stats(redis_conn) -> dict[str, int]:
    today = dt.datetime.now(dt.timezone.utc).astimezone(CLINIC_TZ).date()
    return StatsStore(redis_conn).day(today)


def test_finished_calls_are_counted_by_outcome_once(phone, redis_server, redis_conn):
    caller = "+13055550147"
    voicemail = phone(caller=caller)
    voicemail.start()
    voicemail.press("9")  # Spanish
    voicemail.press("3")
    voicemail.dial_result("no-answer")
    voicemail.press("3")  # leave a message rather than a callback
    voicemail.record(seconds=8)
    assert voicemail.hang_up() == 204
    assert voicemail.hang_up() == 204  # Twilio may repeat a status callback

    abandoned = phone()
    abandoned.start()
    abandoned.hang_up()  # hung up in the menu

    result = worker_burst(redis_server)

    stats = today_stats(redis_conn)
    assert stats["calls"] == 2
    assert stats["outcome:voicemail:nurse"] == 1
    assert stats["outcome:abandoned"] == 1
    assert stats["lang:es"] == 1 and stats["lang:en"] == 1
    # The worker's own output never shows the caller's number.
    assert caller not in result.stdout + result.stderr
    assert caller[2:] not in result.stdout + result.stderr


def test_status_callback_answers_at_once_without_a_worker(phone, redis_conn):
    call = phone()
    call.start()
    assert call.hang_up() == 204
    # Nothing counted yet: the webhook only queued the job.
    assert today_stats(redis_conn) == {}
    assert redis_conn.llen("rq:queue:default") == 1


def test_a_running_worker_puts_lapsed_claims_back_in_line(redis_server, redis_conn):
    """Nobody takes the next callback or opens the console: the worker's sweep still returns it."""
    import subprocess
    import time

    from ivr.store.callback_types import Status
    from ivr.store.callbacks import CallbackQueue

    from .processes import IVR, ROOT, env, wait_for

    short = CallbackQueue(redis_conn, lease_seconds=1)
    first = short.request("nurse", "+13055550147", "en", requested_at=1_000.0).callback
    later = short.request("nurse", "+12025550188", "en", requested_at=2_000.0).callback
    assert short.claim_next(["nurse"], "nina").id == first.id
    worker = subprocess.Popen(
        [*IVR, "worker", "--no-scheduler"], cwd=ROOT,
        env=env(REDIS_URL=redis_server.url, IVR_SWEEP_SECONDS="0.3"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.2)  # the lease has lapsed
        wait_for(lambda: short.get(first.id).status is Status.WAITING, timeout=10, what="the sweep")
        assert [c.id for c in short.waiting("nurse")] == [first.id, later.id]  # its own place, first
    finally:
        worker.terminate()
        worker.wait(10)


def test_burst_worker_runs_what_is_due_and_exits(redis_server, redis_conn):
    """`ivr worker --burst` said "done, quitting" and then hung for a minute (its command listener)."""
    import time

    from rq import Queue

    from ivr.workers import DEFAULT_QUEUE

    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    due = queue.enqueue_at(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1), "os.getpid")
    now = queue.enqueue("os.getpid")
    # The hang was a race, so more than one run; with and without the scheduler.
    for scheduler in ("--scheduler", "--no-scheduler", "--scheduler", "--no-scheduler"):
        started = time.monotonic()
        result = run_ivr("worker", "--burst", scheduler, REDIS_URL=redis_server.url, timeout=50)
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 20, f"`ivr worker --burst {scheduler}` took {time.monotonic() - started:.0f} s"
    assert now.get_status(refresh=True) == "finished"
    assert due.get_status(refresh=True) == "finished"  # the scheduler's burst moved it to the queue first


def test_a_worker_quits_promptly_when_its_listener_read_the_unsubscribe_first(redis_conn):
    """The hang behind `--burst`, made certain: RQ unsubscribes its command listener, then stops it.

    If the listener thread reads Redis's reply before it is told to stop, it goes back to waiting
    for a message; RQ's 60 s poll made the worker hang that long after "done, quitting".
    """
    import time

    from rq import Queue

    from ivr.workers import DEFAULT_QUEUE
    from ivr.workers.runner import ClinicWorker

    class ListenerFirst(ClinicWorker):
        def unsubscribe(self):
            send = self.pubsub.unsubscribe

            def send_then_yield(*args):
                reply = send(*args)
                time.sleep(0.3)  # the listener reads the reply and waits again before stop()
                return reply

            self.pubsub.unsubscribe = send_then_yield
            super().unsubscribe()

    worker = ListenerFirst([Queue(DEFAULT_QUEUE, connection=redis_conn)], connection=redis_conn)
    started = time.monotonic()
    worker.work(burst=True)
    assert time.monotonic() - started < 5
    assert not worker.pubsub_thread.is_alive()


def test_a_speech_worker_runs_jobs_in_its_own_process_and_heartbeats_while_busy(redis_conn, monkeypatch):
    """No fork per job (Whisper's threads do not survive one), and /healthz still hears it during a long message."""
    import os

    from rq import Queue

    from ivr.workers import SPEECH_QUEUE, presence
    from ivr.workers.runner import SpeechWorker

    monkeypatch.setattr(presence, "HEARTBEAT_SECONDS", 0.2)
    beats = []
    monkeypatch.setattr(SpeechWorker, "heartbeat", lambda self, *a, **k: beats.append(1))
    queue = Queue(SPEECH_QUEUE, connection=redis_conn)
    long = queue.enqueue("time.sleep", 1.5)
    pid = queue.enqueue("os.getpid")
    SpeechWorker([queue], connection=redis_conn).work(burst=True, with_scheduler=False)
    assert long.get_status(refresh=True) == "finished" and len(beats) >= 5
    assert pid.return_value(refresh=True) == os.getpid()

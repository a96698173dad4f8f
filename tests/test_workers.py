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
    voicemail.press("2")
    voicemail.press("3")
    voicemail.dial_result("no-answer")
    voicemail.press("3")  # leave a message rather than a callback
    voicemail.record(seconds=8)
    assert voicemail.hang_up() == 204
    assert voicemail.hang_up() == 204  # Twilio may repeat a status callback

    abandoned = phone()
    abandoned.start()
    abandoned.press("1")
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

    from ivr.store.callbacks import CallbackQueue, Status

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

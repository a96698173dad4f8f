"""Follow-up calls benchmark: import + schedule 10,000 appointments, dispatcher overhead, calls/s with 4 workers.

What runs
    A real redis-server (ivr.operations.redis_server.EmbeddedRedis, append-only file as in
    production) in a temporary folder, and a small local HTTP server standing in
    for Twilio's REST API (it answers 201 with a CallSid and notes when each
    create-call request arrived). Nothing leaves 127.0.0.1.

What is measured
    1. import: ``--appointments`` CSV rows (default 10,000; fictional numbers,
       spread over 30 days, five patient time zones) parsed by the same reader
       as ``ivr followups import`` (ivr.followups.appointments.read_csv),
       stored and each first call scheduled with RQ's ``enqueue_at``
       (ivr.workers.followup_changes.schedule_new). Then the same file again (must
       add nothing). Target: under 10 s for the first import.
    2. dispatcher overhead per call: ``--dispatch`` calls (default 500) through
       the call job's own code (the rules gate, the limiter, the dial guard
       script, recording the CallSid), one after another, with a Twilio client
       that answers instantly, so the REST round trip is not counted. Time
       spent sleeping for the limiter is subtracted (its limit is set to 100/s).
    3. calls per second: ``--workers`` real ``ivr worker`` processes (default 4)
       work ``--calls`` follow-up jobs (default 12) with the clinic's
       ``followups.calls_per_second`` set to ``--rate`` (default 1, the
       default setting). The fake Twilio notes arrival times: the most calls in
       any one-second window must never be above the limit.

Run from the project root:  .venv/bin/python -m benches.followup_bench [--help]
Exit status 0 if every target is met, 1 if not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

from rq import Queue

ROOT = Path(__file__).resolve().parent.parent
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix"]


class FakeTwilio(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrivals: list[float] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        now = time.time()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/Calls.json"):
            with self.server.lock:  # type: ignore[attr-defined]
                self.server.arrivals.append(now)  # type: ignore[attr-defined]
        body = json.dumps({"sid": "CA" + secrets.token_hex(16), "status": "queued"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def csv_text(n: int, clinic, rng: random.Random) -> str:
    out = io.StringIO()
    out.write("name,phone,appointment_time,timezone,provider,department,language\n")
    start = dt.datetime(2026, 12, 1, 8, 0)
    depts = list(clinic.desks)
    for i in range(n):
        when = start + dt.timedelta(minutes=15 * rng.randrange(30 * 40))
        phone = f"+1312{rng.randrange(200, 999)}{i:04d}"
        out.write(f"Patient {i},{phone},{when:%Y-%m-%d %H:%M},{rng.choice(ZONES)},Dr. {rng.choice('ABCDE')},"
                  f"{rng.choice(depts)},{rng.choice(['en', 'es'])}\n")
    return out.getvalue()


def bench_import(conn, clinic, n: int) -> tuple[float, bool]:
    from ivr.followups.appointments import RowError, Rules, read_csv
    from ivr.store.followups import FollowupStore
    from ivr.workers import DEFAULT_QUEUE
    from ivr.workers.followup_changes import schedule_new

    text = csv_text(n, clinic, random.Random(7))
    queue = Queue(DEFAULT_QUEUE, connection=conn)
    store = FollowupStore(conn)
    now = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)

    def run() -> tuple[float, int, int, int]:
        t0 = time.perf_counter()
        good, bad = [], 0
        for _, item in read_csv(io.StringIO(text, newline=""), Rules.for_clinic(clinic)):
            if isinstance(item, RowError):
                bad += 1
            else:
                good.append(item)
        added, unchanged = schedule_new(queue, store, good, clinic, now)
        return time.perf_counter() - t0, added, unchanged, bad

    first, added, unchanged, bad = run()
    scheduled = conn.zcard(f"rq:scheduled:{DEFAULT_QUEUE}")
    again, added2, unchanged2, _ = run()
    print(f"1. import + schedule {n:,} appointments: {first:.2f} s ({n / first:,.0f} rows/s); "
          f"{added:,} added, {bad} bad rows, {scheduled:,} jobs scheduled with enqueue_at")
    print(f"   the same file again: {again:.2f} s, {added2} added, {unchanged2:,} unchanged, "
          f"{conn.zcard(f'rq:scheduled:{DEFAULT_QUEUE}'):,} jobs scheduled")
    ok = first < 10 and added == n and added2 == 0 and scheduled == n
    print(f"   TARGET under 10 s: {'PASS' if ok else 'FAIL'}")
    return first, ok


class _InstantCall:
    def __init__(self) -> None:
        self.sid = "CA" + secrets.token_hex(16)


class _InstantClient:
    class calls:  # noqa: N801 - mimics twilio-python's client.calls
        @staticmethod
        def create(**kwargs):
            return _InstantCall()


def zone_in_calling_hours() -> str:
    """A time zone where it is now between 10:00 and 18:00, so calls may be placed now."""
    now = dt.datetime.now(dt.timezone.utc)
    candidates = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Tokyo",
                  "Asia/Kolkata", "Europe/London", "Europe/Berlin", "Asia/Dubai", "Australia/Sydney", "America/Sao_Paulo",
                  "Pacific/Auckland", "Asia/Bangkok", "Atlantic/Azores"]
    for name in candidates:
        if 10 <= now.astimezone(ZoneInfo(name)).hour < 18:
            return name
    raise RuntimeError("no candidate time zone is in calling hours now")


def appointments_due(n: int, zone: str, prefix: str):
    from ivr.followups.appointments import Appointment, stable_id

    at = dt.datetime.now(ZoneInfo(zone)) - dt.timedelta(days=2)
    out = []
    for i in range(n):
        phone = f"+1800{500 + i % 400:03d}{i:04d}"  # toll-free: no area, so the gate reads only ``zone``
        out.append(Appointment(stable_id(phone, at, prefix, "nurse"), f"{prefix} {i}", phone, at, zone, prefix, "nurse", "en"))
    return out


def bench_dispatch(conn, clinic, n: int) -> float:
    from ivr.store.call_rate import CallRateLimiter
    from ivr.store.followups import FollowupStore
    from ivr.workers import context
    from ivr.workers import followups as jobs

    fast = clinic.model_copy(update={"followups": clinic.followups.model_copy(update={"calls_per_second": 100.0})})
    from ivr.protection.sealing import Sealer, new_key

    sealer = Sealer.from_settings(new_key(), "unused")  # follow-up jobs seal nothing; the context needs one
    context.get = lambda: context.JobContext(  # type: ignore[assignment]
        redis=conn, clinic=fast, data_dir="unused", sealer=sealer
    )
    slept = [0.0]

    class Measured(CallRateLimiter):
        def wait(self, limit=60.0, sleep=time.sleep):
            def timed(s):
                slept[0] += s
                sleep(s)
            return super().wait(limit, timed)

    jobs.CallRateLimiter = Measured  # type: ignore[misc]
    store = FollowupStore(conn)
    items = appointments_due(n, zone_in_calling_hours(), "Dispatch")
    store.add_many(items)
    times = []
    for a in items:
        before = slept[0]
        t0 = time.perf_counter()
        result = jobs._place(_InstantClient(), "https://phones.example", a.id, 1)
        times.append(time.perf_counter() - t0 - (slept[0] - before))
        assert result == "placed", result
    times.sort()
    mean = statistics.fmean(times)
    print(f"2. dispatcher overhead per call ({n} calls, REST round trip and limiter sleep excluded): "
          f"mean {mean * 1000:.2f} ms, p50 {times[len(times) // 2] * 1000:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99)] * 1000:.2f} ms")
    return mean


def bench_rate(redis_url: str, tmp: Path, workers: int, calls: int, rate: float) -> bool:
    import redis as redis_lib
    import yaml

    from ivr.store.followups import FollowupStore
    from ivr.workers import DEFAULT_QUEUE
    from ivr.workers.followups import place_followup

    config = tmp / "config"
    shutil.copytree(ROOT / "config", config)
    clinic_file = config / "clinic.yaml"
    data = yaml.safe_load(clinic_file.read_text())
    data["followups"]["calls_per_second"] = rate
    clinic_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    fake = FakeTwilio()
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    conn = redis_lib.Redis.from_url(redis_url)
    store = FollowupStore(conn)
    items = appointments_due(calls, zone_in_calling_hours(), "Rate")
    store.add_many(items)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "IVR_", "REDIS_URL"))}
    env.update(REDIS_URL=redis_url, TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="bench-token",
               TWILIO_API_BASE_URL=fake.url, IVR_PUBLIC_URL="https://phones.example", IVR_CONFIG_DIR=str(config),
               IVR_LOG_LEVEL="WARNING", IVR_DATA_DIR=str(tmp / "var"))
    procs = [subprocess.Popen([sys.executable, "-m", "ivr.cli", "worker", "--no-scheduler"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    try:
        time.sleep(2.0)  # workers up before the jobs arrive, so they compete for them
        queue = Queue(DEFAULT_QUEUE, connection=conn)
        for a in items:
            queue.enqueue(place_followup, a.id, 1, job_timeout=180)
        deadline = time.monotonic() + calls / rate * 1.5 + 30
        while len(fake.arrivals) < calls and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        fake.shutdown()
    arrivals = sorted(fake.arrivals)
    if len(arrivals) < 2:
        errors = "".join((p.stderr.read() if p.stderr else "")[-2000:] for p in procs)
        print(f"3. calls per second: only {len(arrivals)} calls arrived\n{errors}")
        return False
    most = max(sum(1 for t in arrivals if s <= t < s + 1.0) for s in arrivals)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    span = arrivals[-1] - arrivals[0]
    measured = (len(arrivals) - 1) / span if span else float("inf")
    ok = most <= rate and len(arrivals) == calls
    print(f"3. {workers} worker processes, limit {rate:g} call(s)/s: {len(arrivals)}/{calls} calls arrived at the fake Twilio; "
          f"most in any 1 s window {most}, mean {measured:.3f} calls/s, smallest gap {min(gaps) * 1000:.0f} ms")
    print(f"   TARGET never above the limit: {'PASS' if ok else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=10_000)
    parser.add_argument("--dispatch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--rate", type=float, default=1.0)
    args = parser.parse_args(argv)

    from ivr.clinic.settings import load_clinic
    from ivr.operations.redis_server import EmbeddedRedis
    from ivr.store import connect

    clinic = load_clinic(ROOT / "config" / "clinic.yaml")
    tmp = Path(tempfile.mkdtemp(prefix="followup-bench-"))
    server = EmbeddedRedis(tmp / "redis").start()
    try:
        conn = connect(server.url, timeout=10)
        _, import_ok = bench_import(conn, clinic, args.appointments)
        conn.flushall()
        bench_dispatch(conn, clinic, args.dispatch)
        conn.flushall()
        rate_ok = bench_rate(server.url, tmp, args.workers, args.calls, args.rate)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if import_ok and rate_ok else 1


if __name__ == "__main__":
    sys.exit(main())

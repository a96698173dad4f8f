"""Live console benchmark: 50 open consoles while calls go on.

What runs
    benches.webhook_bench's server (embedded Redis with the append-only file,
    gunicorn as `ivr serve` runs it: gevent workers serving ``ivr:create_app()``,
    signatures checked) and its simulated callers (each call: incoming, language,
    menu, dial result, callback offer, a recorded message, status callbacks; think
    time between webhooks). Every open console holds one connection (a greenlet)
    for its stream; a process serves up to half its connections as streams (see
    ivr/staff/live.py). ``--worker-class gthread --threads N`` measures the
    threaded worker instead (a thread per stream, threads - 1 streams a process).

Phases (the same callers and duration each)
    1. no console open: webhook p50/p99;
    2. ``--consoles`` (default 50) open consoles: each is a thread holding a
       GET /console/live stream (one staff login, its cookie shared) and, like
       live.js, taking the queues the stream sends after each change ("queues").
       Meanwhile a creator thread puts ``--rate`` callbacks a second in the nurse
       queue through ivr.store.callbacks.CallbackQueue on the same Redis (as a
       webhook would), alternately urgent: webhook p50/p99 again, and the push
       latency, from a callback's creation (its ``requested_at``, this machine's
       clock) to the queues as of that change (or later) arriving at each console, p50/p99 over
       every (console, callback) pair; also the size of what the stream sent.

    Webhook figures count only the callers' webhook requests (not the fallback
    / healthz baselines) that started inside the measured window. Each phase
    also prints the CPU the web processes used per second (cores: user + system
    from /proc, all gunicorn workers), what the consoles cost the server.
    The exit status is 1 when a webhook failed, a console missed a change, or a
    console did not get its stream (refused or not open within 30 s).

Run from the project root:
    .venv/bin/python -m benches.console_bench [--consoles 50] [--calls 30] [--duration 20] [--rate 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import requests

from benches import callers, harness
from ivr.staff.passwords import hash_password
from ivr.store.callbacks import CallbackQueue
from ivr.store.users import UserStore

PASSWORD = "bench password for the live console"
QUEUES_VERSION = re.compile(r'data: \{"v":(\d+)')
BASELINE_KINDS = {callers.BASE_FALLBACK, callers.BASE_HEALTHZ}


class Console(threading.Thread):
    """One open console: the stream, the "changed" events and the "queues" that follow them."""

    def __init__(self, base: str, cookies, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.stop = base, stop
        self.session = requests.Session()
        self.session.cookies.update(cookies)
        self.arrivals: dict[str, float] = {}  # callback id -> time.time() queues as of its change arrived
        self.pending: dict[str, int] = {}  # callback id -> the event number that named it, until its queues come
        self.queue_bytes: list[int] = []
        self.opened = threading.Event()
        self.refused = 0
        self.errors: list[str] = []

    def run(self) -> None:
        last = ""
        while not self.stop.is_set():
            try:
                headers = {"Last-Event-ID": last} if last else {}
                with self.session.get(self.base + "/console/live", stream=True, timeout=(5, 30), headers=headers) as resp:
                    if resp.status_code != 200:
                        self.refused += 1
                        self.stop.wait(2)
                        continue
                    event = ""
                    for line in resp.iter_lines(chunk_size=65536, decode_unicode=True):  # a message per read, not 512 B
                        if self.stop.is_set():
                            return
                        if line.startswith("event: "):
                            event = line[7:]
                            if event == "hello":
                                self.opened.set()
                        elif line.startswith("id: "):
                            last = line[4:]
                        elif line.startswith("data: ") and event == "changed":
                            data = json.loads(line[6:])
                            self.pending.setdefault(data.get("id", ""), int(data.get("v", 0)))
                        elif line.startswith("data: ") and event == "queues":
                            now = time.time()
                            version = int(QUEUES_VERSION.match(line).group(1))  # a browser parses it all; we need v
                            self.queue_bytes.append(len(line))
                            for cid, number in list(self.pending.items()):
                                if number <= version:  # the queues as of this change or later
                                    self.arrivals.setdefault(cid, now)
                                    del self.pending[cid]
            except requests.RequestException as exc:
                if not self.stop.is_set():
                    self.errors.append(f"stream: {exc}")
                    self.stop.wait(1)


def run_consoles(base: str, cookies: dict, count: int, stop, opened, results) -> None:
    """In a child process: ``count`` consoles until ``stop``; then what each saw, into ``results``."""
    quit_ = threading.Event()
    consoles = [Console(base, cookies, quit_) for _ in range(count)]
    for console in consoles:
        console.start()
    for console in consoles:
        if console.opened.wait(30):
            with opened.get_lock():
                opened.value += 1
    started = time.process_time()
    stop.wait()
    quit_.set()
    cpu = time.process_time() - started  # what the readers took from the machine while measured
    results.put([{"arrivals": c.arrivals, "queue_bytes": c.queue_bytes, "refused": c.refused, "errors": c.errors,
                  "reader_cpu_s": cpu} for c in consoles])


def log_in(base: str, redis_client) -> requests.cookies.RequestsCookieJar:
    UserStore(redis_client).add("bench-nurse", "nurse", hash_password(PASSWORD), display_name="Bench Nurse")
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "/login", timeout=10).text).group(1)
    resp = s.post(base + "/login", data={"csrf_token": token, "username": "bench-nurse", "password": PASSWORD},
                  timeout=10, allow_redirects=False)
    if resp.status_code != 302:
        raise SystemExit(f"cannot log in to the console: HTTP {resp.status_code}")
    return s.cookies


def create_callbacks(redis_client, rate: float, stop: threading.Event, made: list[tuple[str, float]]) -> None:
    queue = CallbackQueue(redis_client)
    rng = random.Random(7)
    n = 0
    while not stop.is_set():
        phone = f"+1202{rng.randrange(10**6, 10**7)}"
        placed = queue.request("nurse", phone, "en", source="voicemail", urgent=n % 2 == 0, urgent_reason="")
        if placed.created:
            made.append((placed.callback.id, placed.callback.requested_at))
        n += 1
        stop.wait(1.0 / rate)


def webhook_figures(phase: callers.Phase) -> dict[str, Any]:
    start, end = phase.window
    ms = [s.ms for rec in phase.recorders() for s in rec.samples if start <= s.start < end and s.kind not in BASELINE_KINDS]
    errors = sum(len(rec.errors) for rec in phase.recorders())
    return {**harness.ms_stats(ms), "errors": errors}


def web_cpu(server) -> float:
    """CPU seconds the web processes (gunicorn's workers) have used so far."""
    return sum(harness.process_cpu(pid) for pid in harness.child_pids(server.process.pid))


def measured(server, settings, rng) -> tuple[callers.Phase, float]:
    """A phase of calls, and the web processes' CPU per second of it (cores)."""
    cpu, began = web_cpu(server), time.monotonic()
    phase = callers.measure(server, settings, rng)
    return phase, round((web_cpu(server) - cpu) / (time.monotonic() - began), 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = harness.Settings(
        calls=args.calls, duration=args.duration, think_min=0.2, think_max=1.0, web_workers=args.web_workers,
        threads=args.threads, warmup_calls=10, timeout=10.0, seed=1, json=False, worker_class=args.worker_class,
    )
    rng = random.Random(1)
    result: dict[str, Any] = {"consoles": args.consoles, "calls": args.calls, "web_workers": args.web_workers,
                              "threads": args.threads, "worker_class": args.worker_class,
                              "duration_s": args.duration, "rate_per_s": args.rate}
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp, harness.running_server(settings, Path(tmp)) as server:
        redis_client = server.redis.client()
        callers.warm_up(server, settings, rng)
        print(f"phase 1: {args.calls} calls, no console, {args.duration:g} s", file=sys.stderr, flush=True)
        phase, result["web_cpu_cores_without"] = measured(server, settings, rng)
        result["webhooks_without_consoles"] = webhook_figures(phase)

        cookies = log_in(server.base_url, redis_client)
        # The consoles run in a process of their own, so their reading does not hold up the callers' threads
        # (one interpreter lock) and count as webhook latency; the machine's CPUs are still shared.
        stop = multiprocessing.Event()
        opened = multiprocessing.Value("i", 0)
        results = multiprocessing.Queue()
        readers = multiprocessing.Process(target=run_consoles, daemon=True,
                                          args=(server.base_url, dict(cookies), args.consoles, stop, opened, results))
        readers.start()
        deadline = time.monotonic() + 30
        while opened.value < args.consoles and time.monotonic() < deadline:
            time.sleep(0.1)
        result["streams_open"] = opened.value
        made: list[tuple[str, float]] = []
        done = threading.Event()
        creator = threading.Thread(target=create_callbacks, args=(redis_client, args.rate, done, made), daemon=True)
        print(f"phase 2: {result['streams_open']}/{args.consoles} consoles open, {args.calls} calls, "
              f"{args.rate:g} callbacks/s, {args.duration:g} s", file=sys.stderr, flush=True)
        creator.start()
        phase, result["web_cpu_cores_with"] = measured(server, settings, rng)
        done.set()
        creator.join(5)
        time.sleep(2)  # the last callbacks' events on their way
        stop.set()
        consoles = results.get(timeout=60)
        readers.join(10)
        result["webhooks_with_consoles"] = webhook_figures(phase)
        push, missing = [], 0
        for cid, created in made:
            for console in consoles:
                arrived = console["arrivals"].get(cid)
                if arrived is None:
                    missing += 1
                else:
                    push.append((arrived - created) * 1000)
        result["push"] = {**harness.ms_stats(push), "callbacks": len(made), "missing": missing}
        sizes = [n for c in consoles for n in c["queue_bytes"]]
        result["queues_sent"] = {"count": len(sizes), "average_bytes": round(sum(sizes) / len(sizes)) if sizes else 0}
        result["streams_refused"] = sum(c["refused"] for c in consoles)
        result["reader_cpu_cores"] = round(consoles[0]["reader_cpu_s"] / (args.duration + 2), 2) if consoles else 0
        errors = [e for c in consoles for e in c["errors"]]
        result["console_errors"] = len(errors)
        result["console_error_sample"] = errors[:3]
    return result


def report(res: dict[str, Any]) -> str:
    def line(name: str, st: dict[str, Any], extra: str = "") -> str:
        return f"{name:<32} n={st['count']:<6} p50 {st['p50_ms']} ms  p99 {st['p99_ms']} ms  max {st['max_ms']} ms{extra}"

    return "\n".join([
        f"{res['web_workers']} web processes ({res['worker_class']}); {res['calls']} concurrent calls; "
        f"{res['duration_s']:g} s per phase",
        line("webhooks, no console", res["webhooks_without_consoles"], f"  errors {res['webhooks_without_consoles']['errors']}"),
        line(f"webhooks, {res['streams_open']} consoles open", res["webhooks_with_consoles"],
             f"  errors {res['webhooks_with_consoles']['errors']}"),
        line("push: created -> at console", res["push"],
             f"  ({res['push']['callbacks']} callbacks x consoles, {res['push']['missing']} missing)"),
        f"queues sent by the streams: {res['queues_sent']['count']}, {res['queues_sent']['average_bytes']} bytes each on average",
        f"streams refused (503): {res['streams_refused']}; console errors: {res['console_errors']} {res['console_error_sample']}",
        f"the consoles' readers (this machine, another process) took {res['reader_cpu_cores']} cores meanwhile",
        f"the web processes took {res['web_cpu_cores_without']} cores without consoles, {res['web_cpu_cores_with']} with them",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benches.console_bench", description=__doc__.split("\n")[0])
    p.add_argument("--consoles", type=int, default=50)
    p.add_argument("--calls", type=int, default=30, help="concurrent simulated calls (default %(default)s)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase (default %(default)s)")
    p.add_argument("--rate", type=float, default=2.0, help="callbacks created per second in phase 2 (default %(default)s)")
    p.add_argument("--web-workers", type=int, default=4)
    p.add_argument("--worker-class", choices=["gevent", "gthread"], default="gevent",
                   help="gunicorn worker: as ivr serve (default %(default)s), or the threaded one to compare")
    p.add_argument("--threads", type=int, default=20, help="threads per web process with --worker-class gthread (default %(default)s)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = run(args)
    print(json.dumps(res, indent=2) if args.json else report(res))
    bad = (res["webhooks_with_consoles"]["errors"] or res["webhooks_without_consoles"]["errors"] or res["push"]["missing"]
           or res["streams_open"] < res["consoles"] or res["streams_refused"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

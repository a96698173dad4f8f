"""Callback queue benchmark: enqueue and claim latency with 10,000 callbacks waiting.

What runs
    A real redis-server (ivr.operations.redis_server.EmbeddedRedis: Unix socket, append-only
    file with fsync every second, as in production) in a temporary folder, and
    ivr.store.callbacks.CallbackQueue over ``ivr.store.connect`` (the production
    client). The queues of the clinic's desks (config/clinic.yaml) are filled
    with ``--waiting`` callbacks (default 10,000), spread evenly, requested over
    the last 8 hours, 5% urgent.

What is measured
    1. Baselines, same connection, same run: a bare PING round trip, a bare
       ZADD, and EVALSHA of a script that only returns 1. The difference
       between these and the queue operations is the queue's own cost (its Lua
       work plus building and parsing the Callback in Python).
    2. ``--ops`` rounds (default 3,000), one client, each round:
           request      a new patient joins a random department (enqueue)
           claim_next   a staff member takes the next callback of their role's
                        departments (nurse: 2 queues, scheduling: 2, billing: 1,
                        admin: all 5), so claims scan one to five queue heads
           finish       reached 70%, left message 10%, no answer 15% (scheduled
                        retry, clinic policy), wrong number 5%
       plus estimated_wait_seconds and position, which a call asks before it
       offers a callback. The queues stay at ~10,000 throughout.
    3. ``--procs`` processes (default 4) doing the same rounds at once for
       ``--seconds`` (default 3): throughput and latency under contention.

How to read the figures
    Latency is client side: time.perf_counter() around each method call
    (Python encoding, the Unix-socket round trip, Redis executing the script,
    decoding). ops/s in (2) is one client's sequential rate (1 / mean latency);
    in (3) it is all completed operations of the processes divided by the time.
    "inside Redis" is the server's own mean time per command (INFO
    commandstats). The client and the server share this machine's CPUs.

Target (the issue): enqueue and claim p99 under 2 ms with 10,000 waiting.
Exit status 0 if met, 1 if not.

Run from the project root:  .venv/bin/python -m benches.callback_bench [--help]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ivr.clinic.settings import ClinicSettings, load_clinic
from ivr.operations.redis_server import EmbeddedRedis
from ivr.store import connect
from ivr.store.callback_types import Outcome, RetryPolicy
from ivr.store.callbacks import CallbackQueue

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 2.0
ROLES = ("nurse", "scheduling", "billing", "admin")
OUTCOMES = [Outcome.REACHED] * 14 + [Outcome.LEFT_MESSAGE] * 2 + [Outcome.NO_ANSWER] * 3 + [Outcome.WRONG_NUMBER]


@dataclass
class Samples:
    """Latencies of one operation, in seconds."""

    name: str
    values: list[float] = field(default_factory=list)

    def time(self, fn: Callable, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.values.append(time.perf_counter() - start)
        return result

    def pct(self, p: float) -> float:
        ordered = sorted(self.values)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    def row(self, rate: float | None = None) -> str:
        n = len(self.values)
        rate = rate if rate is not None else n / sum(self.values)
        return (
            f"  {self.name:<24} {n:>7} {self.pct(50):8.3f} {self.pct(99):8.3f} "
            f"{max(self.values) * 1000:8.3f} {rate:10.0f}"
        )


HEADER = f"  {'operation':<24} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'ops/s':>10}"


class Caller:
    """Makes up patients with unique numbers (fictional +1 202 555 xxxx, then others)."""

    def __init__(self, seed: int, base: int) -> None:
        self.rng = random.Random(seed)
        self.next = base

    def phone(self) -> str:
        self.next += 1
        return f"+1{2025550000 + self.next:010d}"


def staff_rota(clinic: ClinicSettings) -> list[tuple[str, list[str]]]:
    """(staff name, departments they take callbacks from), one per role."""
    return [(f"{role}-1", clinic.departments_for(role)) for role in ROLES]


def fill(queue: CallbackQueue, clinic: ClinicSettings, count: int, caller: Caller) -> float:
    """``count`` waiting callbacks over the desks; returns the seconds it took."""
    departments = list(clinic.desks)
    now = time.time()
    start = time.perf_counter()
    for i in range(count):
        queue.request(
            departments[i % len(departments)],
            caller.phone(),
            "en",
            call_sid=f"CAfill{i:08d}",
            urgent=caller.rng.random() < 0.05,
            requested_at=now - caller.rng.uniform(0, 8 * 3600),
        )
    return time.perf_counter() - start


def baselines(queue: CallbackQueue, n: int) -> list[Samples]:
    conn = queue.conn
    ping, zadd, script = Samples("baseline PING"), Samples("baseline ZADD"), Samples("baseline EVALSHA noop")
    noop = conn.register_script("return 1")
    noop()
    for i in range(n):
        ping.time(conn.ping)
        zadd.time(conn.zadd, "bench:zset", {f"m{i}": float(i)})
        script.time(noop)
    conn.delete("bench:zset")
    return [ping, zadd, script]


def rounds(
    queue: CallbackQueue, clinic: ClinicSettings, caller: Caller, until: Callable[[int], bool]
) -> dict[str, Samples]:
    """request + claim_next + finish (+ the wait estimate) until ``until(rounds done)``."""
    ops = {name: Samples(name) for name in ("request", "claim_next", "finish", "estimated_wait", "position")}
    departments = list(clinic.desks)
    rota = staff_rota(clinic)
    policy = RetryPolicy.for_clinic(clinic)
    i = 0
    while not until(i):
        dept = caller.rng.choice(departments)
        ops["estimated_wait"].time(queue.estimated_wait_seconds, dept)
        placed = ops["request"].time(queue.request, dept, caller.phone(), "en", call_sid=f"CA{caller.next:010d}")
        ops["position"].time(queue.position, placed.callback.id)
        staff, mine = rota[i % len(rota)]
        cb = ops["claim_next"].time(queue.claim_next, mine, staff)
        if cb is not None:
            ops["finish"].time(queue.finish, cb.id, staff, caller.rng.choice(OUTCOMES), retry=policy)
        i += 1
    return ops


def server_usec(queue: CallbackQueue) -> dict[str, float]:
    """Redis's own time per call, by script (EVALSHA) and command."""
    stats = queue.conn.info("commandstats")
    return {name.removeprefix("cmdstat_"): float(v["usec_per_call"]) for name, v in stats.items()}


# Concurrent phase -----------------------------------------------------------------


def _worker(url: str, config: str, n: int, seconds: float, barrier, results) -> None:
    clinic = load_clinic(Path(config))
    queue = CallbackQueue(connect(url, timeout=5.0), lease_seconds=clinic.callbacks.lease_minutes * 60)
    caller = Caller(seed=1000 + n, base=10_000_000 * (n + 1))
    barrier.wait(timeout=120)
    deadline = time.perf_counter() + seconds
    ops = rounds(queue, clinic, caller, lambda _: time.perf_counter() >= deadline)
    results.put({name: s.values for name, s in ops.items()})


def concurrent(url: str, config: Path, procs: int, seconds: float) -> tuple[dict[str, Samples], float]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(procs + 1), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(url, str(config), n, seconds, barrier, results)) for n in range(procs)]
    for w in workers:
        w.start()
    try:
        barrier.wait(timeout=120)
        start = time.perf_counter()
        merged: dict[str, Samples] = {}
        for _ in workers:
            for name, values in results.get(timeout=seconds + 60).items():
                merged.setdefault(name, Samples(name)).values.extend(values)
        elapsed = time.perf_counter() - start
    finally:
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.kill()
    return merged, elapsed


# Main --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benches.callback_bench",
        description="Callback queue latency with 10,000 waiting: enqueue, claim, finish; p50/p99/max and ops/s.",
    )
    p.add_argument("--waiting", type=int, default=10_000, help="callbacks waiting before measuring (10000)")
    p.add_argument("--ops", type=int, default=3_000, help="measured rounds, one client (3000)")
    p.add_argument("--procs", type=int, default=4, help="processes in the concurrent phase; 0 skips it (4)")
    p.add_argument("--seconds", type=float, default=3.0, help="length of the concurrent phase (3)")
    p.add_argument("--config", type=Path, default=PROJECT_ROOT / "config" / "clinic.yaml")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--pages", type=int, default=100, help="console page loads measured (100)")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> bool:
    clinic = load_clinic(args.config)
    with tempfile.TemporaryDirectory(prefix="callback-bench-") as tmp, EmbeddedRedis(Path(tmp), appendonly=True) as server:
        conn = connect(server.url, timeout=5.0)
        queue = CallbackQueue(conn, lease_seconds=clinic.callbacks.lease_minutes * 60)
        caller = Caller(args.seed, base=0)
        print(f"redis {conn.info('server')['redis_version']}, appendonly yes, appendfsync everysec, unix socket")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
        took = fill(queue, clinic, args.waiting, caller)
        depth = {d: queue.waiting_count(d) for d in clinic.desks}
        memory = conn.info("memory")["used_memory_human"]
        print(f"filled {sum(depth.values())} waiting callbacks in {took:.1f} s ({args.waiting / took:.0f}/s), redis memory {memory}")
        print("  " + ", ".join(f"{d}: {n}" for d, n in depth.items()))

        conn.config_resetstat()
        base = baselines(queue, min(args.ops, 2000))
        warm = rounds(queue, clinic, caller, lambda i: i >= 200)  # scripts loaded, caches warm
        del warm
        conn.config_resetstat()
        ops = rounds(queue, clinic, caller, lambda i: i >= args.ops)
        server_side = server_usec(queue)
        depth_after = sum(queue.waiting_count(d) for d in clinic.desks)

        print(f"\none client, {args.ops} rounds, {depth_after} waiting at the end")
        print(HEADER)
        for s in base:
            print(s.row())
        for name in ("request", "claim_next", "finish", "estimated_wait", "position"):
            print(ops[name].row())
        print(
            "  inside Redis, mean per call: "
            + ", ".join(f"{cmd} {server_side[cmd]:.1f} µs" for cmd in ("evalsha", "zcard", "lrange", "zcount") if cmd in server_side)
            + " (evalsha: the queue's scripts, all kinds together)"
        )

        if args.procs > 0:
            print(f"\n{args.procs} processes at once for {args.seconds:g} s (starting them takes a few seconds)")
            merged, elapsed = concurrent(server.url, args.config, args.procs, args.seconds)
            print(HEADER)
            for name in ("request", "claim_next", "finish"):
                s = merged[name]
                print(s.row(rate=len(s.values) / elapsed))
            total = sum(len(s.values) for s in merged.values())
            print(f"  all queue operations: {total / elapsed:.0f}/s")

        page, login_page = console_page(server.url, Path(tmp), args.pages)
        print(f"\nconsole page, {depth_after} waiting, an admin who sees every queue (Flask in-process, {args.pages} loads)")
        print(HEADER)
        print(login_page.row())
        print(page.row())

    enqueue, claim = ops["request"].pct(99), ops["claim_next"].pct(99)
    noop, load, cpus = base[2].pct(99), os.getloadavg()[0], os.cpu_count() or 1
    if noop > TARGET_P99_MS / 4 or load > cpus:
        print(
            f"\nNOTE: busy machine (load average {load:.2f} on {cpus} CPUs, bare EVALSHA p99 {noop:.3f} ms): "
            "the figures include waiting for a CPU; rerun when it is idle"
        )
    met = enqueue < TARGET_P99_MS and claim < TARGET_P99_MS
    verdict = "PASS" if met else "FAIL"
    print(
        f"\n{verdict}: enqueue p99 {enqueue:.3f} ms, claim p99 {claim:.3f} ms "
        f"(target: both under {TARGET_P99_MS:g} ms with {args.waiting} waiting; one client)"
    )
    page_p99 = page.pct(99)
    page_met = page_p99 < PAGE_TARGET_MS
    print(
        f"{'PASS' if page_met else 'FAIL'}: console page p99 {page_p99:.1f} ms "
        f"(target: under {PAGE_TARGET_MS:g} ms with {args.waiting} waiting)"
    )
    return met and page_met


PAGE_TARGET_MS = 100.0


def console_page(redis_url: str, tmp: Path, loads: int) -> tuple[Samples, Samples]:
    """Time GET /console for a logged-in admin, beside the login page (no queue data) as baseline."""
    from ivr import create_app
    from ivr.staff.passwords import hash_password
    from ivr.store.users import UserStore

    app = create_app(
        {
            "REDIS_URL": redis_url,
            "TWILIO_AUTH_TOKEN": "bench",
            "DATA_DIR": str(tmp / "var"),
            "LOG_LEVEL": "WARNING",
            "WTF_CSRF_ENABLED": False,  # the bench logs in without reading the form first
            "RATELIMIT_ENABLED": False,
        }
    )
    password = "benchmark password 0123"
    UserStore(app.extensions["ivr"].redis).add("bench-admin", "admin", hash_password(password))
    client = app.test_client()
    resp = client.post("/login", data={"username": "bench-admin", "password": password})
    if resp.status_code != 302:
        raise RuntimeError(f"bench login failed: HTTP {resp.status_code}")
    page, login_page = Samples("GET /console"), Samples("baseline GET /login")
    for _ in range(5):  # warm up templates
        client.get("/console").close()
    for _ in range(loads):
        login_page.time(lambda: client.get("/login").close())
        resp = page.time(client.get, "/console")
        if resp.status_code != 200:
            raise RuntimeError(f"console answered HTTP {resp.status_code}")
        resp.close()
    return page, login_page


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return 0 if run(args) else 1
    except KeyboardInterrupt:
        print("interrupted: Redis stopped, no results", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

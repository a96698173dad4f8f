"""What GET /metrics costs the calls: webhook latency and requests/s with and without a scraper.

What runs
    benches.webhook_bench's server (embedded Redis with its append-only file,
    gunicorn 4 x 2 gthread as `ivr serve`, signature checks on) with
    IVR_METRICS_TOKEN set, and its simulated callers (``--calls`` concurrent
    calls with think times, as in webhook_bench). Before the rounds, Redis gets
    ``--appointments`` follow-up appointments (default 10,000) and
    ``--callbacks`` waiting callbacks, so a scrape reads a clinic's worth of
    data (the follow-up walk is cached in Redis for a minute: one scrape a
    minute pays it).

What is measured
    Rounds alternate: without a scraper, then with one thread scraping
    /metrics every ``--interval`` seconds (Prometheus's usual is 15-60 s; 1 s
    is a harsh case), ``--rounds`` times each, on the same server. Per mode:
    webhook p50/p99 and requests/s over all its rounds' samples; for the
    scraper: the scrape's own latency (p50/p99/max, client side) and its size.
    Every webhook is also timed by the app itself (the hooks this measures);
    the rounds without a scraper include that cost, which is a few
    microseconds per webhook and a flush to Redis every 2 s per process.

Run from the project root:  .venv/bin/python -m benches.metrics_overhead [--help]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benches import callers, harness
from benches import webhook_bench as wb

TOKEN = secrets.token_hex(16)


def _server_env_with_token(original):
    def env(redis_url: str, token: str, data_dir: Path) -> dict[str, str]:
        out = original(redis_url, token, data_dir)
        out["IVR_METRICS_TOKEN"] = TOKEN
        return out

    return env


class Scraper:
    """Scrapes /metrics every ``interval`` s in a thread; keeps each scrape's latency."""

    def __init__(self, base_url: str, interval: float) -> None:
        self.url = base_url + "/metrics"
        self.interval = interval
        self.ms: list[float] = []
        self.sizes: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def __enter__(self) -> "Scraper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        next_at = time.perf_counter()
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                resp = session.get(self.url, headers=headers, timeout=10)
                ms = (time.perf_counter() - t0) * 1000
                if resp.status_code == 200 and "ivr_webhook_duration_seconds" in resp.text:
                    self.ms.append(ms)
                    self.sizes.append(len(resp.content))
                else:
                    self.errors.append(f"HTTP {resp.status_code}")
            except requests.RequestException as exc:
                self.errors.append(type(exc).__name__)
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.perf_counter()))
        session.close()


def seed(server: harness.Server, appointments: int, callbacks: int) -> None:
    """A clinic's worth of data for the scrape to read (written straight to Redis)."""
    conn = server.redis.client(socket_timeout=30)
    pipe = conn.pipeline(transaction=False)
    statuses = ["scheduled"] * 6 + ["done"] * 3 + ["blocked"]
    for i in range(appointments):
        aid = f"bench-{i}"
        pipe.hset(f"ivr:fu:appt:{aid}", mapping={"id": aid, "status": statuses[i % len(statuses)],
                                                  "outcome": "reached" if i % 10 in (6, 7, 8) else ""})
        pipe.zadd("ivr:fu:appts", {aid: 1_800_000_000 + i})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    from ivr.store.callbacks import CallbackQueue

    queue = CallbackQueue(conn)
    for i in range(callbacks):
        queue.request(("nurse", "billing", "scheduling")[i % 3], f"+1202555{i % 10000:04d}", "en",
                      requested_at=time.time() - 60 * (i % 120))
    conn.close()


def pct(values: list[float], p: float) -> float | None:
    return harness.percentile(sorted(values), p)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benches.metrics_overhead", description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=100, help="concurrent simulated calls (default %(default)s)")
    p.add_argument("--duration", type=float, default=15.0, help="measured seconds per round (default %(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="rounds per mode, alternating (default %(default)s)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between scrapes (default %(default)s)")
    p.add_argument("--appointments", type=int, default=10_000, help="follow-up appointments seeded (default %(default)s)")
    p.add_argument("--callbacks", type=int, default=300, help="waiting callbacks seeded (default %(default)s)")
    p.add_argument("--think", type=float, help="fixed think time (0 = saturation); default 0.2-1.0 s")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    bench_args = ["--calls", str(a.calls), "--duration", str(a.duration), "--warmup-calls", "20"]
    if a.think is not None:
        bench_args += ["--think", str(a.think)]
    settings = wb.parse_args(bench_args)
    harness.server_env = _server_env_with_token(harness.server_env)
    seed_rng = random.Random(1)
    modes = {"without scraper": [], "with scraper": []}
    scrapes = argparse.Namespace(ms=[], sizes=[], errors=[])  # every round's scrapes
    idle_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ivr-metrics-bench-") as tmp:
        print("starting redis + gunicorn ...", file=sys.stderr, flush=True)
        with harness.running_server(settings, Path(tmp)) as server:
            seed(server, a.appointments, a.callbacks)
            with requests.Session() as s:  # idle scrapes: the first pays the follow-up walk, the rest read the cache
                for _ in range(5):
                    t0 = time.perf_counter()
                    r = s.get(server.base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
                    r.raise_for_status()
                    idle_ms.append((time.perf_counter() - t0) * 1000)
            callers.warm_up(server, settings, seed_rng)
            for r in range(a.rounds):
                for mode in modes:
                    print(f"round {r + 1}/{a.rounds}: {mode} ...", file=sys.stderr, flush=True)
                    if mode == "with scraper":
                        scraper = Scraper(server.base_url, a.interval)
                        with scraper:
                            phase = callers.measure(server, settings, seed_rng)
                        scrapes.ms += scraper.ms
                        scrapes.sizes += scraper.sizes
                        scrapes.errors += scraper.errors
                    else:
                        phase = callers.measure(server, settings, seed_rng)
                    w0, w1 = phase.window
                    samples = [s for rec in phase.recorders() for s in rec.samples
                               if w0 <= s.start < w1 and s.kind in callers.WEBHOOK_KINDS]
                    errors = sum(len(rec.errors) for rec in phase.recorders())
                    modes[mode].append((samples, w1 - w0, errors))
    results = {}
    for mode, rounds in modes.items():
        ms = [s.ms for samples, _, _ in rounds for s in samples]
        seconds = sum(sec for _, sec, _ in rounds)
        results[mode] = {
            "webhooks": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99),
            "requests_per_s": round(len(ms) / seconds, 1) if seconds else None,
            "per_round_rps": [round(len(samples) / sec, 1) for samples, sec, _ in rounds],
            "errors": sum(e for _, _, e in rounds),
        }
    results["scrape"] = {
        "interval_s": a.interval, "count": len(scrapes.ms), "errors": len(scrapes.errors),
        "p50_ms": pct(scrapes.ms, 50), "p99_ms": pct(scrapes.ms, 99), "max_ms": pct(scrapes.ms, 100),
        "bytes": max(scrapes.sizes) if scrapes.sizes else 0,
        "idle_first_ms": round(idle_ms[0], 1), "idle_cached_median_ms": round(sorted(idle_ms[1:])[len(idle_ms[1:]) // 2], 1),
        "appointments": a.appointments, "callbacks": a.callbacks,
    }
    off, on = results["without scraper"], results["with scraper"]
    print(f"\n{a.calls} concurrent calls, {a.rounds} x {a.duration:g} s per mode (alternating), one scrape every {a.interval:g} s")
    print(f"{'mode':<18} {'webhooks':>9} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}  per round   errors")
    for mode in modes:
        r = results[mode]
        print(f"{mode:<18} {r['webhooks']:>9} {r['p50_ms'] or 0:>8.1f} {r['p99_ms'] or 0:>8.1f} {r['requests_per_s'] or 0:>8.1f}  "
              f"{r['per_round_rps']}  {r['errors']}")
    if off["requests_per_s"] and on["requests_per_s"]:
        print(f"with scraping: requests/s {100 * (on['requests_per_s'] / off['requests_per_s'] - 1):+.1f} %, "
              f"p50 {on['p50_ms'] - off['p50_ms']:+.1f} ms, p99 {on['p99_ms'] - off['p99_ms']:+.1f} ms")
    sc = results["scrape"]
    print(f"scrape under load: {sc['count']} scrapes, p50 {sc['p50_ms'] or 0:.1f} ms, p99 {sc['p99_ms'] or 0:.1f} ms, "
          f"max {sc['max_ms'] or 0:.1f} ms, {sc['bytes']} bytes, {sc['errors']} errors")
    print(f"scrape idle ({a.appointments} appointments, {a.callbacks} callbacks): first {sc['idle_first_ms']} ms "
          f"(walks the follow-ups), then {sc['idle_cached_median_ms']} ms (cached)")
    if a.json:
        print(json.dumps(results, indent=2))
    return 1 if off["errors"] or on["errors"] or sc["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

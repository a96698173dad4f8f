"""Webhook benchmark: many concurrent simulated calls through a production server.

What runs
    A real redis-server (ivr.operations.redis_server.EmbeddedRedis: Unix socket,
    append-only file on with fsync every second, as in production) and gunicorn
    (gevent workers, as `ivr serve` runs them: 4 processes; ``--worker-class gthread`` for the
    threaded one, 4 x 2 threads) serving ``ivr:create_app()`` with Twilio
    signature checks on, all in a temporary folder. Nothing listens outside
    127.0.0.1. Both servers are stopped at the end, also on Ctrl-C or error.

What is measured
    ``--calls`` caller threads (default 100), each running one simulated call at
    a time with ivr.telephony.simulator.PhoneCall over its own HTTP connection (a
    requests.Session per call; ``--client http.client`` for a lighter one),
    every request signed as Twilio signs it:

        incoming -> step (language: 1 or 2, both languages)
        -> step (menu: keys 1/2 or speech, "I need to pay my bill", "appointment")
        -> step (dial result: no-answer) -> step (callback offer: "leave a message")
        -> step (record: a 10 s message) + recording status callback
        -> status callback (call completed)

    The caller reacts to what it hears rather than assuming a path: the menu
    input is chosen among what the menu offers (the main menu during opening
    hours, the after-hours menu otherwise, where option 2 goes straight to
    voicemail), and any dial or offer on the way to voicemail is answered
    (no-answer; "I'd like to leave a message"). So the run works at any hour.
    Between webhooks a caller "listens" for a think time (default uniform
    0.2-1.0 s, compressed from prompts that really last seconds), so
    "100 concurrent calls" means 100 calls in progress, not 100 requests in
    flight at every instant. When a call ends its thread starts the next one.

    Each call also makes one baseline request right after ``incoming``, under
    the same load: a signed POST /voice/fallback (static TwiML, no Redis) on
    even-numbered calls, GET /healthz (unsigned, a few small Redis reads) on
    odd ones. "Webhook minus fallback" is roughly what the flow engine and
    the Redis call state cost on top of a minimal signed request.

How to read the figures
    Latency is client side: time.perf_counter() around each HTTP request
    (gunicorn accept and queueing, the view, Redis, the response), excluding
    the simulator's own signing and XML parsing. Only requests that start
    inside the measured window (``--duration`` seconds, after a ramp-up while
    callers start) count; requests/s is that count divided by the window.
    The load generator runs on the same machine and takes CPU from the server;
    the "cpu" line shows how much. With ``--think 0`` each caller sends its next
    webhook as soon as it has an answer: a saturation test, where requests/s
    is the maximum throughput and latency is mostly queueing.

    Errors: any answer other than 200/204, a transport error, TwiML the
    simulator cannot follow, the apology fallback, or a call that does not go
    where the menu says. They are listed and the exit status is 1; otherwise
    it is 0, whether the p99 target is met or not.

Run from the project root:  .venv/bin/python -m benches.webhook_bench [--help]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benches.callers import (
    BASELINE_KINDS,
    CLIENTS,
    TARGET_CALLS,
    WEBHOOK_KINDS,
    Phase,
    Recorder,
    Sample,
    measure,
    warm_up,
)
from benches.harness import (
    Server,
    Settings,
    StartError,
    background_load,
    cpu_figures,
    machine_info,
    ms_stats,
    redis_version,
    running_server,
    server_log_summary,
    server_timings,
)
from ivr.operations import web_server

TARGET_P99_MS = 50.0

# Settings -------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Settings:
    p = argparse.ArgumentParser(
        prog="python -m benches.webhook_bench",
        description="Concurrent simulated calls through gunicorn + Redis; prints p50/p99 per webhook and requests/s.",
    )
    p.add_argument("--calls", type=int, default=TARGET_CALLS, help="concurrent calls in progress (default %(default)s)")
    p.add_argument("--duration", type=float, default=20.0, help="measured window in seconds (default %(default)s)")
    p.add_argument("--think-min", type=float, default=0.2, help="shortest pause, s (default %(default)s)")
    p.add_argument("--think-max", type=float, default=1.0, help="longest pause, s (default %(default)s)")
    p.add_argument("--think", type=float, help="fixed pause (sets min and max); 0 = saturation mode")
    p.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes (default %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker with --worker-class gthread (default %(default)s)")
    p.add_argument("--worker-class", choices=[web_server.WORKER_CLASS, "gthread"], default=web_server.WORKER_CLASS,
                   help="gunicorn worker: as `ivr serve` runs it (default %(default)s), or the threaded one to compare")
    p.add_argument("--warmup-calls", type=int, default=20, help="unmeasured calls before the run (default %(default)s)")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s (default %(default)s)")
    p.add_argument(
        "--client", choices=sorted(CLIENTS), default="requests",
        help="HTTP client of the simulated calls (default %(default)s; http.client takes less CPU from the server)",
    )
    p.add_argument("--seed", type=int, help="random seed for think times and choices")
    p.add_argument("--json", action="store_true", help="also print the results as JSON after the report")
    p.add_argument(
        "--server-timing", action="store_true",
        help="also log gunicorn's own time per request (access log %%(D)s) and print it beside the client's",
    )
    a = p.parse_args(argv)
    think_min, think_max = (a.think, a.think) if a.think is not None else (a.think_min, a.think_max)
    checks = [
        (1 <= a.calls <= 1000, "--calls must be 1..1000"),
        (0 < a.duration <= 600, "--duration must be in (0, 600] seconds"),
        (0 <= think_min <= think_max <= 30, "think times need 0 <= min <= max <= 30"),
        (1 <= a.web_workers <= 32, "--web-workers must be 1..32"),
        (1 <= a.threads <= 64, "--threads must be 1..64"),
        (0 <= a.warmup_calls <= 1000, "--warmup-calls must be 0..1000"),
        (0 < a.timeout <= 60, "--timeout must be in (0, 60] seconds"),
    ]
    for ok, message in checks:
        if not ok:
            p.error(message)
    return Settings(
        calls=a.calls, duration=a.duration, think_min=think_min, think_max=think_max,
        web_workers=a.web_workers, threads=a.threads, warmup_calls=a.warmup_calls,
        timeout=a.timeout, seed=a.seed, json=a.json, server_timing=a.server_timing, client=a.client,
        worker_class=a.worker_class,
    )



# Figures ----------------------------------------------------------------------


def latency_stats(samples: list[Sample]) -> dict[str, Any]:
    return {**ms_stats([s.ms for s in samples]), "failed": sum(not s.ok for s in samples)}


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def server_side_stats(by_kind: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    stats = {kind: ms_stats(values) for kind, values in by_kind.items()}
    stats["ALL WEBHOOKS"] = ms_stats([v for kind in WEBHOOK_KINDS for v in by_kind.get(kind, [])])
    return stats


def analyse(
    settings: Settings, server: Server, phase: Phase, warmup: list[Recorder], redis_ver: str
) -> dict[str, Any]:
    w0, w1 = phase.window
    seconds = w1 - w0
    recs = phase.recorders()
    in_window = [s for r in recs for s in r.samples if w0 <= s.start < w1]
    by_kind: dict[str, list[Sample]] = {}
    for s in in_window:
        by_kind.setdefault(s.kind, []).append(s)
    webhooks = [s for s in in_window if s.kind in WEBHOOK_KINDS]
    calls = [c for r in recs for c in r.calls]
    completed = sum(w0 <= end < w1 for _, end in calls)
    errors = Counter(e for r in recs + warmup for e in r.errors)
    if phase.unfinished:
        errors[f"{phase.unfinished} caller(s) still busy at the deadline"] += 1
    all_stats = latency_stats(webhooks)
    kinds = {k: latency_stats(by_kind.get(k, [])) for k in WEBHOOK_KINDS}
    extra = sorted(set(by_kind) - set(WEBHOOK_KINDS) - set(BASELINE_KINDS))
    kinds.update({k: latency_stats(by_kind[k]) for k in extra})
    p99 = all_stats["p99_ms"]
    applicable = settings.calls == TARGET_CALLS and not settings.saturation
    return {
        "machine": machine_info(),
        "server": {
            "gunicorn_workers": settings.web_workers,
            "threads_per_worker": settings.threads if settings.worker_class == "gthread" else None,
            "worker_class": settings.worker_class,
            "redis": f"embedded redis-server {redis_ver}, unix socket, appendonly yes, appendfsync everysec",
            "signature_checks": True,
            "health": server.health.get("status"),
        },
        "load": {
            "concurrent_calls": settings.calls,
            "http_client": settings.client,
            "think_min_s": settings.think_min,
            "think_max_s": settings.think_max,
            "saturation_mode": settings.saturation,
            "window_s": round(seconds, 3),
            "ramp_s": settings.ramp,
            "warmup_calls": sum(len(r.calls) for r in warmup),
        },
        "webhooks": kinds,
        "all_webhooks": all_stats,
        "baselines": {k: latency_stats(by_kind.get(k, [])) for k in BASELINE_KINDS},
        "throughput": {
            "webhook_requests_per_s": round(len(webhooks) / seconds, 2),
            "all_requests_per_s": round(len(in_window) / seconds, 2),
            "calls_completed": completed,
            "calls_per_s": round(completed / seconds, 2),
            "calls_in_progress_mean": round(sum(overlap(c, phase.window) for c in calls) / seconds, 2),
            "requests_in_flight_mean": round(sum(s.ms for s in in_window) / 1000 / seconds, 3),
        },
        "menus": dict(sum((r.menus for r in recs), Counter())),
        "menu_inputs": dict(sum((r.inputs for r in recs), Counter())),
        "cpu": cpu_figures(*phase.cpu, seconds),
        "errors": {"count": sum(errors.values()), "messages": dict(errors.most_common())},
        "target": {
            "p99_ms": TARGET_P99_MS,
            "concurrent_calls": TARGET_CALLS,
            "applicable": applicable,
            "met": p99 is not None and p99 < TARGET_P99_MS and not errors,
        },
    }


# Report -------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table_row(name: str, st: dict[str, Any], srv: dict[str, Any] | None) -> str:
    flag = " !" if st["p99_ms"] is not None and st["p99_ms"] >= TARGET_P99_MS else "  "
    failed = f"  ({st['failed']} failed)" if st["failed"] else ""
    cells = [_ms(st[k]) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")]
    if srv is not None:
        cells += [_ms(srv.get(k)) for k in ("p50_ms", "p99_ms")]
    return f"  {name:<34}{st['count']:>7}" + "".join(f"{c:>9}" for c in cells) + flag + failed


def target_line(res: dict[str, Any]) -> str:
    tgt, all_st = res["target"], res["all_webhooks"]
    worst = max(
        ((k, s["p99_ms"]) for k, s in res["webhooks"].items() if s["p99_ms"] is not None),
        key=lambda kv: kv[1], default=("-", None),
    )
    verdict = "PASS" if tgt["met"] else "FAIL"
    why = f"all-webhooks p99 {_ms(all_st['p99_ms'])} ms; slowest kind {worst[0]} p99 {_ms(worst[1])} ms"
    if res["errors"]["count"]:
        why += f"; {res['errors']['count']} error(s)"
    line = f"TARGET      p99 < {TARGET_P99_MS:g} ms at {TARGET_CALLS} concurrent calls: {verdict} ({why})"
    if not tgt["applicable"]:
        load = res["load"]
        mode = "saturation mode" if load["saturation_mode"] else f"{load['concurrent_calls']} calls"
        line += f"\n            (informational only: this run used {mode}, not the target's conditions)"
    return line


def report_lines(res: dict[str, Any], log_count: int, log_lines: list[str]) -> list[str]:
    m, srv, load, thr = res["machine"], res["server"], res["load"], res["throughput"]
    think = "0 (saturation)" if load["saturation_mode"] else f"{load['think_min_s']:.2f}-{load['think_max_s']:.2f} s"
    lines = [
        "Clinic phone system: webhook benchmark",
        f"machine     {m['nproc']} CPUs (nproc), {m['platform']}, Python {m['python']}",
        f"server      gunicorn {srv['worker_class']}, {srv['gunicorn_workers']} web workers"
        f"{' x ' + str(srv['threads_per_worker']) + ' threads' if srv['threads_per_worker'] else ''}, Twilio signature checks on (healthz: {srv['health']})",
        f"redis       {srv['redis']}",
        f"load        {load['concurrent_calls']} concurrent calls, think time {think} between webhooks,"
        f" {load['window_s']:.1f} s measured after a {load['ramp_s']:.1f} s ramp-up"
        f" ({load['warmup_calls']} warm-up calls not counted); client {load['http_client']}",
        f"menus       {_counts(res['menus'])}; menu input {_counts(res['menu_inputs'])}",
    ]
    if load["saturation_mode"]:
        lines.append(
            "NOTE        saturation mode: callers send the next webhook as soon as they get an answer; latency below"
            " includes queueing; read requests/s as this machine's maximum throughput (load generator included)."
        )
    server_side: dict[str, dict[str, Any]] | None = res.get("server_side")
    heads = ("p50", "p90", "p99", "max") + (("srv p50", "srv p99") if server_side is not None else ())
    header = f"  {'request (ms, client side)':<34}{'count':>7}" + "".join(f"{h:>9}" for h in heads)
    lines += ["", header]

    def row(kind: str, st: dict[str, Any]) -> str:
        return table_row(kind, st, None if server_side is None else server_side.get(kind, {}))

    lines += [row(k, st) for k, st in res["webhooks"].items()]
    lines.append(row("ALL WEBHOOKS", res["all_webhooks"]))
    lines.append("  baseline, same load:")
    lines += [row(k, st) for k, st in res["baselines"].items()]
    if server_side is not None:
        lines.append(
            "  (srv = gunicorn's own time per request, access log %(D)s: parsing, the app, writing the answer;"
            " client minus srv = connection, kernel and load generator)"
        )
    lines.append("  ! = p99 at or above the 50 ms target")
    lines += [
        "",
        f"throughput  {thr['webhook_requests_per_s']:.1f} webhook requests/s"
        f" ({thr['all_requests_per_s']:.1f} incl. baseline) over {load['window_s']:.1f} s;"
        f" {thr['calls_completed']} calls completed ({thr['calls_per_s']:.1f}/s)",
        f"concurrency {thr['calls_in_progress_mean']:.1f} calls in progress on average;"
        f" {thr['requests_in_flight_mean']:.2f} requests in flight on average",
        *_cpu(res["cpu"], m["nproc"], res.get("busy_before_start_cores")),
        f"server log  {log_count} warning/error line(s)" + "".join(f"\n              {ln[:200]}" for ln in log_lines),
        f"errors      {res['errors']['count']}" + "".join(
            f"\n              {n} x {msg}" for msg, n in list(res["errors"]["messages"].items())[:20]
        ),
        target_line(res),
    ]
    return lines


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "-"


# Above this much CPU used by others, the figures say more about the neighbours than the app.
NOISY_CORES = 0.15


def _cpu(cpu: dict[str, float] | None, nproc: int, before_start: float | None) -> list[str]:
    if cpu is None:
        return ["cpu         n/a (needs Linux /proc)"]
    lines = [
        f"cpu         gunicorn {cpu['gunicorn_cores']:.2f} cores, redis {cpu['redis_cores']:.2f},"
        f" load generator {cpu['load_generator_cores']:.2f}, other processes and kernel {cpu['other_cores']:.2f};"
        f" machine {cpu['machine_busy_pct']:.0f}% busy of {nproc} CPUs"
        + (f" (before the run: {before_start:.2f} cores busy)" if before_start is not None else "")
    ]
    noisy = max(cpu["other_cores"], before_start or 0.0)
    if noisy > NOISY_CORES:
        lines.append(
            f"WARNING     other work on this machine used up to {noisy:.2f} cores: latency and requests/s are"
            " lower-quality; rerun on a quiet machine"
        )
    return lines


# Main -----------------------------------------------------------------------------


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(settings: Settings) -> tuple[dict[str, Any], int, list[str]]:
    seed_rng = random.Random(settings.seed)
    before_start = background_load()
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        folder = Path(tmp)
        print(
            f"starting redis + gunicorn ({settings.worker_class}, {settings.web_workers} workers) ...",
            file=sys.stderr, flush=True,
        )
        with running_server(settings, folder) as server:
            print(f"warming up ({min(settings.calls, settings.warmup_calls)} calls) ...", file=sys.stderr, flush=True)
            warmup = warm_up(server, settings, seed_rng)
            phase = measure(server, settings, seed_rng)
            results = analyse(settings, server, phase, warmup, redis_version(server))
        log_count, log_lines = server_log_summary(folder / "gunicorn.log")
        if settings.server_timing:
            results["server_side"] = server_side_stats(server_timings(folder / "access.log"))
    results["server_log"] = {"warning_or_error_lines": log_count, "first": log_lines}
    results["busy_before_start_cores"] = before_start
    return results, log_count, log_lines


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--ratio" in args:  # the first webhook's cost against a do-nothing signed TwiML answer (wrk)
        from benches import webhook_cost

        return webhook_cost.main([a for a in args if a != "--ratio"])
    settings = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        results, log_count, log_lines = run(settings)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, no results", file=sys.stderr)
        return 130
    except StartError as exc:
        print(f"cannot start the servers: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report_lines(results, log_count, log_lines)))
    if settings.json:
        print(json.dumps(results, indent=2))
    return 1 if results["errors"]["count"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Slow-client benchmark: can connections that send their requests slowly hold up Twilio's webhooks?

What runs
    A real redis-server (EmbeddedRedis) and gunicorn serving ``ivr:create_app()`` with signature
    checks on, in a temporary folder on 127.0.0.1, twice in one run:
      1. the threaded worker ``ivr serve`` used before (gthread, 4 processes x 2 threads);
      2. the web processes as ``ivr serve`` runs them now (``ivr.operations.web_server``: gevent, 4 processes).

What is measured, for each
    ``--slow`` connections (default 50) are opened and held for the whole phase, in three kinds
    taken in turn: headers sent one byte a second and never finished; complete headers with a
    Content-Length of 4000 and the body sent one byte a second; connected and silent. Each one
    that is closed by the server is opened again at once. Meanwhile real calls
    (ivr.telephony.simulator.PhoneCall: every webhook signed as Twilio signs it, each on a new connection as
    Twilio's come, so any process may take it) run one after another for
    ``--duration`` seconds. Printed: the signed webhooks answered, their median and max latency,
    how many took 1 s or more, the failures, and how often the server closed a slow connection.

Target: every signed webhook answers within 1 s with the slow connections held (issue 31,
finding 7). Exit status 0 when met for `ivr serve`'s web processes, 1 otherwise, 2 if the servers
could not start.

Run from the project root:  .venv/bin/python -m benches.slow_clients_bench [--help]
"""

from __future__ import annotations

import argparse
import dataclasses
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benches.harness import Settings, StartError, running_server
from ivr.operations import web_server
from ivr.telephony.simulator import PhoneCall

SIGNATURE_SHAPED = b"A" * 27 + b"="
KINDS = ("slow headers", "slow body", "silent")


def hold(port: int, kind: str, until: float, closed: list[str], answers: list[tuple[str, bytes]] | None = None) -> None:
    """Keep one slow connection of ``kind`` open until ``until``; open it again when the server closes it.
    What the server said before closing goes in ``answers`` (kind, first bytes)."""
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                if kind == "slow headers":
                    sock.sendall(b"POST /voice/incoming HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                elif kind == "slow body":
                    sock.sendall(b"POST /voice/incoming HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 b"Content-Type: application/x-www-form-urlencoded\r\n"
                                 b"X-Twilio-Signature: " + SIGNATURE_SHAPED + b"\r\nContent-Length: 4000\r\n\r\n")
                sock.settimeout(1.0)
                while time.monotonic() < until:
                    if kind != "silent":
                        sock.sendall(b"a" if kind == "slow body" else b"X")
                    try:
                        said = sock.recv(4096)
                        if not said:  # the server closed it (or answered and closed)
                            raise ConnectionResetError
                        if answers is not None:
                            answers.append((kind, said))
                    except socket.timeout:
                        pass
        except OSError:
            closed.append(kind)
            time.sleep(0.2)


def phase(server, args) -> dict:
    port = int(server.base_url.rsplit(":", 1)[1])
    until = time.monotonic() + args.settle + args.duration + 2
    closed: list[str] = []
    answers: list[tuple[str, bytes]] = []
    holders = [threading.Thread(target=hold, args=(port, KINDS[i % 3], until, closed, answers), daemon=True)
               for i in range(args.slow)]
    for t in holders:
        t.start()
    time.sleep(args.settle)  # every slow connection is in before the calls start
    latencies: list[float] = []
    errors: list[str] = []

    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        started = time.perf_counter()
        try:  # a new connection each, as Twilio's requests come: whichever process accepts it serves it
            resp = requests.post(url, data=data, headers=headers, timeout=args.timeout)
        finally:
            latencies.append(time.perf_counter() - started)
        return resp.status_code, resp.text

    calls, end = 0, time.monotonic() + args.duration
    while time.monotonic() < end:
        calls += 1
        try:
            call = PhoneCall(post, server.base_url, server.token, caller=f"+1202555{calls % 10000:04d}",
                             called="+12025550199")
            turn = call.start()
            if turn.waiting == "gather":
                call.press("1")
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            errors.append(f"{type(exc).__name__}: {exc}"[:160])
    for t in holders:
        t.join(5)
    return {"latencies": latencies, "errors": errors, "calls": calls, "closed": closed, "answers": answers}


def report(name: str, result: dict) -> bool:
    lat = sorted(result["latencies"])
    slow = sum(1 for x in lat if x >= 1.0)
    ok = bool(lat) and not result["errors"] and slow == 0
    print(f"{name}:")
    if lat:
        print(f"  signed webhooks: {len(lat)} in {result['calls']} calls, median {statistics.median(lat) * 1000:.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms, {slow} took 1 s or more, {len(result['errors'])} failed")
    else:
        print("  signed webhooks: none answered")
    for e in sorted(set(result["errors"]))[:3]:
        print(f"    failure: {e}")
    counts = {k: result["closed"].count(k) for k in KINDS}
    print("  slow connections closed by the server: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    return ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--slow", type=int, default=50, help="slow connections held open (default 50)")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of calls per phase (default 15)")
    p.add_argument("--settle", type=float, default=3.0, help="seconds between opening the slow connections and the first call")
    p.add_argument("--timeout", type=float, default=10.0, help="per-webhook timeout, s (default 10)")
    p.add_argument("--web-workers", type=int, default=4)
    args = p.parse_args(argv)
    base = Settings(calls=1, duration=args.duration, think_min=0.0, think_max=0.0, web_workers=args.web_workers,
                    threads=2, warmup_calls=0, timeout=args.timeout, seed=None, json=False)
    results = {}
    try:
        for name, worker_class in (("before: gthread, 4 x 2 threads", "gthread"),
                                   (f"ivr serve: {web_server.WORKER_CLASS}", web_server.WORKER_CLASS)):
            with tempfile.TemporaryDirectory(prefix="ivr-slow-") as folder:
                with running_server(dataclasses.replace(base, worker_class=worker_class), Path(folder)) as server:
                    results[name] = phase(server, args)
    except StartError as exc:
        print(f"cannot start the servers: {exc}", file=sys.stderr)
        return 2
    print(f"{args.slow} slow connections ({', '.join(KINDS)}, in turn) held while calls run for {args.duration:g} s; "
          f"gunicorn {args.web_workers} processes")
    verdicts = [report(name, result) for name, result in results.items()]
    met = verdicts[-1]
    print(f"TARGET every signed webhook < 1 s with {args.slow} slow connections: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""Oversized-body benchmark: do huge request bodies hold up real calls or grow the web workers?

What runs
    A real redis-server (EmbeddedRedis) and gunicorn as `ivr serve` runs it (gthread, --web-workers
    x --threads, ``ivr:create_app()``, signature checks on), in a temporary folder on 127.0.0.1.

What is measured, twice in one run
    1. baseline: ``--calls`` real calls (ivr.telephony.simulator.PhoneCall: every webhook signed as Twilio
       signs it) one after another for ``--duration`` seconds, nothing else;
    2. attack: the same calls while ``--attackers`` connections at once each stream a ``--size`` MB
       body (bad X-Twilio-Signature) to /voice/incoming or /login, half with Content-Length, half
       chunked, starting again as soon as one is refused or finished.

    Printed per phase: the real webhooks' count, median and max latency (client side), errors, and
    the web workers' peak resident memory (VmRSS of each gunicorn worker, sampled every 50 ms) next
    to their size at the start; for the attack, how the oversized requests were answered and how
    many bytes they got to send before that.

Target: every real webhook answers within 1 s and no worker grows past its baseline peak by more
than 50 MB. Exit status 0 when met, 1 otherwise, 2 if the servers could not start.

Run from the project root:  .venv/bin/python -m benches.oversize_bench [--help]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benches.harness import Settings, StartError, child_pids, running_server
from ivr.telephony.simulator import PhoneCall

MB = 1024 * 1024
GOOD_SHAPE = "A" * 27 + "="  # shaped like a signature, valid for nothing


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Sampler(threading.Thread):
    """Peak RSS of each gunicorn worker while running."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master, self.peak, self.stop = master, {}, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in child_pids(self.master):
                self.peak[pid] = max(self.peak.get(pid, 0.0), rss_mb(pid))
            time.sleep(0.05)


def caller(base: str, token: str, until: float, latencies: list[float], errors: list[str]) -> None:
    session = requests.Session()

    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        started = time.perf_counter()
        resp = session.post(url, data=data, headers=headers, timeout=15)
        latencies.append(time.perf_counter() - started)
        return resp.status_code, resp.text

    n = 0
    while time.monotonic() < until:
        n += 1
        try:
            call = PhoneCall(post, base, token, caller=f"+1202555{n % 10000:04d}", called="+12025550199")
            turn = call.start()
            if turn.waiting == "gather":
                call.press("1")
        except Exception as exc:  # noqa: BLE001 - counted, the run goes on
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        time.sleep(0.05)
    session.close()


def attacker(port: int, path: str, chunked: bool, size: int, until: float, outcomes: list[tuple[str, int]]) -> None:
    block = b"a" * 65536
    while time.monotonic() < until:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {GOOD_SHAPE}\r\n")
        head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
        sent, status = 0, "none"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
                sock.sendall(head.encode())
                sock.setblocking(False)
                reply = b""
                while sent < size and time.monotonic() < until:
                    try:
                        reply += sock.recv(4096)
                        if reply:
                            break
                    except BlockingIOError:
                        pass
                    try:
                        piece = (b"10000\r\n" + block + b"\r\n") if chunked else block
                        sock.sendall(piece)
                        sent += len(block)
                    except BlockingIOError:
                        time.sleep(0.001)
                sock.setblocking(True)
                sock.settimeout(20)
                while b"\r\n" not in reply:
                    more = sock.recv(4096)
                    if not more:
                        break
                    reply += more
                status = reply.split(b" ", 2)[1].decode() if reply.startswith(b"HTTP/") else "no answer"
        except OSError as exc:
            status = f"closed ({type(exc).__name__})"
        outcomes.append((f"{path} {'chunked' if chunked else 'content-length'}: {status}", sent))


def phase(server, token: str, args, attack: bool) -> dict:
    sampler = Sampler(server.process.pid)
    sampler.start()
    time.sleep(0.3)
    start_rss = dict(sampler.peak)
    until = time.monotonic() + args.duration
    latencies: list[float] = []
    errors: list[str] = []
    outcomes: list[tuple[str, int]] = []
    threads = [threading.Thread(target=caller, args=(server.base_url, token, until, latencies, errors))
               for _ in range(args.calls)]
    if attack:
        port = int(server.base_url.rsplit(":", 1)[1])
        threads += [threading.Thread(target=attacker, args=(port, "/voice/incoming" if i % 2 == 0 else "/login",
                                                            (i // 2) % 2 == 1, args.size * MB, until, outcomes))
                    for i in range(args.attackers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.duration + 60)
    sampler.stop.set()
    sampler.join()
    return {"latencies": latencies, "errors": errors, "outcomes": outcomes, "start_rss": start_rss, "peak": sampler.peak}


def report(name: str, result: dict) -> None:
    lat = sorted(result["latencies"])
    print(f"{name}:")
    if lat:
        print(f"  real webhooks: {len(lat)}, median {statistics.median(lat) * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
              f", errors {len(result['errors'])}")
    else:
        print("  real webhooks: none answered")
    for e in sorted(set(result["errors"]))[:5]:
        print(f"    error: {e}")
    peaks = ", ".join(f"{result['start_rss'].get(pid, 0):.0f}->{mb:.0f}" for pid, mb in sorted(result["peak"].items()))
    print(f"  web workers' RSS MB (start->peak): {peaks}")
    if result["outcomes"]:
        kinds: dict[str, list[int]] = {}
        for what, sent in result["outcomes"]:
            kinds.setdefault(what, []).append(sent)
        for what, sent in sorted(kinds.items()):
            print(f"  oversized {what}: {len(sent)} requests, sent before the answer: "
                  f"max {max(sent) / MB:.1f} MB, median {statistics.median(sent) / MB:.2f} MB")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--attackers", type=int, default=8, help="concurrent oversized bodies (default 8)")
    p.add_argument("--size", type=int, default=250, help="MB per oversized body (default 250)")
    p.add_argument("--calls", type=int, default=4, help="concurrent real callers (default 4)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    p.add_argument("--web-workers", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    settings = Settings(calls=args.calls, duration=args.duration, think_min=0.0, think_max=0.0,
                        web_workers=args.web_workers, threads=args.threads, warmup_calls=0, timeout=15.0,
                        seed=None, json=False)
    with tempfile.TemporaryDirectory(prefix="ivr-oversize-") as folder:
        try:
            with running_server(settings, Path(folder)) as server:
                base = phase(server, server.token, args, attack=False)
                attack = phase(server, server.token, args, attack=True)
        except StartError as exc:
            print(f"cannot start the servers: {exc}", file=sys.stderr)
            return 2
    print(f"gunicorn {args.web_workers} workers x {args.threads} threads; {args.calls} real callers; "
          f"attack: {args.attackers} x {args.size} MB bodies (bad signature) to /voice/incoming and /login")
    report("baseline (no attack)", base)
    report("under attack", attack)
    worst = max(attack["latencies"], default=float("inf"))
    base_peak = max(base["peak"].values(), default=0.0)
    attack_peak = max(attack["peak"].values(), default=0.0)
    ok = worst < 1.0 and attack_peak <= base_peak + 50 and not attack["errors"]
    print(f"TARGET {'PASS' if ok else 'FAIL'}: slowest real webhook under attack {worst * 1000:.0f} ms (< 1000), "
          f"largest worker {attack_peak:.0f} MB under attack vs {base_peak:.0f} MB without (+50 MB allowed)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

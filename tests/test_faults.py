"""A callback request the caller heard confirmed is never lost, whatever is killed.

`ivr serve` runs for real (gunicorn, an RQ worker, the embedded Redis with its
append-only file). Callers ask for callbacks while another thread kills web
workers, the RQ worker and Redis itself with SIGKILL. Every number whose
confirmation a caller heard must be in the queue afterwards.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import phonenumbers
import pytest
import redis
import requests

from ivr.config import local_auth_token
from ivr.telephony.simulator import CallError, PhoneCall, requests_transport
from ivr.store.callbacks import CallbackQueue

from .test_system import Served, served  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state = stat.rsplit(")", 1)[1].split()
        if state[0] == "Z":
            continue
        found.append((int(entry.name), int(state[1]), cmdline))
    return found


def victims(system: Served) -> dict[str, list[int]]:
    """The processes of one `ivr serve`, by role."""
    procs = processes()
    children = {pid for pid, ppid, _ in procs if ppid == system.proc.pid}
    sock = str((system.data_dir / "redis" / "redis.sock").resolve())  # redis-server retitles itself with it
    return {
        "web worker": [pid for pid, ppid, cmd in procs if ppid in children and "gunicorn" in cmd],
        "rq worker": [pid for pid, ppid, cmd in procs if pid in children and "ivr.cli worker" in cmd],
        "redis": [pid for pid, _, cmd in procs if "redis-server" in cmd and sock in cmd],
    }


def numbers(count: int) -> list[str]:
    """Distinct valid US numbers for the callers."""
    out, n = [], 0
    while len(out) < count:
        candidate = f"+1202555{1000 + n:04d}"
        n += 1
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            out.append(candidate)
    return out


def ask_for_callback(url: str, token: str, caller: str) -> bool:
    """One caller through to the confirmation. True only if the confirmation was heard."""
    call = PhoneCall(requests_transport(timeout=10), url, token, caller=caller)
    turn = call.start()
    turn = call.press("3")  # the nurse
    if turn.waiting == "dial":
        turn = call.dial_result("no-answer")
    if "keep your place in line" not in turn.text:
        return False  # e.g. the apology after a failure: nothing was promised
    turn = call.press("1")  # call me back
    if "the number ending in" not in turn.text:
        return False
    turn = call.press("1")  # that number
    if turn.waiting != "record":
        return False
    done = call.record_nothing()
    return "you are number" in done.text or "already in line" in done.text


def test_confirmed_callbacks_survive_kill_9_of_web_worker_and_redis(served):
    system = served()
    system.healthy()
    token = local_auth_token(system.data_dir)
    callers = numbers(400)
    confirmed: list[str] = []
    failed: list[str] = []
    kills: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def caller_loop(mine: list[str]) -> None:
        for number in mine:
            if stop.is_set():
                return
            try:
                ok = ask_for_callback(system.url, token, number)
            except (CallError, requests.RequestException):
                ok = False  # the web worker died under this request: nothing was promised
            with lock:
                (confirmed if ok else failed).append(number)

    def killer() -> None:
        rng = random.Random(7)
        order = ["web worker", "redis", "web worker", "rq worker", "redis", "web worker", "redis"]
        for role in order:
            time.sleep(rng.uniform(0.6, 1.2))
            pids = victims(system)[role]
            if pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
                kills.append(role)

    threads = [threading.Thread(target=caller_loop, args=(callers[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    kill_thread.join()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(60)

    assert kills.count("redis") >= 2 and kills.count("web worker") >= 2, kills
    assert len(confirmed) >= 20, (len(confirmed), len(failed))
    # The system came back by itself after every kill.
    system.healthy()
    conn = redis.Redis(unix_socket_path=str(system.data_dir / "redis" / "redis.sock"), socket_timeout=5)
    stored = {cb.phone for cb in CallbackQueue(conn).waiting("nurse", limit=1000)}
    lost = [n for n in confirmed if n not in stored]
    print(f"\nfault test: {len(confirmed)} confirmed, {len(failed)} not confirmed, kills {kills}, lost {len(lost)}")
    assert lost == [], f"{len(lost)} confirmed callback(s) lost after kills {kills}"
    assert system.stop() == 0

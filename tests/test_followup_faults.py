"""Follow-ups survive a bad day, with real worker processes and Twilio's API served by Prism.

Settings missing while follow-ups fall due, then fixed; Twilio refusing the account (401) for a
while, then accepting: every follow-up is placed exactly once, inside its window, and none is left
in RQ's failed list.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import requests
from rq import Queue
from rq.registry import FailedJobRegistry

from ivr.clinic.calling_hours import zone_named
from ivr.store.followups import FollowupStore
from ivr.workers import DEFAULT_QUEUE
from ivr.workers import followups as jobs

from .prism import new_account_sid
from .processes import IVR, ROOT, env, wait_for
from .test_call_patient import CLINIC, worker_env

COUNT = 5


def due(redis_conn, prefix: str):
    """COUNT follow-ups due now, in a zone where it is now inside calling hours; queued as the import does."""
    from benches.followup_bench import appointments_due, zone_in_calling_hours

    items = appointments_due(COUNT, zone_in_calling_hours(), prefix)
    FollowupStore(redis_conn).add_many(items)
    queue = Queue(DEFAULT_QUEUE, connection=redis_conn)
    for a in items:
        queue.enqueue(jobs.place_followup, a.id, 1, 0, job_id=jobs.job_id(a.id, 1))
    return items


def start_worker(**extra: str) -> subprocess.Popen:
    return subprocess.Popen([*IVR, "worker"], cwd=ROOT, env=env(IVR_SWEEP_SECONDS="1", **extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def stop(worker: subprocess.Popen) -> str:
    worker.terminate()
    try:
        _, err = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        _, err = worker.communicate()
    return err


def statuses(store: FollowupStore, items) -> list[str]:
    return [store.get(a.id).status for a in items]


def each_placed_once(prism, account_sid: str, store: FollowupStore, items) -> None:
    """Every follow-up's call reaches Twilio, and a few sweeps later still once each."""
    wait_for(lambda: prism.calls_created(account_sid) == COUNT and statuses(store, items) == ["calling"] * COUNT,
             timeout=60, what="every follow-up placed")
    time.sleep(3)
    assert prism.calls_created(account_sid) == COUNT


def placed_inside_window(store: FollowupStore, items) -> None:
    window = CLINIC.followups.calling_window
    for a in items:
        started = float(store.attempt(a.id, 1)["started_at"])
        local = dt.datetime.fromtimestamp(started, zone_named(a.timezone))
        assert window.contains(local.hour * 60 + local.minute), f"{a.id} dialled at {local}"


@pytest.mark.slow
def test_follow_ups_due_while_the_public_url_is_missing_are_placed_once_after_it_is_set(redis_server, redis_conn, prism):
    account_sid = new_account_sid()
    items = due(redis_conn, "Unset")
    store = FollowupStore(redis_conn)
    settings = worker_env(redis_server, prism, account_sid)
    missing = {k: v for k, v in settings.items() if k != "IVR_PUBLIC_URL"}

    worker = start_worker(**missing)
    try:
        wait_for(lambda: store.blocked_count() == COUNT, timeout=60, what="every follow-up blocked")
        time.sleep(3)  # sweeps go by: still blocked, nothing sent, nothing failed
        assert statuses(store, items) == ["blocked"] * COUNT
        assert all("IVR_PUBLIC_URL" in store.get(a.id).blocked_reason for a in items)
    finally:
        err = stop(worker)
    assert "IVR_PUBLIC_URL is not set" in err  # said at start-up
    assert prism.calls_created(account_sid) == 0
    assert not FailedJobRegistry(DEFAULT_QUEUE, connection=redis_conn).get_job_ids()

    worker = start_worker(**settings)  # the setting fixed, the worker restarted: they go by themselves
    try:
        each_placed_once(prism, account_sid, store, items)
    finally:
        stop(worker)
    assert store.blocked_count() == 0
    placed_inside_window(store, items)
    assert not FailedJobRegistry(DEFAULT_QUEUE, connection=redis_conn).get_job_ids()


class RefusingProxy:
    """In front of Prism: answers 401 (Twilio's error 20003) to call requests while ``refuse`` is set."""

    def __init__(self, upstream: str) -> None:
        self.refuse = True
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.refuse and self.command == "POST" and self.path.endswith("/Calls.json"):
                    proxy.refused += 1
                    payload = json.dumps({"code": 20003, "message": "Authenticate", "status": 401,
                                          "more_info": "https://www.twilio.com/docs/errors/20003"}).encode()
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                resp = requests.request(self.command, upstream + self.path, data=body, headers=headers, timeout=30)
                self.send_response(resp.status_code)
                self.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_DELETE = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_while_twilio_refuses_the_account_follow_ups_wait_then_each_is_placed_once(redis_server, redis_conn, prism):
    account_sid = new_account_sid()
    items = due(redis_conn, "Refused")
    store = FollowupStore(redis_conn)
    proxy = RefusingProxy(prism.base_url)
    settings = {**worker_env(redis_server, prism, account_sid), "TWILIO_API_BASE_URL": proxy.url,
                "IVR_FOLLOWUP_PROBE_SECONDS": "2"}
    worker = start_worker(**settings)
    try:
        wait_for(lambda: store.blocked_count() == COUNT, timeout=60, what="every follow-up blocked")
        assert all("20003" in store.get(a.id).blocked_reason for a in items)
        before = proxy.refused
        time.sleep(5)  # refused still: one follow-up is tried again every 2 s, not all of them
        assert proxy.refused - before <= 4
        assert store.blocked_count() >= COUNT - 1

        proxy.refuse = False  # the account is fixed
        each_placed_once(prism, account_sid, store, items)
    finally:
        stop(worker)
        proxy.close()
    assert store.blocked_count() == 0
    placed_inside_window(store, items)
    assert not FailedJobRegistry(DEFAULT_QUEUE, connection=redis_conn).get_job_ids()
    for a in items:
        assert [e["event"] for e in store.events(a.id)].count("placed") == 1

"""With `ivr serve`'s defaults, every console opened at once gets the live stream (issue 33).

Before, each web process served its threads minus one streams: with 4 processes x 2 threads, 1 of 5
consoles opened at once got the stream and the rest polled every 10 s. Under the gevent worker a stream
is a greenlet; 20 consoles opened together on the default 4 processes must all be streaming, while a
signed webhook still answers at once.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from benches.harness import Settings, running_server
from ivr.telephony.simulator import PhoneCall, requests_transport
from ivr.staff.passwords import hash_password
from ivr.store.users import UserStore

from .test_console_live import PASSWORD, _requests_login

pytestmark = pytest.mark.slow

CONSOLES = 20


def test_twenty_consoles_opened_at_once_all_get_the_live_stream(tmp_path):
    settings = Settings(calls=1, duration=1, think_min=0.0, think_max=0.0, web_workers=4, threads=1,
                        warmup_calls=0, timeout=10.0, seed=None, json=False)  # `ivr serve`'s defaults
    with running_server(settings, tmp_path) as server:
        users = UserStore(server.redis.client())
        for i in range(5):
            users.add(f"nurse{i}", "nurse", hash_password(PASSWORD))
        sessions = [_requests_login(server.base_url, f"nurse{i % 5}") for i in range(CONSOLES)]
        answers: list[str] = []
        lock = threading.Lock()

        def open_console(s: requests.Session) -> None:
            try:
                with s.get(server.base_url + "/console/live", stream=True, timeout=10) as resp:
                    first = next(resp.iter_lines(decode_unicode=True), "") if resp.status_code == 200 else ""
                    said = "streaming" if resp.status_code == 200 and first.startswith("retry:") else f"HTTP {resp.status_code}"
                    with lock:
                        answers.append(said)
                    if resp.status_code == 200:
                        time.sleep(3)  # hold it open while the others come in
            except requests.RequestException as exc:
                with lock:
                    answers.append(type(exc).__name__)

        threads = [threading.Thread(target=open_console, args=(s,)) for s in sessions]
        for t in threads:
            t.start()
        time.sleep(1.0)
        started = time.monotonic()
        call = PhoneCall(requests_transport(timeout=5), server.base_url, server.token)
        assert call.start().waiting == "gather"  # a caller, while 20 streams are open
        assert time.monotonic() - started < 1.0
        for t in threads:
            t.join(20)
        assert answers.count("streaming") == CONSOLES, answers

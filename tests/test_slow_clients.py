"""Slow clients cannot hold up Twilio's webhooks (issue 31, finding 7).

The web processes run as `ivr serve` runs them (ivr.web_server: gunicorn's gevent worker), on a real
Redis, with no buffering proxy in front. Connections that send their headers or body a byte a
second, or nothing at all, are held open while real signed calls go on, each webhook on a new
connection as Twilio's come. The same harness as benches/slow_clients_bench.py, shorter.
"""

from __future__ import annotations

import argparse
import socket
import time

import pytest

from benches.slow_clients_bench import phase
from benches.webhook_bench import Settings, running_server
from ivr import request_limits, web_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = Settings(calls=1, duration=1, think_min=0.0, think_max=0.0, web_workers=2, threads=1,
                        warmup_calls=0, timeout=10.0, seed=None, json=False)
    assert settings.worker_class == web_server.WORKER_CLASS  # what `ivr serve` runs
    with running_server(settings, tmp_path_factory.mktemp("slow-clients")) as running:
        yield running


def test_signed_webhooks_answer_within_a_second_while_slow_connections_are_held(server):
    args = argparse.Namespace(slow=30, settle=2.0, duration=request_limits.BODY_SECONDS + 1.0, timeout=10.0)
    result = phase(server, args)
    latencies = result["latencies"]
    assert not result["errors"], result["errors"][:3]
    assert len(latencies) > 100  # calls went on the whole time
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
    # and the slow ones were let go: headers after the keep-alive time, a trickled body after BODY_SECONDS
    assert result["closed"].count("slow headers") >= 10
    assert result["closed"].count("slow body") >= 10


def test_a_body_that_trickles_in_is_refused_with_408_in_words(server):
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=request_limits.BODY_SECONDS + 10) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100\r\n\r\nusername=a")
        started = time.monotonic()
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"seconds."):
            more = sock.recv(4096)
            if not more:
                break
            reply += more
    waited = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert f"Request body not received within {request_limits.BODY_SECONDS} seconds.".encode() in reply
    assert request_limits.BODY_SECONDS - 1 <= waited <= request_limits.BODY_SECONDS + 5


def test_headers_that_never_end_are_closed_after_the_keep_alive_time(server):
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=web_server.KEEPALIVE_SECONDS + 10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        assert sock.recv(4096) == b""  # closed, no answer
    assert time.monotonic() - started <= web_server.KEEPALIVE_SECONDS + 2

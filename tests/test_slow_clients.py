"""Slow clients cannot hold up Twilio's webhooks (issue 31, finding 7).

The web processes run as `ivr serve` runs them (ivr.operations.web_server: gunicorn's gevent worker), on a real
Redis, with no buffering proxy in front. Connections that send their headers or body a byte a
second, or nothing at all, are held open while real signed calls go on, each webhook on a new
connection as Twilio's come. The same harness as benches/slow_clients_bench.py, shorter.
"""

from __future__ import annotations

import argparse

import pytest

from benches.slow_clients_bench import phase
from benches.harness import Settings, running_server
from ivr.protection import request_limits
from ivr.operations import web_server

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
    # and the slow ones were let go: headers after the keep-alive time (no answer), a trickled body
    # after BODY_SECONDS, told why
    assert result["closed"].count("slow headers") >= 10
    assert result["closed"].count("slow body") >= 10
    said = [a for kind, a in result["answers"] if kind == "slow body"]
    statuses = {a.split(b"\r\n", 1)[0] for a in said if a.startswith(b"HTTP/")}
    assert statuses == {b"HTTP/1.1 408 REQUEST TIMEOUT"}, said[:2]
    assert f"Request body not received within {request_limits.BODY_SECONDS} seconds.".encode() in b"".join(said)
    assert not [a for kind, a in result["answers"] if kind != "slow body"]

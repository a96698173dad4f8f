"""`ivr serve`'s supervisor never stops the phones: a worker that keeps dying is restarted with a
growing wait, forever, and the web server is left running (issue 31, finding 2)."""

from __future__ import annotations

import sys
import time

from ivr.operations import supervisor as supervisor_module
from ivr.operations.supervisor import Backoff, Supervisor


def test_backoff_doubles_to_a_cap_and_starts_over_after_a_healthy_run():
    backoff = Backoff()
    waits = []
    for _ in range(8):
        backoff.started = 1000.0
        waits.append(backoff.died(1000.5))
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    backoff.started = 1000.0
    assert backoff.died(1000.0 + supervisor_module.HEALTHY_AFTER) == 1  # it had run a while: quick again


def test_a_worker_that_keeps_failing_is_restarted_and_never_stops_the_web_server(capfd):
    sup = Supervisor({"web": [sys.executable, "-c", "import time; time.sleep(60)"],
                      "worker-1": [sys.executable, "-c", "raise SystemExit(1)"]}, env={})
    for name in sup.commands:
        sup._start(name)
    web = sup.children["web"]
    first_worker = sup.children["worker-1"]
    try:
        deadline = time.monotonic() + 4.5
        while time.monotonic() < deadline:  # the old supervisor gave up after 5 quick deaths and stopped all
            time.sleep(0.05)
            sup.tick()
        assert web.poll() is None and sup.children["web"] is web  # the phones still answer
        assert not sup.stopping
        assert sup.children["worker-1"] is not first_worker  # restarted...
        errors = capfd.readouterr().err
        assert "worker-1 exited with 1; restarting in 1 s" in errors
        assert "restarting in 2 s" in errors  # ...with a growing wait, not in a tight loop
        assert errors.count("worker-1 exited") <= 3
    finally:
        sup.stop_all(timeout=5)
    assert web.poll() is not None

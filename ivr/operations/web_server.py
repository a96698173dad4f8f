"""How the web processes are run: one gunicorn command for `ivr serve`, deploy/ and the benchmarks.

gunicorn's gevent worker: every connection is a greenlet, not a thread, so a
client that sends its request slowly (a phone network, or someone holding
connections half-open on purpose) costs a greenlet and never the threads
Twilio's webhooks need. With ``--host 0.0.0.0`` and no buffering proxy in
front, 50 slow connections with the old threaded worker (4 processes x 2
threads) left no webhook answered; with this one every webhook answered
within milliseconds (``benches/slow_clients_bench.py``).

What bounds a slow client:

- its request line and headers must arrive within ``KEEPALIVE_SECONDS``
  (gunicorn reads them under a gevent timeout of the keep-alive setting, on
  every request of a connection), or the connection is closed;
- its body is limited in size before it is read (``ivr.protection.request_limits``) and
  holds only its own greenlet while it trickles in;
- a process serves at most ``CONNECTIONS`` connections at once (gunicorn's
  ``--worker-connections``); live console streams take at most half of them
  (``ivr.staff.live.max_streams``), so callers always find a free one.

Redis, RQ and the Twilio client use sockets, which gevent makes cooperative
(gunicorn patches the standard library in each worker before loading the
app); speech never runs in the web processes. A request that computes for
long (the reports page over a year) calls ``let_others_run`` between steps.
"""

from __future__ import annotations

import sys

APP = "ivr:create_app()"
WORKER_CLASS = "gevent"
CONNECTIONS = 1000  # per process, gunicorn's own default
KEEPALIVE_SECONDS = 5  # idle keep-alive, and the time a request's headers may take
GRACEFUL_SECONDS = 10


def cooperative() -> bool:
    """Whether this process serves requests as greenlets (gunicorn's gevent worker, as `ivr serve` runs it)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def let_others_run() -> None:
    """Under gevent, let the process's other requests (Twilio's webhooks) go before going on: a long
    computation in a request (a year's report) calls this between its steps, since gevent never takes
    the process from a greenlet that does not wait. Elsewhere it does nothing."""
    if cooperative():
        import gevent

        gevent.sleep(0)


def gunicorn_command(
    bind: str,
    web_workers: int,
    *,
    connections: int = CONNECTIONS,
    graceful_seconds: int = GRACEFUL_SECONDS,
    app: str = APP,
    extra: list[str] | None = None,
) -> list[str]:
    """The command that runs the web processes on ``bind`` (``host:port``)."""
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", bind,
        "--workers", str(web_workers),
        "--worker-class", WORKER_CLASS,
        "--worker-connections", str(connections),
        "--keep-alive", str(KEEPALIVE_SECONDS),
        "--graceful-timeout", str(graceful_seconds),
        *(extra or []),
        app,
    ]

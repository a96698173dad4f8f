"""What a call's first webhook costs, against a do-nothing signed TwiML answer on the same server.

    .venv/bin/python -m benches.webhook_bench --ratio [--seconds 10] [--connections 10]

Embedded Redis (append-only, as in production) and gunicorn as `ivr serve` runs them
(benches.webhook_bench.running_server). wrk (Debian package ``wrk``) sends, over
``--connections`` keep-alive connections, requests signed in advance exactly as Twilio
signs them:

* ``incoming``: POST /voice/incoming, each with a new CallSid (a new call: the
  emergency switch read, the flow started, the call state written);
* ``baseline``: POST /voice/incoming to a do-nothing signed TwiML app
  (benches/minimal_twiml_app.py: Flask, Twilio's signature check, a static answer)
  under the same gunicorn settings: what any signed TwiML endpoint must cost;
* ``fallback``: POST /voice/fallback of our app (signature check and static TwiML
  through our app's request handling), for reference.

It prints requests/s for each and the ratio incoming / baseline (the issue's target: at
least 0.5), and the Redis round trips one incoming call makes (counted with MONITOR).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from benches.harness import PROJECT_ROOT, Settings, free_port, running_server, stop_process_group
from ivr.operations import web_server

LUA = r"""
local lines = {}
local i = 0
init = function(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do lines[#lines + 1] = line end
  f:close()
  i = math.random(#lines)
end
request = function()
  i = i % #lines + 1
  local sig, body = lines[i]:match("^([^\t]*)\t(.*)$")
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/x-www-form-urlencoded",
                                       ["X-Twilio-Signature"] = sig}, body)
end
"""


def signed_requests(url: str, token: str, count: int, new_calls: bool) -> list[str]:
    """``count`` lines "signature<TAB>form body" for POSTs to ``url``, each a new CallSid when ``new_calls``."""
    validator = RequestValidator(token)
    lines = []
    for n in range(count):
        params = {
            "AccountSid": "AC" + "1" * 32, "ApiVersion": "2010-04-01",
            "CallSid": f"CA{n:032x}" if new_calls else "CA" + "a" * 32, "CallStatus": "ringing",
            "Direction": "inbound", "From": "+12025550123", "To": "+12025550199",
            "Caller": "+12025550123", "Called": "+12025550199",
        }
        lines.append(f"{validator.compute_signature(url, params)}\t{urlencode(params)}")
    return lines


def run_wrk(url: str, requests_file: Path, script: Path, seconds: int, connections: int) -> float:
    """Requests/s wrk measured (non-2xx answers count as failures: none are expected)."""
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url, "--", str(requests_file)],
        capture_output=True, text=True, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error answers:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def round_trips(redis_url: str) -> int:
    """Round trips to Redis one new call's incoming webhook makes (an app in this process, same Redis):
    each request or pipeline sent counts once, whatever it holds."""
    from ivr import create_app

    token = "round-trips"
    app = create_app({"REDIS_URL": redis_url, "TWILIO_AUTH_TOKEN": token, "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    url = "http://localhost/voice/incoming"
    validator = RequestValidator(token)

    def post(call_sid: str) -> None:
        params = {"AccountSid": "AC" + "1" * 32, "CallSid": call_sid, "CallStatus": "ringing",
                  "From": "+12025550123", "To": "+12025550199"}
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        assert client.post("/voice/incoming", data=params, headers=headers).status_code == 200

    post("CA" + "e" * 32)  # warm: scripts loaded, flows read
    return commands_sent(lambda: post("CA" + "f" * 32))[0]


def commands_sent(action):
    """(Redis round trips ``action()`` made in this process, what it returned): each request or
    pipeline sent counts once, whatever it holds."""
    import redis.connection

    sent = 0
    real = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        nonlocal sent
        sent += 1
        return real(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting
    try:
        result = action()
    finally:
        redis.connection.AbstractConnection.send_packed_command = real
    return sent, result


@contextlib.contextmanager
def minimal_server(settings: Settings, token: str, folder: Path):
    """The do-nothing signed TwiML app under gunicorn run the same way as ours (ivr.operations.web_server)."""
    import os

    import requests

    port = free_port()
    log = open(folder / "minimal.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        web_server.gunicorn_command(f"127.0.0.1:{port}", settings.web_workers, app="benches.minimal_twiml_app:app")
        if settings.worker_class == web_server.WORKER_CLASS else
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(settings.web_workers),
         "--worker-class", settings.worker_class, "--threads", str(settings.threads), "benches.minimal_twiml_app:app"],
        env={**os.environ, "TWILIO_AUTH_TOKEN": token}, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.post(base + "/voice/incoming", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        yield base
    finally:
        stop_process_group(proc)
        log.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benches.webhook_bench --ratio", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=6, help="each measurement (default %(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds, medians reported (default %(default)s)")
    p.add_argument("--connections", type=int, default=10, help="wrk connections (default %(default)s)")
    p.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default %(default)s, as ivr serve)")
    p.add_argument("--worker-class", choices=[web_server.WORKER_CLASS, "gthread"], default=web_server.WORKER_CLASS,
                   help="gunicorn worker for both servers: as ivr serve (default %(default)s), or gthread to compare")
    p.add_argument("--threads", type=int, default=2, help="threads per process with --worker-class gthread")
    a = p.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    settings = Settings(calls=1, duration=1, think_min=0, think_max=0, web_workers=a.web_workers, threads=a.threads, worker_class=a.worker_class,
                        warmup_calls=0, timeout=10, seed=None, json=False, server_timing=False, client="requests")
    with tempfile.TemporaryDirectory(prefix="webhook-cost-") as tmp:
        folder = Path(tmp)
        script = folder / "signed.lua"
        script.write_text(LUA)
        with running_server(settings, folder) as server, minimal_server(settings, server.token, folder) as minimal:
            targets = {"baseline": (minimal, "/voice/incoming", True),
                       "fallback": (server.base_url, "/voice/fallback", False),
                       "incoming": (server.base_url, "/voice/incoming", True)}
            files = {}
            for name, (base, path, new_calls) in targets.items():
                url = base + path
                lines = signed_requests(url, server.token, 60_000 * (a.rounds + 1), new_calls)
                files[name] = []
                for r in range(a.rounds + 1):  # a fresh set of new calls per run (the first one warms up)
                    f = folder / f"{name}-{r}.txt"
                    f.write_text("\n".join(lines[r * 60_000:(r + 1) * 60_000]) + "\n")
                    files[name].append(f)
            for name, (base, path, _) in targets.items():
                run_wrk(base + path, files[name][0], script, 2, a.connections)
            # Alternating rounds, medians: the machine's other load hits every kind alike.
            runs: dict[str, list[float]] = {name: [] for name in targets}
            for r in range(1, a.rounds + 1):
                for name, (base, path, _) in targets.items():
                    runs[name].append(run_wrk(base + path, files[name][r], script, a.seconds, a.connections))
            results = {name: statistics.median(values) for name, values in runs.items()}
            ratios = [i / b for i, b in zip(runs["incoming"], runs["baseline"])]
            trips = round_trips(server.redis.url)
    ratio = results["incoming"] / results["baseline"]
    print(f"baseline  do-nothing signed TwiML app:                 {results['baseline']:8.0f} requests/s")
    print(f"fallback  our POST /voice/fallback (signed, static):   {results['fallback']:8.0f} requests/s")
    print(f"incoming  our POST /voice/incoming (a new call each):  {results['incoming']:8.0f} requests/s")
    print(f"ratio     incoming / baseline: {ratio:.2f}  (target >= 0.50: {'PASS' if ratio >= 0.5 else 'MISS'}); "
          f"per round: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"redis     round trips per new call: {trips}")
    print(f"setup     {a.connections} connections, {a.web_workers} gunicorn {a.worker_class} workers, "
          f"{a.rounds} alternating rounds of {a.seconds} s (medians), wrk and servers on the same machine")
    return 0

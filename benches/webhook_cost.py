"""What a call's first webhook costs, against a do-nothing signed TwiML answer on the same server.

    .venv/bin/python -m benches.webhook_bench --ratio [--seconds 10] [--connections 10]

Embedded Redis (append-only, as in production) and gunicorn as `ivr serve` runs them
(benches.webhook_bench.running_server). wrk (Debian package ``wrk``) sends, over
``--connections`` keep-alive connections, requests signed in advance exactly as Twilio
signs them:

* ``incoming``: POST /voice/incoming, each with a new CallSid (a new call: the
  emergency switch read, the flow started, the call state written);
* ``baseline``: POST /voice/fallback, the same signature check and a static TwiML
  answer, nothing else (no Redis, no flow): what any signed TwiML app must do.

It prints requests/s for each and the ratio incoming / baseline (the issue's target: at
least 0.5), and the Redis round trips one incoming call makes (counted with MONITOR).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Sequence
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from benches.webhook_bench import Settings, running_server

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


def round_trips(server, url: str, token: str) -> int:
    """Redis commands one new call's incoming webhook sends (a Lua script is one; its inner commands are not)."""
    import requests

    seen: list[dict] = []
    conn = server.redis.client(socket_timeout=5)
    ready, done = threading.Event(), threading.Event()

    def watch() -> None:
        with conn.monitor() as m:
            ready.set()
            while not done.is_set():
                try:
                    seen.append(m.next_command())
                except Exception:  # noqa: BLE001 - the server stopping ends the watch
                    return

    threading.Thread(target=watch, daemon=True).start()
    ready.wait(5)
    time.sleep(0.2)
    params = {"AccountSid": "AC" + "1" * 32, "CallSid": "CA" + "f" * 32, "CallStatus": "ringing",
              "From": "+12025550123", "To": "+12025550199"}
    signature = RequestValidator(token).compute_signature(url, params)
    requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=5)
    time.sleep(0.5)
    done.set()
    mine = [e for e in seen if e.get("client_type") != "lua"]
    if os.environ.get("BENCH_SHOW_COMMANDS"):
        print("\n".join(e["command"][:100] for e in mine), file=sys.stderr)
    return len(mine)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benches.webhook_bench --ratio", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=10, help="each measurement (default %(default)s)")
    p.add_argument("--connections", type=int, default=10, help="wrk connections (default %(default)s)")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (default: one per core here)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    settings = Settings(calls=1, duration=1, think_min=0, think_max=0, web_workers=a.web_workers, threads=a.threads,
                        warmup_calls=0, timeout=10, seed=None, json=False, server_timing=False, client="requests")
    with tempfile.TemporaryDirectory(prefix="webhook-cost-") as tmp:
        folder = Path(tmp)
        script = folder / "signed.lua"
        script.write_text(LUA)
        with running_server(settings, folder) as server:
            results = {}
            for name, path, new_calls in (("baseline", "/voice/fallback", False), ("incoming", "/voice/incoming", True)):
                url = server.base_url + path
                lines = folder / f"{name}.txt"
                lines.write_text("\n".join(signed_requests(url, server.token, 60_000, new_calls)) + "\n")
                run_wrk(url, lines, script, 2, a.connections)  # warm-up (new CallSids are not reused after it
                lines.write_text("\n".join(signed_requests(url, server.token, 200_000, new_calls)[60_000:]) + "\n")
                results[name] = run_wrk(url, lines, script, a.seconds, a.connections)
            trips = round_trips(server, server.base_url + "/voice/incoming", server.token)
    ratio = results["incoming"] / results["baseline"]
    print(f"baseline  POST /voice/fallback (signed, static TwiML): {results['baseline']:8.0f} requests/s")
    print(f"incoming  POST /voice/incoming (a new call each):      {results['incoming']:8.0f} requests/s")
    print(f"ratio     incoming / baseline: {ratio:.2f}  (target >= 0.50: {'PASS' if ratio >= 0.5 else 'MISS'})")
    print(f"redis     round trips per new call: {trips}")
    print(f"setup     {a.connections} connections, {a.web_workers} gunicorn workers x {a.threads} threads, "
          f"{a.seconds} s each, wrk and server on the same machine")
    return 0

"""Idle memory of `ivr serve`: every process it runs, at rest, resident set (RSS) and proportional set (PSS).

What runs
    `ivr serve` as `scripts/run` starts it (embedded Redis, 4 web processes, an RQ worker with its
    scheduler, a speech worker with the clinic's speech models loaded), in a temporary data folder
    with the shipped config/ and prompts/. Once /healthz counts a speech worker (its models are
    loaded before it registers) and ``--settle`` seconds have passed, every process in the tree is
    read from /proc/PID/smaps_rollup.

How to read it
    RSS counts every page a process maps, so pages forked processes share (copy-on-write: the web
    processes forked from gunicorn's master, a scheduler forked from its worker) are counted once
    per process; PSS divides each shared page among the processes sharing it, so the PSS total is
    what the tree really takes. The goal (issue 33) is <= 800 MB in total, stated as PSS.

Run from the project root:  .venv/bin/python -m benches.idle_memory [--settle 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import requests

from benches.harness import PROJECT_ROOT, child_pids, free_port

GOAL_MB = 800


def tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(child_pids(pid))
    return found


def memory_kb(pid: int) -> dict[str, int]:
    """Rss and Pss of one process in kB (smaps_rollup), empty if it is gone."""
    figures = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    figures[key.lower()] = int(rest.split()[0])
    except OSError:
        return {}
    return figures


def role(pid: int) -> str:
    """What a process is, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    line = " ".join(a.decode(errors="replace") for a in argv if a)
    if "redis-server" in line:
        return "redis"
    if "gunicorn" in line:
        return "web"
    if "worker --speech" in line:
        return "speech worker"
    if "ivr.cli worker" in line or " worker" in line and "ivr" in line:
        return "worker"
    if "ivr" in line and "serve" in line:
        return "ivr serve (supervisor)"
    return line[:60]


def measure(settle: float, timeout: float = 180.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ivr-memory-") as tmp:
        folder = Path(tmp)
        for name in ("config", "prompts"):
            shutil.copytree(PROJECT_ROOT / name, folder / name)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "REDIS_URL", "TWILIO_"))}
        env.update(IVR_DATA_DIR=str(folder / "data"), IVR_CONFIG_DIR=str(folder / "config"),
                   IVR_PROMPTS_DIR=str(folder / "prompts"), IVR_LOG_LEVEL="WARNING")
        # The speech weights joined once into the data folder would be copied per run: share the project's.
        models = PROJECT_ROOT / "var" / "models"
        if models.is_dir():
            (folder / "data").mkdir(mode=0o700)
            os.symlink(models, folder / "data" / "models")
        log = open(folder / "serve.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "ivr.cli", "serve", "--port", str(port)], cwd=PROJECT_ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"ivr serve exited ({proc.returncode}):\n{(folder / 'serve.log').read_text()[-3000:]}")
                try:
                    health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                    if health.get("speech_workers"):
                        break
                except (requests.RequestException, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"no speech worker within {timeout:.0f} s:\n{(folder / 'serve.log').read_text()[-3000:]}")
                time.sleep(0.5)
            time.sleep(settle)
            rows = []
            for pid in tree(proc.pid):
                mem = memory_kb(pid)
                if mem:
                    rows.append({"pid": pid, "role": role(pid), "rss_mb": round(mem["rss"] / 1024, 1),
                                 "pss_mb": round(mem["pss"] / 1024, 1)})
        finally:
            with_group = os.getpgid(proc.pid) if proc.poll() is None else None
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                if with_group:
                    os.killpg(with_group, signal.SIGKILL)
            log.close()
    return {
        "processes": sorted(rows, key=lambda r: (r["role"], r["pid"])),
        "total_rss_mb": round(sum(r["rss_mb"] for r in rows), 1),
        "total_pss_mb": round(sum(r["pss_mb"] for r in rows), 1),
        "goal_mb": GOAL_MB,
    }


def report(res: dict[str, Any]) -> str:
    lines = [f"{'process':<26} {'pid':>7} {'RSS MB':>8} {'PSS MB':>8}"]
    for r in res["processes"]:
        lines.append(f"{r['role']:<26} {r['pid']:>7} {r['rss_mb']:>8} {r['pss_mb']:>8}")
    verdict = "PASS" if res["total_pss_mb"] <= res["goal_mb"] else "FAIL"
    lines.append(f"{'total':<26} {'':>7} {res['total_rss_mb']:>8} {res['total_pss_mb']:>8}")
    lines.append(f"GOAL        idle total <= {res['goal_mb']} MB (PSS): {verdict} ({res['total_pss_mb']} MB; "
                 f"RSS, counting shared pages once per process: {res['total_rss_mb']} MB)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benches.idle_memory", description=__doc__.split("\n")[0])
    p.add_argument("--settle", type=float, default=10.0, help="seconds at rest before reading (default %(default)s)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = measure(args.settle)
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

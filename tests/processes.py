"""Helpers for tests that run the real commands in subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
IVR = [sys.executable, "-m", "ivr.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra: str) -> dict[str, str]:
    """The test process's environment without Twilio secrets, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "REDIS_URL", "IVR_"))}
    base.update(extra)
    return base


def run_ivr(*args: str, timeout: float = 60, input: str | None = None, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*IVR, *args], cwd=ROOT, env=env(**extra_env), input=input, capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (requests.RequestException, OSError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")

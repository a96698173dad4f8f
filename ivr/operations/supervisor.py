"""The `ivr serve` supervisor: starts the web server and workers, restarts any child that dies, forever.

The phones must never be stopped by a worker in trouble: a worker that exits at once (Redis refusing
writes, a full disk) is restarted with a backoff (1 s doubling to 30 s, back to 1 s once a child has run
a minute), and nothing else is stopped. Only SIGINT/SIGTERM stop everything. The embedded Redis is
restarted too when it dies. Children die with the supervisor even if it is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

FIRST_DELAY = 1.0  # seconds before the first restart of a child that died
MAX_DELAY = 30.0  # the longest wait between restarts
HEALTHY_AFTER = 60.0  # a child that ran this long starts again from FIRST_DELAY


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Backoff:
    """When a child that keeps dying may start again."""

    delay: float = FIRST_DELAY
    started: float = 0.0
    due: float = 0.0  # monotonic time of the next start (0: not waiting)
    restarts: int = field(default=0)

    def died(self, now: float) -> float:
        """Record a death at ``now``; returns the wait before the next start."""
        if now - self.started >= HEALTHY_AFTER:
            self.delay = FIRST_DELAY
        wait, self.delay = self.delay, min(self.delay * 2, MAX_DELAY)
        self.due = now + wait
        return wait


class Supervisor:
    """Runs ``commands`` (name -> argv) with ``env`` until told to stop."""

    def __init__(self, commands: dict[str, list[str]], env: dict[str, str], redis_server=None) -> None:
        self.commands = commands
        self.env = env
        self.redis_server = redis_server
        self.children: dict[str, subprocess.Popen] = {}
        self.backoff = {name: Backoff() for name in commands}
        self.stopping = False

    def _start(self, name: str) -> None:
        from ivr.operations.redis_server import die_with_parent

        self.backoff[name].started = time.monotonic()
        self.backoff[name].due = 0.0
        self.children[name] = subprocess.Popen(self.commands[name], env=self.env, preexec_fn=die_with_parent)

    def _check_redis(self) -> None:
        """Restart the embedded Redis if it died; its append-only file brings the data back."""
        server = self.redis_server
        if server is None or (server.process is not None and server.process.poll() is None):
            return
        from ivr.operations.redis_server import RedisStartError

        code = server.process.returncode if server.process is not None else "?"
        say(f"redis exited with {code}; restarting")
        try:
            server.start()
        except RedisStartError as exc:  # try again on the next tick
            say(f"redis did not restart yet: {exc}")

    def _stop(self, *_args) -> None:
        self.stopping = True

    def tick(self) -> None:
        """Restart what died, each child after its own backoff."""
        self._check_redis()
        now = time.monotonic()
        for name, proc in list(self.children.items()):
            if self.stopping or proc.poll() is None:
                continue
            backoff = self.backoff[name]
            if not backoff.due:
                wait = backoff.died(now)
                say(f"{name} exited with {proc.returncode}; restarting in {wait:.0f} s")
            elif now >= backoff.due:
                self._start(name)

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for name in self.commands:
            self._start(name)
        try:
            while not self.stopping:
                time.sleep(0.2)
                self.tick()
        finally:
            self.stop_all()

    def stop_all(self, timeout: float = 15.0) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

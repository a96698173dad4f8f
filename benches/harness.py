"""What the benchmarks share: a production server (embedded Redis + gunicorn as `ivr serve` runs it), CPU
accounting from /proc, and percentiles.

    with running_server(Settings(...), folder) as server:   # server.base_url, server.token, server.redis
        ...
    ms_stats([1.2, 3.4, ...])  ->  {"count", "p50_ms", "p90_ms", "p99_ms", "max_ms"}

The callers that drive the server through the phone menu are benches.webhook_bench's.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from ivr.operations import web_server
from ivr.operations.redis_server import EmbeddedRedis, RedisStartError


PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    calls: int
    duration: float
    think_min: float
    think_max: float
    web_workers: int
    threads: int
    warmup_calls: int
    timeout: float
    seed: int | None
    json: bool
    server_timing: bool = False
    client: str = "requests"
    worker_class: str = web_server.WORKER_CLASS  # or "gthread" (with ``threads``), to compare

    @property
    def saturation(self) -> bool:
        return self.think_max <= 0

    @property
    def ramp(self) -> float:
        """Seconds over which callers start, before the measured window opens."""
        return max(1.0, self.think_max)

    @property
    def longest_call(self) -> float:
        """Upper bound of one call's duration: 8 think pauses and 12 requests at their timeout."""
        return 8 * self.think_max + 12 * self.timeout


class StartError(RuntimeError):
    """Redis or gunicorn did not come up."""


@dataclass
class Server:
    base_url: str
    token: str
    process: subprocess.Popen
    redis: EmbeddedRedis
    log_path: Path
    health: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(redis_url: str, token: str, data_dir: Path) -> dict[str, str]:
    """The environment for gunicorn: ours, minus settings that would change what is measured.

    IVR_CONFIG_DIR and IVR_PROMPTS_DIR pass through, to benchmark other flows.
    """
    keep = {"IVR_CONFIG_DIR", "IVR_PROMPTS_DIR"}
    env = {k: v for k, v in os.environ.items() if not (k.startswith("IVR_") and k not in keep)}
    env.pop("GUNICORN_CMD_ARGS", None)
    env.update(
        REDIS_URL=redis_url,
        TWILIO_AUTH_TOKEN=token,
        IVR_DATA_DIR=str(data_dir),
        IVR_LOG_LEVEL="WARNING",
    )
    return env


# With --server-timing gunicorn logs, per request, the kind and window flag the
# benchmark sends in its own headers (not signed, ignored by the app), the
# status and the time the worker spent on it (%(D)s, microseconds).
ACCESS_LOG_FORMAT = "%({x-bench-kind}i)s|%({x-bench-window}i)s|%(s)s|%(D)s"


def gunicorn_command(settings: Settings, port: int, access_log: Path) -> list[str]:
    """gunicorn as `ivr serve` runs it (ivr.operations.web_server), or with the threaded worker (--worker-class gthread)."""
    extra = ["--access-logfile", str(access_log), "--access-logformat", ACCESS_LOG_FORMAT] if settings.server_timing else []
    if settings.worker_class == web_server.WORKER_CLASS:
        return web_server.gunicorn_command(f"127.0.0.1:{port}", settings.web_workers, graceful_seconds=5, extra=extra)
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(settings.web_workers),
        "--worker-class", settings.worker_class, "--threads", str(settings.threads),
        "--graceful-timeout", "5",
        *extra,
        "ivr:create_app()",
    ]


def stop_process_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process (gunicorn's master stops its workers), then SIGKILL its group if needed.

    The process was started in a session of its own, so its group holds only
    the processes this benchmark started.
    """
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_healthy(base_url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> dict[str, Any]:
    """Poll GET /healthz until it answers 200 with Redis up and a flow loaded ("degraded" is fine: no RQ worker)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with requests.Session() as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StartError(f"gunicorn exited with {proc.returncode}:\n{log_tail(log_path)}")
            try:
                answer = client.get(base_url + "/healthz", timeout=1.0)
                if answer.status_code == 200:
                    body = answer.json()
                    if body.get("redis") == "ok" and body.get("flows"):
                        return body
                last = f"HTTP {answer.status_code}: {answer.text[:200]}"
            except (OSError, requests.RequestException, ValueError) as exc:
                last = type(exc).__name__
            time.sleep(0.1)
    raise StartError(f"gunicorn did not become healthy within {timeout:.0f}s ({last}):\n{log_tail(log_path)}")


def wait_workers(proc: subprocess.Popen, count: int, timeout: float = 30.0) -> None:
    """Wait until gunicorn's master has ``count`` worker processes (Linux /proc; skipped elsewhere)."""
    if not Path("/proc").is_dir():
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(child_pids(proc.pid)) < count:
        time.sleep(0.1)


@contextlib.contextmanager
def running_server(settings: Settings, folder: Path) -> Iterator[Server]:
    """Embedded Redis + gunicorn for the time of the ``with`` block; both stopped however it ends."""
    redis_server = EmbeddedRedis(folder / "redis", appendonly=True)
    proc: subprocess.Popen | None = None
    try:
        try:
            redis_server.start()
        except (RedisStartError, OSError) as exc:
            raise StartError(f"Redis did not start: {exc}") from exc
        port = free_port()
        token = secrets.token_hex(16)
        log_path = folder / "gunicorn.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                gunicorn_command(settings, port, folder / "access.log"),
                env=server_env(redis_server.url, token, folder / "data"),
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base_url = f"http://127.0.0.1:{port}"
        health = wait_healthy(base_url, proc, log_path)
        wait_workers(proc, settings.web_workers)
        yield Server(base_url, token, proc, redis_server, log_path, health)
    finally:
        if proc is not None:
            stop_process_group(proc)
        redis_server.stop()


def redis_version(server: Server) -> str:
    try:
        return str(server.redis.client(socket_timeout=2).info("server").get("redis_version", "?"))
    except Exception:  # noqa: BLE001 - informational only
        return "?"


def server_timings(path: Path) -> dict[str, list[float]]:
    """Milliseconds gunicorn spent per request, by kind, for requests sent inside the measured window."""
    by_kind: dict[str, list[float]] = {}
    for line in log_tail(path, 1_000_000_000).splitlines():
        parts = line.rsplit("|", 3)
        if len(parts) == 4 and parts[1] == "1" and parts[3].isdigit():
            by_kind.setdefault(parts[0], []).append(int(parts[3]) / 1000)
    return by_kind


def server_log_summary(path: Path, limit: int = 5) -> tuple[int, list[str]]:
    """Warning/error lines gunicorn and the app wrote (startup INFO lines are not counted)."""
    markers = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback", "[ERROR]", "[CRITICAL]", "WORKER TIMEOUT")
    lines = [line for line in log_tail(path, 10_000_000).splitlines() if any(m in line for m in markers)]
    return len(lines), list(dict.fromkeys(lines))[:limit]


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()  # fields from "state" on


def child_pids(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_stat_fields(int(entry))[1]) == parent:
                    pids.append(int(entry))
    return pids


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = _stat_fields(pid)
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all CPUs."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    total = sum(ticks[:8])
    hz = os.sysconf("SC_CLK_TCK")
    return (total - idle) / hz, total / hz


@dataclass(frozen=True)
class CpuSnapshot:
    server: float
    redis: float
    client: float
    machine_busy: float
    machine_total: float


def cpu_snapshot(server: Server) -> CpuSnapshot | None:
    if not Path("/proc/stat").exists():
        return None
    master = server.process.pid
    web = process_cpu(master) + sum(process_cpu(pid) for pid in child_pids(master))
    redis_pid = server.redis.process.pid if server.redis.process else 0
    busy, total = machine_cpu()
    return CpuSnapshot(web, process_cpu(redis_pid) if redis_pid else 0.0, time.process_time(), busy, total)


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None if empty)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def ms_stats(values: list[float]) -> dict[str, Any]:
    ms = sorted(values)

    def pct(p: float) -> float | None:
        value = percentile(ms, p)
        return None if value is None else round(value, 2)

    return {"count": len(ms), "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": pct(100)}


def cpu_figures(before: CpuSnapshot | None, after: CpuSnapshot | None, seconds: float) -> dict[str, float] | None:
    """CPU used in the window, in cores (1.0 = one CPU busy all the time)."""
    if before is None or after is None or seconds <= 0:
        return None
    total = after.machine_total - before.machine_total
    ours = {
        "gunicorn_cores": (after.server - before.server) / seconds,
        "redis_cores": (after.redis - before.redis) / seconds,
        "load_generator_cores": (after.client - before.client) / seconds,
    }
    busy = (after.machine_busy - before.machine_busy) / seconds
    return {
        **{k: round(v, 3) for k, v in ours.items()},
        "other_cores": round(max(0.0, busy - sum(ours.values())), 3),
        "machine_busy_pct": round(100 * (after.machine_busy - before.machine_busy) / total, 1) if total > 0 else 0.0,
    }


def background_load(seconds: float = 1.0) -> float | None:
    """CPU cores busy on this machine before the benchmark starts anything (other people's work)."""
    if not Path("/proc/stat").exists():
        return None
    busy0, _ = machine_cpu()
    time.sleep(seconds)
    busy1, _ = machine_cpu()
    return round((busy1 - busy0) / seconds, 2)


def machine_info() -> dict[str, Any]:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": nproc,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }

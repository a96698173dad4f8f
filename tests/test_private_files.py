"""Patient data on disk: the embedded Redis files, keys and recordings are this user's only, whatever the umask."""

from __future__ import annotations

import os
import stat
import time

import redis

from ivr.protection.private_files import make_private, private_folder
from ivr.operations.redis_server import EmbeddedRedis



def modes(root) -> dict[str, int]:
    out = {}
    for folder, _dirs, files in os.walk(root):
        out[folder] = stat.S_IMODE(os.lstat(folder).st_mode)
        for name in files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                out[path] = stat.S_IMODE(info.st_mode)
    return out


def test_the_embedded_redis_files_are_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0o022)  # a shell's usual umask: new files 0644, folders 0755
    try:
        server = EmbeddedRedis(tmp_path / "data" / "redis").start()
        try:
            client = redis.Redis(unix_socket_path=str(server.socket))
            client.hset("ivr:fu:appt:x", mapping={"name": "Ana Ruiz", "phone": "+12025550123"})
            client.save()
            client.bgrewriteaof()
            time.sleep(0.5)
            found = modes(server.folder)
        finally:
            server.stop()
    finally:
        os.umask(old)
    assert any(p.endswith("dump.rdb") for p in found) and any(".aof" in p for p in found), found
    for path, mode in found.items():
        expected = 0o700 if os.path.isdir(path) else 0o600
        assert mode == expected, f"{path} is {oct(mode)}"


def test_an_older_install_is_made_private_and_new_secrets_are_private(tmp_path):
    data = tmp_path / "var"
    (data / "recordings").mkdir(parents=True)
    os.chmod(data, 0o755)  # as a shell's umask would have made them (this process's umask may be 077 now)
    os.chmod(data / "recordings", 0o755)
    (data / "recordings" / "RE1.sealed").write_bytes(b"x")
    os.chmod(data / "recordings" / "RE1.sealed", 0o644)
    assert make_private(data) == 3
    assert set(modes(data).values()) == {0o700, 0o600}
    assert make_private(data) == 0
    assert stat.S_IMODE(private_folder(tmp_path / "new" / "folder").stat().st_mode) == 0o700


def test_every_ivr_command_runs_with_a_private_umask(tmp_path):
    """`ivr serve`, `ivr worker` and the rest start by making new files private (Redis, recordings, keys)."""
    import subprocess
    import sys

    code = ("import os; os.umask(0o022); from ivr.cli import main; "
            "main(['data-key'], standalone_mode=False); print(oct(os.umask(0)))")
    made = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1] == "0o77"

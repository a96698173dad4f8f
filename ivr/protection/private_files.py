"""Patient data on disk is for this install's user only: folders 0700, files 0600, whatever the umask.

What is encrypted and what is not (README "Data at rest"): recordings and transcripts are sealed
with the data key (ivr.protection.sealing); the Redis files (names, phone numbers, appointment times, the
callback queue) are protected by these permissions alone, so the disk itself should be encrypted.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def restrict_umask() -> None:
    """Every file this process (and its children: Redis, workers) creates is private from now on."""
    os.umask(PRIVATE_UMASK)


def private_folder(path: str | Path) -> Path:
    """``path`` (made if missing) with mode 0700."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def make_private(root: str | Path) -> int:
    """Folders under ``root`` 0700, files 0600 (an install from before, or copied in); returns how many changed."""
    changed = 0
    for folder, dirs, files in os.walk(root):
        for name, mode in [(folder, 0o700)] + [(os.path.join(folder, f), 0o600) for f in files]:
            try:
                info = os.lstat(name)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) == mode:
                continue
            if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
                os.chmod(name, mode)
                changed += 1
    return changed

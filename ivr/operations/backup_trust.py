"""What a restore checks before it trusts a backup folder (``ivr.operations.restore``).

Signature
    The manifest (which holds the sha256 of the dump and of every file) is signed
    with HMAC-SHA256 under a key derived with HKDF-SHA256 from the install's data
    key (the first key of IVR_DATA_KEY, or DATA_DIR/data-key), ``info`` naming its
    use. Whoever can edit the backup folder does not have that key (a backup holds
    it only with ``--include-key``, and a key found in the backup is never used to
    check the backup); a clinic restoring on a new machine does (IVR_DATA_KEY from
    its secret store, as its recordings need). A key rotated with ``new,old``
    still checks backups signed with the old one.

Paths
    Every manifest path is ``recordings/…``, ``config/…``, ``prompts/…`` or the key
    file, with no empty part, ``.`` or ``..``; in the backup it is a regular file
    reached through no symbolic link, and where it is copied to no part under the
    target folder is a symbolic link. A path that breaks this is refused, even
    with ``--force``.

Preview
    The backup's users, callbacks, voicemails, appointments and the key ids of
    sealed text in Redis are read from the dump itself (each hash RESTOREd under a
    temporary name, read and deleted), so the summary shows what would really be
    restored, not what the manifest says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import redis
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SIGNATURE = "signature"
_INFO = b"ivr backup manifest signature v1"
TOP_FOLDERS = ("recordings", "config", "prompts")
KEY_FILES = ("data-key", "data-key.env")
RESTORED_PREFIXES = (b"ivr:", b"rq:")


class UntrustedBackup(RuntimeError):
    """A backup that cannot be restored whatever the operator says (a path outside its folder, a foreign key)."""


def _key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).digest()[:4].hex()


def signing_key(raw_data_key: bytes) -> bytes:
    """The backup signing key derived from one data key (32 raw bytes)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(raw_data_key)


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != SIGNATURE}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(manifest: dict, raw_data_key: bytes) -> dict:
    """The manifest with its signature under ``raw_data_key``."""
    mac = hmac.new(signing_key(raw_data_key), _canonical(manifest), hashlib.sha256).hexdigest()
    return {**manifest, SIGNATURE: {"alg": "HMAC-SHA256/HKDF-SHA256", "key_id": _key_id(raw_data_key), "mac": mac}}


def signature_problem(manifest: dict, raw_keys: Iterable[bytes]) -> str | None:
    """None when one of this install's data keys signed ``manifest``, else why not (for the operator)."""
    sig = manifest.get(SIGNATURE)
    if not isinstance(sig, dict) or not isinstance(sig.get("mac"), str):
        return "the manifest is not signed (made by an older version, or its signature was removed)"
    keys = {_key_id(k): k for k in raw_keys}
    key = keys.get(str(sig.get("key_id")))
    if key is None:
        return (f"the manifest is signed with data key id {sig.get('key_id')}, which this install does not have "
                f"({', '.join(keys) or 'no data key'}): set IVR_DATA_KEY to include it")
    good = hmac.new(signing_key(key), _canonical(manifest), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(good, sig["mac"]):
        return "the manifest's signature does not match: the backup was changed after it was made"
    return None


# Paths -----------------------------------------------------------------------------------------


def _parts(rel: object) -> list[str]:
    if not isinstance(rel, str):
        raise UntrustedBackup(f"manifest path {rel!r} is not text")
    parts = rel.split("/")
    if rel in KEY_FILES:
        return parts
    if (len(parts) < 2 or parts[0] not in TOP_FOLDERS
            or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts)):
        raise UntrustedBackup(f"manifest path {rel!r} is outside its folder (absolute, '..', empty part or unknown "
                              f"folder): refused")
    return parts


def regular_inside(root: Path, parts: list[str], what: str) -> Path:
    """``root/parts…``, each part not a symbolic link, the last a regular file."""
    path = root
    for part in parts:
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise UntrustedBackup(f"{what} is missing") from None
        if stat.S_ISLNK(st.st_mode):
            raise UntrustedBackup(f"{what} is a symbolic link (or under one): refused")
    if not stat.S_ISREG(st.st_mode):
        raise UntrustedBackup(f"{what} is not a regular file: refused")
    return path


def checked_files(src: Path, files: object) -> dict[str, Path]:
    """The manifest's files as paths inside ``src``; UntrustedBackup for any path that leaves it."""
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise UntrustedBackup("the manifest's file list is malformed")
    return {rel: regular_inside(src, _parts(rel), f"{rel} in the backup") for rel in files}


def confined_target(root: Path, rel_tail: str) -> Path:
    """Where ``rel_tail`` (already checked) goes under ``root``: no existing part of it is a symbolic link."""
    path = root
    for part in rel_tail.split("/"):
        path = path / part
        if path.is_symlink():
            raise UntrustedBackup(f"{path} is a symbolic link: refused (nothing is written through links)")
    return path


# Preview ---------------------------------------------------------------------------------------

USER_PREFIX = b"ivr:staff:user:"
_COUNTED = {"callbacks": b"ivr:callback:", "voicemails": b"ivr:voicemail:", "appointments": b"ivr:fu:appt:"}
_SEALED_IN = (b"ivr:callback:", b"ivr:voicemail:", b"ivr:staff:draft:")


@dataclass
class Preview:
    """What the backup's Redis data holds, read from the dump."""

    users: dict[str, str] = field(default_factory=dict)  # name -> role
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTED, 0))
    sealed_with: set[str] = field(default_factory=set)  # key ids of sealed text in Redis


def _token_key_id(value: bytes) -> str | None:
    if not value.startswith(b"s1:"):
        return None
    try:
        head = base64.urlsafe_b64decode(value[3:15])  # 12 characters: the first 9 bytes
    except (binascii.Error, ValueError):
        return None
    return head[4:8].hex() if head.startswith(b"IVR1") else None


def _interesting(name: bytes) -> bool:
    return name.startswith(USER_PREFIX) or name.startswith(tuple(_COUNTED.values()) + _SEALED_IN)


def preview(conn: redis.Redis, records: Iterable[tuple[bytes, int, bytes]], batch: int = 500) -> Preview:
    """Read the backup's hashes of interest by RESTOREing each under a temporary name (60 s TTL), then deleting it."""
    out = Preview()
    tag = secrets.token_hex(8)
    chunk: list[bytes] = []

    def flush() -> None:
        pipe = conn.pipeline(transaction=False)
        temps = [f"ivr-restore-preview:{tag}:{i}" for i in range(len(chunk))]
        for temp, (_name, value) in zip(temps, chunk):
            pipe.restore(temp, 60_000, value, replace=True)
            pipe.hgetall(temp)
            pipe.unlink(temp)
        replies = pipe.execute(raise_on_error=False)
        for i, (name, _value) in enumerate(chunk):
            fields = replies[3 * i + 1]
            if isinstance(fields, dict) and fields:
                _note(out, name, fields)
        chunk.clear()

    for name, _expire_at, value in records:
        if _interesting(name):
            chunk.append((name, value))
            if len(chunk) >= batch:
                flush()
    if chunk:
        flush()
    return out


def _note(out: Preview, name: bytes, fields: dict[bytes, bytes]) -> None:
    if name.startswith(USER_PREFIX):
        out.users[name[len(USER_PREFIX):].decode(errors="replace")] = fields.get(b"role", b"").decode(errors="replace")
    for label, prefix in _COUNTED.items():
        if name.startswith(prefix):
            out.counts[label] += 1
    for value in fields.values():
        kid = _token_key_id(value)
        if kid:
            out.sealed_with.add(kid)

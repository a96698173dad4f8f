"""``ivr backup DEST`` and ``ivr restore SRC``: the clinic's data in one folder, and back.

What a backup holds (folder DEST, 0700; every file 0600)
    manifest.json   when, from which Redis (version; the URL without password),
                    how many keys, sha256 of every file, the data key's id(s) and
                    those that sealed the recordings and the sealed text in
                    Redis; signed (below)
    redis.dump      every ``ivr:*`` and ``rq:*`` key (callbacks, voicemail
                    records, users, sessions, audit log, follow-ups, flow
                    versions, RQ jobs and schedules), each as Redis's own
                    DUMP payload with its absolute expiry. RQ's worker and
                    scheduler registrations are left out (they describe
                    processes, not data). DUMP/RESTORE work with any Redis
                    (managed ones too, where BGSAVE, CONFIG and the RDB file are
                    out of reach); RESTORE needs a Redis at least as new as the
                    one dumped (the manifest names it).
    recordings/     the sealed voicemail audio from DATA_DIR/recordings, as is
                    (still encrypted: a copy of it opens nothing without the key)
    recordings/bucket/  with a recordings bucket (ivr.recordings.object_store): its objects,
                    by key, as sealed as they are there; a restore uploads them
                    to the configured bucket (and refuses, before changing
                    anything, when none is configured)
    config/, prompts/  the clinic's settings, flows and prompt texts/recordings
    data-key or data-key.env  only with ``--include-key``

    Consistency: the keys are listed with SCAN, then read with DUMP and PTTL
    inside MULTI/EXEC, ``SNAPSHOT_BATCH`` keys per transaction: a clinic's data
    up to that many keys is one instant (a callback's hash and its place in the
    queue agree); a key made after the listing began is not included. The
    recordings are copied after Redis, so every recording Redis points to is
    there (a file is written before its voicemail record points to it).
    The backup is written to a hidden folder beside DEST and renamed at the
    end: a DEST that exists is complete.

The data key is not in a backup unless ``--include-key``
    Recordings and transcripts are sealed with IVR_DATA_KEY so that a copy of
    the data, a backup above all, opens nothing by itself. A backup that holds
    its key is as open as the plain data: keep the key in a secret store
    (a password manager, the cloud's secret manager) and back that up there.
    The manifest records the key's id (4 bytes of its SHA-256), so a restore
    can tell before it starts whether this install's key opens the recordings.

Signed manifest
    The manifest is signed (HMAC-SHA256, key derived from the data key with HKDF:
    ``ivr.operations.backup_trust``), so a backup edited after it was made (a DUMP record
    added, a file swapped, its checksum fixed) is told apart from the clinic's own.

Restore
    ``ivr restore`` is ivr.operations.restore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import redis

from ivr.operations import backup_trust as trust
from ivr.recordings.object_store import ObjectStore, ObjectStoreError

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "redis.dump"
RECORDINGS = "recordings"
BUCKET = "bucket"  # recordings/bucket/<key>: the recordings bucket's objects
KEY_FILE = "data-key"
KEY_ENV_FILE = "data-key.env"
MAGIC = b"IVR-BACKUP-1\n"
PATTERNS = ("ivr:*", "rq:*")


# Processes, not data: RQ's registrations of running workers and schedulers, and their locks.
SKIP_PREFIXES = ("rq:worker:", "rq:workers", "rq:scheduler", "rq:clean_registries:")
SNAPSHOT_BATCH = 20_000


_RECORD = struct.Struct(">IqI")  # name length, absolute expiry in ms (0: none), value length


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why (never patient data)."""


@dataclass
class Summary:
    keys: int = 0
    redis_bytes: int = 0
    recordings: int = 0
    recording_bytes: int = 0
    skipped_expired: int = 0
    deleted: int = 0
    paths_rewritten: int = 0
    notes: list[str] = field(default_factory=list)


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def _open_private(path: Path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def copy_private(src: Path, dst: Path) -> str:
    """Copy a file with mode 0600 (folders 0700), through a temporary name; returns its sha256."""
    private_dir(dst.parent)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    with open(src, "rb") as fin, _open_private(tmp) as fout:
        for chunk in iter(lambda: fin.read(1 << 20), b""):
            h.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    return h.hexdigest()


def _files(root: Path) -> Iterator[Path]:
    """Regular files under ``root``, sorted, skipping temporary ones (".name")."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                yield path


def redacted_url(url: str) -> str:
    """REDIS_URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def raw_keys(data_key: str, data_dir: Path) -> list[bytes]:
    """This install's data keys (the sealing one first), without making a key file."""
    from ivr.protection.sealing import _decode_key

    if data_key.strip():
        return [_decode_key(part) for part in data_key.split(",") if part.strip()]
    path = data_dir / "data-key"
    return [bytes.fromhex(path.read_text().strip())] if path.exists() else []


def key_ids(data_key: str, data_dir: Path) -> list[str]:
    """Ids (first 4 bytes of SHA-256, hex) of this install's data keys, without making a key file."""
    return [hashlib.sha256(k).digest()[:4].hex() for k in raw_keys(data_key, data_dir)]


def _sealed_key_id(path: Path) -> str | None:
    from ivr.protection.sealing import MAGIC as SEALED

    with open(path, "rb") as fh:
        head = fh.read(8)
    return head[4:8].hex() if head.startswith(SEALED) and len(head) == 8 else None


def _wanted(name: bytes) -> bool:
    text = name.decode(errors="replace")
    return not text.startswith(SKIP_PREFIXES)


def scan_keys(conn: redis.Redis) -> list[bytes]:
    names: set[bytes] = set()
    for pattern in PATTERNS:
        names.update(n for n in conn.scan_iter(match=pattern, count=1000) if _wanted(n))
    return sorted(names)


def backup(
    conn: redis.Redis,
    dest: Path,
    *,
    redis_url: str,
    data_dir: Path,
    config_dir: Path | None,
    prompts_dir: Path | None,
    data_key: str,
    include_key: bool = False,
    batch: int = SNAPSHOT_BATCH,
    objects: ObjectStore | None = None,
) -> Summary:
    """Write a backup folder ``dest`` (must not exist), with the recordings bucket's objects when ``objects``
    is given. Raises BackupError."""
    dest = Path(dest)
    if dest.exists():
        raise BackupError(f"{dest} exists: give a new folder name (backups are never written over)")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} is not a folder")
    work = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    private_dir(work)
    summary = Summary()
    try:
        manifest = _write_backup(conn, work, summary, redis_url, Path(data_dir), config_dir, prompts_dir,
                                 data_key, include_key, batch, objects)
        signers = raw_keys(data_key, Path(data_dir))
        if signers:
            manifest = trust.sign(manifest, signers[0])
        else:
            summary.notes.append("this install has no data key, so the manifest is not signed: restoring it will "
                                 "need --force")
        with _open_private(work / MANIFEST) as fh:
            fh.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
        os.rename(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return summary


def _write_backup(conn, work: Path, summary: Summary, redis_url: str, data_dir: Path, config_dir, prompts_dir,
                  data_key: str, include_key: bool, batch: int, objects: ObjectStore | None = None) -> dict:
    started = time.time()
    info = conn.info("server")
    names = scan_keys(conn)
    h = hashlib.sha256()
    prefixes: dict[str, int] = {}
    with _open_private(work / DUMP) as out:
        out.write(MAGIC)
        h.update(MAGIC)
        for start in range(0, len(names), batch):
            chunk = names[start:start + batch]
            pipe = conn.pipeline(transaction=True)  # MULTI/EXEC: these keys as of one instant
            pipe.time()
            for name in chunk:
                pipe.dump(name)
                pipe.pttl(name)
            replies = pipe.execute()
            secs, micros = replies[0]
            now_ms = int(secs) * 1000 + int(micros) // 1000
            for i, name in enumerate(chunk):
                value, pttl = replies[1 + 2 * i], replies[2 + 2 * i]
                if value is None:  # gone since the listing (expired, deleted)
                    continue
                expire_at = now_ms + int(pttl) if pttl is not None and int(pttl) > 0 else 0
                record = _RECORD.pack(len(name), expire_at, len(value)) + name + value
                out.write(record)
                h.update(record)
                summary.keys += 1
                summary.redis_bytes += len(value)
                prefix = ":".join(name.decode(errors="replace").split(":")[:2])
                prefixes[prefix] = prefixes.get(prefix, 0) + 1
        out.flush()
        os.fsync(out.fileno())

    recordings_root = (data_dir / RECORDINGS).resolve()
    files: dict[str, str] = {}
    sealed_ids: set[str] = set()
    for path in _files(recordings_root):
        rel = path.relative_to(recordings_root).as_posix()
        files[f"{RECORDINGS}/{rel}"] = copy_private(path, work / RECORDINGS / rel)
        kid = _sealed_key_id(path)
        if kid:
            sealed_ids.add(kid)
        summary.recordings += 1
        summary.recording_bytes += path.stat().st_size
    private_dir(work / RECORDINGS)
    if objects is not None:
        try:
            for obj in objects.objects():
                target = trust.confined_target(work / RECORDINGS / BUCKET, obj.key)
                private_dir(target.parent)
                with _open_private(target) as fh:
                    fh.write(objects.get(obj.key))
                files[f"{RECORDINGS}/{BUCKET}/{obj.key}"] = sha256_of(target)
                kid = _sealed_key_id(target)
                if kid:
                    sealed_ids.add(kid)
                summary.recordings += 1
                summary.recording_bytes += obj.size
        except ObjectStoreError as exc:
            raise BackupError(f"the recordings bucket: {exc}") from None
    for label, folder in (("config", config_dir), ("prompts", prompts_dir)):
        if folder and Path(folder).is_dir():
            for path in _files(Path(folder)):
                rel = path.relative_to(folder).as_posix()
                files[f"{label}/{rel}"] = copy_private(path, work / label / rel)

    current_ids = key_ids(data_key, data_dir)
    in_redis = trust.preview(conn, dump_records(work / DUMP)).sealed_with
    key_info = {"source": "IVR_DATA_KEY" if data_key.strip() else ("file" if current_ids else "none"),
                "key_ids": current_ids, "recordings_sealed_with": sorted(sealed_ids),
                "redis_sealed_with": sorted(in_redis), "included": False}
    if include_key:
        if data_key.strip():
            with _open_private(work / KEY_ENV_FILE) as fh:
                fh.write(f"IVR_DATA_KEY={data_key.strip()}\n".encode())
            files[KEY_ENV_FILE] = sha256_of(work / KEY_ENV_FILE)
        elif (data_dir / "data-key").exists():
            files[KEY_FILE] = copy_private(data_dir / "data-key", work / KEY_FILE)
        else:
            raise BackupError("--include-key: this install has no data key (IVR_DATA_KEY unset, no DATA_DIR/data-key)")
        key_info["included"] = True
        summary.notes.append("the data key is IN this backup: whoever has the backup can open the recordings")
    return {
        "format": FORMAT,
        "created_at": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 3),
        "redis": {"url": redacted_url(redis_url), "version": info.get("redis_version", "?"),
                  "keys": summary.keys, "bytes": summary.redis_bytes, "by_prefix": prefixes,
                  "patterns": list(PATTERNS), "skipped_prefixes": list(SKIP_PREFIXES)},
        "dump": {"file": DUMP, "sha256": h.hexdigest()},
        "recordings": {"root": str(recordings_root), "count": summary.recordings, "bytes": summary.recording_bytes,
                       "bucket": objects.bucket if objects is not None else None},
        "files": files,
        "data_key": key_info,
    }


def dump_records(path: Path) -> Iterator[tuple[bytes, int, bytes]]:
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise BackupError(f"{path} is not a backup dump")
        while True:
            head = fh.read(_RECORD.size)
            if not head:
                return
            if len(head) != _RECORD.size:
                raise BackupError(f"{path} is truncated")
            nlen, expire_at, vlen = _RECORD.unpack(head)
            name, value = fh.read(nlen), fh.read(vlen)
            if len(name) != nlen or len(value) != vlen:
                raise BackupError(f"{path} is truncated")
            yield name, expire_at, value

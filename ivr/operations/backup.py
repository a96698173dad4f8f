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
    Checks every manifest path stays in its folder (refused even with ``--force``),
    the files against the manifest, the signature against this install's data
    keys, and the key ids of the sealed data (recordings, and sealed text in the
    dump's Redis hashes) against this install's keys; shows a summary (users and
    admins added/removed compared with this install, counts of callbacks,
    voicemails, appointments, read from the dump itself); refuses a bad signature
    or a key it lacks unless ``--force``; asks (unless ``--yes``), deletes every
    ``ivr:*`` and ``rq:*`` key (not worker registrations), RESTOREs the backup's
    keys (a key whose expiry has passed is skipped), lists every restored user in
    the set of usernames, copies the recordings back (0600/0700), rewrites the
    voicemail records' paths if DATA_DIR moved, and with ``--config`` copies
    config/ and prompts/ back. Stop web processes and workers first.
    Nothing about a patient is printed: counts only (and staff usernames).
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
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import redis

from ivr.operations import backup_trust as trust
from ivr.recordings.object_store import KEY, ObjectStore, ObjectStoreError

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
RESTORE_BATCH = 500
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


# Helpers ---------------------------------------------------------------------------------


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def _open_private(path: Path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "wb")


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _copy_private(src: Path, dst: Path) -> str:
    """Copy a file with mode 0600 (folders 0700), through a temporary name; returns its sha256."""
    _private_dir(dst.parent)
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


def _scan(conn: redis.Redis) -> list[bytes]:
    names: set[bytes] = set()
    for pattern in PATTERNS:
        names.update(n for n in conn.scan_iter(match=pattern, count=1000) if _wanted(n))
    return sorted(names)


# Backup ------------------------------------------------------------------------------------


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
    _private_dir(work)
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
    names = _scan(conn)
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
        files[f"{RECORDINGS}/{rel}"] = _copy_private(path, work / RECORDINGS / rel)
        kid = _sealed_key_id(path)
        if kid:
            sealed_ids.add(kid)
        summary.recordings += 1
        summary.recording_bytes += path.stat().st_size
    _private_dir(work / RECORDINGS)
    if objects is not None:
        try:
            for obj in objects.objects():
                target = trust.confined_target(work / RECORDINGS / BUCKET, obj.key)
                _private_dir(target.parent)
                with _open_private(target) as fh:
                    fh.write(objects.get(obj.key))
                files[f"{RECORDINGS}/{BUCKET}/{obj.key}"] = _sha256(target)
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
                files[f"{label}/{rel}"] = _copy_private(path, work / label / rel)

    current_ids = key_ids(data_key, data_dir)
    in_redis = trust.preview(conn, _records(work / DUMP)).sealed_with
    key_info = {"source": "IVR_DATA_KEY" if data_key.strip() else ("file" if current_ids else "none"),
                "key_ids": current_ids, "recordings_sealed_with": sorted(sealed_ids),
                "redis_sealed_with": sorted(in_redis), "included": False}
    if include_key:
        if data_key.strip():
            with _open_private(work / KEY_ENV_FILE) as fh:
                fh.write(f"IVR_DATA_KEY={data_key.strip()}\n".encode())
            files[KEY_ENV_FILE] = _sha256(work / KEY_ENV_FILE)
        elif (data_dir / "data-key").exists():
            files[KEY_FILE] = _copy_private(data_dir / "data-key", work / KEY_FILE)
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


# Restore -------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a restore would do, checked before anything changes."""

    src: Path
    manifest: dict
    records: int
    current_keys: int
    missing_key_ids: list[str]
    warnings: list[str] = field(default_factory=list)
    signature_problem: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # callbacks, voicemails, appointments in the backup
    users_added: list[str] = field(default_factory=list)
    users_removed: list[str] = field(default_factory=list)
    admins_added: list[str] = field(default_factory=list)
    admins_removed: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # manifest path -> the checked file in the backup

    def refusals(self) -> list[str]:
        """Why this restore should not go ahead without ``--force`` (empty: nothing)."""
        out = [self.signature_problem] if self.signature_problem else []
        if self.missing_key_ids:
            out.append(f"the backup's sealed data (recordings or transcripts) was sealed with data key id(s) "
                       f"{', '.join(self.missing_key_ids)}, which this install does not have: it would not open; "
                       "set IVR_DATA_KEY to include that key (new,old)")
        return out


def read_manifest(src: Path) -> dict:
    try:
        manifest = json.loads((Path(src) / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: not a backup, or an unfinished one") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src}/{MANIFEST} is unreadable: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src}: backup format {manifest.get('format')!r}; this version reads {FORMAT}")
    return manifest


def _records(path: Path) -> Iterator[tuple[bytes, int, bytes]]:
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


def plan_restore(conn: redis.Redis, src: Path, data_key: str, data_dir: Path) -> Plan:
    """Check the backup (its paths, every file's sha256, the dump, the signature, the data's keys) and say what it
    holds, before anything changes. BackupError (or UntrustedBackup: never restorable) when it cannot go on."""
    src = Path(src)
    manifest = read_manifest(src)
    try:
        files = trust.checked_files(src, manifest["files"])
        dump = trust.regular_inside(src, [DUMP], f"{DUMP} in the backup")
        dump_digest = manifest["dump"]["sha256"]
        sealed = set(manifest["data_key"].get("recordings_sealed_with", []))
        sealed |= set(manifest["data_key"].get("redis_sealed_with", []))
    except (KeyError, TypeError, AttributeError):
        raise BackupError(f"{src}/{MANIFEST} is malformed") from None
    if _sha256(dump) != dump_digest:
        raise BackupError(f"{src}/{DUMP} does not match its manifest (damaged or changed)")
    records = 0
    for name, _expire, _value in _records(dump):
        if not name.startswith(trust.RESTORED_PREFIXES):
            raise trust.UntrustedBackup(f"{DUMP} holds a key outside ivr:* and rq:*: refused")
        records += 1
    for rel, path in files.items():
        if _sha256(path) != manifest["files"][rel]:
            raise BackupError(f"{src}: {rel} does not match its manifest (damaged or changed)")
    ours = raw_keys(data_key, data_dir)
    backup_key = _backup_key(src, manifest)
    usable = {hashlib.sha256(k).digest()[:4].hex() for k in ours} or (
        {hashlib.sha256(backup_key).digest()[:4].hex()} if backup_key else set())
    seen = trust.preview(conn, _records(dump))
    missing = sorted((sealed | seen.sealed_with) - usable)
    plan = Plan(src, manifest, records, len(_scan(conn)), missing, files=files,
                signature_problem=trust.signature_problem(manifest, ours), counts=seen.counts)
    _compare_users(plan, seen.users, _current_users(conn))
    theirs = manifest["redis"].get("version", "?")
    ours = conn.info("server").get("redis_version", "?")
    if _version(theirs) > _version(ours):
        plan.warnings.append(f"the backup is from Redis {theirs}, this one is {ours}: RESTORE may refuse its data")
    from ivr.workers.presence import live_workers

    live = live_workers(conn, dt.datetime.now(dt.timezone.utc))
    if live:
        plan.warnings.append(f"{live} worker(s) are running: stop them (and the web processes) before restoring")
    return plan


def _current_users(conn: redis.Redis) -> dict[str, str]:
    """Every user hash in this Redis (what login reads), name -> role."""
    from ivr.store import keys

    names = sorted(conn.scan_iter(match=keys.STAFF_USER.format("*"), count=1000))
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.hget(name, "role")
    return {n[len(trust.USER_PREFIX):].decode(errors="replace"): (r or b"").decode(errors="replace")
            for n, r in zip(names, pipe.execute(raise_on_error=False)) if not isinstance(r, Exception)}


def _compare_users(plan: Plan, theirs: dict[str, str], ours: dict[str, str]) -> None:
    plan.users_added = sorted(set(theirs) - set(ours))
    plan.users_removed = sorted(set(ours) - set(theirs))
    admins = {n for n, r in theirs.items() if r == "admin"}
    current_admins = {n for n, r in ours.items() if r == "admin"}
    plan.admins_added = sorted(admins - current_admins)
    plan.admins_removed = sorted(current_admins - admins)


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return (0,)


def _backup_key(src: Path, manifest: dict) -> bytes | None:
    """The data key a backup holds (``--include-key``, listed in its manifest), as raw bytes (the first key)."""
    from ivr.protection.sealing import _decode_key

    if KEY_FILE in manifest["files"]:
        try:
            return bytes.fromhex((src / KEY_FILE).read_text().strip())
        except ValueError:
            return None
    if KEY_ENV_FILE in manifest["files"]:
        value = (src / KEY_ENV_FILE).read_text().strip().partition("=")[2]
        try:
            return _decode_key(value.split(",")[0])
        except ValueError:
            return None
    return None


def restore(
    conn: redis.Redis,
    plan: Plan,
    *,
    data_dir: Path,
    config_dir: Path | None = None,
    prompts_dir: Path | None = None,
    with_config: bool = False,
    data_key: str = "",
    progress: Callable[[str], None] = lambda _m: None,
    objects: ObjectStore | None = None,
) -> Summary:
    """Replace this install's Redis data and recordings with the backup's (after ``plan_restore``); the
    backup's bucket objects go to ``objects``, the recordings bucket."""
    src, manifest = plan.src, plan.manifest
    summary = Summary()
    root = (Path(data_dir) / RECORDINGS).resolve()
    folders = {RECORDINGS: root}
    if with_config:
        folders.update((label, Path(folder)) for label, folder in (("config", config_dir), ("prompts", prompts_dir))
                       if folder is not None)
    # Every destination is checked before anything changes (a link in the way refuses the whole restore).
    in_bucket = {rel[len(RECORDINGS) + len(BUCKET) + 2:]: plan.files[rel] for rel in plan.files
                 if rel.startswith(f"{RECORDINGS}/{BUCKET}/")}
    strange = sorted(k for k in in_bucket if not KEY.fullmatch(k))
    if strange:
        raise trust.UntrustedBackup(f"the backup names {strange[0]!r} as a bucket recording: refused")
    if in_bucket and objects is None:
        raise BackupError(f"the backup holds {len(in_bucket)} recording(s) from object storage, and no recordings "
                          "bucket is configured here: set it up (README, Configuration) and restore again")
    copies = [(top, plan.files[rel], trust.confined_target(folders[top], tail))
              for rel in plan.files for top, _, tail in [rel.partition("/")]
              if top in folders and tail and not rel.startswith(f"{RECORDINGS}/{BUCKET}/")]
    progress("deleting the current ivr:* and rq:* keys")
    names = _scan(conn)
    for start in range(0, len(names), 1000):
        summary.deleted += int(conn.unlink(*names[start:start + 1000]))

    progress(f"restoring {plan.records} keys")
    now_ms = int(time.time() * 1000)
    pipe = conn.pipeline(transaction=False)
    queued = 0
    try:
        for name, expire_at, value in _records(src / DUMP):
            if expire_at and expire_at <= now_ms:
                summary.skipped_expired += 1
                continue
            pipe.restore(name, expire_at, value, replace=True, absttl=True)
            queued += 1
            summary.keys += 1
            summary.redis_bytes += len(value)
            if queued >= RESTORE_BATCH:
                pipe.execute()
                queued = 0
        if queued:
            pipe.execute()
    except redis.ResponseError as exc:
        raise BackupError(f"Redis refused the backup's data ({exc}); is this Redis older than the backup's "
                          f"{manifest['redis'].get('version')}? The keys restored so far are in place: restore again "
                          "into a newer Redis") from None

    _rebuild_user_index(conn)
    _private_dir(root)
    progress(f"copying {manifest['recordings']['count']} recordings back")
    for top, source, target in copies:
        _copy_private(source, target)
        if top == RECORDINGS:
            summary.recordings += 1
            summary.recording_bytes += source.stat().st_size
    if in_bucket:
        progress(f"uploading {len(in_bucket)} recordings to the bucket")
    for key, source in in_bucket.items():
        try:
            objects.put(key, source.read_bytes())
        except ObjectStoreError as exc:
            raise BackupError(f"the recordings bucket: {exc}; restore again once it answers") from None
        summary.recordings += 1
        summary.recording_bytes += source.stat().st_size
    old_root = manifest["recordings"]["root"]
    if old_root != str(root):
        summary.paths_rewritten = _move_paths(conn, old_root, str(root))
    if with_config:
        summary.notes.append("config/ and prompts/ copied back (files not in the backup were left as they are)")
    _restore_key(plan, Path(data_dir), data_key, summary)
    return summary


def _rebuild_user_index(conn: redis.Redis) -> None:
    """The set of usernames lists every user hash restored (a backup's set and hashes may disagree)."""
    from ivr.store import keys

    names = [n[len(trust.USER_PREFIX):] for n in conn.scan_iter(match=keys.STAFF_USER.format("*"), count=1000)]
    if names:
        conn.sadd(keys.STAFF_USERS, *names)


def _move_paths(conn: redis.Redis, old_root: str, new_root: str) -> int:
    """Voicemail records point at their sealed file: point them at the new DATA_DIR."""
    from ivr.store import keys

    moved = 0
    sids = conn.zrange(keys.VOICEMAILS, 0, -1)
    for start in range(0, len(sids), 1000):
        chunk = [s.decode() for s in sids[start:start + 1000]]
        pipe = conn.pipeline(transaction=False)
        for sid in chunk:
            pipe.hget(keys.VOICEMAIL.format(sid), "path")
        paths = pipe.execute()
        pipe = conn.pipeline(transaction=False)
        for sid, path in zip(chunk, paths):
            text = path.decode() if path else ""
            if text.startswith(old_root.rstrip("/") + "/"):
                pipe.hset(keys.VOICEMAIL.format(sid), "path", new_root + text[len(old_root.rstrip("/")):])
                moved += 1
        pipe.execute()
    return moved


def _restore_key(plan: Plan, data_dir: Path, data_key: str, summary: Summary) -> None:
    src = plan.src
    if KEY_FILE in plan.files:
        target = data_dir / "data-key"
        if data_key.strip():
            summary.notes.append("the backup holds a data key file; IVR_DATA_KEY is set here, so it was not installed")
        elif not target.exists():
            _copy_private(src / KEY_FILE, target)
            summary.notes.append(f"data key installed in {target} (move it to a secret store: IVR_DATA_KEY)")
        elif target.read_bytes().strip() != (src / KEY_FILE).read_bytes().strip():
            summary.notes.append(f"{target} differs from the backup's key and was left alone")
    elif KEY_ENV_FILE in plan.files:
        summary.notes.append(f"the backup holds IVR_DATA_KEY in {src / KEY_ENV_FILE}: set it in the secret store "
                             "the services read")


"""``ivr restore SRC``: a backup folder (``ivr.operations.backup`` writes it, and says what it holds) back into
this install.

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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import redis

from ivr.operations import backup_trust as trust
from ivr.operations.backup import (
    BUCKET, DUMP, FORMAT, KEY_ENV_FILE, KEY_FILE, MANIFEST, RECORDINGS, BackupError, Summary,
    copy_private, dump_records, private_dir, raw_keys, scan_keys, sha256_of,
)
from ivr.recordings.object_store import KEY, ObjectStore, ObjectStoreError


RESTORE_BATCH = 500


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
    if sha256_of(dump) != dump_digest:
        raise BackupError(f"{src}/{DUMP} does not match its manifest (damaged or changed)")
    records = 0
    for name, _expire, _value in dump_records(dump):
        if not name.startswith(trust.RESTORED_PREFIXES):
            raise trust.UntrustedBackup(f"{DUMP} holds a key outside ivr:* and rq:*: refused")
        records += 1
    for rel, path in files.items():
        if sha256_of(path) != manifest["files"][rel]:
            raise BackupError(f"{src}: {rel} does not match its manifest (damaged or changed)")
    ours = raw_keys(data_key, data_dir)
    backup_key = _backup_key(src, manifest)
    usable = {hashlib.sha256(k).digest()[:4].hex() for k in ours} or (
        {hashlib.sha256(backup_key).digest()[:4].hex()} if backup_key else set())
    seen = trust.preview(conn, dump_records(dump))
    missing = sorted((sealed | seen.sealed_with) - usable)
    plan = Plan(src, manifest, records, len(scan_keys(conn)), missing, files=files,
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
    names = scan_keys(conn)
    for start in range(0, len(names), 1000):
        summary.deleted += int(conn.unlink(*names[start:start + 1000]))

    progress(f"restoring {plan.records} keys")
    now_ms = int(time.time() * 1000)
    pipe = conn.pipeline(transaction=False)
    queued = 0
    try:
        for name, expire_at, value in dump_records(src / DUMP):
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
    private_dir(root)
    progress(f"copying {manifest['recordings']['count']} recordings back")
    for top, source, target in copies:
        copy_private(source, target)
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
            copy_private(src / KEY_FILE, target)
            summary.notes.append(f"data key installed in {target} (move it to a secret store: IVR_DATA_KEY)")
        elif target.read_bytes().strip() != (src / KEY_FILE).read_bytes().strip():
            summary.notes.append(f"{target} differs from the backup's key and was left alone")
    elif KEY_ENV_FILE in plan.files:
        summary.notes.append(f"the backup holds IVR_DATA_KEY in {src / KEY_ENV_FILE}: set it in the secret store "
                             "the services read")

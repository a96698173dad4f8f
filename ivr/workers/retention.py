"""Retention: voicemail audio and transcripts are kept ``voicemail.keep_days`` (clinic.yaml, 90 by default).

Once an hour, per data folder, a worker's sweep runs ``enforce``:

1. every voicemail that arrived more than keep_days ago is deleted: its audio (the sealed file, or the
   object in the recordings bucket), its record with the sealed transcript, word timings and urgent
   reason, and the transcript its callback shows; one audit entry each (actor ``retention``, the
   callback as target, the recording's sid and day in the detail);
2. sealed files in this data folder and objects in the bucket older than keep_days that no voicemail
   points at any more (a worker stopped between two steps, a restore of older data) are deleted too,
   counted in one audit entry.

What stays: the callback request (its own life, ``callbacks`` in clinic.yaml), the call records for the
reports, and the audit log. Each data folder runs it because a recording not yet uploaded is only on the
disk of the machine that fetched it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

import redis

from ivr.recordings import object_store
from ivr.recordings.object_store import ObjectStoreError
from ivr.store.audit import AuditLog
from ivr.store.turns import take_turn
from ivr.store.voicemails import VoicemailStore
from ivr.recordings.vault import RecordingVault, VaultError
from ivr.workers import context
from ivr.workers import voicemail as voicemail_jobs

log = logging.getLogger(__name__)

TURN_SECONDS = 3600  # how often each data folder's workers enforce it
ACTOR = "retention"
DELETED = "voicemail_deleted"  # audit action: one voicemail's audio and transcript deleted
LEFTOVERS_DELETED = "recordings_deleted"  # audit action: old files/objects no voicemail pointed at


@dataclass
class Result:
    voicemails: int = 0
    files: int = 0
    objects: int = 0


def enforce(conn: redis.Redis, vault: RecordingVault, keep_days: int, now: dt.datetime | None = None) -> Result:
    """Delete what is older than ``keep_days``; returns how much. A voicemail whose audio cannot be deleted
    now (the store out of reach) is kept, with its record, for the next run."""
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = (now - dt.timedelta(days=keep_days)).timestamp()
    store, audit, done = VoicemailStore(conn), AuditLog(conn), Result()
    for sid in store.received_before(cutoff):
        vm = store.get(sid)
        if vm is None:
            continue
        try:
            if not object_store.key_of(vm.path) and vm.path and not Path(vm.path).exists():
                pass  # on another machine's disk: that data folder's run removes it as a leftover
            else:
                vault.remove(vm.path)
        except VaultError as exc:
            log.warning("retention: voicemail %s kept for now: %s", sid, exc)
            continue
        store.delete(vm)
        received = dt.datetime.fromtimestamp(vm.received_at, dt.timezone.utc).date().isoformat()
        audit.record(ACTOR, DELETED, target=vm.callback_id or sid,
                     detail=f"recording {sid} of {received}: audio and transcript deleted after {keep_days} days")
        done.voicemails += 1
    for file in vault.files():
        try:
            old = file.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue  # uploaded meanwhile
        if old and store.get(file.name.removesuffix(".sealed")) is None:
            file.unlink(missing_ok=True)
            done.files += 1
    if vault.objects is not None:
        try:
            for obj in vault.objects.objects():
                sid = obj.key.rsplit("/", 1)[-1].removesuffix(".sealed")
                if obj.modified.timestamp() < cutoff and store.get(sid) is None:
                    vault.objects.delete(obj.key)
                    done.objects += 1
        except ObjectStoreError as exc:
            log.warning("retention: the bucket's old recordings wait for the next run: %s", exc)
    if done.files or done.objects:
        audit.record(ACTOR, LEFTOVERS_DELETED, detail=f"{done.files} file(s) and {done.objects} object(s) older than "
                     f"{keep_days} days that no voicemail pointed at")
    if done.voicemails or done.files or done.objects:
        log.info("retention: %d voicemail(s), %d leftover file(s), %d object(s) deleted (older than %d days)",
                 done.voicemails, done.files, done.objects, keep_days)
    return done


def _folder_id(data_dir: str) -> str:
    """This machine's data folder, as a short name for its turn."""
    return hashlib.sha256(f"{socket.gethostname()}:{Path(data_dir).resolve()}".encode()).hexdigest()[:12]


def run_turn(conn: redis.Redis) -> Result | None:
    """The sweep's part: ``enforce`` once per TURN_SECONDS for this data folder (None when not its turn)."""
    ctx = context.get()
    if not take_turn(conn, f"retention:{_folder_id(ctx.data_dir)}", TURN_SECONDS):
        return None
    return enforce(conn, voicemail_jobs.vault(), ctx.clinic.voicemail.keep_days)

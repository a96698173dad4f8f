"""Retention (issue 33, part 3): voicemail audio and transcripts older than the clinic's ``voicemail.keep_days``
are deleted by the workers, on disk and in the recordings bucket (moto's S3 server), and each deletion is in
the audit log; newer messages are untouched."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import time

import pytest
import yaml

from ivr.recordings import object_store
from ivr.store.audit import AuditLog
from ivr.store.voicemails import Voicemail, VoicemailStore
from ivr.recordings.vault import RecordingVault
from ivr.workers import retention

from .conftest import DATA_KEY
from .processes import IVR, ROOT, env, wait_for
from .test_voicemail_pipeline import Rig, reference, silence_wav, twilio  # noqa: F401 (the Twilio stand-in fixture)

DAY = 86400.0


def test_messages_older_than_keep_days_are_deleted_from_disk_bucket_and_redis_and_audited(
    redis_conn, tmp_path, twilio, bucket
):
    rig = Rig(redis_conn, tmp_path, twilio)
    objects = object_store.from_config(bucket.settings())
    now = time.time()

    rig.store.clock = lambda: now - 100 * DAY  # two messages left 100 days ago
    rig.vault.objects = objects
    in_bucket = rig.leave(reference("urgent-02"), caller="+12025550147")
    assert rig.run(in_bucket) == "transcribed"
    rig.vault.objects = object_store.from_config({**bucket.settings(), "RECORDINGS_BUCKET": "gone"})
    on_disk = rig.leave(reference("appt-05"), caller="+12025550148")  # its upload failed: kept only in the data folder
    assert rig.run(on_disk) == "transcribed"
    rig.store.clock = lambda: now - 10 * DAY  # and one left 10 days ago
    rig.vault.objects = objects
    recent = rig.leave(silence_wav(), caller="+12025550149")
    rig.run(recent)
    old = {sid: rig.store.get(sid) for sid in (in_bucket, on_disk)}
    assert rig.callbacks.get(old[in_bucket].callback_id).reason_transcript  # the callback shows the words

    done = retention.enforce(redis_conn, rig.vault, keep_days=90, now=dt.datetime.fromtimestamp(now, dt.timezone.utc))
    assert done.voicemails == 2
    for sid, vm in old.items():
        assert rig.store.get(sid) is None and sid not in {v.recording_sid for v in rig.store.recent()}
        assert rig.store.for_callback(vm.callback_id) == []
        cb = rig.callbacks.get(vm.callback_id)
        assert cb is not None and cb.reason_transcript == "" and cb.urgent_reason == ""  # the request itself stays
    kept = rig.store.get(recent)
    assert bucket.keys() == [object_store.key_of(kept.path)]  # only the recent message's audio is left
    assert rig.vault.files() == [] and rig.vault.get(kept.path, recent) == silence_wav()

    entries = [e for e in AuditLog(redis_conn).recent() if e.action == retention.DELETED]
    assert {e.target for e in entries} == {vm.callback_id for vm in old.values()}
    assert all(e.actor == "retention" and "after 90 days" in e.detail and "555014" not in e.detail for e in entries)

    # Leftovers nobody points at (a worker stopped between two steps): gone once old enough, with the rest.
    stray = "RE" + secrets.token_hex(16)
    stray_file = rig.vault.put(stray, b"RIFF...").path
    os.utime(stray_file, (now - 95 * DAY, now - 95 * DAY))
    objects.put(f"voicemail/2026-01/{stray}.sealed", b"IVR1...")
    later = dt.datetime.fromtimestamp(now + 95 * DAY, dt.timezone.utc)
    done = retention.enforce(redis_conn, rig.vault, keep_days=90, now=later)
    assert (done.voicemails, done.files, done.objects) == (1, 1, 1)
    assert bucket.keys() == [] and rig.vault.files() == []
    assert [e.detail for e in AuditLog(redis_conn).recent() if e.action == retention.LEFTOVERS_DELETED] == [
        "1 file(s) and 1 object(s) older than 90 days that no voicemail pointed at"]


def test_a_running_worker_enforces_the_clinics_keep_days(redis_server, redis_conn, tmp_path):
    config = tmp_path / "config"
    import shutil

    shutil.copytree(ROOT / "config", config)
    clinic = yaml.safe_load((config / "clinic.yaml").read_text())
    clinic["voicemail"]["keep_days"] = 30  # the clinic keeps messages a month
    (config / "clinic.yaml").write_text(yaml.safe_dump(clinic, allow_unicode=True, sort_keys=False))
    data_dir = tmp_path / "var"
    from ivr.protection.sealing import Sealer

    vault = RecordingVault(data_dir / "recordings", Sealer.from_settings(DATA_KEY, data_dir))
    store = VoicemailStore(redis_conn)
    sids = {}
    for days in (45, 10):
        sid = "RE" + secrets.token_hex(16)
        store.receive(Voicemail(sid, department="nurse", lang="en", received_at=time.time() - days * DAY))
        store.update(sid, path=str(vault.put(sid, silence_wav()).path))
        sids[days] = sid

    worker = subprocess.Popen([*IVR, "worker", "--no-scheduler"], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env(REDIS_URL=redis_server.url, IVR_DATA_DIR=str(data_dir),
                                                              IVR_DATA_KEY=DATA_KEY, IVR_CONFIG_DIR=str(config),
                                                              IVR_SWEEP_SECONDS="1"))
    try:
        wait_for(lambda: store.get(sids[45]) is None, timeout=60, interval=0.5, what="the worker's retention run")
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert store.get(sids[10]) is not None and len(vault.files()) == 1
    assert [e.detail.split(" of ")[0] for e in AuditLog(redis_conn).recent() if e.action == retention.DELETED] == [
        f"recording {sids[45]}"]
    assert b"retention: 1 voicemail(s)" in err


def test_a_keep_days_that_is_not_a_number_of_days_stops_the_clinic_file_with_its_line(tmp_path):
    from ivr.clinic.settings import ClinicConfigError, load_clinic

    text = (ROOT / "config" / "clinic.yaml").read_text().replace("  keep_days: 90", "  keep_days: 0")
    (tmp_path / "clinic.yaml").write_text(text)
    line = text.splitlines().index(next(t for t in text.splitlines() if t.startswith("  keep_days:"))) + 1
    with pytest.raises(ClinicConfigError, match=rf"clinic.yaml:{line}: voicemail.keep_days: "):
        load_clinic(tmp_path / "clinic.yaml")

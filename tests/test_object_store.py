"""Voicemail audio in S3-compatible object storage (ivr.recordings.object_store), against a real S3 API on localhost
(moto's server): sealed before it leaves the machine, played by a console with another data folder, an
upload that fails keeps the local sealed copy until the store answers, and backup/restore cover the bucket."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from ivr.operations import backup as backups
from ivr.operations import restore as restoring
from ivr.recordings import object_store
from ivr.recordings.vault import RecordingVault, VaultError
from ivr.staff.passwords import hash_password
from ivr.store.voicemails import VoicemailStatus
from ivr.workers import voicemail as jobs

from .conftest import DATA_KEY
from .object_store import HoldingProxy
from .processes import run_ivr
from .test_voicemail_pipeline import Rig, reference, twilio  # noqa: F401 (the Twilio stand-in fixture)

PASSWORD = "correct horse battery staple"


def bucket_rig(redis_conn, tmp_path, twilio, bucket) -> Rig:
    rig = Rig(redis_conn, tmp_path, twilio)
    rig.vault.objects = object_store.from_config(bucket.settings())
    return rig


def plays(app, callback_id: str, sid: str):
    """A nurse logs in to ``app``'s console and plays the message: the response."""
    app.extensions["ivr"].users.add("nina", "nurse", hash_password(PASSWORD))
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"csrf_token": token, "username": "nina", "password": PASSWORD})
    return client.get(f"/console/callbacks/{callback_id}/recordings/{sid}.wav")


def test_a_message_is_sealed_into_the_bucket_and_a_console_with_another_data_folder_plays_it(
    redis_conn, tmp_path, twilio, bucket, make_app
):
    rig = bucket_rig(redis_conn, tmp_path / "speech", twilio, bucket)
    audio = reference("urgent-02")
    sid = rig.leave(audio)
    assert rig.run(sid) == "transcribed"

    vm = rig.store.get(sid)
    key = object_store.key_of(vm.path)
    assert bucket.keys() == [key] and key.endswith(f"/{sid}.sealed")
    blob = bucket.read(key)
    assert blob.startswith(b"IVR1") and audio[44:2000] not in blob  # the store holds sealed bytes, never audio
    assert rig.sealer.open(blob, f"recording:{sid}") == audio
    assert rig.vault.files() == []  # the local copy went once the bucket had it
    assert twilio.deleted == [sid]

    web = make_app(DATA_DIR=str(tmp_path / "web"), **bucket.settings())  # another machine: its own data folder
    played = plays(web, vm.callback_id, sid)
    assert played.status_code == 200 and played.data == audio
    assert not (tmp_path / "web" / "recordings").exists() or not any((tmp_path / "web" / "recordings").iterdir())


def test_an_upload_that_fails_keeps_the_sealed_copy_here_and_the_sweep_uploads_it_once_the_store_answers(
    redis_conn, tmp_path, twilio, s3_server, bucket, make_app, clock
):
    rig = bucket_rig(redis_conn, tmp_path, twilio, bucket)
    rig.store.clock = lambda: clock().timestamp() - 600  # left ten minutes ago
    missing = object_store.from_config({**bucket.settings(), "RECORDINGS_BUCKET": "not-made-yet-" + bucket.name[-8:]})
    rig.vault.objects = missing  # the store refuses the upload (no such bucket yet)
    audio = reference("appt-05")
    sid = rig.leave(audio)
    assert rig.run(sid) == "transcribed"  # the message is transcribed all the same

    vm = rig.store.get(sid)
    assert not object_store.key_of(vm.path) and rig.vault.files() == [Path(vm.path)]
    assert rig.vault.get(vm.path, sid) == audio  # kept sealed on this machine
    assert jobs.upload_pending(rig.vault, rig.store) == 0  # still refused: the file stays
    assert rig.vault.files()
    web = make_app(**bucket.settings())
    health = web.test_client().get("/healthz").get_json()
    assert health["recordings_waiting_upload"] == 1 and health["status"] == "degraded"  # monitoring sees it

    s3_server.client().create_bucket(Bucket=missing.bucket)  # the store answers now
    local = vm.path
    assert jobs.upload_pending(rig.vault, rig.store) == 1
    assert rig.vault.get(local, sid) == audio  # a path read before the upload (a backup's, say) still plays
    vm = rig.store.get(sid)
    assert object_store.key_of(vm.path) == f"voicemail/{vm.path.split('/')[-2]}/{sid}.sealed"
    assert [o.key for o in missing.objects()] == [object_store.key_of(vm.path)]
    assert rig.vault.files() == [] and rig.vault.get(vm.path, sid) == audio
    assert jobs.upload_pending(rig.vault, rig.store) == 0  # nothing left to do
    assert web.test_client().get("/healthz").get_json()["recordings_waiting_upload"] == 0


def test_backup_holds_the_buckets_sealed_recordings_and_restore_puts_them_back(
    redis_server, redis_conn, tmp_path, twilio, s3_server, bucket
):
    rig = bucket_rig(redis_conn, tmp_path / "speech", twilio, bucket)
    audio = reference("appt-06")
    sid = rig.leave(audio)
    assert rig.run(sid) == "transcribed"
    key = object_store.key_of(rig.store.get(sid).path)
    data_dir = tmp_path / "var"

    done = backups.backup(redis_conn, tmp_path / "backup", redis_url="unix:///redis", data_dir=data_dir,
                          config_dir=None, prompts_dir=None, data_key=DATA_KEY, objects=rig.vault.objects)
    assert done.recordings == 1
    manifest = restoring.read_manifest(tmp_path / "backup")
    assert f"recordings/bucket/{key}" in manifest["files"] and manifest["recordings"]["bucket"] == bucket.name
    assert manifest["data_key"]["recordings_sealed_with"] == [rig.sealer.key_id]
    assert (tmp_path / "backup" / "recordings" / "bucket" / key).read_bytes() == bucket.read(key)  # still sealed

    # The clinic's bucket is lost; restored into a new one, the message plays as before.
    s3_server.client().create_bucket(Bucket="recordings-restored")
    restored = object_store.from_config({**bucket.settings(), "RECORDINGS_BUCKET": "recordings-restored"})
    plan = restoring.plan_restore(redis_conn, tmp_path / "backup", DATA_KEY, data_dir)
    assert plan.refusals() == []
    with pytest.raises(backups.BackupError, match="object storage"):  # nowhere to put them: nothing changes
        restoring.restore(redis_conn, plan, data_dir=data_dir, data_key=DATA_KEY, objects=None)
    assert rig.store.get(sid) is not None
    summary = restoring.restore(redis_conn, plan, data_dir=data_dir, data_key=DATA_KEY, objects=restored)
    assert summary.recordings == 1
    assert [o.key for o in restored.objects()] == [key]
    rig.vault.objects = restored
    assert rig.vault.get(rig.store.get(sid).path, sid) == audio

    # The same through the commands, with the bucket named by the environment as in production.
    cli = {"REDIS_URL": redis_server.url, "IVR_DATA_DIR": str(data_dir), "IVR_DATA_KEY": DATA_KEY}
    made = run_ivr("backup", str(tmp_path / "cli-backup"), **cli, **bucket.env())
    assert made.returncode == 0 and "1 recordings" in made.stdout, made.stderr
    assert f"recordings/bucket/{key}" in restoring.read_manifest(tmp_path / "cli-backup")["files"]
    s3_server.client().create_bucket(Bucket="recordings-third")
    third = {**bucket.env(), "IVR_RECORDINGS_BUCKET": "recordings-third"}
    back = run_ivr("restore", "--yes", str(tmp_path / "cli-backup"), **cli, **third)
    assert back.returncode == 0 and "1 recordings" in back.stdout, back.stderr
    assert [o.key for o in object_store.from_config({**bucket.settings(), "RECORDINGS_BUCKET": "recordings-third"})
            .objects()] == [key]


def test_recordings_kept_before_a_bucket_was_set_move_there_a_few_per_sweep(redis_conn, tmp_path, twilio, bucket):
    rig = Rig(redis_conn, tmp_path, twilio)  # no bucket yet: recordings stay in the data folder
    audio = reference("appt-06")
    sids = [rig.leave(audio, caller=f"+1202555016{i}") for i in range(3)]
    for sid in sids:
        rig.store.update(sid, path=str(rig.vault.put(sid, audio).path))  # as the pipeline keeps them
    rig.vault.objects = object_store.from_config(bucket.settings())  # the clinic sets a bucket

    assert jobs.upload_pending(rig.vault, rig.store, limit=2) == 2  # a sweep's share
    assert len(rig.vault.files()) == 1 and len(bucket.keys()) == 2
    assert jobs.upload_pending(rig.vault, rig.store, limit=2) == 1
    assert rig.vault.files() == [] and len(bucket.keys()) == 3
    assert all(rig.vault.get(rig.store.get(sid).path, sid) == audio for sid in sids)


def test_an_upload_the_store_is_slow_to_answer_stays_with_its_worker_past_the_lease(
    redis_conn, tmp_path, twilio, s3_server, bucket, monkeypatch
):
    """The uploading worker renews its lease (ivr.workers.voicemail.UPLOAD_LEASE_SECONDS, here 1 s): another
    worker's sweep leaves the recording to it however long the store takes, and takes it once it has given up.
    (A worker killed mid-upload stops renewing: tests/test_object_store_served.py.)"""
    monkeypatch.setattr(jobs, "UPLOAD_LEASE_SECONDS", 1.0)
    proxy = HoldingProxy(int(s3_server.url.rsplit(":", 1)[1]))
    rig = Rig(redis_conn, tmp_path, twilio)
    audio = reference("appt-06")
    sid = rig.leave(audio)
    rig.store.update(sid, path=str(rig.vault.put(sid, audio).path))
    slow = RecordingVault(rig.vault.root, rig.sealer, object_store.from_config(bucket.settings(proxy.url)))
    direct = RecordingVault(rig.vault.root, rig.sealer, object_store.from_config(bucket.settings()))
    failed: list[Exception] = []

    def first_worker() -> None:
        try:
            jobs.upload(slow, rig.store, sid)
        except VaultError as exc:
            failed.append(exc)

    proxy.hold.set()  # the store takes the upload and does not answer
    uploading = threading.Thread(target=first_worker, daemon=True)
    uploading.start()
    try:
        assert proxy.held.wait(30)
        time.sleep(3)  # three leases long
        assert jobs.upload_pending(direct, rig.store) == 0  # another worker's sweep leaves it to the first
        assert bucket.keys() == [] and rig.vault.files()
    finally:
        proxy.close()  # the store goes away: the first worker gives up
    uploading.join(60)
    assert failed and not uploading.is_alive()
    assert jobs.upload_pending(direct, rig.store) == 1  # now the sweep takes it
    vm = rig.store.get(sid)
    assert bucket.keys() == [object_store.key_of(vm.path)] and rig.vault.files() == []
    assert direct.get(vm.path, sid) == audio

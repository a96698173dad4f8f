"""`ivr backup` / `ivr restore` through the real CLI: everything comes back, and only with the data key."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rq import Queue

from ivr.followups.appointments import Appointment
from ivr.protection.sealing import Sealer, new_key
from ivr.staff.passwords import hash_password, verify_password
from ivr.store import audit
from ivr.store.callbacks import CallbackQueue
from ivr.store.followups import FollowupStore
from ivr.store.users import UserStore
from ivr.store.voicemails import Voicemail, VoicemailStatus, VoicemailStore
from ivr.recordings.vault import RecordingVault
from ivr.workers import DEFAULT_QUEUE

from .conftest import DATA_KEY
from .processes import run_ivr

pytestmark = pytest.mark.slow

AUDIO = b"RIFF....WAVEfmt " + bytes(range(256)) * 40
PASSWORD = "correct horse battery staple"


class Clinic:
    """A clinic's data on the test Redis and in a data folder."""

    def __init__(self, conn, data_dir: Path) -> None:
        self.conn = conn
        self.data_dir = data_dir
        self.sealer = Sealer.from_settings(DATA_KEY, data_dir)
        self.vault = RecordingVault(data_dir / "recordings", self.sealer)
        self.callbacks = CallbackQueue(conn)
        self.voicemails = VoicemailStore(conn)
        self.users = UserStore(conn)
        self.followups = FollowupStore(conn)

    def fill(self) -> dict:
        ids = [self.callbacks.request(dept, f"+1202555{n:04d}", "en", requested_at=1_700_000_000 + n).callback.id
               for n, dept in enumerate(["nurse", "nurse", "billing", "scheduling"])]
        self.callbacks.request("nurse", "+12025559999", "es", urgent=True, urgent_reason="chest pain")
        claimed = self.callbacks.claim_next(["billing"], "alice")
        sid = "RE" + "ab" * 16
        self.voicemails.receive(Voicemail(sid, call_sid="CA" + "cd" * 16, caller="+12025550777", department="nurse",
                                          lang="en", duration=12))
        stored = self.vault.put(sid, AUDIO)
        transcript = self.sealer.seal_text("please call me back about my refill", f"transcript:{sid}")
        self.voicemails.update(sid, status=VoicemailStatus.TRANSCRIBED, path=str(stored.path), sha256=stored.sha256,
                               size=stored.size, transcript=transcript)
        self.users.add("alice", "nurse", hash_password(PASSWORD), phone="+12025550100")
        self.users.add("bob", "admin", hash_password(PASSWORD))
        zone = ZoneInfo("America/New_York")
        appts = [Appointment(f"appt-{i}", f"Pat {i}", f"+1202555{1000 + i}", dt.datetime(2026, 12, 1 + i, 9, tzinfo=zone),
                             "America/New_York", "Dr. Lee", "nurse", "en") for i in range(3)]
        self.followups.add_many(appts)
        audit.AuditLog(self.conn).record("alice", audit.CLAIM, target=f"callback:{claimed.id}")
        job = Queue(DEFAULT_QUEUE, connection=self.conn).enqueue_in(
            dt.timedelta(days=1), "ivr.workers.calls.summarize_call", "CA" + "ef" * 16, "completed")
        return {"callbacks": ids, "claimed": claimed.id, "sid": sid, "appts": [a.id for a in appts], "job": job.id}

    def check(self, made: dict, data_dir: Path | None = None) -> None:
        for cid in made["callbacks"]:
            assert self.callbacks.get(cid) is not None, cid
        assert self.callbacks.waiting_count("nurse") == 3 and self.callbacks.waiting_count("scheduling") == 1
        assert self.callbacks.waiting("nurse")[0].urgent  # the order in line, urgent first
        assert self.callbacks.get(made["claimed"]).claimed_by == "alice"
        vm = self.voicemails.get(made["sid"])
        assert vm.status is VoicemailStatus.TRANSCRIBED and vm.caller == "+12025550777"
        if data_dir is not None:
            assert Path(vm.path).is_relative_to(data_dir)
        vault = RecordingVault((data_dir or self.data_dir) / "recordings", self.sealer)
        assert vault.get(vm.path, made["sid"]) == AUDIO  # the audio opens with the data key
        assert self.sealer.open_text(vm.transcript, f"transcript:{made['sid']}") == "please call me back about my refill"
        alice = self.users.get("alice")
        assert alice.role == "nurse" and alice.phone == "+12025550100"
        assert verify_password(alice.password_hash, PASSWORD)
        assert self.users.get("bob").role == "admin"
        for appt in made["appts"]:
            rec = self.followups.get(appt)
            assert rec is not None and rec.status == "scheduled" and rec.provider == "Dr. Lee"
        assert self.followups.count() == 3
        assert any(e for e in self.conn.xrange("ivr:audit") if e[1].get(b"action") == b"claim")
        assert Queue(DEFAULT_QUEUE, connection=self.conn).fetch_job(made["job"]) is not None
        assert self.conn.zscore(f"rq:scheduled:{DEFAULT_QUEUE}", made["job"]) is not None


def ivr(redis_server, data_dir: Path, *args: str, key: str = DATA_KEY, input: str | None = None):
    return run_ivr(*args, REDIS_URL=redis_server.url, IVR_DATA_DIR=str(data_dir), IVR_DATA_KEY=key, input=input,
                   timeout=120)


def modes(root: Path) -> set[tuple[str, int]]:
    out = set()
    for folder, dirs, files in os.walk(root):
        out.add(("dir", stat.S_IMODE(os.stat(folder).st_mode)))
        out.update(("file", stat.S_IMODE(os.stat(Path(folder) / f).st_mode)) for f in files)
    return out


def test_backup_then_restore_brings_everything_back(redis_server, redis_conn, tmp_path):
    data_dir = tmp_path / "var"
    clinic = Clinic(redis_conn, data_dir)
    made = clinic.fill()
    clinic.check(made)
    keys_before = sorted(k for k in redis_conn.scan_iter("ivr:*") if not k.startswith(b"ivr:audit"))

    dest = tmp_path / "backups" / "nightly"
    dest.parent.mkdir()
    done = ivr(redis_server, data_dir, "backup", str(dest))
    assert done.returncode == 0, done.stderr
    assert "the data key is not in the backup" in done.stderr
    assert modes(dest) == {("dir", 0o700), ("file", 0o600)}
    assert not (dest / "data-key").exists() and not (dest / "data-key.env").exists()
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["recordings"]["count"] == 1 and manifest["redis"]["keys"] > 10
    assert manifest["data_key"]["included"] is False and manifest["data_key"]["key_ids"] == [clinic.sealer.key_id]
    everything = (dest / "redis.dump").read_bytes()
    assert b"please call me back" not in everything and AUDIO not in (dest / "recordings").rglob("*.sealed").__next__().read_bytes()
    assert "2025550777" not in done.stdout + done.stderr  # counts only, no patient data

    redis_conn.flushdb()
    shutil.rmtree(data_dir / "recordings")

    refused = ivr(redis_server, data_dir, "restore", str(dest), input="n\n")
    assert refused.returncode != 0 and redis_conn.dbsize() == 0  # asked, said no: nothing changed

    restored = ivr(redis_server, data_dir, "restore", str(dest), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stdout
    clinic.check(made)
    assert modes(data_dir / "recordings") == {("dir", 0o700), ("file", 0o600)}
    assert sorted(k for k in redis_conn.scan_iter("ivr:*") if not k.startswith(b"ivr:audit")) == keys_before
    actions = [e[1][b"action"] for e in redis_conn.xrange("ivr:audit")]
    assert b"backup" in actions and b"restore" in actions  # the backup's own entry, then the restore's

    # Restoring again replaces whatever is there now (a callback added since is gone; nothing doubles).
    CallbackQueue(redis_conn).request("nurse", "+12025558888", "en")
    again = ivr(redis_server, data_dir, "restore", str(dest), "--yes")
    assert again.returncode == 0, again.stderr
    clinic.check(made)
    assert CallbackQueue(redis_conn).waiting_count("nurse") == 3


def test_restore_into_a_moved_data_folder_points_voicemails_at_it(redis_server, redis_conn, tmp_path):
    old, new = tmp_path / "old-var", tmp_path / "new-var"
    clinic = Clinic(redis_conn, old)
    made = clinic.fill()
    dest = tmp_path / "bk"
    assert ivr(redis_server, old, "backup", str(dest)).returncode == 0
    redis_conn.flushdb()
    shutil.rmtree(old)
    done = ivr(redis_server, new, "restore", str(dest), "--yes")
    assert done.returncode == 0, done.stderr
    assert "1 recording paths moved" in done.stdout
    clinic.check(made, data_dir=new)


def test_the_data_key_stays_out_unless_asked_and_a_wrong_key_is_refused(redis_server, redis_conn, tmp_path):
    data_dir = tmp_path / "var"
    clinic = Clinic(redis_conn, data_dir)
    made = clinic.fill()
    with_key = tmp_path / "with-key"
    done = ivr(redis_server, data_dir, "backup", str(with_key), "--include-key")
    assert done.returncode == 0, done.stderr
    assert "IN this backup" in done.stderr
    assert (with_key / "data-key.env").read_text() == f"IVR_DATA_KEY={DATA_KEY}\n"
    assert stat.S_IMODE((with_key / "data-key.env").stat().st_mode) == 0o600

    other_key = new_key()
    refused = ivr(redis_server, data_dir, "restore", str(with_key), "--yes", key=other_key)
    assert refused.returncode == 1 and "data key id" in refused.stderr, refused.stderr
    assert clinic.callbacks.get(made["claimed"]) is not None  # untouched

    # A damaged backup is refused before anything changes.
    dump = with_key / "redis.dump"
    dump.write_bytes(dump.read_bytes()[:-10])
    damaged = ivr(redis_server, data_dir, "restore", str(with_key), "--yes")
    assert damaged.returncode == 1 and "does not match its manifest" in damaged.stderr
    clinic.check(made)
    # A backup folder is never written over.
    assert ivr(redis_server, data_dir, "backup", str(with_key)).returncode == 1

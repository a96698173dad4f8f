"""`ivr restore` trusts nothing in a backup folder (issue 31, finding 3).

Whoever can edit a backup folder could make a restore write outside its folders (an absolute path, `..`, a
symbolic link), or add a DUMP record for a hidden admin and fix the checksum; and a backup whose sealed data
is only in Redis went ahead under another data key. Each is tried through the real CLI on a real Redis.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest

from ivr.operations import backup_trust
from ivr.operations.backup import _RECORD
from ivr.protection.sealing import Sealer, _decode_key, new_key
from ivr.staff.passwords import hash_password, verify_password
from ivr.store.users import UserStore
from ivr.store.voicemails import Voicemail, VoicemailStore

from .conftest import DATA_KEY
from .processes import ROOT, run_ivr
from .test_backup import PASSWORD, Clinic

pytestmark = pytest.mark.slow


def ivr(redis_server, site: Path, *args: str, key: str = DATA_KEY):
    """The CLI with this test's own data, config and prompts folders (never the checkout's)."""
    return run_ivr(*args, REDIS_URL=redis_server.url, IVR_DATA_DIR=str(site / "var"), IVR_DATA_KEY=key,
                   IVR_CONFIG_DIR=str(site / "a" / "config"), IVR_PROMPTS_DIR=str(site / "a" / "prompts"),
                   timeout=120)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    shutil.copytree(ROOT / "config", site / "a" / "config")
    shutil.copytree(ROOT / "prompts", site / "a" / "prompts")
    return site


def _add_file(bk: Path, rel: str, path_in_backup: Path, content: bytes | None = None) -> None:
    """Put ``rel`` into the manifest with the sha256 of ``path_in_backup`` (as a checksum-only manifest allows)."""
    if content is not None:
        path_in_backup.parent.mkdir(parents=True, exist_ok=True)
        path_in_backup.write_bytes(content)
    manifest = json.loads((bk / "manifest.json").read_text())
    manifest["files"][rel] = hashlib.sha256(path_in_backup.read_bytes()).hexdigest()
    (bk / "manifest.json").write_text(json.dumps(manifest))


def test_manifest_paths_outside_their_folder_are_refused_and_nothing_is_written(redis_server, redis_conn, site,
                                                                               tmp_path):
    clinic = Clinic(redis_conn, site / "var")
    made = clinic.fill()
    good = tmp_path / "good"
    assert ivr(redis_server, site, "backup", str(good)).returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    outside.chmod(0o755)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for the clinic's data folder")

    def tampered(name: str) -> Path:
        bk = tmp_path / name
        shutil.copytree(good, bk, symlinks=True)
        return bk

    bk = tampered("absolute")  # recordings//abs/path: joined under recordings/ it is an absolute path
    _add_file(bk, f"recordings/{outside}/planted.txt", bk / "recordings" / str(outside).lstrip("/") / "planted.txt",
              b"planted")
    cases = [(bk, ("--force",), "outside its folder")]
    bk = tampered("dotdot")  # config/../../x with --config
    _add_file(bk, "config/../../planted.txt", tmp_path / "planted.txt", b"planted")
    cases.append((bk, ("--force", "--config"), "outside its folder"))
    bk = tampered("link")  # a recording that is a link to a file outside the backup
    (bk / "recordings" / "leak.sealed").symlink_to(secret)
    _add_file(bk, "recordings/leak.sealed", secret)
    cases.append((bk, ("--force",), "symbolic link"))

    for bk, flags, why in cases:
        done = ivr(redis_server, site, "restore", str(bk), "--yes", *flags)
        assert done.returncode == 1 and why in done.stderr and "refused" in done.stderr, (bk.name, done.stderr)
    assert sorted(p.name for p in outside.iterdir()) == [] and stat.S_IMODE(outside.stat().st_mode) == 0o755
    assert not (site / "planted.txt").exists() and not (site / "a" / "planted.txt").exists()
    assert not (site / "var" / "recordings" / "leak.sealed").exists()
    clinic.check(made)  # Redis and the recordings untouched


def test_an_added_admin_record_is_refused_and_with_force_named_and_listed(redis_server, redis_conn, site, tmp_path):
    clinic = Clinic(redis_conn, site / "var")
    made = clinic.fill()
    bk = tmp_path / "bk"
    assert ivr(redis_server, site, "backup", str(bk)).returncode == 0
    # The attacker's record: a user hash only (not in the set of usernames), appended with a fixed checksum.
    redis_conn.hset("scratch", mapping={"role": "admin", "password_hash": hash_password(PASSWORD), "disabled": "0",
                                        "phone": "", "display_name": "", "created_at": "2026-01-01T00:00:00+00:00"})
    value = redis_conn.dump("scratch")
    redis_conn.delete("scratch")
    name = b"ivr:staff:user:mallory"
    with open(bk / "redis.dump", "ab") as fh:
        fh.write(_RECORD.pack(len(name), 0, len(value)) + name + value)
    manifest = json.loads((bk / "manifest.json").read_text())
    manifest["dump"]["sha256"] = hashlib.sha256((bk / "redis.dump").read_bytes()).hexdigest()
    (bk / "manifest.json").write_text(json.dumps(manifest))

    refused = ivr(redis_server, site, "restore", str(bk), "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "signature does not match" in refused.stderr
    assert "admins added (compared with this install): mallory" in refused.stdout
    assert "users added (compared with this install): mallory" in refused.stdout
    assert UserStore(redis_conn).get("mallory") is None  # nothing changed

    forced = ivr(redis_server, site, "restore", str(bk), "--yes", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "admins added (compared with this install): mallory" in forced.stdout
    assert "warning: the manifest's signature does not match" in forced.stderr
    mallory = UserStore(redis_conn).get("mallory")
    assert mallory.role == "admin" and verify_password(mallory.password_hash, PASSWORD)  # login would take it
    listed = ivr(redis_server, site, "users", "list")
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert rows == {"alice": "nurse", "bob": "admin", "mallory": "admin"}
    clinic.check(made)
    audit = [e[1] for e in redis_conn.xrange("ivr:audit") if e[1].get(b"action") == b"restore"]
    assert b"--force past" in audit[-1][b"detail"]


def test_sealed_data_only_in_redis_under_another_key_is_refused(redis_server, redis_conn, site, tmp_path):
    sealer = Sealer.from_settings(DATA_KEY, site / "var")
    voicemails = VoicemailStore(redis_conn)
    sid = "RE" + "12" * 16
    voicemails.receive(Voicemail(sid, call_sid="CA" + "34" * 16, caller="+12025550777", department="nurse",
                                 lang="en", duration=12))
    voicemails.update(sid, transcript=sealer.seal_text("call me about my refill", f"transcript:{sid}"))
    bk = tmp_path / "bk"
    assert ivr(redis_server, site, "backup", str(bk)).returncode == 0
    manifest = json.loads((bk / "manifest.json").read_text())
    assert manifest["recordings"]["count"] == 0  # the sealed data is only in Redis, and the manifest says whose
    assert manifest["data_key"]["redis_sealed_with"] == [sealer.key_id]
    redis_conn.flushdb()

    other = new_key()
    refused = ivr(redis_server, site, "restore", str(bk), "--yes", key=other)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"sealed with data key id(s) {sealer.key_id}" in refused.stderr
    assert "it holds 0 callbacks, 1 voicemails, 0 appointments" in refused.stdout
    assert redis_conn.dbsize() == 0

    rotated = ivr(redis_server, site, "restore", str(bk), "--yes", key=f"{other},{DATA_KEY}")  # new key first
    assert rotated.returncode == 0, rotated.stderr
    assert sealer.open_text(voicemails.get(sid).transcript, f"transcript:{sid}") == "call me about my refill"


def test_the_signature_needs_one_of_this_installs_keys_and_the_whole_manifest():
    key, old = _decode_key(new_key()), _decode_key(DATA_KEY)
    manifest = backup_trust.sign({"format": 1, "files": {"recordings/a.sealed": "00"}}, old)
    assert backup_trust.signature_problem(manifest, [key, old]) is None  # rotated: the old key still checks
    assert "does not have" in backup_trust.signature_problem(manifest, [key])
    changed = {**manifest, "files": {"recordings/a.sealed": "01"}}
    assert "does not match" in backup_trust.signature_problem(changed, [old])
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    assert "not signed" in backup_trust.signature_problem(unsigned, [old])


def test_users_list_shows_every_user_login_would_accept(redis_conn):
    users = UserStore(redis_conn)
    users.add("alice", "nurse", hash_password(PASSWORD))
    redis_conn.hset("ivr:staff:user:eve", mapping={"role": "admin", "password_hash": hash_password(PASSWORD)})
    redis_conn.hset("ivr:staff:user:Not A Name", mapping={"role": "admin"})  # login refuses such a name too
    assert users.get("eve") is not None
    assert [(u.name, u.role) for u in users.list()] == [("alice", "nurse"), ("eve", "admin")]

"""Encryption at rest: what is sealed opens only with the right key, for the right item."""

from __future__ import annotations

import os
import stat

import pytest

from ivr.protection.sealing import DataKeyError, SealError, Sealer, new_key
from ivr.recordings.vault import RecordingVault, VaultError

SID = "RE" + "a" * 32
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(2000)


def test_sealed_text_opens_only_for_its_own_item():
    sealer = Sealer.from_settings(new_key(), "unused")
    token = sealer.seal_text("I have chest pain since this morning", "transcript:RE1")
    assert "chest" not in token and token.startswith("s1:")
    assert sealer.open_text(token, "transcript:RE1") == "I have chest pain since this morning"
    with pytest.raises(SealError, match="not the item"):
        sealer.open_text(token, "transcript:RE2")  # copied onto another voicemail's field
    assert sealer.seal_text("", "x") == "" and sealer.open_text("", "x") == ""


def test_another_install_key_cannot_open_and_says_so():
    token = Sealer.from_settings(new_key(), "unused").seal_text("refill please", "t")
    with pytest.raises(SealError, match="another data key"):
        Sealer.from_settings(new_key(), "unused").open_text(token, "t")


def test_tampered_data_is_refused():
    sealer = Sealer.from_settings(new_key(), "unused")
    blob = bytearray(sealer.seal(b"hello", "c"))
    blob[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(bytes(blob), "c")
    with pytest.raises(SealError, match="not sealed"):
        sealer.open(b"RIFF plain audio", "c")


def test_key_rotation_new_key_first_old_data_still_opens():
    old, new = new_key(), new_key()
    old_token = Sealer.from_settings(old, "unused").seal_text("old message", "t")
    rotated = Sealer.from_settings(f"{new},{old}", "unused")
    assert rotated.open_text(old_token, "t") == "old message"
    fresh = rotated.seal_text("new message", "t")
    assert Sealer.from_settings(new, "unused").open_text(fresh, "t") == "new message"
    with pytest.raises(SealError):
        Sealer.from_settings(old, "unused").open_text(fresh, "t")


@pytest.mark.parametrize("bad", ["short", "x" * 43 + "!", "a" * 100])
def test_malformed_data_key_is_a_clear_error(bad):
    with pytest.raises(DataKeyError, match="32 random bytes"):
        Sealer.from_settings(bad, "unused")


def test_without_a_data_key_an_install_makes_one_file_and_keeps_it(tmp_path):
    first = Sealer.from_settings("", tmp_path)
    key_file = tmp_path / "data-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = first.seal_text("kept", "t")
    assert Sealer.from_settings("", tmp_path).open_text(token, "t") == "kept"  # after a restart


def test_vault_file_holds_no_audio_in_clear_and_reads_back(tmp_path):
    sealer = Sealer.from_settings(new_key(), "unused")
    vault = RecordingVault(tmp_path / "recordings", sealer)
    stored = vault.put(SID, AUDIO)
    raw = stored.path.read_bytes()
    assert b"RIFF" not in raw and AUDIO[100:140] not in raw
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o600
    assert vault.get(stored.path, SID) == AUDIO
    assert stored.size == len(AUDIO)
    assert not list(stored.path.parent.glob(".*tmp"))  # no temporary file left behind
    other = "RE" + "b" * 32
    with pytest.raises(VaultError):
        vault.get(stored.path, other)  # a file renamed to another recording does not open


def test_vault_refuses_names_that_are_not_recording_sids(tmp_path):
    vault = RecordingVault(tmp_path, Sealer.from_settings(new_key(), "unused"))
    with pytest.raises(VaultError):
        vault.put("../../etc/passwd", b"x")

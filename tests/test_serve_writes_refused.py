"""`ivr serve` keeps answering while nothing can be kept, and catches up by itself (issue 31, finding 2).

The real `ivr serve` (gunicorn, an RQ worker, a speech worker, the embedded Redis) runs with its data
folder on a small disk of its own (a tmpfs), against a Twilio stand-in on localhost. During calls:
first Redis refuses every write (min-replicas-to-write with no replica), then the data disk fills up
(Redis cannot append to its file either). Every webhook must still answer valid TwiML that reaches
a person or a message Twilio keeps; `ivr serve` must still be running; and once writes work again,
every message left meanwhile becomes a voicemail with a callback, with no restart.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import subprocess
import wave
import xml.etree.ElementTree as ET

import pytest
import redis
import requests

from ivr.telephony.simulator import PhoneCall
from ivr.store.callbacks import CallbackQueue
from ivr.store.voicemails import VoicemailStore

from .fake_twilio import FakeTwilio
from .processes import free_port, wait_for
from .test_system import Served, always_open_config

pytestmark = pytest.mark.slow

CALLS_PER_PHASE = 4


@pytest.fixture
def small_disk(tmp_path):
    """A 512 MB disk of its own (room for the speech model's first copy, then filled by the test)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder) -> "os.PathLike":
    """Fill the disk under ``folder`` to the last byte; returns the ballast file."""
    ballast = folder / "ballast"
    block = b"\0" * (1 << 20)
    with open(ballast, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    small = block[:4096]
    with open(folder / "ballast-tail", "wb", buffering=0) as f:  # and the last few KB
        try:
            while True:
                f.write(small)
        except OSError:
            pass
    return ballast


def a_second_of_sound() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10\x00\xf0" * 4000)
    return out.getvalue()


class Checked:
    """A transport that posts for real and checks every TwiML answer as Twilio would read it."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, int]] = []
        self.bad: list[str] = []

    def __call__(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        resp = requests.post(url, data=data, headers=headers, timeout=10)
        path = url.split("//", 1)[1].split("/", 1)[1]
        self.answers.append((path, resp.status_code))
        if path.startswith("voice/recording"):
            return resp.status_code, resp.text  # Twilio's status callback: 503 shows in its debugger, nothing else
        try:
            root = ET.fromstring(resp.text)
            if resp.status_code != 200 or root.tag != "Response" or not len(root):
                raise ValueError(f"HTTP {resp.status_code}, <{root.tag}> with {len(root)} verbs")
        except (ET.ParseError, ValueError) as exc:
            self.bad.append(f"{path}: {exc}: {resp.text[:200]}")
        return resp.status_code, resp.text


def leave_message(system: Served, fake: FakeTwilio, checked: Checked, caller: str) -> tuple[str, str] | None:
    """One caller asks for the nurse and, reaching nobody, leaves a message. (call sid, recording sid)."""
    call = PhoneCall(checked, system.url, fake.auth_token, caller=caller, account_sid=fake.account_sid)
    recording = "RE" + secrets.token_hex(16)
    turn = call.start()
    for _ in range(12):
        if turn.waiting == "gather":
            turn = call.press("3")
        elif turn.waiting == "dial":
            turn = call.dial_result("no-answer")
        elif turn.waiting == "record":
            call.record(seconds=15, sid=recording)
            fake.held[recording] = {"call_sid": call.call_sid, "duration": 15}  # Twilio keeps it whatever we do
            fake.callers[call.call_sid] = caller
            return call.call_sid, recording
        else:
            return None
    return None


def test_serve_answers_every_call_while_writes_are_refused_and_recovers_every_message_by_itself(small_disk, tmp_path):
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16), default_audio=a_second_of_sound())
    system = Served(small_disk / "var", free_port(), log_dir=tmp_path, IVR_CONFIG_DIR=always_open_config(tmp_path / "config"),
                    IVR_MIN_FREE_MB="16", **fake.settings())
    try:
        wait_for(lambda: requests.get(system.url + "/healthz", timeout=2).json().get("workers", 0) >= 1,
                 timeout=120, what="ivr serve with its workers")
        conn = redis.Redis(unix_socket_path=str(system.data_dir / "redis" / "redis.sock"), socket_timeout=5)
        checked = Checked()
        left: list[tuple[str, str, str]] = []
        callers = iter(f"+1202555{n:04d}" for n in range(1400, 1500))

        def messages_left() -> None:
            for _ in range(CALLS_PER_PHASE):
                caller = next(callers)
                got = leave_message(system, fake, checked, caller)
                assert got, checked.answers[-3:]
                left.append((*got, caller))

        conn.config_set("min-replicas-to-write", 1)  # Redis refuses every write; PING and reads still work
        try:
            health = requests.get(system.url + "/healthz", timeout=5).json()
            assert health["status"] == "degraded" and "refuses every write" in health["write_problems"]["redis"]
            messages_left()
        finally:
            conn.config_set("min-replicas-to-write", 0)

        ballast = fill(small_disk)  # the data disk is full: no recording file, no Redis append-only write
        try:
            health = wait_for(lambda: (h := requests.get(system.url + "/healthz", timeout=5).json())
                              .get("write_problems", {}).get("disk") and h, timeout=20, what="healthz to see the full disk")
            assert health["status"] == "degraded" and "the data disk is full" in health["write_problems"]["disk"]
            messages_left()
            assert system.proc.poll() is None, system.output()[-3000:]
        finally:
            ballast.unlink()
            (small_disk / "ballast-tail").unlink(missing_ok=True)

        kept_at_once = [s for p, s in checked.answers if p.startswith("voice/recording") and s != 503]
        assert not kept_at_once, checked.answers  # nothing could be kept when it was left: all had to be recovered
        assert not checked.bad, checked.bad  # every webhook answered valid TwiML with something to do
        assert system.proc.poll() is None, system.output()[-3000:]  # ivr serve never stopped itself

        # Writes work again: the workers list what Twilio holds and keep every message, no restart.
        store, callbacks = VoicemailStore(conn), CallbackQueue(conn)

        def all_kept() -> bool:
            try:
                return all(store.get(recording) is not None for _call, recording, _caller in left)
            except redis.RedisError:
                return False

        wait_for(all_kept, timeout=120, what="every message left meanwhile to be recovered")
        for _call, recording, caller in left:
            vm = store.get(recording)
            assert vm.caller == caller and vm.callback_id, vm
            assert callbacks.get(vm.callback_id).phone == caller
        assert sorted(vm.recording_sid for vm in store.recent(100)) == sorted(r for _c, r, _n in left)  # each once
        assert len({store.get(r).callback_id for _c, r, _n in left}) == len(left)
        system.healthy()  # and the system says all is well again
    finally:
        system.stop()
        fake.stop()

"""Two real `ivr serve`s, each with its own data folder, on one Redis and one S3 API server (moto) on localhost
(issue 33, part 2): a message the speech worker of the first stored is played by a console of the second,
and a speech worker killed with SIGKILL in the middle of its upload loses nothing: the sealed file it left
is uploaded by a worker of its own machine, once, and the other server plays it."""

from __future__ import annotations

import os
import secrets
import signal

import pytest
import requests
from rq import Queue, Worker

from ivr.recordings import object_store as recording_store
from ivr.store.voicemails import VoicemailStore
from ivr.workers import SPEECH_QUEUE

from .browser import play_audio
from .conftest import DATA_KEY
from .fake_twilio import FakeTwilio
from .object_store import HoldingProxy
from .processes import free_port, run_ivr, wait_for
from .test_serve_writes_refused import Checked, leave_message
from .test_system import Served, always_open_config
from .test_voicemail_pipeline import reference

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"


def speech_worker_pids(conn) -> list[int]:
    return [w.pid for w in Worker.all(connection=conn, queue=Queue(SPEECH_QUEUE, connection=conn))]


def test_a_second_server_plays_a_message_whose_speech_worker_was_killed_during_its_upload(
    redis_server, redis_conn, s3_server, bucket, tmp_path, page
):
    audio = reference("appt-05")
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16), default_audio=audio)
    proxy = HoldingProxy(int(s3_server.url.rsplit(":", 1)[1]))  # machine A reaches the store through it
    config = always_open_config(tmp_path / "config")
    shared = {"REDIS_URL": redis_server.url, "IVR_DATA_KEY": DATA_KEY, "IVR_CONFIG_DIR": config, "IVR_SWEEP_SECONDS": "1"}
    first = Served(tmp_path / "a" / "var", free_port(), log_dir=tmp_path, **shared, **fake.settings(), **bucket.env(proxy.url))
    second = None
    try:
        wait_for(lambda: speech_worker_pids(redis_conn), timeout=180, interval=0.5, what="the first server's speech worker")
        [speech_pid] = speech_worker_pids(redis_conn)

        proxy.hold.set()  # the store takes the upload and does not answer: the worker is mid-upload
        _call, sid = leave_message(first, fake, Checked(), "+13055550147")
        proxy.held.wait(180)
        assert proxy.held.is_set(), first.output()[-3000:]
        os.kill(speech_pid, signal.SIGKILL)
        proxy.hold.clear()

        store = VoicemailStore(redis_conn)
        vm = store.get(sid)
        local = sorted((tmp_path / "a" / "var" / "recordings").glob(f"*/{sid}.sealed"))
        assert vm.path == str(local[0]) and bucket.keys() == []  # sealed on A's disk, not yet in the bucket
        assert vm.callback_id  # the caller is in line whatever happens to the audio

        # A worker on A (its sweep) uploads the file the killed one left, once the killed upload's lock lapses.
        wait_for(lambda: recording_store.key_of(store.get(sid).path), timeout=180, interval=0.5,
                 what="the message to reach the bucket")
        key = recording_store.key_of(store.get(sid).path)
        assert bucket.keys() == [key]  # in the bucket once
        assert not list((tmp_path / "a" / "var" / "recordings").glob("*/*.sealed"))  # the local copy went

        # Machine B: its own data folder, the same Redis, data key and bucket (reached directly).
        second = Served(tmp_path / "b" / "var", free_port(), log_dir=tmp_path, **shared, **fake.settings(), **bucket.env())
        added = run_ivr("users", "add", "nina", "--role", "nurse", "--password-stdin", input=PASSWORD + "\n",
                        REDIS_URL=redis_server.url, IVR_DATA_DIR=str(tmp_path / "b" / "var"))
        assert added.returncode == 0, added.stderr
        wait_for(lambda: requests.get(second.url + "/healthz", timeout=2).status_code, timeout=120,
                 what="the second server")
        page.goto(second.url + "/login")  # a nurse at machine B's console, in Chromium
        page.get_by_label("Username").fill("nina")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{second.url}/console/callbacks/{vm.callback_id}")
        src = page.locator(f"article.message[data-recording='{sid}'] audio").get_attribute("src")
        played = play_audio(page, src)
        assert played["error"] is None and played["duration"] > 5, (played, second.output()[-3000:])
        assert page.request.get(second.url + src).body() == audio  # the very message, from the bucket
        assert not list((tmp_path / "b" / "var").glob("recordings/*/*.sealed"))  # B never held it on disk
    finally:
        for system in (second, first):
            if system is not None:
                system.stop()
        proxy.close()
        fake.stop()

"""The two-machine layout of deploy/two-machines.md, on localhost ports (issue 33, part 5).

Real processes: a Redis primary ("machine A"), two replicas ("B" and "C") and three Sentinels (one per
machine), moto's S3 server for the recordings bucket, and two `ivr serve`s pointed at the Sentinels and the
bucket, each with its own data folder: A runs web and the clinic's RQ worker (`--no-speech`), B runs web and
the speech worker (`--workers 0`). Twilio reaches them through a stand-in for nginx: every webhook is signed
for the public address (IVR_PUBLIC_URL, the same on both) and sent to the machine the test picks.

A message left through A is transcribed by B's speech worker (A has none) and plays, with its transcript, on
A's console and on B's, from the bucket, with one staff login (both webs share the session secret and
Redis). Then machine A's Redis and Sentinel are killed with SIGKILL: the Sentinels of B and C promote a
replica, and a caller sent to B gets valid TwiML throughout and a confirmed callback that both consoles show,
next to the message from before the failover.

Run with -s to see the figures.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from rq import Queue, Worker
from rq.job import Job

from ivr import config as config_module
from ivr.recordings import object_store as recording_store
from ivr.staff.passwords import hash_password
from ivr.store import connect_from_config
from ivr.store.callbacks import CallbackQueue
from ivr.store.users import UserStore
from ivr.store.voicemails import VoicemailStatus, VoicemailStore
from ivr.telephony.simulator import PhoneCall
from ivr.workers import SPEECH_QUEUE
from ivr.workers.voicemail import job_id

from .browser import play_audio
from .conftest import DATA_KEY
from .fake_twilio import FakeTwilio
from .object_store import Bucket
from .processes import free_port, wait_for
from .sentinels import start_cluster
from .test_serve_writes_refused import Checked, leave_message
from .test_system import Served, always_open_config
from .test_voicemail_pipeline import reference, truth, words_of

pytestmark = pytest.mark.slow

PUBLIC_URL = "http://phones.clinic.test"  # what Twilio calls (https in production: deploy/two-machines.md)
PASSWORD = "correct horse battery staple"
MESSAGE = "appt-05"
APOLOGY = "our phone menu is having a problem"


class Balancer(Checked):
    """nginx in front of both webs: a webhook Twilio signed for the public address goes to ``backend``,
    and its TwiML is checked as Twilio reads it (Checked)."""

    def __init__(self) -> None:
        super().__init__()
        self.backend = ""
        self.served_by: list[str] = []

    def __call__(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        assert url.startswith(PUBLIC_URL), url  # the app's TwiML sends Twilio back to the public address
        self.served_by.append(self.backend)
        return super().__call__(self.backend + url[len(PUBLIC_URL):], data, headers)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def workers_of(server: Served) -> list[str]:
    """The `ivr worker` commands the machine's `ivr serve` runs: "worker" or "worker --speech" each."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().decode().split("\0")
            if parent_of(int(proc.name)) == server.proc.pid and "worker" in argv:
                found.append(" ".join(argv[argv.index("worker"):]).strip())
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return sorted(found)


@pytest.fixture(scope="module")
def machines(tmp_path_factory, s3_server):
    tmp = tmp_path_factory.mktemp("two-machines")
    cluster = start_cluster(tmp / "redis", replicas=2)  # primary on A, replicas on B and C, a Sentinel on each
    bucket = Bucket("recordings-" + secrets.token_hex(4), s3_server).create()
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16), default_audio=reference(MESSAGE))
    shared = {  # the same on both machines (deploy/two-machines.md, "Settings")
        "IVR_REDIS_SENTINELS": cluster.addresses, "IVR_DATA_KEY": DATA_KEY, "IVR_SECRET_KEY": secrets.token_hex(32),
        "IVR_PUBLIC_URL": PUBLIC_URL, "IVR_CONFIG_DIR": always_open_config(tmp / "config"), "IVR_SWEEP_SECONDS": "1",
        **fake.settings(), **bucket.env(),
    }
    started: list[Served] = []
    try:
        a = Served(tmp / "a" / "var", free_port(), log_dir=tmp, args=("--workers", "1", "--no-speech"), **shared)
        started.append(a)
        b = Served(tmp / "b" / "var", free_port(), log_dir=tmp, args=("--workers", "0"), **shared)
        started.append(b)
        conn = connect_from_config(config_module.environment_settings({"IVR_REDIS_SENTINELS": cluster.addresses}), timeout=5)
        UserStore(conn).add("nina", "nurse", hash_password(PASSWORD))
        yield SimpleNamespace(a=a, b=b, cluster=cluster, bucket=bucket, fake=fake, conn=conn)
    finally:
        for system in reversed(started):
            system.stop()
        fake.stop()
        cluster.stop()


def speech_workers(conn) -> list[Worker]:
    return Worker.all(connection=conn, queue=Queue(SPEECH_QUEUE, connection=conn))


def ask_for_callback(balancer: Balancer, fake: FakeTwilio, caller: str) -> tuple[str, str]:
    """A caller asks for the nurse, nobody answers, they take a callback and say why. (CallSid, what they heard last)."""
    call = PhoneCall(balancer, PUBLIC_URL, fake.auth_token, caller=caller, account_sid=fake.account_sid)
    turn = call.start()
    for step in ("nurse", "desk", "offer", "confirm", "reason"):
        if APOLOGY in turn.text:
            break
        if step == "nurse":
            turn = call.press("3")
        elif step == "desk" and turn.waiting == "dial":
            turn = call.dial_result("no-answer")
        elif step in ("offer", "confirm"):
            turn = call.press("1")
        elif step == "reason" and turn.waiting == "record":  # why they called, in a few words
            turn = call.record(seconds=4)
    return call.call_sid, turn.text


def listen(page, server: Served, callback_id: str, sid: str) -> tuple[dict, bytes, str]:
    """On ``server``'s console: the message's player played in Chromium, the bytes it plays, the transcript shown."""
    page.goto(f"{server.url}/console/callbacks/{callback_id}")
    message = page.locator(f"article.message[data-recording='{sid}']")
    src = message.locator("audio").get_attribute("src")
    played = play_audio(page, src)
    return played, page.request.get(server.url + src).body(), message.locator("blockquote.transcript").inner_text()


def test_two_machines_share_messages_and_consoles_and_outlive_the_redis_primary(machines, page):
    a, b, cluster, bucket, fake, conn = machines.a, machines.b, machines.cluster, machines.bucket, machines.fake, machines.conn
    started = time.monotonic()
    a.healthy(), b.healthy()
    [speech] = wait_for(lambda: speech_workers(conn), timeout=240, interval=0.5, what="B's speech worker")
    assert workers_of(a) == ["worker"] and workers_of(b) == ["worker --speech"]  # A: no speech worker; B: only one
    assert parent_of(speech.pid) == b.proc.pid
    ready = time.monotonic() - started

    # A caller leaves a message; every webhook of the call goes to A.
    balancer = Balancer()
    balancer.backend = a.url
    _call, sid = leave_message(SimpleNamespace(url=PUBLIC_URL), fake, balancer, "+13055550147")
    assert not balancer.bad and set(balancer.served_by) == {a.url}, (balancer.bad, balancer.answers)
    assert [code for path, code in balancer.answers if path.startswith("voice/recording")] == [204]  # A kept it
    store = VoicemailStore(conn)
    left = time.monotonic()
    vm = wait_for(lambda: (v := store.get(sid)) and v.status is VoicemailStatus.TRANSCRIBED and v, timeout=240,
                  interval=0.5, what="B's speech worker to transcribe the message")
    transcribed = time.monotonic() - left
    assert Job.fetch(job_id(sid), connection=conn).worker_name == speech.name
    key = recording_store.key_of(vm.path)
    assert key and bucket.keys() == [key]  # in the bucket once, sealed
    assert reference(MESSAGE) not in bucket.read(key)
    for machine in ("a", "b"):  # neither machine keeps it on its disk
        assert not list((Path(a.data_dir).parent.parent / machine / "var").glob("recordings/*/*.sealed"))

    # One login (through A) is good on both webs: one session secret, sessions in Redis.
    page.goto(a.url + "/login")
    page.get_by_label("Username").fill("nina")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(a.url + "/console")
    expected = words_of(truth(MESSAGE))
    for server in (a, b):
        played, body, transcript = listen(page, server, vm.callback_id, sid)
        assert played["error"] is None and played["duration"] > 5, (played, server.output()[-3000:])
        assert body == reference(MESSAGE)  # the very message, from the bucket
        assert len(words_of(transcript) & expected) >= len(expected) // 2, transcript

    # Machine A's Redis and its Sentinel die; the Sentinels of B and C (2 of 3, the quorum) promote a replica.
    killed_at = time.monotonic()
    cluster.primary.kill()
    cluster.sentinels[0].process.kill()
    cluster.sentinels[0].process.wait()
    new_primary = cluster.promoted(timeout=30)
    promoted = time.monotonic() - killed_at
    # A caller sent to B: valid TwiML at every step (checked), and a confirmed callback once the new primary
    # has its replica (until then a confirmed write cannot be promised: the caller hears the apology).
    balancer = Balancer()
    balancer.backend = b.url
    tries: list[str] = []
    callers = iter(f"+1202555{n:04d}" for n in range(1600, 2000))

    def confirmed_callback():
        call_sid, heard = ask_for_callback(balancer, fake, next(callers))
        tries.append(heard)
        return "you are number" in heard and call_sid

    try:
        call_sid = wait_for(confirmed_callback, timeout=30, interval=0.2, what="a callback confirmed after the failover")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; {len(tries)} calls, the last heard: {tries[-2:]}; B: {b.output()[-2000:]}") from None
    recovered = time.monotonic() - killed_at
    assert not balancer.bad, balancer.bad[:3]
    assert set(balancer.served_by) == {b.url}
    callback_id = CallbackQueue(conn).find_for_call("nurse", call_sid)
    assert callback_id
    assert conn.info("replication")["role"] == "master" and int(conn.info("server")["tcp_port"]) == new_primary[1]
    for server in (a, b):  # both consoles show the new callback and the message from before the failover
        page.goto(server.url + "/console")
        assert page.locator(f"tr[data-callback='{callback_id}']").count() == 1, server.output()[-3000:]
        assert page.locator(f"tr[data-callback='{vm.callback_id}']").count() == 1
        assert requests.get(server.url + "/healthz", timeout=5).json()["redis"] == "ok"
    assert a.proc.poll() is None and b.proc.poll() is None

    print(f"\ntwo machines: both healthy and B's speech worker listening {ready:.1f} s into the test; the message left "
          f"through A transcribed by B {transcribed:.1f} s after the call; Sentinels promoted a replica "
          f"{promoted:.1f} s after A's Redis and Sentinel were killed; the first confirmed callback through B "
          f"{recovered:.1f} s after the kill, on call {len(tries)} ({sum(APOLOGY in t for t in tries)} heard the apology)")

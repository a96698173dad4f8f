"""Losing the Redis primary loses nothing confirmed to a caller, and no caller hears an error.

Real processes: a Redis primary, one replica and three Sentinels (the redis-server binary the
embedded server uses), two web servers (gunicorn) and two `ivr worker` processes, all pointed at the
Sentinels (IVR_REDIS_SENTINELS, so confirmed writes wait for one replica). Simulated callers go
through the callback and voicemail paths, alternating between the two web servers, while the
primary is killed with SIGKILL; the Sentinels promote the replica, and the old primary's machine
comes back as a replica of the new one. Then every callback and voicemail a caller heard confirmed
must be in Redis, and every caller in between must have heard a person (Dial) or voicemail
(Record), never an HTTP error or silence.

Run with -s to see the figures.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from ivr.operations import web_server
from ivr.operations.redis_server import EmbeddedRedis
from ivr.protection.sealing import new_key
from ivr.telephony.simulator import CallError, PhoneCall, requests_transport
from ivr.store import connect
from ivr.store.callbacks import CallbackQueue
from ivr.store.voicemails import VoicemailStore
from ivr.workers import DEFAULT_QUEUE

from .processes import ROOT, env, free_port, wait_for
from .sentinels import start_cluster

pytestmark = pytest.mark.slow

TOKEN = "failover-test-token"
APOLOGY = "our phone menu is having a problem"
CALLERS = 6  # concurrent simulated callers
BEFORE_KILL = 3.0  # seconds of calls before the primary dies
AFTER_RECOVERY = 3.0  # seconds of calls after confirmations are back


def open_all_week(config: Path) -> None:
    """The clinic's settings, open every hour of every day, no holidays: every call reaches the menus."""
    clinic = config / "clinic.yaml"
    text = clinic.read_text()
    days = "".join(f'  {d}: ["00:00-24:00"]\n' for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    text = re.sub(r"^hours:\n(?:  .*\n)+", "hours:\n" + days, text, flags=re.M)
    text = re.sub(r"^holidays:\n(?:  .*\n)+", "holidays: []\n", text, flags=re.M)
    clinic.write_text(text)


@dataclass
class Tally:
    """What callers heard, counted under a lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0
    callbacks: list[tuple[str, str]] = field(default_factory=list)  # (department, CallSid) confirmed
    voicemails: list[str] = field(default_factory=list)  # RecordingSids confirmed ("we saved your message")
    fallback_person: int = 0  # apology, rung through to the fallback desk
    fallback_voicemails: list[str] = field(default_factory=list)  # fallback voicemail confirmed kept
    fallback_unconfirmed: int = 0  # fallback voicemail recorded, no promise made
    bad: list[str] = field(default_factory=list)  # an HTTP error, bad TwiML, silence
    confirmed_at: list[float] = field(default_factory=list)
    slowest: float = 0.0


class Caller:
    """One simulated caller after another, each through the callback or the voicemail path."""

    def __init__(self, index: int, ports: list[int], tally: Tally, stop: threading.Event) -> None:
        self.index, self.ports, self.tally, self.stop = index, ports, tally, stop
        self.transport = self._timed(requests_transport(timeout=15.0))  # Twilio waits 15 s for TwiML

    def _timed(self, post):
        def timed(url, data, headers):
            start = time.monotonic()
            try:
                return post(url, data, headers)
            finally:
                spent = time.monotonic() - start
                with self.tally.lock:
                    self.tally.slowest = max(self.tally.slowest, spent)

        return timed

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            port = self.ports[(self.index + n) % len(self.ports)]
            wants_callback = (self.index + n) % 2 == 0
            caller = f"+1202555{self.index:02d}{n % 100:02d}"
            recordings: list[str] = []
            call = PhoneCall(
                self.transport, f"http://127.0.0.1:{port}", TOKEN, caller=caller,
                on_request=lambda url, params: recordings.append(params["RecordingSid"]) if "RecordingSid" in params and "/voice/recording" not in url else None,
            )
            try:
                outcome = self.one_call(call, wants_callback, recordings)
            except (CallError, requests.RequestException) as exc:
                outcome = f"bad: {exc.__class__.__name__}: {exc}"
            with self.tally.lock:
                self.tally.calls += 1
                if outcome.startswith("bad"):
                    self.tally.bad.append(outcome)

    def one_call(self, call: PhoneCall, wants_callback: bool, recordings: list[str]) -> str:
        turn = call.start()
        if "You already have a call back in line" in turn.text:  # this number called before: it keeps its place
            wants_callback, turn = True, call.press("1")
            steps: tuple[str, ...] = ()
        else:
            steps = ("nurse", "desk", "offer", "confirm", "record")
        for step in steps:
            if APOLOGY in turn.text:
                return self.fallback(call, turn, recordings)
            if step == "nurse":
                turn = call.press("3")
            elif step == "desk":
                if turn.waiting == "dial":
                    turn = call.dial_result("no-answer")
            elif step == "offer":
                turn = call.press("1" if wants_callback else "3")
            elif step == "confirm":
                if wants_callback:
                    turn = call.press("1")
            elif step == "record":
                if turn.waiting != "record":
                    return f"bad: expected a Record, the caller waits on {turn.waiting!r}: {turn.text[:200]}"
                turn = call.record(seconds=5)
        if APOLOGY in turn.text:
            return self.fallback(call, turn, recordings)
        now = time.monotonic()
        if wants_callback and "you are number" in turn.text:
            with self.tally.lock:
                self.tally.callbacks.append(("nurse", call.call_sid))
                self.tally.confirmed_at.append(now)
            return "callback"
        if not wants_callback and "We saved your message" in turn.text:
            with self.tally.lock:
                self.tally.voicemails.append(recordings[-1])
                self.tally.confirmed_at.append(now)
            return "voicemail"
        return f"bad: no confirmation and no fallback ({turn.waiting}): {turn.text[:200]}"

    def fallback(self, call: PhoneCall, turn, recordings: list[str]) -> str:
        """The apology: a person is rung (Dial); nobody answers here, so the caller leaves a message."""
        if turn.waiting != "dial":
            return f"bad: apology without a Dial ({turn.waiting})"
        with self.tally.lock:
            self.tally.fallback_person += 1
        turn = call.dial_result("no-answer")
        if turn.waiting != "record":
            return f"bad: fallback without a Record ({turn.waiting})"
        turn = call.record(seconds=5)
        if "We will call you back" in turn.text:
            with self.tally.lock:
                self.tally.fallback_voicemails.append(recordings[-1])
            return "fallback voicemail"
        if "your message was recorded" in turn.text:
            with self.tally.lock:
                self.tally.fallback_unconfirmed += 1
            return "fallback voicemail, unconfirmed"
        return f"bad: fallback voicemail ended with {turn.text[:200]!r}"


def start(command: list[str], log: Path, environment: dict[str, str]) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def healthy(port: int) -> bool:
    resp = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    return resp.status_code == 200 and resp.json().get("redis") == "ok"


def test_losing_the_primary_loses_nothing_confirmed(tmp_path):
    cluster = start_cluster(tmp_path)  # the Sentinels know each other and the replica before anything fails
    primary, primary_port, [replica] = cluster.primary, cluster.primary_port, cluster.replicas
    processes: list[subprocess.Popen] = []
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    open_all_week(config)
    shared = env(
        TWILIO_AUTH_TOKEN=TOKEN,
        IVR_REDIS_SENTINELS=cluster.addresses,
        IVR_SECRET_KEY="shared-session-key-" + "x" * 40,  # one for every web process on every machine
        IVR_DATA_KEY=new_key(),
        IVR_CONFIG_DIR=str(config),
        IVR_LOG_LEVEL="WARNING",
    )
    try:
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):  # two "machines": each its own data folder
            machine = dict(shared, IVR_DATA_DIR=str(tmp_path / f"machine-{i}"))
            processes.append(start(web_server.gunicorn_command(f"127.0.0.1:{port}", 2),  # as `ivr serve` runs it
                                   tmp_path / f"web-{i}.log", machine))
            processes.append(start([sys.executable, "-m", "ivr.cli", "worker"], tmp_path / f"worker-{i}.log", machine))
        for port in ports:
            wait_for(lambda port=port: healthy(port), timeout=30, what=f"web on {port}")

        tally, stop_calls = Tally(), threading.Event()
        threads = [threading.Thread(target=Caller(i, ports, tally, stop_calls).run, daemon=True) for i in range(CALLERS)]
        for t in threads:
            t.start()
        time.sleep(BEFORE_KILL)
        confirmed_before = len(tally.confirmed_at)

        killed_at = time.monotonic()
        primary.kill()  # SIGKILL, as a lost machine
        new_primary = cluster.promoted(timeout=30)
        failover_seconds = time.monotonic() - killed_at
        # The lost machine comes back (or is replaced) as a replica of the new primary.
        rejoined = EmbeddedRedis(tmp_path / "primary", appendonly=True, port=primary_port, replicaof=new_primary).start()
        wait_for(lambda: any(t > killed_at for t in tally.confirmed_at), timeout=30, what="confirmations again")
        without_confirmations = min(t for t in tally.confirmed_at if t > killed_at) - killed_at
        time.sleep(AFTER_RECOVERY)
        stop_calls.set()
        for t in threads:
            t.join(30)

        # Everything confirmed is on the new primary.
        conn = connect(f"unix://{replica.socket}", timeout=5)
        assert conn.info("replication")["role"] == "master"
        queue, voicemails = CallbackQueue(conn), VoicemailStore(conn)
        lost_callbacks = [sid for dept, sid in tally.callbacks if not queue.find_for_call(dept, sid)]
        lost_voicemails = [sid for sid in tally.voicemails + tally.fallback_voicemails
                           if voicemails.get(sid) is None or not voicemails.get(sid).callback_id]
        lost = len(lost_callbacks) + len(lost_voicemails)
        # The workers went on with the new primary: the call summaries queued by then are done.
        from rq import Queue

        wait_for(lambda: Queue(DEFAULT_QUEUE, connection=conn).count == 0, timeout=20, what="workers to drain the queue")
        alive = [p.poll() is None for p in processes]

        print(
            f"\nfailover: {tally.calls} calls, {len(tally.callbacks)} callbacks and {len(tally.voicemails)} voicemails "
            f"confirmed ({confirmed_before} before the kill), {tally.fallback_person} callers sent to a person "
            f"({len(tally.fallback_voicemails)} fallback voicemails confirmed kept, {tally.fallback_unconfirmed} recorded "
            f"without a promise), {len(tally.bad)} errors, lost {lost}; Sentinels promoted the replica after "
            f"{failover_seconds:.1f} s, confirmations resumed after {without_confirmations:.1f} s; slowest webhook "
            f"{tally.slowest:.2f} s"
        )
        assert not tally.bad, tally.bad[:5]
        assert lost == 0, (lost_callbacks, lost_voicemails)
        assert confirmed_before > 0 and len(tally.confirmed_at) > confirmed_before
        assert tally.fallback_person > 0  # the switch was felt, and callers reached a person
        assert all(alive), [p.args for p, ok in zip(processes, alive) if not ok]
        rejoined.stop()
    finally:
        for proc in processes:
            stop(proc)
        cluster.stop()


def test_a_write_no_replica_acknowledged_is_not_confirmed(tmp_path, monkeypatch):
    """With replication required and no replica, ``durable`` raises: a callback request is refused."""
    from ivr import config as config_module
    from ivr.store import NotReplicated, connect_from_config, durable

    settings = config_module.environment_settings(
        {"IVR_REDIS_SENTINELS": "127.0.0.1:26379, 127.0.0.1:26380", "IVR_REDIS_PASSWORD": "p@ss"})
    url = config_module.redis_url(settings)
    assert url == "redis+sentinel://:p%40ss@127.0.0.1:26379,127.0.0.1:26380/mymaster?min_replicas=1&replica_wait_ms=500"
    client = connect_from_config(settings)
    assert (client.min_replicas, client.replica_wait_ms) == (1, 500)
    assert client.connection_pool.connection_kwargs["password"] == "p@ss"

    with EmbeddedRedis(tmp_path / "alone", appendonly=False) as server:
        plain = connect_from_config({"REDIS_URL": server.url, "DATA_DIR": str(tmp_path)})
        assert plain.min_replicas == 0
        durable(plain)  # no replication asked for: nothing to wait for
        plain.min_replicas, plain.replica_wait_ms = 1, 50
        with pytest.raises(NotReplicated):
            durable(plain)
        with pytest.raises(NotReplicated):
            CallbackQueue(plain).request("nurse", "+12025550123", "en", call_sid="CA" + "1" * 32)


def test_healthz_says_when_confirmed_writes_lack_their_replica(tmp_path, make_app):
    """Operators see on /healthz that callers get the fallback because no replica is connected, and when one is."""
    primary_port = free_port()
    with EmbeddedRedis(tmp_path / "primary", appendonly=False, port=primary_port) as primary:
        app = make_app(REDIS_URL=primary.url)
        app.extensions["ivr"].redis.min_replicas = 1  # as IVR_REDIS_MIN_REPLICAS=1 (or Sentinels) sets it
        report = app.test_client().get("/healthz").get_json()
        assert report["redis_replication"]["role"] == "master"
        assert report["redis_replication"]["replicas"] == 0
        assert "callers" in report["redis_replication"]["problem"] and report["status"] == "degraded"
        with EmbeddedRedis(tmp_path / "replica", appendonly=False, port=free_port(),
                           replicaof=("127.0.0.1", primary_port)):
            wait_for(lambda: connect(primary.url).info("replication").get("connected_slaves", 0) >= 1, 15)
            replication = app.test_client().get("/healthz").get_json()["redis_replication"]
            assert replication == {"role": "master", "replicas": 1, "replicas_needed": 1}

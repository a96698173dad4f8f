"""Running the system as a clinic's IT person does: set-up script, workers, health, the operator commands."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .processes import ROOT

# scripts/bootstrap on a fresh Debian machine ------------------------------------------------

VENV_PACKAGE = f"python{sys.version_info.major}.{sys.version_info.minor}-venv"


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


class FreshDebian:
    """A checkout of scripts/bootstrap on a machine whose Debian tools are stand-ins that keep a log.

    ``python3`` is the real interpreter except that, like Debian's without python3-venv, it has no
    ensurepip and cannot make a venv until apt-get has installed the venv package. The venv it makes
    holds a stand-in python that logs what pip is asked to do.
    """

    def __init__(self, root: Path, installed: tuple[str, ...], ensurepip: bool = False) -> None:
        self.root = root
        self.checkout = root / "checkout"
        (self.checkout / "scripts").mkdir(parents=True)
        shutil.copy2(ROOT / "scripts" / "bootstrap", self.checkout / "scripts" / "bootstrap")
        shutil.copy2(ROOT / "pyproject.toml", self.checkout / "pyproject.toml")
        self.bin = root / "bin"
        self.bin.mkdir()
        self.log = root / "log"
        self.log.touch()
        self.installed = root / "installed"
        self.installed.write_text("".join(f"{name}\n" for name in installed))
        if ensurepip:
            (root / "has-ensurepip").touch()
        _script(self.bin / "dpkg-query", f"""\
            pkg=$(eval echo \\${{$#}})
            grep -qx "$pkg" {self.installed} && printf 'install ok installed' && exit 0
            exit 1
        """)
        _script(self.bin / "apt-get", f"""\
            echo "apt-get $*" >> {self.log}
            if [ "$1" = install ]; then
              for arg in "$@"; do
                case "$arg" in -*|install) ;; *) echo "$arg" >> {self.installed};; esac
                case "$arg" in {VENV_PACKAGE}) touch {root}/has-ensurepip;; esac
              done
            fi
        """)
        _script(self.bin / "sudo", 'exec "$@"\n')
        venv_python = textwrap.dedent(f"""\
            #!/bin/sh
            echo "venv-python $*" >> {self.log}
        """)
        _script(self.bin / "python3", f"""\
            case "$*" in
              *ensurepip*) [ -f {root}/has-ensurepip ] || exit 1; exit 0;;
              "-m venv"*)
                mkdir -p .venv/bin
                if [ ! -f {root}/has-ensurepip ]; then
                  # What Debian's python does: bin/python is made (here one without pip), then it stops.
                  printf '#!/bin/sh\nexit 1\n' > .venv/bin/python && chmod +x .venv/bin/python
                  echo "The virtual environment was not created successfully because ensurepip is not available." >&2
                  exit 1
                fi
                echo "venv $*" >> {self.log}
                rm -f .venv/bin/python .venv/.installed-*
                cat > .venv/bin/python <<'EOF'
{venv_python}EOF
                chmod +x .venv/bin/python
                exit 0;;
            esac
            exec {sys.executable} "$@"
        """)

    def bootstrap(self) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
        env["PATH"] = f"{self.bin}:{env['PATH']}"
        return subprocess.run(
            ["bash", "scripts/bootstrap"], cwd=self.checkout, env=env, capture_output=True, text=True, timeout=60
        )

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()


def test_bootstrap_installs_the_venv_package_a_fresh_debian_lacks(tmp_path):
    machine = FreshDebian(tmp_path, installed=())

    result = machine.bootstrap()

    assert result.returncode == 0, result.stderr
    installs = [line for line in machine.lines() if line.startswith("apt-get install")]
    assert len(installs) == 1  # one apt-get step for every Debian package
    assert installs[0].split()[-4:] == ["ffmpeg", "graphviz", "espeak-ng", VENV_PACKAGE]
    assert "venv -m venv --clear .venv" in machine.lines()
    assert any(line.startswith("venv-python -m pip install -q -e .") for line in machine.lines())

    # Run again: nothing more to install, the venv is kept.
    machine.log.write_text("")
    assert machine.bootstrap().returncode == 0
    assert not [line for line in machine.lines() if line.startswith(("apt-get", "venv "))]


def test_bootstrap_asks_for_no_venv_package_where_python_has_ensurepip(tmp_path):
    machine = FreshDebian(tmp_path, installed=("ffmpeg", "graphviz", "espeak-ng"), ensurepip=True)

    result = machine.bootstrap()

    assert result.returncode == 0, result.stderr
    assert not [line for line in machine.lines() if line.startswith("apt-get")]
    assert "venv -m venv --clear .venv" in machine.lines()


def test_bootstrap_remakes_a_venv_left_half_made_before_the_venv_package(tmp_path):
    """`python3 -m venv` without ensurepip leaves .venv/bin/python but no pip: bootstrap must not keep it."""
    machine = FreshDebian(tmp_path, installed=("ffmpeg",))
    (machine.checkout / ".venv" / "bin").mkdir(parents=True)
    _script(machine.checkout / ".venv" / "bin" / "python", "exit 1\n")  # an interpreter without pip

    result = machine.bootstrap()

    assert result.returncode == 0, result.stderr
    assert any(line.startswith("apt-get install") and line.endswith(VENV_PACKAGE) for line in machine.lines())
    assert "venv -m venv --clear .venv" in machine.lines()


# Workers that die --------------------------------------------------------------------------


def _start_worker(redis_server) -> subprocess.Popen:
    from .processes import IVR, env

    return subprocess.Popen(
        [*IVR, "worker"], cwd=ROOT, env=env(REDIS_URL=redis_server.url),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process still running (an exited one not yet reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.slow
def test_a_killed_worker_takes_its_scheduler_along_and_healthz_stops_counting_it(redis_server, redis_conn, app, clock):
    import datetime as dt

    from rq import Worker
    from rq.utils import utcparse

    from ivr.workers.presence import LIVE_SECONDS

    from .processes import wait_for

    def schedulers() -> dict[bytes, dict]:
        return {key: redis_conn.hgetall(key) for key in redis_conn.scan_iter("rq:scheduler:*")}

    def health() -> dict:
        clock.set(dt.datetime.now(dt.timezone.utc))
        return app.test_client().get("/healthz").get_json()

    first = _start_worker(redis_server)
    second = None
    try:
        wait_for(lambda: health()["workers"] == 1, timeout=30, what="the worker to start")
        (scheduler,) = wait_for(lambda: list(schedulers().values()), timeout=30, what="its scheduler to start")
        scheduler_pid = int(scheduler[b"pid"])
        assert _running(scheduler_pid)

        first.kill()  # SIGKILL: the worker cannot stop its scheduler itself
        first.wait(10)
        killed_at = time.monotonic()
        wait_for(lambda: not _running(scheduler_pid), timeout=10, what="the orphaned scheduler to exit")
        assert time.monotonic() - killed_at < 5
        assert schedulers() == {}  # it stopped cleanly: registration removed
        assert not list(redis_conn.scan_iter("rq:scheduler-lock:*"))  # and its locks released

        # Restarted (as `ivr serve` does): the new worker's scheduler takes over at once.
        (dead_key,) = Worker.all_keys(connection=redis_conn)
        last_heard = utcparse(redis_conn.hget(dead_key, "last_heartbeat").decode())
        time.sleep(2)
        second = _start_worker(redis_server)
        wait_for(lambda: len(schedulers()) == 1, timeout=30, what="the new worker's scheduler")
        assert Worker.count(connection=redis_conn) == 2  # RQ still lists the killed one
        # Once the killed worker has not been heard from for LIVE_SECONDS, /healthz counts the live one only.
        clock.set(last_heard + dt.timedelta(seconds=LIVE_SECONDS + 1))
        assert app.test_client().get("/healthz").get_json()["workers"] == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(15)


@pytest.mark.slow
def test_healthz_counts_speech_workers_apart(redis_server, redis_conn, app, clock):
    """Voicemails wait untranscribed without a speech worker: /healthz says how many there are.

    The speech worker runs no scheduler (forked from a process holding the speech models, it was a
    second resident copy of them): the clinic's worker moves the voicemail queue's due jobs too."""
    import datetime as dt

    from rq import Queue
    from rq.job import Job, JobStatus

    from ivr.workers import SPEECH_QUEUE

    from .processes import IVR, env, wait_for

    def health() -> dict:
        clock.set(dt.datetime.now(dt.timezone.utc))
        return app.test_client().get("/healthz").get_json()

    assert health()["speech_workers"] == 0
    general = _start_worker(redis_server)
    speech = subprocess.Popen([*IVR, "worker", "--speech"], cwd=ROOT, env=env(REDIS_URL=redis_server.url),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: health()["workers"] == 2, timeout=60, what="both workers to start")
        assert health()["speech_workers"] == 1
        schedulers = wait_for(lambda: [redis_conn.hgetall(k) for k in redis_conn.scan_iter("rq:scheduler:*")],
                              timeout=30, what="the scheduler")
        (scheduler,) = schedulers  # one, the general worker's
        parent = Path(f"/proc/{int(scheduler[b'pid'])}/stat").read_text().rsplit(")", 1)[1].split()[1]
        assert int(parent) == general.pid
        # A voicemail job due later (a retry) is moved to the speech queue by it, and run by the speech worker.
        job = Queue(SPEECH_QUEUE, connection=redis_conn).enqueue_in(dt.timedelta(seconds=1), "os.getpid")
        wait_for(lambda: Job.fetch(job.id, connection=redis_conn).get_status() == JobStatus.FINISHED,
                 timeout=30, what="the scheduled speech job to run")
        assert Job.fetch(job.id, connection=redis_conn).return_value() == speech.pid
    finally:
        for proc in (general, speech):
            proc.terminate()
            proc.wait(15)


# /healthz is current --------------------------------------------------------------------------


def test_healthz_shows_a_flow_fixed_or_broken_without_waiting_for_a_call(make_app, config_copy):
    config, prompts = config_copy
    app = make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=3600)  # no periodic re-read
    client = app.test_client()
    assert "flow_issues" not in client.get("/healthz").get_json()

    flow = config / "flows" / "main.yaml"
    original = flow.read_text()
    flow.write_text(original.replace("next: to_billing", "next: to_the_moon"))
    health = client.get("/healthz").get_json()
    assert any("to_the_moon" in issue for issue in health["flow_issues"])
    assert health["flows"] == ["followup", "main"]  # the last good version keeps serving

    flow.write_text(original)  # fixed; still no call has come in
    assert "flow_issues" not in client.get("/healthz").get_json()

    clinic = config / "clinic.yaml"
    good = clinic.read_text()
    clinic.write_text(good.replace("America/New_York", "Mars/Olympus"))
    health = client.get("/healthz").get_json()
    assert any("Mars/Olympus" in issue for issue in health["settings_issues"])
    clinic.write_text(good)
    assert "settings_issues" not in client.get("/healthz").get_json()


# Operator commands and the README ------------------------------------------------------------


def test_readme_configuration_table_names_every_setting():
    import re

    from ivr.config import Defaults

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("`config/clinic.yaml` holds", 1)[0]
    documented = set(re.findall(r"`(?:IVR_)?([A-Z][A-Z0-9_]+)`", table))
    # RELOAD_INTERVAL is for tests; the README says edits are read within two seconds.
    settings = {name for name in dir(Defaults) if name.isupper()} - {"RELOAD_INTERVAL"}
    assert "API_LIMIT" in settings
    assert settings - documented == set()


def _voicemail(redis_conn, sid: str, when: float, **fields):
    from ivr.store.voicemails import Voicemail, VoicemailStore

    store = VoicemailStore(redis_conn)
    store.receive(Voicemail(sid, call_sid="CA" + "1" * 32, caller="+13055550147", department="nurse", lang="en",
                            received_at=when))
    if fields:
        store.update(sid, **fields)
    return store


def test_voicemails_list_shows_clinic_time_with_its_zone(redis_server, redis_conn):
    import datetime as dt

    from .processes import run_ivr

    # config/clinic.yaml's clinic is in America/New_York.
    winter = dt.datetime(2026, 11, 24, 15, 5, tzinfo=dt.timezone.utc).timestamp()  # 10:05 there
    summer = dt.datetime(2026, 7, 1, 13, 30, tzinfo=dt.timezone.utc).timestamp()  # 09:30 there
    _voicemail(redis_conn, "RE" + "a" * 32, winter)
    _voicemail(redis_conn, "RE" + "b" * 32, summer)

    # The server's own zone (here Tokyo) must not matter.
    result = run_ivr("voicemails", "list", REDIS_URL=redis_server.url, TZ="Asia/Tokyo")
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("RE" + "a" * 32 + "  2026-11-24 10:05 EST  nurse")
    assert second.startswith("RE" + "b" * 32 + "  2026-07-01 09:30 EDT  nurse")
    assert "3055550147" not in result.stdout


@pytest.mark.parametrize("limit", ["-5", "0"])
def test_voicemails_list_refuses_a_limit_below_one(redis_server, redis_conn, limit):
    from .processes import run_ivr

    _voicemail(redis_conn, "RE" + "a" * 32, 1_790_000_000.0)
    result = run_ivr("voicemails", "list", "--limit", limit, REDIS_URL=redis_server.url)
    assert result.returncode == 2
    assert "Invalid value for '--limit'" in result.stderr and ">=1" in result.stderr
    assert result.stdout == ""


def test_voicemails_retry_runs_again_only_a_final_failure(redis_server, redis_conn):
    from ivr.store.voicemails import VoicemailStatus

    from .processes import run_ivr

    queued = lambda: redis_conn.llen("rq:queue:speech")  # noqa: E731
    in_progress = "RE" + "a" * 32
    store = _voicemail(redis_conn, in_progress, 1_790_000_000.0, status=VoicemailStatus.STORED, attempts=2,
                       path="x.sealed")
    result = run_ivr("voicemails", "retry", in_progress, REDIS_URL=redis_server.url)
    assert result.returncode == 1
    assert "has not failed (status: audio stored, transcription under way; run 2 of 5)" in result.stderr
    assert queued() == 0 and store.get(in_progress).attempts == 2  # left alone

    done = "RE" + "b" * 32
    _voicemail(redis_conn, done, 1_790_000_100.0, status=VoicemailStatus.TRANSCRIBED)
    result = run_ivr("voicemails", "retry", done, REDIS_URL=redis_server.url)
    assert result.returncode == 1
    assert "(status: transcribed)" in result.stderr
    assert queued() == 0

    failed = "RE" + "c" * 32
    _voicemail(redis_conn, failed, 1_790_000_200.0, status=VoicemailStatus.FETCH_FAILED, attempts=5,
               detail="Twilio answered 401")
    result = run_ivr("voicemails", "retry", failed, REDIS_URL=redis_server.url)
    assert result.returncode == 0, result.stderr
    assert f"queued {failed} again" in result.stdout
    assert queued() == 1
    vm = store.get(failed)
    assert vm.status is VoicemailStatus.RECEIVED and vm.attempts == 0

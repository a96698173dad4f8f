"""The whole system as an administrator runs it: `ivr serve`, then `ivr call` from another terminal."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import signal
import subprocess

import pytest
import redis
import requests
import yaml

from ivr.store import StatsStore

from .conftest import CLINIC_TZ, ROOT
from .processes import IVR, env, free_port, run_ivr, wait_for

pytestmark = pytest.mark.slow


class Served:
    def __init__(self, data_dir, port: int, log_dir=None, args: tuple[str, ...] = (), **extra_env: str) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = (log_dir or data_dir.parent) / f"serve-{port}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [*IVR, "serve", "--port", str(port), "--web-workers", "1", *args],
            cwd=ROOT, env=env(IVR_DATA_DIR=str(data_dir), **extra_env),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def healthy(self) -> dict:
        def check():
            if self.proc.poll() is not None:
                raise AssertionError(f"ivr serve exited: {self.output()}")
            body = requests.get(self.url + "/healthz", timeout=2).json()
            return body if body.get("status") == "ok" else None

        return wait_for(check, timeout=60, what="ivr serve to be healthy")

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.log.close()


def always_open_config(folder) -> str:
    """A copy of config/ where the clinic is open every hour of every day, with no holidays.

    A served system answers by the wall clock, and these tests walk the daytime menus: without
    this they would fail whenever CI runs after hours, at weekends or on a holiday.
    """
    shutil.copytree(ROOT / "config", folder)
    clinic = yaml.safe_load((folder / "clinic.yaml").read_text())
    clinic["hours"] = {day: ["00:00-24:00"] for day in clinic["hours"]}
    clinic["holidays"] = []
    (folder / "clinic.yaml").write_text(yaml.safe_dump(clinic, allow_unicode=True, sort_keys=False))
    return str(folder)


@pytest.fixture
def served(tmp_path):
    started = []
    config = always_open_config(tmp_path / "config")

    def start(**extra_env: str) -> Served:
        extra_env.setdefault("IVR_CONFIG_DIR", config)
        s = Served(tmp_path / "var", free_port(), **extra_env)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        s.log.close()


def embedded_redis(data_dir) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"), socket_timeout=2)


def test_serve_then_call_from_the_terminal_then_stop(served, tmp_path):
    system = served()
    health = system.healthy()
    assert health["redis"] == "ok" and health["workers"] >= 1 and health["flows"] == ["followup", "main"]

    # A caller chooses Spanish, asks for billing by voice, nobody answers, leaves a message.
    script = "9\nquiero pagar mi factura\nn\n3\nTengo una pregunta sobre mi factura de octubre\n"
    result = run_ivr("call", "--url", system.url, "--from", "+13055550147", input=script,
                     IVR_DATA_DIR=str(system.data_dir), timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Thank you for calling Riverside Family Clinic." in out
    assert "hang up and dial 911" in out
    assert "Le comunico con facturación" in out
    assert "[ringing +12025550102]" in out
    assert "Guardamos su mensaje" in out
    assert "[the call has ended]" in out

    # The worker counted the finished call.
    today = dt.datetime.now(dt.timezone.utc).astimezone(CLINIC_TZ).date()
    stats = wait_for(lambda: StatsStore(embedded_redis(system.data_dir)).day(today).get("outcome:voicemail:billing"),
                     what="the worker to count the call")
    assert stats == 1

    # With no Twilio account the message typed at the tone was spoken (espeak-ng) and left as the recording:
    # the speech worker transcribes it and the billing desk reads it in the console within 60 s of the call.
    password = "correct horse battery staple"
    added = run_ivr("users", "add", "bill", "--role", "billing", "--password-stdin", input=password + "\n",
                    IVR_DATA_DIR=str(system.data_dir))
    assert added.returncode == 0, added.stderr
    desk = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', desk.get(system.url + "/login", timeout=5).text).group(1)
    desk.post(system.url + "/login", data={"csrf_token": token, "username": "bill", "password": password}, timeout=5)

    def transcribed() -> str | None:
        page = desk.get(system.url + "/console", timeout=5).text
        billing = re.search(r'<section class="queue" data-department="billing".*?</section>', page, re.S).group(0)
        return billing if re.search(r"factura|octubre", billing, re.I) else None

    billing = wait_for(transcribed, timeout=60, interval=1, what="the message's transcript in the console")
    assert "(•••) •••-0147" in billing and "3055550147" not in billing
    assert not list((system.data_dir / "local-recordings").iterdir())  # kept sealed; the plain copy is gone

    # Ctrl-C / SIGTERM stops web, workers and Redis.
    assert system.stop() == 0
    with pytest.raises(redis.ConnectionError):
        embedded_redis(system.data_dir).ping()
    assert "+13055550147" not in system.output()


def test_data_survives_a_restart_of_the_embedded_redis(served):
    first = served()
    first.healthy()
    embedded_redis(first.data_dir).set("ivr:test:survives", "yes")
    assert first.stop() == 0

    second = served()
    second.healthy()
    assert embedded_redis(second.data_dir).get("ivr:test:survives") == b"yes"
    assert second.stop() == 0


def test_call_refused_without_the_right_token(served):
    system = served()
    system.healthy()
    result = run_ivr("call", "--url", system.url, "--token", "wrong-token", input="1\n",
                     IVR_DATA_DIR=str(system.data_dir))
    assert result.returncode == 2
    assert "403" in result.stderr
    assert system.stop() == 0


def test_call_to_a_server_with_a_twilio_token_says_how_to_pass_it(served):
    token = "server-token-" + "7" * 20
    system = served(TWILIO_AUTH_TOKEN=token)
    system.healthy()

    refused = run_ivr("call", "--url", system.url, input="hangup\n", IVR_DATA_DIR=str(system.data_dir))
    assert refused.returncode == 2
    assert "HTTP 403" in refused.stderr
    assert "signed with the local token in" in refused.stderr  # what it signed with...
    assert "`ivr call --token TOKEN`, or set TWILIO_AUTH_TOKEN in this shell" in refused.stderr  # ...and the way out

    for how in ({"args": ("--token", token)}, {"env": {"TWILIO_AUTH_TOKEN": token}}):
        result = run_ivr("call", "--url", system.url, *how.get("args", ()), input="hangup\n",
                         IVR_DATA_DIR=str(system.data_dir), **how.get("env", {}))
        assert result.returncode == 0, result.stderr
        assert "Thank you for calling Riverside Family Clinic." in result.stdout
    assert system.stop() == 0


def test_serve_refuses_to_start_with_broken_clinic_settings(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    text = (config / "clinic.yaml").read_text()
    (config / "clinic.yaml").write_text(text.replace("America/New_York", "America/Atlantis"))
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("timezone:"))

    result = run_ivr("serve", "--port", str(free_port()), IVR_CONFIG_DIR=str(config),
                     IVR_DATA_DIR=str(tmp_path / "var"), timeout=30)
    assert result.returncode == 1
    assert f"clinic.yaml:{line}: timezone: unknown time zone 'America/Atlantis'" in result.stderr


def test_call_explains_when_nothing_is_listening(tmp_path):
    result = run_ivr("call", "--url", f"http://127.0.0.1:{free_port()}", input="1\n",
                     IVR_DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "Is `ivr serve` running?" in result.stderr

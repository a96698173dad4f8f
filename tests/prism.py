"""Contract tests against Twilio's OpenAPI description, served by the Prism mock server.

Prism (npm @stoplight/prism-cli, installed into .tools/ by ``scripts/bootstrap
test``) answers each request as the description says Twilio's API would, and
answers 422 (with ``--errors``: any violation) when a request does not match
it. Its log shows every request it received, which is how tests count them.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from .processes import ROOT, free_port, wait_for

# Twilio's description, kept in the repository (tests/data/twilio/README.md: source, version, licence).
SPEC = ROOT / "tests" / "data" / "twilio" / "twilio_api_v2010.json"
PRISM = ROOT / ".tools" / "node_modules" / ".bin" / "prism"
START_TIMEOUT = 90.0  # seconds; Prism reads a 1.8 MB description first
CALLS = "/2010-04-01/Accounts/{AccountSid}/Calls.json"


def load_spec() -> dict:
    """Twilio's description from tests/data/twilio; a missing file fails the test (never a silent skip)."""
    if not SPEC.is_file():
        pytest.fail(
            f"Twilio's OpenAPI description is missing: expected {SPEC} (see tests/data/twilio/README.md)",
            pytrace=False,
        )
    return json.loads(SPEC.read_text(encoding="utf-8"))


def explicit_form_arrays(spec: dict) -> tuple[dict, list[str]]:
    """The description with OpenAPI's default encoding of form arrays written out.

    OpenAPI 3.0 says an array in an application/x-www-form-urlencoded body is
    sent as ``style: form, explode: true`` (the key repeated once per item),
    which is how Twilio takes StatusCallbackEvent and how twilio-python sends
    it. Prism applies that only when the encoding is written in the
    description (stoplightio/prism#2473), so here it is, for array properties
    that have none. No schema or constraint is changed. Returns the copy and
    the "path method property" entries added.
    """
    spec = copy.deepcopy(spec)
    added = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            form = (operation.get("requestBody") or {}).get("content", {}).get("application/x-www-form-urlencoded")
            if not form:
                continue
            encoding = form.setdefault("encoding", {})
            for name, schema in form.get("schema", {}).get("properties", {}).items():
                if schema.get("type") == "array" and name not in encoding:
                    encoding[name] = {"style": "form", "explode": True}
                    added.append(f"{path} {method} {name}")
    return spec, added


def example_call_sid(spec: dict) -> str:
    """The sid in the description's example answer to creating a call (what Prism answers)."""
    created = spec["paths"][CALLS]["post"]["responses"]["201"]["content"]["application/json"]
    return created["examples"]["create"]["value"]["sid"]


def new_account_sid() -> str:
    """A well-formed, unique fake Account SID: each test's requests are told apart by it."""
    return "AC" + secrets.token_hex(16)


@dataclass
class Prism:
    base_url: str
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def sync(self) -> None:
        """Wait until every request sent so far is in the log (a marker request goes last)."""
        marker = secrets.token_hex(8)
        requests.get(f"{self.base_url}/sync-{marker}", timeout=10)
        wait_for(lambda: f"sync-{marker}" in self.log(), timeout=10, what="Prism's log to catch up")

    def calls_created(self, account_sid: str) -> int:
        """How many create-call requests Prism received for this account."""
        self.sync()
        pattern = re.compile(rf"\[HTTP SERVER\] post /2010-04-01/Accounts/{account_sid}/Calls\.json .*Request received")
        return len(pattern.findall(self.log()))


def start(spec_path: Path, log_path: Path) -> Prism:
    """Run ``prism mock`` on a free port until it answers (bounded); the caller stops it."""
    if not PRISM.exists():
        pytest.fail(f"the Prism mock server is not installed ({PRISM}): run scripts/bootstrap test", pytrace=False)
    port = free_port()
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed by stop()
    process = subprocess.Popen(
        [str(PRISM), "mock", "--host", "127.0.0.1", "-p", str(port), "--errors", str(spec_path)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stop() ends node and anything it started
        env={**os.environ, "NO_COLOR": "1"},
    )
    log.close()
    prism = Prism(f"http://127.0.0.1:{port}", log_path, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"Prism exited with {process.returncode}:\n{prism.log()[-3000:]}")
        try:
            requests.get(prism.base_url, timeout=2)
            return prism
        except requests.RequestException:
            time.sleep(0.2)
    stop(prism)
    raise AssertionError(f"Prism did not answer within {START_TIMEOUT}s:\n{prism.log()[-3000:]}")


def stop(prism: Prism) -> None:
    if prism.process.poll() is not None:
        return
    try:
        os.killpg(prism.process.pid, signal.SIGTERM)
        try:
            prism.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(prism.process.pid, signal.SIGKILL)
            prism.process.wait(timeout=10)
    except ProcessLookupError:  # already gone
        prism.process.wait(timeout=10)


@pytest.fixture(scope="session")
def twilio_spec() -> dict:
    return load_spec()


@pytest.fixture(scope="session")
def prism(twilio_spec, tmp_path_factory):
    """Prism serving Twilio's description, for the whole session (import into conftest)."""
    folder = tmp_path_factory.mktemp("prism")
    spec, added = explicit_form_arrays(twilio_spec)
    assert f"{CALLS} post StatusCallbackEvent" in added
    path = folder / "twilio_api_v2010.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    server = start(path, folder / "prism.log")
    yield server
    stop(server)

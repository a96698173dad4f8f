"""Shared fixtures: a real Redis server, the app, and phones that call it as Twilio does."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import redis

from ivr import create_app
from ivr.operations.redis_server import EmbeddedRedis
from ivr.protection.sealing import new_key
from ivr.telephony.simulator import PhoneCall

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-auth-token-0123456789abcdef"
DATA_KEY = new_key()  # encrypts recordings and transcripts in the tests' data folders
CLINIC_TZ = ZoneInfo("America/New_York")
# A Tuesday at 10:00 in the clinic: open.
OPEN_TIME = dt.datetime(2026, 11, 24, 10, 0, tzinfo=CLINIC_TZ)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> EmbeddedRedis:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False).start()
    yield server
    server.stop()


@pytest.fixture
def redis_conn(redis_server) -> redis.Redis:
    conn = redis_server.client()
    conn.flushall()
    yield conn
    conn.flushall()
    conn.close()  # its sockets closed now, not whenever they are collected (a ResourceWarning at exit)


class Clock:
    """The app's clock, set by tests (an aware datetime)."""

    def __init__(self, when: dt.datetime = OPEN_TIME) -> None:
        self.when = when

    def set(self, when: dt.datetime) -> None:
        self.when = when

    def __call__(self) -> dt.datetime:
        return self.when


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config_copy(tmp_path) -> tuple[Path, Path]:
    """A private copy of config/ and prompts/ a test may edit."""
    config = tmp_path / "config"
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "config", config)
    shutil.copytree(ROOT / "prompts", prompts)
    return config, prompts


@pytest.fixture
def make_app(redis_server, redis_conn, tmp_path, clock):
    """Build an app on the test Redis with extra settings."""

    built = []

    def build(**settings):
        config = {
            "TESTING": True,
            "REDIS_URL": redis_server.url,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "DATA_DIR": str(tmp_path / "var"),
            "DATA_KEY": DATA_KEY,
            "PUBLIC_URL": "",
            "TRUSTED_PROXIES": 0,
            "LOG_LEVEL": "WARNING",
            "CONFIG_DIR": str(ROOT / "config"),
            "PROMPTS_DIR": str(ROOT / "prompts"),
        }
        config.update(settings)
        app = create_app(config)
        app.extensions["ivr"].now = clock
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["ivr"].redis.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def flask_transport(app) -> Callable:
    """Send a simulated Twilio request to the app in-process, keeping the URL's host and scheme."""
    client = app.test_client()

    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        resp = client.post(path, data=data, headers=headers, base_url=f"{parts.scheme}://{parts.netloc}")
        return resp.status_code, resp.get_data(as_text=True)

    return post


@pytest.fixture
def phone(app):
    """Start a simulated caller: ``phone(caller=...)`` -> PhoneCall signed with the app's token."""

    def make(caller: str = "+12025550123", called: str = "+12025550199", base_url: str = "http://localhost", token: str = TOKEN):
        return PhoneCall(flask_transport(app), base_url, token, caller=caller, called=called)

    return make


# Real-browser fixtures (tests/browser.py), registered once for every module.
from .browser import browser, live_server, page, start_server  # noqa: E402,F401
from .prism import prism, twilio_spec  # noqa: E402,F401
from .object_store import bucket, s3_server  # noqa: E402,F401

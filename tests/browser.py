"""Real-browser tests: the app served on a free 127.0.0.1 port, and headless Chromium (Playwright).

Import the fixtures into a test module (pytest uses fixtures imported there):

    from .browser import browser, live_server, page, start_server  # noqa: F401

``start_server(**settings)`` serves an app built by conftest's ``make_app``
(test Redis, test clock) in a background thread; ``real_time=True`` gives the
app the real clock instead (for time-outs measured in seconds).
``live_server`` is ``start_server()``. ``browser`` is one Debian Chromium per
test session; ``page`` is a fresh browser context (no cookies) per test.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000  # actions and expect() alike: two test processes share the machine (scripts/test)
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class LiveServer:
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


class _StaticRead:
    """Read static files whole and close them before werkzeug writes them.

    werkzeug's development server leaves a file response open when the browser
    drops the connection mid-transfer (a page closed while its script loads),
    and the leaked file's ResourceWarning fails whichever test is running.
    gunicorn, which serves the product, closes it; here we read it first.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        if not environ.get("PATH_INFO", "").startswith("/static/"):
            return body
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@pytest.fixture
def start_server(make_app):
    """Start the app on a free port: ``start_server(real_time=False, **settings) -> LiveServer``."""
    servers: list[LiveServer] = []

    def start(real_time: bool = False, **settings) -> LiveServer:
        app = make_app(**settings)
        if real_time:
            app.extensions["ivr"].now = _real_now
        server = make_server("127.0.0.1", 0, _StaticRead(app), threaded=True)  # port 0: the OS picks a free one
        thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
        thread.start()
        live = LiveServer(app, server, thread)
        servers.append(live)
        return live

    yield start
    for live in servers:
        live.stop()


@pytest.fixture
def live_server(start_server) -> LiveServer:
    return start_server()


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Page:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def play_audio(page: Page, src: str) -> dict:
    """Play the page's <audio> of ``src`` (muted) for 0.3 s as a nurse would: its duration and error code, if any."""
    return page.evaluate(
        """async (src) => {
            const audio = document.querySelector(`audio[src="${src}"]`);
            audio.muted = true;
            await audio.play();
            await new Promise(r => setTimeout(r, 300));
            return {duration: audio.duration, error: audio.error && audio.error.code};
        }""",
        src,
    )

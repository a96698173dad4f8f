"""The live console's stream (/console/live) and fragment (/console/live/queues).

In-process (Flask's test client) for the stream's rules; two real servers on the
test Redis for "a change made through one web process reaches a console served
by another".
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import requests

from ivr.staff.passwords import hash_password
from ivr.store import keys
from ivr.store.callbacks import CallbackQueue
from ivr.store.users import UserStore

PASSWORD = "correct horse battery staple"
PHONE = "+12025550188"


@pytest.fixture
def staff(redis_conn) -> UserStore:
    users = UserStore(redis_conn)
    users.add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    users.add("bill", "billing", hash_password(PASSWORD), display_name="Bill Jones")
    return users


def csrf(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def log_in(client, username: str = "nina") -> None:
    token = csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert resp.status_code == 302, resp.status_code


class Reader:
    """Reads a server-sent event stream in a thread: ``events`` (name, data, id, arrival time)."""

    def __init__(self, chunks) -> None:
        self.events: list[tuple[str, dict, str, float]] = []
        self.raw = ""
        self.error: Exception | None = None
        self.done = threading.Event()
        self._chunks = chunks
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = ""
        try:
            for chunk in self._chunks:
                text = chunk.decode() if isinstance(chunk, bytes) else chunk
                self.raw += text
                buffer += text
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
                    if "event" in fields:
                        self.events.append((fields["event"], json.loads(fields.get("data", "{}")), fields.get("id", ""), time.monotonic()))
        except Exception as exc:  # noqa: BLE001  (the connection closed under us at the end of a test)
            self.error = exc
        finally:
            self.done.set()

    def wait_for(self, name: str, timeout: float = 2.0, **match) -> tuple[dict, float]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for event, data, _id, at in self.events:
                if event == name and all(data.get(k) == v for k, v in match.items()):
                    return data, at
            time.sleep(0.01)
        raise AssertionError(f"no {name} {match} within {timeout} s; got {self.events} {self.error!r}")


def open_stream(client, path: str = "/console/live", **headers) -> tuple[object, Reader]:
    resp = client.get(path, buffered=False, headers=headers)
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "text/event-stream"
    reader = Reader(resp.response)
    reader.wait_for("hello")
    return resp, reader


def test_the_stream_needs_a_login(client, staff):
    assert client.get("/console/live").status_code == 401
    assert client.get("/console/live/queues").status_code == 401


def test_a_new_callback_reaches_the_stream_within_2_s_without_patient_data(make_app, staff, redis_conn):
    app = make_app(LIVE_STREAM_SECONDS=3)
    client = app.test_client()
    log_in(client)
    resp, reader = open_stream(client)
    queue = CallbackQueue(redis_conn)
    started = time.monotonic()
    placed = queue.request("nurse", PHONE, "en", source="voicemail", urgent=True, urgent_reason="chest pain")
    queue.request("billing", "+12025550111", "en")  # not one of a nurse's queues
    data, arrived = reader.wait_for("changed", id=placed.callback.id)
    assert arrived - started < 2.0
    assert data == {"v": data["v"], "department": "nurse", "kind": "urgent", "id": placed.callback.id}
    # Then the queues as the console shows them: masked on the server, the nurse's departments only.
    shown, _ = reader.wait_for("queues")
    assert shown["v"] >= data["v"] and f'data-callback="{placed.callback.id}"' in shown["html"]
    reader.done.wait(5)  # the stream ends by itself (LIVE_STREAM_SECONDS)
    assert reader.done.is_set()
    assert "billing" not in reader.raw and "2025550111" not in reader.raw
    assert "2025550188" not in reader.raw  # never the full number
    for name, event, _id, _at in reader.events:
        if name == "changed":
            assert not any(secret in json.dumps(event) for secret in ("0188", "chest", "Nina", "nina"))


def test_the_stream_sends_the_queues_with_the_users_own_callbacks_kept_current(make_app, staff, redis_conn):
    """After each change the stream sends the queues themselves (no fetch): the same for everyone who
    works these departments, and the user's own callbacks ("mine") when a change may concern them."""
    app = make_app(LIVE_STREAM_SECONDS=10)  # changes a second apart are pushed a second apart
    client = app.test_client()
    log_in(client)  # nina
    queue = CallbackQueue(redis_conn)
    first = queue.request("nurse", PHONE, "en").callback
    second = queue.request("nurse", "+12025550177", "en").callback
    resp, reader = open_stream(client)
    hello, _ = reader.wait_for("hello")
    assert hello["csrf"]  # a fresh form token for the page with each stream

    def after(number: int) -> tuple[str, str | None]:
        """The queues as of ``number`` and the last "mine" sent before them (None: not sent again)."""
        end = time.monotonic() + 3
        while time.monotonic() < end:
            mine = None
            for name, data, _id, _at in list(reader.events):
                if name == "mine":
                    mine = data["html"]
                elif name == "queues" and data["v"] >= number:
                    return data["html"], mine
                elif name == "queues":
                    mine = None
            time.sleep(0.01)
        raise AssertionError(f"no queues as of {number}: {reader.events}")

    assert queue.claim_next(["nurse"], "nora").id == first.id  # someone else's claim: nothing of nina's
    claimed, _ = reader.wait_for("changed", kind="claim", id=first.id)
    shared, mine = after(claimed["v"])
    assert mine is not None and "Your callbacks" not in mine
    assert f'data-callback="{second.id}"' in shared and "__ivr_csrf_token__" in shared  # the page fills its token in
    assert queue.claim_next(["nurse"], "nina").id == second.id  # nina, in another tab
    taken, _ = reader.wait_for("changed", kind="claim", id=second.id)
    shared, mine = after(taken["v"])
    assert "Your callbacks" in mine and f'data-callback="{second.id}"' in mine
    queue.request("nurse", "+12025550166", "en")  # a change that is not about nina's callbacks
    placed, _ = reader.wait_for("changed", kind="request")
    assert after(placed["v"])[1] is None  # her own callbacks are not read again for it
    queue.release(second.id, "nina")
    released, _ = reader.wait_for("changed", kind="release", id=second.id)
    assert "Your callbacks" not in after(released["v"])[1]


def test_claims_releases_and_outcomes_are_announced(make_app, staff, redis_conn):
    app = make_app(LIVE_STREAM_SECONDS=10)  # changes a second apart are pushed a second apart
    client = app.test_client()
    log_in(client)
    queue = CallbackQueue(redis_conn)
    cb = queue.request("nurse", PHONE, "en").callback
    resp, reader = open_stream(client)
    taken = queue.claim_next(["nurse"], "nora")
    assert taken.id == cb.id
    reader.wait_for("changed", kind="claim", id=cb.id)
    queue.release(cb.id, "nora")
    reader.wait_for("changed", kind="release", id=cb.id)
    queue.claim_next(["nurse"], "nora")
    queue.finish(cb.id, "nora", "reached")
    reader.wait_for("changed", kind="outcome", id=cb.id)
    queue.set_transcript(cb.id, "sealed text", urgent=True)
    reader.wait_for("changed", kind="urgent", id=cb.id, department="nurse")


def test_a_reconnecting_console_gets_what_it_missed_for_its_departments(make_app, staff, redis_conn):
    app = make_app(LIVE_STREAM_SECONDS=1)
    client = app.test_client()
    log_in(client)
    queue = CallbackQueue(redis_conn)
    first = queue.request("nurse", PHONE, "en").callback
    version = int(redis_conn.get(keys.CALLBACK_LIVE_VERSION))
    missed = queue.request("nurse", "+12025550122", "en").callback
    queue.request("billing", "+12025550111", "en")
    resp, reader = open_stream(client, **{"Last-Event-ID": str(version)})
    data, _ = reader.wait_for("changed", id=missed.id)
    assert data["kind"] == "request"
    replayed = [event for name, event, _id, _at in reader.events if name == "changed"]
    assert replayed == [data] and first.id != data["id"]  # not the change before Last-Event-ID, nor billing's
    assert "billing" not in reader.raw
    # Too far back (or Redis lost the numbering): one "changed" that says fetch everything.
    resp, reader = open_stream(client, **{"Last-Event-ID": "999999"})
    reader.wait_for("changed", kind="resync")


def test_live_requests_do_not_count_as_activity_and_end_with_the_session(make_app, staff, redis_conn, clock):
    import datetime as dt

    app = make_app(LIVE_STREAM_SECONDS=5, LIVE_HEARTBEAT_SECONDS=0.3, STAFF_IDLE_MINUTES=1)
    client = app.test_client()
    log_in(client)
    sid = next(iter(redis_conn.scan_iter(keys.STAFF_SESSION.format("*"))))
    seen = redis_conn.hget(sid, "seen")
    clock.set(clock.when + dt.timedelta(seconds=30))
    assert client.get("/console/live/queues").status_code == 200
    resp, reader = open_stream(client)
    assert redis_conn.hget(sid, "seen") == seen  # still the login time: an open console is not activity
    clock.set(clock.when + dt.timedelta(seconds=31))  # idle from now on
    reader.wait_for("ended", timeout=3)
    assert reader.done.wait(2)
    assert client.get("/console/live/queues").status_code == 401


def test_the_fragment_is_the_console_with_masked_numbers(client, staff, redis_conn):
    queue = CallbackQueue(redis_conn)
    queue.request("nurse", PHONE, "en", urgent=True, urgent_reason="chest pain")
    queue.request("billing", "+12025550111", "en")
    log_in(client)
    resp = client.get("/console/live/queues")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert int(resp.headers["X-Live-Version"]) >= 2
    assert 'class="urgent"' in html and "chest pain" in html and "0188" in html
    assert "2025550188" not in html and "0111" not in html and "<html" not in html
    console = client.get("/console").get_data(as_text=True)
    assert 'src="/static/staff/live.js"' in console and "<script>" not in console
    assert re.search(r'data-since="\d+"', console)


def test_consoles_of_the_same_departments_share_one_render_per_change_each_with_its_own_claims_and_token(app, staff, redis_conn):
    """Issue 33: 50 consoles fetching the queue after a change cost one render, not 50; what is per user
    (the callbacks I hold, my form token) stays mine."""
    staff.add("nora", "nurse", hash_password(PASSWORD), display_name="Nora Diaz")
    queue = app.extensions["ivr"].callbacks
    held = queue.request("nurse", "+13055550147", "en").callback
    queue.request("nurse", "+13055550148", "en")
    assert queue.claim_next(["nurse"], "nina").id == held.id
    nina, nora = app.test_client(), app.test_client()
    log_in(nina)
    log_in(nora, "nora")
    shared = app.extensions.get("ivr_live_shared")
    before = shared.renders if shared else 0
    pages = {who: c.get("/console/live/queues").get_data(as_text=True) for who, c in (("nina", nina), ("nora", nora))}
    assert app.extensions["ivr_live_shared"].renders == before + 1  # one render for both
    assert "Your callbacks" in pages["nina"] and held.id in pages["nina"] and "Your callbacks" not in pages["nora"]
    assert "0148" in pages["nora"] and "3055550148" not in pages["nora"]  # the waiting one, masked
    tokens = {who: csrf(page) for who, page in pages.items()}
    assert tokens["nina"] != tokens["nora"] and "__ivr_csrf_token__" not in pages["nina"] + pages["nora"]
    # each token is its own user's: Take next works for nora with hers
    assert nora.post("/console/take", data={"csrf_token": tokens["nora"]}).status_code == 302
    after_change = nina.get("/console/live/queues").get_data(as_text=True)  # a change: rendered anew
    assert app.extensions["ivr_live_shared"].renders == before + 2 and "Nobody is waiting" in after_change


def test_a_process_keeps_threads_for_webhooks(make_app, staff):
    app = make_app(LIVE_MAX_STREAMS=1, LIVE_STREAM_SECONDS=2)
    client, other = app.test_client(), app.test_client()
    log_in(client)
    log_in(other)
    resp, _reader = open_stream(client)
    refused = other.get("/console/live")
    assert refused.status_code == 503 and refused.headers["Retry-After"]


def test_streams_a_process_serves_follow_how_gunicorn_runs_it(monkeypatch):
    """Under ivr serve's gevent worker, half the connections; under a threaded worker, threads - 1."""
    import sys

    from ivr.operations import web_server
    from ivr.staff import live

    monkeypatch.setitem(sys.modules, "gunicorn", sys.modules.get("gunicorn") or object())
    assert live.default_max_streams(web_server.gunicorn_command("0.0.0.0:5000", 4)) == web_server.CONNECTIONS // 2
    assert live.default_max_streams(web_server.gunicorn_command("0.0.0.0:5000", 4, connections=40)) == 20
    assert live.default_max_streams(["gunicorn", "--worker-class", "gthread", "--threads", "8", "x:y"]) == 7
    assert live.default_max_streams(["gunicorn", "-k", "gthread", "--threads=3"]) == 2
    assert live.default_max_streams(["gunicorn", "ivr:create_app()"]) == 0  # sync: one request at a time
    monkeypatch.delitem(sys.modules, "gunicorn")
    assert live.default_max_streams(["anything"]) is None


def _requests_login(base: str, username: str = "nina") -> requests.Session:
    s = requests.Session()
    token = csrf(s.get(base + "/login", timeout=5).text)
    resp = s.post(base + "/login", data={"csrf_token": token, "username": username, "password": PASSWORD}, timeout=5, allow_redirects=False)
    assert resp.status_code == 302
    return s


def test_a_change_made_through_one_server_reaches_a_console_on_another(start_server, staff, redis_conn):
    one = start_server(LIVE_STREAM_SECONDS=4)
    two = start_server(LIVE_STREAM_SECONDS=4)
    assert one.url != two.url
    CallbackQueue(redis_conn).request("nurse", PHONE, "en")
    watcher = _requests_login(two.url, "nina")
    worker = _requests_login(one.url, "nina")
    stream = watcher.get(two.url + "/console/live", stream=True, timeout=10)
    assert stream.status_code == 200
    reader = Reader(stream.iter_content(chunk_size=None))
    reader.wait_for("hello")
    started = time.monotonic()
    token = csrf(worker.get(one.url + "/console", timeout=5).text)
    taken = worker.post(one.url + "/console/take", data={"csrf_token": token}, timeout=5, allow_redirects=False)
    assert taken.status_code == 302 and "/console/callbacks/" in taken.headers["Location"]
    data, arrived = reader.wait_for("changed", kind="claim")
    assert arrived - started < 2.0 and data["department"] == "nurse"
    fragment = watcher.get(two.url + "/console/live/queues", timeout=5).text
    assert "Nobody is waiting" in fragment and "Your callbacks" in fragment


def test_a_stream_ends_within_a_second_of_its_session_ending(make_app, staff, redis_conn):
    """Logout (and a user disabled) ends that session's streams at once, not at the next heartbeat (15 s)."""
    app = make_app(LIVE_STREAM_SECONDS=30, LIVE_HEARTBEAT_SECONDS=15)
    first, second, other = app.test_client(), app.test_client(), app.test_client()
    log_in(first)
    log_in(second)  # nina again, in another browser: a session of her own
    log_in(other, "bill")
    streams = {name: open_stream(client)[1] for name, client in [("first", first), ("second", second), ("bill", other)]}
    token = csrf(first.get("/console").get_data(as_text=True))
    started = time.monotonic()
    assert first.post("/logout", data={"csrf_token": token}).status_code == 302
    _, at = streams["first"].wait_for("ended", timeout=1.0)
    assert at - started < 1.0 and streams["first"].done.wait(1)
    time.sleep(0.3)  # nina's other session and bill's are still in: their streams go on
    assert not streams["second"].done.is_set() and not streams["bill"].done.is_set()
    assert [e for e, *_ in streams["second"].events] == ["hello"]
    started = time.monotonic()
    staff.disable("nina")
    _, at = streams["second"].wait_for("ended", timeout=1.0)
    assert at - started < 1.0
    time.sleep(0.3)
    assert not streams["bill"].done.is_set() and "session_end" not in streams["bill"].raw

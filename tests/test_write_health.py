"""/healthz says why nothing can be kept: Redis refusing writes while it still answers PING, a full data disk
(issue 31, finding 2). Real Redis (min-replicas-to-write with no replica), the app's own /healthz."""

from __future__ import annotations

from .test_admin import logged_in, users  # noqa: F401  (users: a fixture)


def test_healthz_is_degraded_with_the_reason_while_redis_refuses_writes(app, redis_conn):
    client = app.test_client()
    assert client.get("/healthz").get_json()["write_problems"] == {}
    redis_conn.config_set("min-replicas-to-write", 1)
    try:
        assert redis_conn.ping()
        body = client.get("/healthz").get_json()
    finally:
        redis_conn.config_set("min-replicas-to-write", 0)
    assert body["status"] == "degraded" and body["redis"] == "ok"  # PING alone would say all is well
    said = body["write_problems"]["redis"]
    assert "NOREPLICAS" in said and "refuses every write" in said and "recovered from Twilio" in said
    assert client.get("/healthz").get_json()["write_problems"] == {}  # and it clears once writes work


def test_healthz_says_the_data_disk_is_full(make_app):
    app = make_app(MIN_FREE_MB=10**9)  # more free space than any disk here has: "full"
    said = app.test_client().get("/healthz").get_json()
    assert said["status"] == "degraded"
    assert "the data disk is full" in said["write_problems"]["disk"] and "recordings cannot be written" in said["write_problems"]["disk"]


def test_recordings_are_recovered_as_soon_as_redis_takes_writes_again(redis_conn, monkeypatch):
    """A sweep that could not write is followed, on the first one that can, by recovery from Twilio at once
    instead of at the next turn (IVR_RECORDINGS_RECOVER_SECONDS, 300 s)."""
    import threading
    import time

    from ivr.workers import recordings, runner

    recovered: list[float] = []

    def recover() -> int:  # as the real one, it needs to write what it finds
        redis_conn.set("ivr:test:recovered", 1)
        recovered.append(time.monotonic())
        return 0

    monkeypatch.setattr(recordings, "recover_recordings", recover)
    monkeypatch.setattr(recordings, "recover_seconds", lambda: 3600)
    stop = threading.Event()
    sweeper = threading.Thread(target=runner.sweep_forever, args=(redis_conn, 0.05, stop), daemon=True)
    sweeper.start()
    try:
        deadline = time.monotonic() + 5
        while not recovered and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(recovered) == 1  # the first turn of the hour
        redis_conn.config_set("min-replicas-to-write", 1)
        time.sleep(0.3)  # sweeps fail meanwhile
        assert len(recovered) == 1
        redis_conn.config_set("min-replicas-to-write", 0)
        back = time.monotonic()
        while len(recovered) < 2 and time.monotonic() < back + 5:
            time.sleep(0.02)
        assert len(recovered) == 2 and recovered[1] - back < 1.0
        time.sleep(0.3)
        assert len(recovered) == 2  # and then only at its turns again
    finally:
        redis_conn.config_set("min-replicas-to-write", 0)
        stop.set()
        sweeper.join(5)


def test_the_admin_banner_says_what_cannot_be_kept(make_app, users):  # noqa: F811
    admin = logged_in(make_app(MIN_FREE_MB=10**9))
    page = admin.get("/admin").get_data(as_text=True)
    assert 'id="write-banner"' in page and "Messages and callbacks cannot be kept right now" in page
    assert "the data disk is full" in page
    assert 'id="write-banner"' not in logged_in(make_app()).get("/admin").get_data(as_text=True)


def test_staff_pages_say_in_words_why_they_cannot_open_while_redis_refuses_writes(make_app, users, redis_conn):  # noqa: F811
    """A page that must record who opened it cannot be shown then; it says why (503), not an error 500."""
    admin = logged_in(make_app())
    redis_conn.config_set("min-replicas-to-write", 1)
    try:
        pages = {path: admin.get(path) for path in ("/admin", "/console", "/admin/followups/")}
    finally:
        redis_conn.config_set("min-replicas-to-write", 0)
    for path, resp in pages.items():
        text = resp.get_data(as_text=True)
        assert resp.status_code == 503, (path, resp.status_code)
        assert "Nothing can be saved right now" in text and "NOREPLICAS" in text and "Calls still reach a person" in text
    assert admin.get("/admin").status_code == 200  # and the same session works again once Redis does

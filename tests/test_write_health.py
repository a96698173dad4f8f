"""/healthz says why nothing can be kept: Redis refusing writes while it still answers PING, a full data disk
(issue 31, finding 2). Real Redis (min-replicas-to-write with no replica), the app's own /healthz."""

from __future__ import annotations


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

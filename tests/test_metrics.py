"""GET /metrics: access, format, no patient data, figures that match the stores."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ivr.operations import metrics as metrics_module
from ivr.store.callbacks import CallbackQueue
from ivr.store.followups import FollowupStore
from ivr.store.voicemails import Voicemail, VoicemailStore

from .conftest import OPEN_TIME

METRICS_TOKEN = "metrics-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
SID_LIKE = re.compile(r"^(CA|RE|AC|SM)[0-9a-fA-F]{32}$")


@pytest.fixture
def app(make_app):
    return make_app(METRICS_TOKEN=METRICS_TOKEN)


def scrape(client) -> dict:
    resp = client.get("/metrics", headers=AUTH)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(resp.get_data(as_text=True))}


def value(families: dict, name: str, sample: str | None = None, **labels: str) -> float:
    family = families[name]
    found = [s.value for s in family.samples if s.name == (sample or name) and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, family.samples)
    return found[0]


def test_metrics_are_off_without_a_token(make_app):
    resp = make_app().test_client().get("/metrics")
    assert resp.status_code == 404
    assert "IVR_METRICS_TOKEN" in resp.get_data(as_text=True)


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {METRICS_TOKEN}", "Bearer", f"Bearer {METRICS_TOKEN}x"])
def test_a_token_is_required(client, header):
    resp = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "ivr_" not in resp.get_data(as_text=True)


def test_exposition_parses_and_has_the_operators_figures(client):
    families = scrape(client)
    for name in (
        "ivr_redis_up", "ivr_redis_ping_seconds", "ivr_webhook_duration_seconds", "ivr_callbacks_waiting",
        "ivr_callbacks_oldest_wait_seconds", "ivr_rq_jobs_queued", "ivr_voicemails_awaiting_transcription",
        "ivr_calls_today", "ivr_followups", "ivr_followups_blocked", "ivr_workers_live", "ivr_flows_live",
    ):
        assert name in families, name
    assert value(families, "ivr_redis_up") == 1
    assert value(families, "ivr_workers_live", kind="rq") == 0


def test_a_signed_webhook_counts_in_the_latency_histogram(client, phone):
    def count(families) -> float:
        fam = families["ivr_webhook_duration_seconds"]
        return sum(s.value for s in fam.samples if s.name.endswith("_count") and s.labels["endpoint"] == "voice.incoming")

    before = count(scrape(client))
    call = phone()
    call.start()
    families = scrape(client)
    assert count(families) == before + 1
    inf = value(families, "ivr_webhook_duration_seconds", "ivr_webhook_duration_seconds_bucket",
                endpoint="voice.incoming", le="+Inf")
    assert inf == before + 1
    assert value(families, "ivr_webhook_responses", "ivr_webhook_responses_total", endpoint="voice.incoming", code="2xx") >= 1
    # An unsigned webhook is timed too, as a 4xx.
    assert client.post("/voice/incoming", data={"CallSid": "CA" + "0" * 32}).status_code == 403
    families = scrape(client)
    assert value(families, "ivr_webhook_responses", "ivr_webhook_responses_total", endpoint="voice.incoming", code="4xx") == 1
    # Staff pages and the scrape itself are not webhooks.
    client.get("/login")
    assert {s.labels["endpoint"] for s in families["ivr_webhook_duration_seconds"].samples} <= {"voice.incoming", "voice.step"}


def test_observations_of_other_processes_are_in_every_scrape(make_app, redis_conn, phone):
    """Two apps stand for two gunicorn workers: each one's scrape shows the other's webhooks."""
    a = make_app(METRICS_TOKEN=METRICS_TOKEN)
    b = make_app(METRICS_TOKEN=METRICS_TOKEN)
    with a.test_request_context():
        pass
    a.extensions["ivr.operations.metrics"].observe("voice.step", 0.003, 200)
    a.extensions["ivr.operations.metrics"].flush()
    families = scrape(b.test_client())
    assert value(families, "ivr_webhook_duration_seconds", "ivr_webhook_duration_seconds_bucket",
                 endpoint="voice.step", le="0.005") == 1


def test_queue_gauges_match_the_stores(client, app, redis_conn, clock):
    now = OPEN_TIME.timestamp()
    queue = CallbackQueue(redis_conn, clock=lambda: now)
    queue.request("nurse", "+12025550101", "en", requested_at=now - 600)
    queue.request("nurse", "+12025550102", "en", requested_at=now - 60, urgent=True, urgent_reason="x")
    queue.request("billing", "+12025550103", "es", requested_at=now - 30)
    assert queue.claim_next(["billing"], "alice") is not None
    voicemails = VoicemailStore(redis_conn)
    voicemails.receive(Voicemail("RE" + "1" * 32, caller="+12025550104", department="nurse"))
    voicemails.receive(Voicemail("RE" + "2" * 32, caller="+12025550105", department="nurse", status="transcribed"))

    families = scrape(client)
    for dept in ("nurse", "billing"):
        assert value(families, "ivr_callbacks_waiting", department=dept) == queue.waiting_count(dept)
        stats = queue.stats(dept, now=now)
        assert value(families, "ivr_callbacks_claimed", department=dept) == stats["claimed_now"]
        assert abs(value(families, "ivr_callbacks_oldest_wait_seconds", department=dept) - stats["oldest_waiting_seconds"]) <= 1
    assert value(families, "ivr_callbacks_urgent_waiting", department="nurse") == 1
    assert value(families, "ivr_callbacks_oldest_wait_seconds", department="nurse") == pytest.approx(600, abs=1)
    assert value(families, "ivr_voicemails_awaiting_transcription", status="received") == 1
    assert value(families, "ivr_voicemails") == 2


def test_followups_by_status_and_cached(client, redis_conn, monkeypatch):
    from ivr.store import keys

    for i, status in enumerate(["scheduled", "scheduled", "done", "blocked"]):
        redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format(f"appt-{i}"), mapping={"id": f"appt-{i}", "status": status,
                                                                                "outcome": "reached" if status == "done" else ""})
        redis_conn.zadd(keys.FOLLOWUP_APPOINTMENTS, {f"appt-{i}": 1_000 + i})
    monkeypatch.setattr(metrics_module, "FOLLOWUP_BATCH", 3)  # several batches
    families = scrape(client)
    assert value(families, "ivr_followups", status="scheduled") == 2
    assert value(families, "ivr_followups", status="done") == 1
    assert value(families, "ivr_followup_outcomes", outcome="reached") == 1
    assert value(families, "ivr_followup_appointments") == FollowupStore(redis_conn).count() == 4
    # Kept a minute: a new appointment shows in the exact total at once, in the status counts later.
    redis_conn.zadd(keys.FOLLOWUP_APPOINTMENTS, {"appt-9": 2_000})
    redis_conn.hset(keys.FOLLOWUP_APPOINTMENT.format("appt-9"), mapping={"id": "appt-9", "status": "scheduled"})
    families = scrape(client)
    assert value(families, "ivr_followup_appointments") == 5
    assert value(families, "ivr_followups", status="scheduled") == 2


def test_no_label_value_looks_like_patient_data(client, phone, redis_conn):
    queue = CallbackQueue(redis_conn)
    queue.request("nurse", "+12025550107", "en", call_sid="CA" + "a" * 32)
    redis_conn.sadd("ivr:callbacks:departments", "+12025550199", "CA" + "b" * 32)  # garbage that must not show
    redis_conn.hincrby(f"ivr:stats:calls:{OPEN_TIME.date().isoformat()}", "outcome:+12025550108", 1)
    call = phone(caller="+12025550109")
    call.start()
    text = client.get("/metrics", headers=AUTH).get_data(as_text=True)
    labels = [v for f in text_string_to_metric_families(text) for s in f.samples for k, v in s.labels.items() if k != "le"]
    assert labels
    for v in labels:
        assert not PHONE_LIKE.search(v) and not SID_LIKE.match(v), v
    for secret in ("2025550107", "2025550109", "2025550199", "a" * 32, "b" * 32):
        assert secret not in text


def test_redis_down_is_a_figure_not_an_error(make_app, redis_server):
    app = make_app(METRICS_TOKEN=METRICS_TOKEN, REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT=0.2)
    families = scrape(app.test_client())
    assert value(families, "ivr_redis_up") == 0
    assert "ivr_callbacks_waiting" not in families


def test_writes_refused_is_a_gauge_per_store(client, redis_conn):
    families = scrape(client)
    assert value(families, "ivr_writes_refused", what="redis") == 0 and value(families, "ivr_writes_refused", what="disk") == 0
    redis_conn.config_set("min-replicas-to-write", 1)  # Redis answers PING and reads, refuses writes
    try:
        families = scrape(client)
    finally:
        redis_conn.config_set("min-replicas-to-write", 0)
    assert value(families, "ivr_redis_up") == 1
    assert value(families, "ivr_writes_refused", what="redis") == 1 and value(families, "ivr_writes_refused", what="disk") == 0

"""Metrics for operators: GET /metrics in Prometheus's text format (prometheus_client).

Access
    Off until ``IVR_METRICS_TOKEN`` is set: then 404 with a sentence saying so.
    With it, the scraper sends ``Authorization: Bearer <token>`` (Prometheus:
    ``authorization: {credentials: ...}``); anything else gets 401. The token is
    compared in constant time (hmac.compare_digest).

No patient data
    Label values are only names from the code or the clinic's settings: webhook
    endpoints (``voice.incoming``), status classes (``2xx``), departments,
    queue names, call outcomes, follow-up statuses. Never a phone number, a
    name, a CallSid, a RecordingSid or an appointment id. Values from Redis
    that end up as labels (departments, outcomes, statuses) pass ``_label``,
    which turns anything unexpected (too long, other characters, a run of
    digits) into ``other``.

Webhook latency: where the histogram lives, and why
    gunicorn runs several worker processes (and clinics may run web processes
    on several machines); Prometheus scrapes one of them at a time. A plain
    per-process prometheus_client histogram would show only the scraped
    process's requests, and its multiprocess mode (PROMETHEUS_MULTIPROC_DIR)
    only covers processes of one machine that share a folder, needs that folder
    wiped at each start and gunicorn hooks for dead workers.

    So the histogram is kept in Redis, which every web process already shares:
    one hash, ``ivr:metrics:webhooks``, field ``{endpoint}|{bucket}`` (counts
    per bucket, not cumulative), ``{endpoint}|sum_us`` and
    ``{endpoint}|{2xx,3xx,4xx,5xx}``. A webhook never waits on Redis for it: the
    timing hooks (``/voice/*`` only; the first before-request hook and the last
    after-request hook) add the observation to this process's counters in
    memory (a lock, a bisect, three dict updates: microseconds). The first
    webhook after ``FLUSH_SECONDS`` starts a short thread that adds them to
    Redis with HINCRBY in one MULTI round trip (at most one such thread at a
    time); a scrape first flushes its own process, and a process flushes at
    exit. So any process's /metrics shows every process's webhooks, those of
    the others at most ``FLUSH_SECONDS`` late (a process that stops getting
    webhooks keeps its last seconds' counts until its next one, a scrape of
    it, or its exit). If Redis is down the counts wait in memory and go with a
    later flush (tried every ``RETRY_SECONDS``). The counters only grow, and
    Redis keeps them with the rest of the data (backups too), so they are
    proper Prometheus counters across restarts; PROMETHEUS_MULTIPROC_DIR is
    not used.

Everything else is read from Redis at scrape time, in a few round trips:
queue depths and oldest waits per department, jobs per RQ queue, live
workers, voicemails waiting for transcription (among the newest
``VOICEMAIL_WINDOW``), today's calls by outcome (the workers' daily counters,
ivr.store.calls.StatsStore: a gauge that starts again at 0 each clinic day),
and follow-ups. Follow-up counts by status/outcome need one field per
appointment (there is no counter per status): they are computed in batches of
``FOLLOWUP_BATCH`` over the newest ``FOLLOWUP_WINDOW`` appointments and kept in
Redis for ``FOLLOWUP_CACHE_SECONDS``, so a scrape every 15 s by two Prometheus
servers costs that walk once a minute at most. The blocked, in-flight,
do-not-call and total figures are exact at every scrape (one ZCARD/HLEN each).
"""

from __future__ import annotations

import atexit
import bisect
import datetime as dt
import hmac
import json
import logging
import os
import re
import threading
import time
import weakref
from typing import Iterable

import redis
from flask import Blueprint, Response, current_app, request

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

# Seconds. Twilio gives a webhook 15 s before it calls the fallback URL.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
FLUSH_SECONDS = 2.0
RETRY_SECONDS = 30.0  # after a failed flush (Redis down): counts wait in memory
EXTENSION = "ivr.operations.metrics"
WEBHOOKS_KEY = "ivr:metrics:webhooks"
FOLLOWUP_CACHE_KEY = "ivr:metrics:cache:followups"
FOLLOWUP_CACHE_SECONDS = 60
FOLLOWUP_WINDOW = 50_000  # newest appointments (by appointment time) counted by status
FOLLOWUP_BATCH = 1000
VOICEMAIL_WINDOW = 1000  # newest voicemails looked at for "awaiting transcription"
_START = "ivr.operations.metrics.start"
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,47}$")
_DIGITS = re.compile(r"\d{5,}")


def _label(value: object) -> str:
    """A label value from data: a short plain name, else "other" (never a number or an id)."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    if not _LABEL.match(text) or _DIGITS.search(text) or re.search(r"^(CA|RE|AC)[0-9a-f]{8,}", text):
        return "other"
    return text


# Webhook timings: in memory per process, flushed to Redis -------------------------------


class WebhookTimings:
    """One app's webhook observations not yet added to Redis (one per web process in production)."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}
        self._next_flush = time.monotonic() + FLUSH_SECONDS
        self._flushing = False

    def observe(self, endpoint: str, seconds: float, status: int) -> None:
        i = bisect.bisect_left(BUCKETS, seconds)
        bucket, code, total = f"{endpoint}|{i}", f"{endpoint}|{status // 100}xx", f"{endpoint}|sum_us"
        micros = int(seconds * 1e6)
        with self._lock:
            p = self._pending
            p[bucket] = p.get(bucket, 0) + 1
            p[code] = p.get(code, 0) + 1
            p[total] = p.get(total, 0) + micros
            due = not self._flushing and time.monotonic() >= self._next_flush
            if due:
                self._flushing = True
        if due:  # the webhook never waits on this: a short thread writes, at most one at a time
            threading.Thread(target=self._background_flush, name="metrics-flush", daemon=True).start()

    def _background_flush(self) -> None:
        try:
            ok = self.flush()
        finally:
            with self._lock:
                self._flushing = False
                self._next_flush = time.monotonic() + (FLUSH_SECONDS if ok else RETRY_SECONDS)

    def flush(self) -> bool:
        """Add what is pending to Redis; on failure keep it for next time. True unless Redis failed."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return True
        try:
            pipe = self.conn.pipeline(transaction=True)
            for name, n in pending.items():
                pipe.hincrby(WEBHOOKS_KEY, name, n)
            pipe.execute()
            return True
        except (redis.RedisError, OSError) as exc:
            with self._lock:
                for name, n in pending.items():
                    self._pending[name] = self._pending.get(name, 0) + n
            log.debug("metrics flush failed (%s); kept for the next one", exc.__class__.__name__)
            return False


_ALL: "weakref.WeakSet[WebhookTimings]" = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for t in list(_ALL):
        t.flush()


def _timings() -> WebhookTimings:
    return current_app.extensions[EXTENSION]


def _start_timer() -> None:
    if request.path.startswith("/voice/"):
        request.environ[_START] = time.perf_counter()


def _stop_timer(response: Response) -> Response:
    started = request.environ.get(_START)
    if started is not None:
        _timings().observe(request.endpoint or "unmatched", time.perf_counter() - started, response.status_code)
    return response


# Scrape ----------------------------------------------------------------------------------


def _access_refused() -> Response | None:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if not token:
        return Response(
            "metrics are off: set IVR_METRICS_TOKEN and scrape with 'Authorization: Bearer <token>'\n",
            404, mimetype="text/plain",
        )
    sent = request.headers.get("Authorization", "")
    scheme, _, given = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response("a valid 'Authorization: Bearer <IVR_METRICS_TOKEN>' header is required\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    return None


@bp.get("/metrics")
def metrics():
    refused = _access_refused()
    if refused is not None:
        return refused
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    svc = current_app.extensions["ivr"]
    _timings().flush()  # this process's own webhooks are in what we show
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(svc))
    resp = Response(generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST})
    resp.headers["Cache-Control"] = "no-store"
    return resp


class _Collector:
    """Reads everything at scrape time (prometheus_client custom collector)."""

    def __init__(self, svc) -> None:
        self.svc = svc

    def collect(self) -> Iterable:
        from prometheus_client.core import GaugeMetricFamily

        started = time.perf_counter()
        conn = self.svc.redis
        up = GaugeMetricFamily("ivr_redis_up", "1 if Redis answered this scrape's PING")
        ping = GaugeMetricFamily("ivr_redis_ping_seconds", "Round trip of a PING to Redis")
        families: list = []
        try:
            t0 = time.perf_counter()
            conn.ping()
            ping.add_metric([], time.perf_counter() - t0)
            up.add_metric([], 1)
            families = list(self._from_redis(conn))
            from ivr.reports.metrics import families as report_families

            families += list(report_families(conn, _label))
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: Redis unreadable (%s)", exc.__class__.__name__)
            up.add_metric([], 0)
        yield up
        if ping.samples:
            yield ping
        yield self._writes_refused()
        yield from families
        yield from self._runtime()
        took = GaugeMetricFamily("ivr_metrics_scrape_seconds", "Time this process took to gather these metrics")
        took.add_metric([], time.perf_counter() - started)
        yield took

    # Parts ------------------------------------------------------------------------------

    @staticmethod
    def _writes_refused():
        """1 per kind of store (``redis``, ``disk``) that cannot take writes now (ivr.operations.write_health)."""
        from prometheus_client.core import GaugeMetricFamily

        from ivr.operations import write_health

        found = write_health.from_app()
        family = GaugeMetricFamily("ivr_writes_refused", "1 while Redis refuses writes or the data disk is full",
                                   labels=["what"])
        for what in ("redis", "disk"):
            family.add_metric([what], 1 if what in found else 0)
        return family

    def _runtime(self) -> Iterable:
        from prometheus_client.core import GaugeMetricFamily

        runtime = self.svc.runtime
        flows = GaugeMetricFamily("ivr_flows_live", "Flows validated and answering calls in this process")
        flows.add_metric([], len(runtime.flows.names))
        issues = GaugeMetricFamily("ivr_flow_issues", "Problems in flow files (those flows are not published)")
        issues.add_metric([], len(runtime.flows.issues))
        settings = GaugeMetricFamily("ivr_settings_ok", "1 if clinic.yaml and prompts validate (0: the last good version serves)")
        settings.add_metric([], 0 if runtime.settings_error else 1)
        yield from (flows, issues, settings)

    def _from_redis(self, conn: redis.Redis) -> Iterable:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        from ivr.store import keys
        from ivr.workers import QUEUES, SPEECH_QUEUE
        from ivr.workers.presence import live_workers

        clinic = self.svc.runtime.clinic
        now_dt = self.svc.now()
        now = now_dt.timestamp()
        departments = sorted(set(clinic.desks) | {_label(d) for d in conn.smembers(keys.CALLBACK_DEPARTMENTS)} - {"other"})
        queues = (*QUEUES, SPEECH_QUEUE)
        today = now_dt.astimezone(clinic.zone).date()

        pipe = conn.pipeline(transaction=False)
        pipe.hgetall(WEBHOOKS_KEY)
        for dept in departments:
            queue = keys.CALLBACK_QUEUE.format(dept)
            pipe.zcard(queue)
            pipe.zcount(queue, "-inf", 0)  # urgent ones have a negative place
            pipe.zcard(keys.CALLBACK_LEASES.format(dept))
            pipe.zcard(keys.CALLBACK_SCHEDULED.format(dept))
            pipe.zrange(queue, 0, 0, withscores=True)
            pipe.zrangebyscore(queue, 0, "+inf", start=0, num=1, withscores=True)
        for name in queues:
            pipe.llen(f"rq:queue:{name}")
        pipe.zcard(keys.VOICEMAILS)
        pipe.zrevrange(keys.VOICEMAILS, 0, VOICEMAIL_WINDOW - 1)
        pipe.hgetall(keys.CALL_STATS.format(today.isoformat()))
        pipe.zcard(keys.FOLLOWUP_APPOINTMENTS)
        pipe.zcard(keys.FOLLOWUP_BLOCKED)
        pipe.zcard(keys.FOLLOWUP_INFLIGHT)
        pipe.hlen(keys.FOLLOWUP_DO_NOT_CALL)
        pipe.hget(keys.EMERGENCY, "on")
        pipe.get(FOLLOWUP_CACHE_KEY)
        got = iter(pipe.execute())

        yield from _webhook_families(next(got), HistogramMetricFamily, CounterMetricFamily)

        g = {
            "waiting": GaugeMetricFamily("ivr_callbacks_waiting", "Callbacks waiting in line", labels=["department"]),
            "urgent": GaugeMetricFamily("ivr_callbacks_urgent_waiting", "Urgent callbacks waiting", labels=["department"]),
            "claimed": GaugeMetricFamily("ivr_callbacks_claimed", "Callbacks claimed by staff now", labels=["department"]),
            "scheduled": GaugeMetricFamily("ivr_callbacks_scheduled", "Callbacks waiting for a retry time", labels=["department"]),
            "oldest": GaugeMetricFamily("ivr_callbacks_oldest_wait_seconds",
                                        "How long the longest-waiting callback has waited (0: none)", labels=["department"]),
        }
        for dept in departments:
            waiting, urgent, claimed, scheduled, head, plain = (next(got) for _ in range(6))
            from ivr.store.callback_types import URGENT_SHIFT

            oldest = [score + URGENT_SHIFT for _, score in head if score < 0] + [score for _, score in plain]
            g["waiting"].add_metric([dept], int(waiting))
            g["urgent"].add_metric([dept], int(urgent))
            g["claimed"].add_metric([dept], int(claimed))
            g["scheduled"].add_metric([dept], int(scheduled))
            g["oldest"].add_metric([dept], max(0.0, now - min(oldest)) if oldest else 0)
        yield from g.values()

        jobs = GaugeMetricFamily("ivr_rq_jobs_queued", "Jobs waiting in each RQ queue", labels=["queue"])
        for name in queues:
            jobs.add_metric([name], int(next(got)))
        yield jobs

        vm_total, vm_recent = next(got), next(got)
        yield GaugeMetricFamily("ivr_voicemails", "Voicemails and callback-reason recordings kept", value=int(vm_total))
        yield self._voicemails(conn, vm_recent)

        calls = GaugeMetricFamily("ivr_calls_today", "Finished calls today (clinic's day) by outcome; 0 again each day",
                                  labels=["outcome"])
        day = {k.decode(): int(v) for k, v in next(got).items()}
        outcomes: dict[str, int] = {}
        for name, n in day.items():
            if name.startswith("outcome:"):
                label = _label(name[8:].replace(":", "_"))
                outcomes[label] = outcomes.get(label, 0) + n
        for label, n in sorted(outcomes.items()):
            calls.add_metric([label], n)
        yield calls
        yield GaugeMetricFamily("ivr_calls_today_total", "Finished calls today (clinic's day)", value=day.get("calls", 0))

        appts, blocked, inflight, dnc, emergency, cached = (next(got) for _ in range(6))
        yield GaugeMetricFamily("ivr_followup_appointments", "Appointments known for follow-up calls", value=int(appts))
        yield GaugeMetricFamily("ivr_followups_blocked", "Follow-ups waiting for a settings or account fix", value=int(blocked))
        yield GaugeMetricFamily("ivr_followups_in_flight", "Follow-up calls dialled and not yet settled", value=int(inflight))
        yield GaugeMetricFamily("ivr_followups_do_not_call", "Numbers on the do-not-call list", value=int(dnc))
        yield from self._followups(conn, cached)
        yield GaugeMetricFamily("ivr_emergency_switch_on", "1 while the emergency message answers every call",
                                value=1 if emergency == b"1" else 0)

        live = GaugeMetricFamily("ivr_workers_live", "Workers heard from in the last minute", labels=["kind"])
        every = live_workers(conn, now_dt)
        speech = live_workers(conn, now_dt, SPEECH_QUEUE)
        live.add_metric(["rq"], max(0, every - speech))
        live.add_metric(["speech"], speech)
        yield live

    def _voicemails(self, conn: redis.Redis, sids: list) -> object:
        from prometheus_client.core import GaugeMetricFamily

        from ivr.store import keys
        from ivr.store.voicemails import VoicemailStatus

        family = GaugeMetricFamily(
            "ivr_voicemails_awaiting_transcription",
            f"Voicemails not yet transcribed (among the newest {VOICEMAIL_WINDOW}), by status",
            labels=["status"],
        )
        pipe = conn.pipeline(transaction=False)
        for sid in sids:
            pipe.hget(keys.VOICEMAIL.format(sid.decode()), "status")
        counts = {VoicemailStatus.RECEIVED.value: 0, VoicemailStatus.STORED.value: 0}
        for status in pipe.execute() if sids else []:
            name = status.decode() if status else ""
            if name in counts:
                counts[name] += 1
        for name, n in counts.items():
            family.add_metric([name], n)
        return family

    def _followups(self, conn: redis.Redis, cached: bytes | None) -> Iterable:
        from prometheus_client.core import GaugeMetricFamily

        figures = json.loads(cached) if cached else None
        if figures is None:
            figures = followup_counts(conn)
            try:
                conn.set(FOLLOWUP_CACHE_KEY, json.dumps(figures), ex=FOLLOWUP_CACHE_SECONDS)
            except redis.RedisError:
                pass
        by_status = GaugeMetricFamily(
            "ivr_followups", f"Follow-ups by status (newest {FOLLOWUP_WINDOW} appointments; "
            f"up to {FOLLOWUP_CACHE_SECONDS}s old)", labels=["status"])
        for name, n in sorted(figures["status"].items()):
            by_status.add_metric([name], n)
        by_outcome = GaugeMetricFamily(
            "ivr_followup_outcomes", f"Finished follow-ups by outcome (newest {FOLLOWUP_WINDOW} appointments; "
            f"up to {FOLLOWUP_CACHE_SECONDS}s old)", labels=["outcome"])
        for name, n in sorted(figures["outcome"].items()):
            by_outcome.add_metric([name], n)
        yield by_status
        yield by_outcome


def followup_counts(conn: redis.Redis, window: int = FOLLOWUP_WINDOW, batch: int = FOLLOWUP_BATCH) -> dict:
    """Follow-ups by status and by outcome among the newest ``window`` appointments, read ``batch`` at a time."""
    from ivr.store import keys

    status: dict[str, int] = {}
    outcome: dict[str, int] = {}
    for start in range(0, window, batch):
        ids = conn.zrevrange(keys.FOLLOWUP_APPOINTMENTS, start, min(start + batch, window) - 1)
        if not ids:
            break
        pipe = conn.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(keys.FOLLOWUP_APPOINTMENT.format(i.decode()), "status", "outcome")
        for st, out in pipe.execute():
            if st:
                name = _label(st)
                status[name] = status.get(name, 0) + 1
            if out:
                name = _label(out)
                outcome[name] = outcome.get(name, 0) + 1
        if len(ids) < batch:
            break
    return {"status": status, "outcome": outcome, "at": dt.datetime.now(dt.timezone.utc).isoformat()}


def _webhook_families(raw: dict, histogram_cls, counter_cls) -> Iterable:
    """The latency histogram and responses by status class, from the Redis hash."""
    per: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        endpoint, _, part = field.decode().rpartition("|")
        per.setdefault(_label(endpoint), {})[part] = int(value)
    hist = histogram_cls(
        "ivr_webhook_duration_seconds",
        "Time the app took to answer a Twilio webhook (/voice/*), all web processes",
        labels=["endpoint"],
    )
    responses = counter_cls("ivr_webhook_responses", "Twilio webhook answers by status class, all web processes",
                            labels=["endpoint", "code"])
    bounds = [*(repr(b) for b in BUCKETS), "+Inf"]
    for endpoint, parts in sorted(per.items()):
        running, buckets = 0, []
        for i, bound in enumerate(bounds):
            running += parts.get(str(i), 0)
            buckets.append((bound, running))
        hist.add_metric([endpoint], buckets, parts.get("sum_us", 0) / 1e6)
        for code in ("2xx", "3xx", "4xx", "5xx"):
            if code in parts:
                responses.add_metric([endpoint, code], parts[code])
    yield hist
    yield responses


def init_app(app) -> None:
    """GET /metrics, and the timing hooks for /voice/* (first before, last after every other hook)."""
    timings = WebhookTimings(app.extensions["ivr"].redis)
    app.extensions[EXTENSION] = timings
    _ALL.add(timings)
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request_funcs.setdefault(None, []).insert(0, _stop_timer)  # after hooks run in reverse: ours last
    try:
        from ivr.staff import limits

        limits.limiter.exempt(bp)
    except Exception:  # noqa: BLE001 - a limiter not set up (tests building parts of the app) is fine
        pass

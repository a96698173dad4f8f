"""GET /healthz: is this process able to answer calls?

Always current: settings and flow files are checked again when asked (not
only when a call comes), and only workers heard from lately are counted.
"""

from __future__ import annotations

import redis
from flask import Blueprint, jsonify

from ivr import services
from ivr.recordings import object_store
from ivr.operations import write_health
from ivr.workers import SPEECH_QUEUE
from ivr.workers.presence import live_workers

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    svc = services.get()
    svc.runtime.refresh(force=True)  # a file fixed (or broken) since the last call shows now
    report: dict = {"flows": svc.runtime.flows.names}
    if svc.runtime.flows.issues:
        report["flow_issues"] = [str(i) for i in svc.runtime.flows.issues]
    if svc.runtime.settings_error:
        report["settings_issues"] = [svc.runtime.settings_error]
    try:
        svc.redis.ping()
        report["redis"] = "ok"
        report["workers"] = live_workers(svc.redis, svc.now())
        report["speech_workers"] = live_workers(svc.redis, svc.now(), SPEECH_QUEUE)  # none: voicemails wait untranscribed
        report["queued_jobs"] = svc.queue.count
        report["outbound_calls"] = _outbound(svc)
        report["not_ready"] = _not_ready(svc)
        report["texts"] = _texts(svc)
        report["redis_replication"] = _replication(svc.redis)
        report["write_problems"] = write_health.from_app()  # refusing writes: a reason each, in words
        if svc.vault.objects is not None:  # messages still only on a speech worker's disk (the store refused them)
            report["recordings_waiting_upload"] = _waiting_upload(svc)
    except redis.RedisError as exc:
        report["redis"] = f"down: {exc.__class__.__name__}"
        report["status"] = "down"
        return jsonify(report), 503
    healthy = (bool(report["flows"]) and report["workers"] > 0 and not report["outbound_calls"]["followups_blocked"]
               and "problem" not in report["redis_replication"] and not report["write_problems"]
               and not report.get("recordings_waiting_upload"))
    report["status"] = "ok" if healthy else "degraded"
    return jsonify(report), 200


def _waiting_upload(svc, grace_seconds: float = 300) -> int:
    """Recent voicemails whose audio is still only in a data folder this long after they came."""
    now = svc.now().timestamp()
    return sum(1 for vm in svc.voicemails.recent(200)
               if vm.path and not object_store.key_of(vm.path) and now - vm.received_at > grace_seconds)


def _replication(conn: redis.Redis) -> dict:
    """This Redis's role and connected replicas, against the replicas a confirmed write must reach."""
    info = conn.info("replication")
    need = int(getattr(conn, "min_replicas", 0) or 0)
    connected = int(info.get("connected_slaves", 0))
    out = {"role": info.get("role", "unknown"), "replicas": connected, "replicas_needed": need}
    if connected < need:
        out["problem"] = (f"{connected} of {need} replica(s) connected: callbacks and voicemails cannot be "
                          "confirmed to callers, who get the safe fallback instead")
    return out


def _outbound(svc) -> dict:
    """Whether calls can be placed with this process's settings, and follow-ups waiting for a fix."""
    from flask import current_app

    from ivr.operations import readiness
    from ivr.store.followups import FollowupStore

    problems = readiness.outbound_problems(current_app.config)
    return {"ready": not problems, "problems": problems, "followups_blocked": FollowupStore(svc.redis).blocked_count()}


def _texts(svc) -> str:
    """Texts to patients: "off" (no Messaging Service), "not ready" (readiness.texts_problems), or "on"."""
    from flask import current_app

    from ivr import texts
    from ivr.operations import readiness

    if not texts.messaging_service_sid(current_app.config):
        return "off"
    return "not ready" if readiness.texts_problems(current_app.config, _texts_refused(svc)) else "on"


def _texts_refused(svc) -> str:
    from ivr.store.texts import TextStore

    return TextStore(svc.redis).service_refusal()


def _not_ready(svc) -> list[str]:
    """Every setting a feature still lacks (ivr.operations.readiness), read now."""
    from flask import current_app

    from ivr.operations import readiness

    return readiness.problems(current_app.config, svc.runtime.clinic, _texts_refused(svc))

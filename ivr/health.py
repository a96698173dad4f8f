"""GET /healthz: is this process able to answer calls?

Only workers heard from lately are counted (ivr.workers.presence).
"""

from __future__ import annotations

import redis
from flask import Blueprint, jsonify

from ivr import services
from ivr.workers.presence import live_workers

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    svc = services.get()
    report: dict = {"flows": svc.runtime.flows.names}
    if svc.runtime.flows.issues:
        report["flow_issues"] = [str(i) for i in svc.runtime.flows.issues]
    try:
        svc.redis.ping()
        report["redis"] = "ok"
        report["workers"] = live_workers(svc.redis, svc.now())
        report["queued_jobs"] = svc.queue.count
    except redis.RedisError as exc:
        report["redis"] = f"down: {exc.__class__.__name__}"
        report["status"] = "down"
        return jsonify(report), 503
    healthy = bool(report["flows"]) and report["workers"] > 0
    report["status"] = "ok" if healthy else "degraded"
    return jsonify(report), 200

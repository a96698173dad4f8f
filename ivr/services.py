"""The resources a web process shares across requests, kept in ``app.extensions``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import redis
from flask import Flask, current_app
from rq import Queue

from ivr.recordings import object_store
from ivr.clinic.runtime import Runtime
from ivr.protection.sealing import Sealer
from ivr.store import CallStore, StatsStore
from ivr.store.audit import AuditLog
from ivr.store.callbacks import CallbackQueue
from ivr.store.emergency import EmergencySwitch
from ivr.store.flows import FlowStore
from ivr.store.holds import HoldLine
from ivr.store.users import UserStore
from ivr.store.voicemails import VoicemailStore
from ivr.recordings.vault import RecordingVault
from ivr.workers import DEFAULT_QUEUE, SPEECH_QUEUE

EXTENSION = "ivr"


@dataclass
class Services:
    runtime: Runtime
    redis: redis.Redis
    flow_versions: FlowStore
    emergency: EmergencySwitch
    calls: CallStore
    stats: StatsStore
    voicemails: VoicemailStore
    queue: Queue
    speech_queue: Queue  # voicemails, worked by speech workers
    users: UserStore
    audit: AuditLog
    callbacks: CallbackQueue
    holds: HoldLine
    sealer: Sealer
    vault: RecordingVault
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.timezone.utc))


def init_app(app: Flask, runtime: Runtime, conn: redis.Redis) -> Services:
    sealer = Sealer.from_settings(str(app.config.get("DATA_KEY") or ""), app.config["DATA_DIR"])
    svc = Services(
        runtime=runtime,
        redis=conn,
        flow_versions=FlowStore(conn),
        emergency=EmergencySwitch(conn),
        calls=CallStore(conn, ttl=int(app.config["CALL_STATE_TTL"])),
        stats=StatsStore(conn),
        voicemails=VoicemailStore(conn),
        queue=Queue(DEFAULT_QUEUE, connection=conn),
        speech_queue=Queue(SPEECH_QUEUE, connection=conn),
        users=UserStore(conn),
        audit=AuditLog(conn),
        callbacks=CallbackQueue(conn, lease_seconds=lambda: runtime.clinic.callbacks.lease_minutes * 60),
        holds=HoldLine(conn),
        sealer=sealer,
        vault=RecordingVault(Path(app.config["DATA_DIR"]) / "recordings", sealer, object_store.from_config(app.config)),
    )
    app.extensions[EXTENSION] = svc
    return svc


def get() -> Services:
    return current_app.extensions[EXTENSION]

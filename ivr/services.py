"""The resources a web process shares across requests, kept in ``app.extensions``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable

import redis
from flask import Flask, current_app
from rq import Queue

from ivr.runtime import Runtime
from ivr.store import CallStore, RecordingInbox, StatsStore
from ivr.store.audit import AuditLog
from ivr.store.callbacks import CallbackQueue
from ivr.store.emergency import EmergencySwitch
from ivr.store.flows import FlowStore
from ivr.store.holds import HoldLine
from ivr.store.users import UserStore
from ivr.workers import DEFAULT_QUEUE

EXTENSION = "ivr"


@dataclass
class Services:
    runtime: Runtime
    redis: redis.Redis
    flow_versions: FlowStore
    emergency: EmergencySwitch
    calls: CallStore
    stats: StatsStore
    recordings: RecordingInbox
    queue: Queue
    users: UserStore
    audit: AuditLog
    callbacks: CallbackQueue
    holds: HoldLine
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.timezone.utc))


def init_app(app: Flask, runtime: Runtime, conn: redis.Redis) -> Services:
    svc = Services(
        runtime=runtime,
        redis=conn,
        flow_versions=FlowStore(conn),
        emergency=EmergencySwitch(conn),
        calls=CallStore(conn, ttl=int(app.config["CALL_STATE_TTL"])),
        stats=StatsStore(conn),
        recordings=RecordingInbox(conn),
        queue=Queue(DEFAULT_QUEUE, connection=conn),
        users=UserStore(conn),
        audit=AuditLog(conn),
        callbacks=CallbackQueue(conn, lease_seconds=runtime.clinic.callbacks.lease_minutes * 60),
        holds=HoldLine(conn),
    )
    app.extensions[EXTENSION] = svc
    return svc


def get() -> Services:
    return current_app.extensions[EXTENSION]

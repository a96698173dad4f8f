"""The supervisor's view of the callback desk (admins only): GET /console/supervisor.

* who holds which callback, and for how long (numbers masked);
* per queue: waiting now, the oldest wait, claimed now, retries scheduled;
* per person: callbacks finished today (clinic's day), done (reached or message
  left) and closed (wrong number, or no answer after every try);
* urgent callbacks not reached, waiting for their next try (those moved to the
  on-call desk say from where).

Read from the callback store's own keys (``ivr.store.keys``: the leases and
the statistics events of each department); every view is audited.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass

from flask import render_template

from ivr import services
from ivr.store import keys
from ivr.store.callback_types import Callback, Status

from . import bp
from .audit import record
from .auth import role_required
from .durations import waited

VIEW_SUPERVISOR = "view_supervisor"  # the audit log's action for this page


@dataclass(frozen=True)
class Holding:
    callback: Callback
    department: str
    held_seconds: float
    lease_left_seconds: float


@dataclass(frozen=True)
class QueueRow:
    key: str
    name: str
    waiting: int
    oldest_seconds: int
    claimed: int
    scheduled: int


@dataclass(frozen=True)
class PersonRow:
    name: str
    done: int
    closed: int

    @property
    def total(self) -> int:
        return self.done + self.closed


def _callbacks(ids: list[str]) -> list[Callback]:
    conn = services.get().redis
    pipe = conn.pipeline(transaction=False)
    for cid in ids:
        pipe.hgetall(keys.CALLBACK.format(cid))
    return [Callback.from_fields(raw) for raw in pipe.execute() if raw]


def desk_figures(departments: list[str], now: float, day_start: float) -> tuple[list[Holding], list[QueueRow], list[PersonRow]]:
    """(who holds what, longest first; each queue; each person's callbacks finished since ``day_start``)."""
    svc = services.get()
    conn = svc.redis
    clinic = svc.runtime.clinic
    holdings: list[Holding] = []
    queues: list[QueueRow] = []
    finished: dict[str, str] = {}  # callback id -> "done" | "closed"
    for dept in departments:
        stats = svc.callbacks.stats(dept, now=now)
        name = clinic.desks[dept].name if dept in clinic.desks else dept
        queues.append(QueueRow(dept, name, stats["waiting_now"], stats["oldest_waiting_seconds"],
                               stats["claimed_now"], stats["scheduled_now"]))
        leased = [i.decode() for i in conn.zrange(keys.CALLBACK_LEASES.format(dept), 0, -1)]
        for cb in _callbacks(leased):
            if cb.status is Status.CLAIMED and cb.claimed_by:
                holdings.append(Holding(cb, name, now - cb.claimed_at, cb.lease_until - now))
        for member in conn.zrangebyscore(keys.CALLBACK_EVENTS.format(dept), day_start, now):
            kind, cid, _ = member.decode().split("|")
            if kind in ("done", "closed"):
                finished[cid] = kind
    per_person: dict[str, Counter] = {}
    for cb in _callbacks(list(finished)):
        if cb.claimed_by:
            per_person.setdefault(cb.claimed_by, Counter())[finished[cb.id]] += 1
    people = sorted(
        (PersonRow(name, c["done"], c["closed"]) for name, c in per_person.items()),
        key=lambda p: (-p.total, p.name),
    )
    holdings.sort(key=lambda h: -h.held_seconds)
    return holdings, queues, people


@bp.get("/console/supervisor")
@role_required("admin")
def supervisor():
    svc = services.get()
    clinic = svc.runtime.clinic
    now = time.time()  # the callback store's clock
    today = dt.datetime.fromtimestamp(now, clinic.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    departments = clinic.departments_for("admin")
    svc.callbacks.release_expired()
    holdings, queues, people = desk_figures(departments, now, today.timestamp())
    not_reached = sorted((cb for d in departments for cb in svc.callbacks.scheduled(d) if cb.urgent), key=lambda cb: cb.not_before)
    record(VIEW_SUPERVISOR, target="supervisor", detail=f"{len(holdings)} held, {sum(q.waiting for q in queues)} waiting")
    return render_template(
        "staff/supervisor.html",
        holdings=holdings,
        queues=queues,
        people=people,
        not_reached=not_reached,
        waited=waited,
        today=today,
        max_claims=clinic.callbacks.max_claims_per_user,
    )

"""Follow-up results for administrators: summary chart, appointments, CSV export, do-not-call.

    GET /admin/followups             summary (reached, satisfied, asked for a nurse, opted out) and the latest appointments
    GET /admin/followups/export.csv  every appointment with its answers, outcome and attempts

Admins only; numbers are masked; views and exports go to the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter

from flask import Blueprint, Response, render_template

from ivr import services
from ivr.staff.auth import current_user, role_required
from ivr.staff.pages import staff_pages
from ivr.store import audit as actions
from ivr.store.followups import FollowupStore, Outcome, Record

bp = Blueprint("followups_admin", __name__, url_prefix="/admin/followups")

ROWS = 200
EXPORT_COLUMNS = [
    "id", "name", "phone", "appointment_time", "timezone", "provider", "department", "language", "status",
    "outcome", "attempts", "identity", "feeling", "rating", "nurse", "completed_at",
]


staff_pages(bp)


def summary(records) -> dict:
    """Counts for the chart: reached, satisfied (rated 4-5), asked for a nurse, opted out; and by outcome."""
    counts = Counter()
    outcomes = Counter()
    total = 0
    for rec in records:
        total += 1
        outcomes[rec.outcome or rec.status] += 1
        if rec.outcome == Outcome.REACHED or rec.answers.get("identity") == "confirmed":
            counts["reached"] += 1
        if rec.answers.get("rating") in ("4", "5"):
            counts["satisfied"] += 1
        if rec.answers.get("nurse") == "yes":
            counts["nurse"] += 1
        if rec.outcome == Outcome.OPTED_OUT:
            counts["opted_out"] += 1
    bars = [
        ("Reached", counts["reached"]),
        ("Satisfied (rated 4-5)", counts["satisfied"]),
        ("Asked for a nurse", counts["nurse"]),
        ("Opted out", counts["opted_out"]),
    ]
    return {"total": total, "bars": bars, "max": max([v for _, v in bars] + [1]), "outcomes": sorted(outcomes.items())}


def _audit(detail: str) -> None:
    user = current_user()
    if user is not None:
        services.get().audit.record(user.name, actions.VIEW_FOLLOWUPS, detail=detail)


@bp.get("")
@bp.get("/")
@role_required("admin")
def index():
    store = FollowupStore(services.get().redis)
    records = list(store.iter_all())
    latest = sorted(records, key=lambda r: r.at, reverse=True)[:ROWS]
    _audit("results page")
    return render_template(
        "admin/followups.html",
        summary=summary(records),
        records=latest,
        do_not_call=store.do_not_call_count(),
        zone=services.get().runtime.clinic.zone,
    )


def _row(rec: Record) -> list[str]:
    completed = dt.datetime.fromtimestamp(rec.completed_at, dt.timezone.utc).isoformat() if rec.completed_at else ""
    return [
        rec.id, rec.name, rec.masked_phone, rec.at.isoformat(), rec.timezone, rec.provider, rec.department, rec.lang,
        rec.status, rec.outcome, str(rec.attempts), rec.answers.get("identity", ""), rec.answers.get("feeling", ""),
        rec.answers.get("rating", ""), rec.answers.get("nurse", ""), completed,
    ]


def _safe(cell: str) -> str:
    """Spreadsheet formula injection: a cell starting with = + - @ is read as text."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") and not cell.startswith("+*") else cell


@bp.get("/export.csv")
@role_required("admin")
def export():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for rec in FollowupStore(services.get().redis).iter_all():
        writer.writerow([_safe(c) for c in _row(rec)])
    _audit("CSV export")
    return Response(
        out.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="followups.csv"'},
    )

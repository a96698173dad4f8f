"""Reports for administrators: is the phone line serving patients? Measured on real calls.

    GET /admin/reports                    ?range=today|7|30|custom&from=YYYY-MM-DD&to=YYYY-MM-DD&department=D
    GET /admin/reports/<table>.csv        the same table as CSV, for the same range and department

Figures come from the call records (``ivr.store.call_records``: one per call, no patient data), the
callback queues' statistics events and the follow-up appointments, in ``ivr.reports.figures``: each
chart and the table beside it (and its CSV) are drawn from one ``Table``. A range that cannot be read
(malformed, reversed, longer than the records kept, in the future) is said in words on the page (400),
never a 500. Admins only; every view and export is in the audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections import OrderedDict
from dataclasses import dataclass

import redis
from flask import Blueprint, Response, abort, current_app, render_template, request

from ivr import services
from ivr.reports.figures import OPEN_WORDS, Definitions, Report, Table, Tally, heat_max, report_of, tally
from ivr.staff.auth import current_user, role_required
from ivr.staff.pages import staff_pages, writes_refused
from ivr.store import audit as actions
from ivr.store import keys
from ivr.store.call_records import CallRecord, CallRecords
from ivr.web_server import let_others_run

bp = Blueprint("reports_admin", __name__, url_prefix="/admin/reports")
bp.register_error_handler(redis.ResponseError, writes_refused)
staff_pages(bp)

RANGES = {"today": "Today", "7": "Last 7 days", "30": "Last 30 days", "custom": "Custom"}


class RangeError(ValueError):
    """A date range the page cannot show, in words."""


@dataclass(frozen=True)
class Period:
    key: str
    first: dt.date
    last: dt.date

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def text(self) -> str:
        if self.first == self.last:
            return self.first.strftime("%a %d %b %Y")
        return f"{self.first.strftime('%a %d %b %Y')} to {self.last.strftime('%a %d %b %Y')}"


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise RangeError(f"The {name} date {value!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-24.") from None


def parse_period(args, today: dt.date, keep_days: int) -> Period:
    key = args.get("range") or "7"
    if key not in RANGES:
        raise RangeError(f"Unknown range {key!r}: choose today, the last 7 or 30 days, or custom dates.")
    if key == "today":
        return Period(key, today, today)
    if key in ("7", "30"):
        return Period(key, today - dt.timedelta(days=int(key) - 1), today)
    first = _date(args.get("from", ""), "from")
    last = _date(args.get("to", ""), "to")
    if last < first:
        raise RangeError(f"The range ends ({last}) before it begins ({first}): swap the dates.")
    if last > today:
        raise RangeError(f"The range ends in the future ({last}); today is {today} in clinic time.")
    if (last - first).days + 1 > keep_days or first < today - dt.timedelta(days=keep_days - 1):
        raise RangeError(
            f"Call records are kept {keep_days} days (REPORTS_KEEP_DAYS): choose dates from "
            f"{today - dt.timedelta(days=keep_days - 1)} to {today}."
        )
    return Period(key, first, last)


@functools.lru_cache(maxsize=64)
def _node_names(flow: str, version: str) -> list[str]:
    try:
        return list(services.get().runtime.flows.version(flow, version).nodes)
    except Exception:  # noqa: BLE001 - an unknown version: its steps are shown by number
        return []


def _callback_events(conn: redis.Redis, departments: list[str], start: float, end: float) -> list[tuple[str, float, float]]:
    """(kind, seconds, at) of callbacks that ended in the range (CallbackLifecycle, kept as long as the call
    records): ``done``/``closed`` (request -> end), ``claim`` (request -> first claim), ``vm_claim`` (the same
    for voicemails: the response time)."""
    from ivr.store.call_records import CallbackLifecycle

    out = []
    for c in CallbackLifecycle(conn).between(start, end, departments):
        out.append((c["status"], c["finished"] - c["requested"], c["finished"]))
        if c["first_claimed"]:
            out.append(("vm_claim" if c["source"] == "voicemail" else "claim", c["first_claimed"] - c["requested"], c["first_claimed"]))
    return out


def _simulated() -> dict:
    """The published flow's simulated time to a person (ivr.flows.timing), for the callers who press nothing."""
    runtime = services.get().runtime
    try:
        flow = runtime.flows.live(runtime.clinic.flow_for(runtime.clinic.main_number))
        return _simulated_for(flow.name, flow.version)
    except Exception:  # noqa: BLE001 - a figure beside the measured one: never break the page
        return {}


@functools.lru_cache(maxsize=8)
def _simulated_for(name: str, version: str) -> dict:
    from ivr.flows.timing import time_to_person

    runtime = services.get().runtime
    clinic = runtime.clinic
    flow = runtime.flows.version(name, version)
    schedule = clinic.schedule()
    now = dt.datetime.now(clinic.zone)
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    open_at = next((monday + dt.timedelta(days=d, hours=h) for d in range(7) for h in range(24)
                    if schedule.status(monday + dt.timedelta(days=d, hours=h)).value == "open"), now)
    paths = time_to_person(flow, runtime.prompts, {"open": open_at}, schedule, clinic.desk_numbers(),
                           {"clinic_name": clinic.name}, languages=[flow.default_language])
    reached = [p.seconds for p in paths if p.reached_person]
    silent = [p.seconds for p in paths if p.caller == "silent" and p.reached_person]
    return {"flow": name, "version": version, "silent": round(silent[0], 1) if silent else None,
            "slowest": round(max(reached), 1) if reached else None}


# A day's tally stays valid while its list keeps its length and last row (rows are only appended; pruning
# drops the list; the last row tells apart another Redis, e.g. after a restore).
_TALLIES: "OrderedDict[tuple, Tally]" = OrderedDict()
TALLIES_KEPT = 800  # days x departments asked for, per web process (a few kB each)


def _tally(records: CallRecords, days: list[dt.date], defs: Definitions, zone, department: str) -> Tally:
    """The range's counts: each day's from this process's cache when its list has not grown, else read
    and counted again; one round trip for the lengths and one for the days to read."""
    pipe = records.conn.pipeline(transaction=False)
    for day in days:
        pipe.llen(keys.CALL_RECORDS.format(day.isoformat()))
        pipe.lindex(keys.CALL_RECORDS.format(day.isoformat()), -1)
    marks = pipe.execute()
    total, missing = Tally(), []
    for i, day in enumerate(days):
        key = (day, int(marks[2 * i]), marks[2 * i + 1], department, defs, str(zone))
        hit = _TALLIES.get(key)
        if hit is None:
            missing.append((day, key))
        else:
            _TALLIES.move_to_end(key)
            total.merge(hit)
    if missing:
        rows = records.days([day for day, _ in missing])
        for day, key in missing:
            let_others_run()  # a day at a time (a few ms each): webhooks in this process go first
            one = tally((CallRecord.unpack(r) for r in rows[day]), defs, _node_names, zone, department)
            total.merge(one)
            _TALLIES[key] = one
            while len(_TALLIES) > TALLIES_KEPT:
                _TALLIES.popitem(last=False)
    return total


def build_report(period: Period, department: str) -> Report:
    svc = services.get()
    clinic = svc.runtime.clinic
    config = current_app.config
    defs = Definitions.from_config(config, clinic.callbacks.target_minutes)
    total = _tally(CallRecords(svc.redis), period.days, defs, clinic.zone, department)
    start = dt.datetime.combine(period.first, dt.time(), clinic.zone).timestamp()
    end = dt.datetime.combine(period.last + dt.timedelta(days=1), dt.time(), clinic.zone).timestamp()
    depts = [department] if department else list(clinic.desks)
    events = _callback_events(svc.redis, depts, start, end)
    report = report_of(total, defs, events)
    report.tables["followups"] = _followups_table(period, department, clinic.zone)
    return report


def _followups_table(period: Period, department: str, zone) -> Table:
    from ivr.admin.followups import summary
    from ivr.store.followups import FollowupStore

    first = dt.datetime.combine(period.first, dt.time(), zone)
    last = dt.datetime.combine(period.last + dt.timedelta(days=1), dt.time(), zone)
    recs = [r for r in FollowupStore(services.get().redis).iter_all()
            if first <= r.at < last and (not department or r.department == department)]
    rows = [[f"{g.title}: {c.label}", c.value] for g in summary(recs).groups for c in g.counts if c.value]
    return Table("followups", f"Follow-up calls for appointments in the range ({len(recs)})", ["Result", "Appointments"], rows)


def _audit(detail: str) -> None:
    user = current_user()
    if user is not None:
        services.get().audit.record(user.name, actions.VIEW_REPORTS, target="reports", detail=detail)


def _request_period():
    svc = services.get()
    today = svc.now().astimezone(svc.runtime.clinic.zone).date()
    keep = int(current_app.config.get("REPORTS_KEEP_DAYS") or 400)
    department = request.args.get("department", "")
    if department and department not in svc.runtime.clinic.desks:
        raise RangeError(f"Unknown department {department!r}.")
    return parse_period(request.args, today, keep), department, today


@bp.get("")
@bp.get("/")
@role_required("admin")
def index():
    clinic = services.get().runtime.clinic
    try:
        period, department, today = _request_period()
    except RangeError as exc:
        _audit(f"reports page refused: {exc}")
        return render_template("admin/reports.html", error=str(exc), args=request.args, ranges=RANGES,
                               desks=clinic.desks, report=None), 400
    report = build_report(period, department)
    _audit(f"reports page {period.first}..{period.last} {department or 'all departments'}")
    defs = Definitions.from_config(current_app.config, clinic.callbacks.target_minutes)
    return render_template(
        "admin/reports.html", error="", args=request.args, ranges=RANGES, desks=clinic.desks, report=report,
        period=period, department=department, definitions=defs.text(), simulated=_simulated(),
        heat_max=heat_max, zone=clinic.timezone, open_words=OPEN_WORDS,
        csv_args={k: v for k, v in request.args.items() if k in ("range", "from", "to", "department")},
    )


def _safe(cell) -> str:
    text = str(cell)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@bp.get("/<key>.csv")
@role_required("admin")
def table_csv(key: str):
    try:
        period, department, _ = _request_period()
    except RangeError as exc:
        return Response(f"{exc}\n", 400, mimetype="text/plain")
    report = build_report(period, department)
    table = report.tables.get(key)
    if table is None:
        abort(404)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow([_safe(c) for c in row])
    _audit(f"reports CSV {key} {period.first}..{period.last} {department or 'all departments'}")
    name = f"{key}-{period.first}-{period.last}{'-' + department if department else ''}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})

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

import calendar
import csv
import datetime as dt
import functools
import hashlib
import io
from collections import Counter, OrderedDict
from dataclasses import dataclass

import redis
from flask import Blueprint, Response, abort, current_app, render_template, request

from ivr import services
from ivr.reports.figures import OPEN_WORDS, Definitions, Report, Table, Tally, heat_max, report_of, tally
from ivr.staff.auth import current_user, role_required
from ivr.staff.pages import staff_pages, writes_refused
from ivr.store import audit as actions
from ivr.store.call_records import CallbackLifecycle, CallRecord, CallRecords
from ivr.operations.web_server import let_others_run

bp = Blueprint("reports_admin", __name__, url_prefix="/admin/reports")
bp.register_error_handler(redis.ResponseError, writes_refused)
staff_pages(bp)

RANGES = {"today": "Today", "7": "Last 7 days", "30": "Last 30 days", "custom": "Custom"}
WAITING_READ = 5000  # callbacks read per department and state for the "waiting now" table
# Follow-up outcomes of a call that was placed and ended: the reach rate's denominator.
CALLED = frozenset({"reached", "wrong_person", "not_confirmed", "message_left", "unreached"})


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
            f"Call records are kept {keep_days} days, so a range can reach back that far at most: choose dates from "
            f"{today - dt.timedelta(days=keep_days - 1)} to {today}."
        )
    return Period(key, first, last)


@functools.lru_cache(maxsize=64)
def _node_names(flow: str, version: str) -> list[str]:
    try:
        return list(services.get().runtime.flows.version(flow, version).nodes)
    except Exception:  # noqa: BLE001 - an unknown version: its steps are shown by number
        return []


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
    now = services.get().now().astimezone(clinic.zone)
    monday = (now - dt.timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    open_at = next((monday + dt.timedelta(days=d, hours=h) for d in range(7) for h in range(24)
                    if schedule.status(monday + dt.timedelta(days=d, hours=h)).value == "open"), now)
    paths = time_to_person(flow, runtime.prompts, {"open": open_at}, schedule, clinic.desk_numbers(),
                           {"clinic_name": clinic.name}, languages=[flow.default_language], desk_schedules=clinic.desk_schedules)
    reached = [p.seconds for p in paths if p.reached_person]
    silent = [p.seconds for p in paths if p.caller == "silent" and p.reached_person]
    return {"flow": name, "version": version, "silent": round(silent[0], 1) if silent else None,
            "slowest": round(max(reached), 1) if reached else None}


# Counts stay valid while what they were made from is unchanged (``CallRecords.fingerprints``). A range
# is counted in parts: each whole past month as one (a year is about 12 months and a few days to add up),
# every other day alone; each part's counts are kept per web process (this dict) and, for past parts, in
# Redis for every process.
_TALLIES: "OrderedDict[tuple, Tally]" = OrderedDict()
TALLIES_KEPT = 800  # parts x departments asked for, per web process (a few kB each)
DAYS_READ = 10  # days' rows read at a time when counting (5,000 rows at 500 calls a day: a few ms to parse)

Part = tuple  # (label: "YYYY-MM-DD" or "YYYY-MM", its days, the fingerprint of what they hold)


def _parts(days: list[dt.date], prints: dict[dt.date, str], today: dt.date) -> list[Part]:
    months: dict[str, list[dt.date]] = {}
    for day in days:
        months.setdefault(day.strftime("%Y-%m"), []).append(day)
    out: list[Part] = []
    for label, in_month in months.items():
        first = in_month[0]
        if in_month[-1] < today and len(in_month) == calendar.monthrange(first.year, first.month)[1]:
            joined = "|".join(prints[day] for day in in_month)
            out.append((label, in_month, hashlib.blake2b(joined.encode(), digest_size=8).hexdigest()))
        else:
            out += [(day.isoformat(), [day], prints[day]) for day in in_month]
    return out


def _kept(records: CallRecords, parts: list[Part], variant: str, today: dt.date) -> dict[str, Tally]:
    """The parts' counts this process has, else Redis (past parts), read some at a time."""
    found: dict[str, Tally] = {}
    for label, _, fingerprint in parts:
        hit = _TALLIES.get((label, fingerprint, variant))
        if hit is not None:
            _TALLIES.move_to_end((label, fingerprint, variant))
            found[label] = hit
    asked = [(label, fingerprint) for label, in_part, fingerprint in parts if label not in found and in_part[-1] < today]
    for chunk in _chunks(asked, 60):  # webhooks of this process go in between
        let_others_run()
        for label, text in records.cached_tallies(dict(chunk), variant).items():
            found[label] = Tally.from_json(text)
    return found


def _tally(conn: redis.Redis, days: list[dt.date], defs: Definitions, zone, department: str, today: dt.date) -> Tally:
    """The range's counts. Each part from this process's copy, else Redis's; a month not kept is made from
    its days' counts (kept or counted); a day not kept is counted from its rows (and kept once past)."""
    records, lifecycle = CallRecords(conn), CallbackLifecycle(conn)
    variant = f"{department}|{defs.service_level_seconds}|{defs.short_abandon_seconds}|{defs.promises_count}|{zone}"
    prints = records.fingerprints(days, zone)
    parts = _parts(days, prints, today)
    found = _kept(records, parts, variant, today)
    missing = [part for part in parts if part[0] not in found]
    if missing:
        needed = [day for _, in_part, _ in missing for day in in_part]
        by_day = _kept(records, [(d.isoformat(), [d], prints[d]) for d in needed], variant, today) if \
            any(len(p[1]) > 1 for p in missing) else {}
        keep: dict[str, tuple[str, str, dt.date]] = {}
        for chunk in _chunks([day for day in needed if day.isoformat() not in by_day], DAYS_READ):
            let_others_run()
            rows, ended = records.days(chunk), lifecycle.ended_on(chunk, zone)
            appointments = _appointments(chunk, zone, department)
            for day in chunk:
                let_others_run()  # a day at a time (a few ms each): webhooks in this process go first
                one = tally((CallRecord.unpack(r) for r in rows[day]), defs, _node_names, zone, department, ended[day])
                _count_followups(one, appointments[day])
                by_day[day.isoformat()] = one
                if day < today and one.settled:
                    keep[day.isoformat()] = (prints[day], one.to_json(), day)
        for label, in_part, fingerprint in missing:
            if len(in_part) == 1:
                found[label] = by_day[label]
                continue
            found[label] = merged = Tally()
            for day in in_part:
                merged.merge(by_day[day.isoformat()])
            if merged.settled:
                keep[label] = (fingerprint, merged.to_json(), in_part[-1])
        if keep:
            records.keep_tallies(variant, keep)
    total = Tally()
    for label, _, fingerprint in parts:
        if found[label].settled:  # one whose follow-ups may still change is counted again each time
            _TALLIES[(label, fingerprint, variant)] = found[label]
        total.merge(found[label])
    while len(_TALLIES) > TALLIES_KEPT:
        _TALLIES.popitem(last=False)
    return total


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _waiting_table(departments: list[str], now: float, target_minutes: int, zone) -> Table:
    """Callbacks waiting now (in line or for their next try), by the clinic day they were asked for."""
    queue = services.get().callbacks
    by_day: Counter = Counter()
    late: Counter = Counter()
    for dept in departments:
        for cb in queue.waiting(dept, limit=WAITING_READ) + queue.scheduled(dept, limit=WAITING_READ):
            day = dt.datetime.fromtimestamp(cb.requested_at, zone).date()
            by_day[day] += 1
            late[day] += now - cb.requested_at > target_minutes * 60
    rows = [[day.strftime("%a %d %b %Y"), by_day[day], late[day]] for day in sorted(by_day)]
    return Table("waiting", f"Callbacks waiting now ({sum(by_day.values())}), by the day they were asked for",
                 ["Asked on", "Waiting", f"Over the {target_minutes} min target"], rows)


def _appointments(days: list[dt.date], zone, department: str) -> dict[dt.date, list]:
    """The follow-up appointments of each clinic day, by their time; one read for the days."""
    from ivr.store.followups import FollowupStore

    out: dict[dt.date, list] = {day: [] for day in days}
    start = dt.datetime.combine(days[0], dt.time(), zone).timestamp()
    end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), zone).timestamp()
    for rec in FollowupStore(services.get().redis).between(start, end):
        day = rec.at.astimezone(zone).date()
        if day in out and (not department or rec.department == department):
            out[day].append(rec)
    return out


def _count_followups(t: Tally, appointments: list) -> None:
    """The follow-up results (as on the follow-up results page) and the reach rate's parts, into ``t``;
    unsettled while any of them is not finished."""
    from ivr.admin.followups import summary
    from ivr.store.followups import DONE_STATUSES, Outcome

    for group in summary(appointments).groups:
        counts = t.fu_where if group.key == "where" else t.fu_said
        for c in group.counts:
            if c.value:
                counts[c.label] += c.value
    called = [r for r in appointments if r.outcome in CALLED]
    t.fu_total += len(appointments)
    t.fu_called += len(called)
    t.fu_reached += sum(1 for r in called if r.outcome == Outcome.REACHED)
    t.settled = t.settled and all(r.status in DONE_STATUSES for r in appointments)


def _followups_table(t: Tally) -> tuple[Table, str]:
    """The follow-up results of appointments in the range, in the results page's order, and the reach rate:
    reached and confirmed ÷ appointments whose follow-up call was placed and ended (reached, someone else,
    not confirmed, message left, unreached)."""
    from ivr.admin.followups import summary

    rows = [[f"{g.title}: {c.label}", (t.fu_where if g.key == "where" else t.fu_said)[c.label]]
            for g in summary([]).groups for c in g.counts]
    reach = f"{100 * t.fu_reached / t.fu_called:.1f}% ({t.fu_reached} of {t.fu_called})" if t.fu_called else "—"
    return Table("followups", f"Follow-up calls for appointments in the range ({t.fu_total})", ["Result", "Appointments"],
                 [r for r in rows if r[1]]), reach


def build_report(period: Period, department: str, today: dt.date) -> Report:
    svc = services.get()
    clinic = svc.runtime.clinic
    defs = Definitions.from_config(current_app.config, clinic.callbacks.target_minutes)
    counts = _tally(svc.redis, period.days, defs, clinic.zone, department, today)
    report = report_of(counts, defs)
    followups, reach = _followups_table(counts)
    report.tables["followups"] = followups
    depts = [department] if department else list(clinic.desks)
    report.tables["waiting"] = _waiting_table(depts, svc.callbacks.clock(), clinic.callbacks.target_minutes, clinic.zone)
    waiting = report.tables["waiting"]
    extra = [["Follow-up reach rate (reached ÷ called)", reach],
             ["Callbacks waiting now (over target)", f"{sum(r[1] for r in waiting.rows)} ({sum(r[2] for r in waiting.rows)})"]]
    report.tables["summary"].rows += extra
    return report


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
    report = build_report(period, department, today)
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
        period, department, today = _request_period()
    except RangeError as exc:
        return Response(f"{exc}\n", 400, mimetype="text/plain")
    report = build_report(period, department, today)
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

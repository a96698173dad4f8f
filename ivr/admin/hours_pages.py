"""Hours and holidays: the weekly hours, dated holidays, import from an .ics calendar.

They stay in config/clinic.yaml; only its ``hours:`` and ``holidays:`` parts
are rewritten (see clinic_file), after the whole new file validated with the
runtime's loader.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from flask import flash, redirect, render_template, request, url_for

from ivr import services
from ivr.clinic.settings import ClinicConfigError, load_clinic
from ivr.clinic.hours import WEEKDAYS, parse_spans
from ivr.clinic.prompts import spoken_problem
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions

from . import bp, calendar_import, clinic_file
from .flow_pages import check, draft_text

MAX_HOLIDAYS = 1000  # rows of the holidays form read (the form itself is limited to 1000 fields)


def _path() -> Path:
    return services.get().runtime.config_dir / "clinic.yaml"


def _short(message: str) -> str:
    """A loader message without the temporary file's path."""
    return "; ".join(line.split(": ", 1)[1] if ": " in line else line for line in message.splitlines())


def _clinic():
    """The settings as on disk now (the runtime may reload a moment later); the live ones if the file is broken."""
    try:
        return load_clinic(_path())
    except ClinicConfigError:
        return services.get().runtime.clinic


def _render(hours=None, holidays=None, preview=None, status=200, errors=None):
    clinic = _clinic()
    return render_template(
        "admin/hours.html",
        weekdays=WEEKDAYS,
        hours=hours if hours is not None else {d: ", ".join(clinic.hours.get(d, [])) for d in WEEKDAYS},
        holidays=holidays if holidays is not None else clinic_file.holiday_dicts(clinic),
        preview=preview,
        zone=clinic.timezone,
        errors=errors or {},
        flows=_flows(),
        default_flow=services.get().runtime.clinic.default_flow,
        drafted=[f for f in services.get().flow_versions.draft_names() if services.get().flow_versions.draft_hours(f) is not None],
    ), status


_TIME = r"(\d{1,2})(?:[:.h](\d{2}))?\s*([ap])?\.?\s*(?:m\.?)?"
_SPAN_WORDS = re.compile(rf"^\s*(?:{_TIME}|(noon))\s*(?:-|–|—|to|until)\s*(?:{_TIME}|(noon))\s*$", re.IGNORECASE)


def read_span(text: str) -> str:
    """A span as managers write it ("9-12", "8am-1pm", "9:00–17:30", "9 to 5", "noon-5pm") as "HH:MM-HH:MM".

    Without am/pm the times are 24-hour, except that an end before the start is in the
    afternoon ("9-5" is 09:00-17:00). Raises ValueError in words.
    """
    match = _SPAN_WORDS.match(text)
    if not match:
        raise ValueError(f"“{text}” is not a time span: write it like 9-12, 8am-1pm or 09:00-17:30")
    h1, m1, s1, noon1, h2, m2, s2, noon2 = match.groups()
    (h1, m1, s1) = (12, 0, "p") if noon1 else (int(h1), int(m1 or 0), (s1 or "").lower())
    (h2, m2, s2) = (12, 0, "p") if noon2 else (int(h2), int(m2 or 0), (s2 or "").lower())
    if (s1 and not 1 <= h1 <= 12) or (s2 and not 1 <= h2 <= 12):
        raise ValueError(f"“{text}” has a time that does not exist")

    def clock(h: int, suffix: str) -> int:
        return h % 12 + (12 if suffix == "p" else 0) if suffix else h

    if s2 and not s1:  # "1-5pm": the start in the afternoon too, unless that is after the end ("9-5pm")
        s1 = s2 if clock(h1, s2) * 60 + m1 < clock(h2, s2) * 60 + m2 else "a"
    start, end = clock(h1, s1) * 60 + m1, clock(h2, s2) * 60 + m2
    if not s1 and not s2 and end <= start and h2 < 12:
        end += 12 * 60  # "9-5"
    if start >= 24 * 60 or m1 > 59 or m2 > 59 or end > 24 * 60:
        raise ValueError(f"“{text}” has a time that does not exist")
    span = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    try:
        parse_spans([span])
    except ValueError:
        raise ValueError(f"“{text}” ends before it starts: split a span that crosses midnight in two") from None
    return span


def _read_day(value: str) -> list[str]:
    """A day's spans as typed ("9-12, 1pm-5pm"), read and checked together. Raises ValueError in words."""
    spans = [read_span(s) for s in _spans(value)]
    try:
        parse_spans(spans)
    except ValueError as exc:
        raise ValueError(str(exc).replace("spans ", "the times ")) from None
    return spans


@bp.get("/hours")
@role_required("admin")
def hours():
    record(actions.VIEW_ADMIN, target="hours")
    return _render()


def _spans(value: str) -> list[str]:
    return [s.strip() for s in value.replace(";", ",").split(",") if s.strip()]


@bp.post("/hours")
@role_required("admin")
def save_hours():
    """Every field is read and checked; any error is shown beside its field, in its label's words,
    with everything as typed, and nothing is written."""
    form = request.form
    errors: dict[str, str] = {}
    typed_hours = {day: form.get(f"hours_{day}", "") for day in WEEKDAYS}
    hours: dict[str, list[str]] = {}
    for day in WEEKDAYS:
        try:
            hours[day] = _read_day(typed_hours[day])
        except ValueError as exc:
            errors[f"hours_{day}"] = f"{day.capitalize()}: {exc}"
    holidays, typed = [], []
    try:
        count = int(form.get("holiday_count", "0") or 0)
    except ValueError:
        count = 0
    for i in range(min(max(count, 0), MAX_HOLIDAYS) + 1):
        date = (form.get(f"holiday_date_{i}") or "").strip()
        name = " ".join((form.get(f"holiday_name_{i}") or "").split())
        spans = form.get(f"holiday_hours_{i}", "")
        if form.get(f"holiday_remove_{i}") or (not date and not name):
            continue
        row = len(typed)  # the row's place on the page shown again
        typed.append({"date": date, "name": name, "hours": [spans] if spans.strip() else []})
        try:
            day = clinic_file.parse_date(date)
        except ValueError:
            errors[f"holiday_date_{row}"] = f"Date of holiday {row + 1}: {'empty' if not date else f'“{date}” is not a date'}: pick a day"
            day = None
        problem = spoken_problem(name, frozenset(), "a holiday's name")
        if problem:  # the name is said in {hours_today}: braces would be read out
            errors[f"holiday_name_{row}"] = f"Name of holiday {row + 1}: {problem}"
        try:
            reduced = _read_day(spans)
        except ValueError as exc:
            errors[f"holiday_hours_{row}"] = f"Hours of holiday {row + 1}: {exc}"
            reduced = []
        if day is not None:
            holidays.append({"date": day, "name": name or "Holiday", "hours": reduced})
    if errors:
        flash(f"Not saved: {len(errors)} field{'s' if len(errors) != 1 else ''} to correct, marked below.", "error")
        return _render(typed_hours, typed, status=422, errors=errors)
    if form.get("action") == "draft":
        return _save_in_draft(form.get("flow") or "", hours, holidays, typed_hours, typed)
    try:
        old, _new = clinic_file.write(_path(), hours=hours, holidays=holidays)
    except ClinicConfigError as exc:
        flash(f"Not saved: {_short(str(exc))}", "error")
        return _render(typed_hours, typed, status=422)
    record(actions.HOURS_EDIT, target="clinic:hours", detail=_summary(hours, holidays))
    flash("Hours and holidays saved. Calls use them within two seconds.", "info")
    return redirect(url_for("admin.hours"))


def _flows() -> list[str]:
    svc = services.get()
    return sorted(set(svc.flow_versions.live()) | set(svc.runtime.flows.names) | set(svc.flow_versions.draft_names()))


def _save_in_draft(flow: str, hours: dict[str, list[str]], holidays: list[dict], typed_hours, typed):
    """Keep the hours and holidays in a flow's draft: Try-it uses them, callers get them when it is published."""
    svc = services.get()
    if flow not in _flows():
        flash("Not saved: choose the flow whose draft they go in.", "error")
        return _render(typed_hours, typed, status=422)
    text = clinic_file.replace_blocks(_path().read_text(encoding="utf-8"), {
        "hours": clinic_file.hours_block(hours), "holidays": clinic_file.holidays_block(holidays)})
    try:
        clinic_file.check_text(_path(), text)
    except ClinicConfigError as exc:
        flash(f"Not saved: {_short(str(exc))}", "error")
        return _render(typed_hours, typed, status=422)
    svc.flow_versions.save_draft_hours(flow, {"hours": hours, "holidays": [dict(h, date=h["date"].isoformat()) for h in holidays]})
    base = draft_text(flow)
    svc.flow_versions.save_draft(flow, base, current_user().name, check(flow, base)[1])
    record(actions.HOURS_EDIT, target="clinic:hours", detail=f"in the draft of flow {flow}: {_summary(hours, holidays)}")
    flash(f"Hours and holidays saved in the draft of flow {flow}: Try it uses them now; callers get them when you "
          f"publish flow {flow}.", "info")
    return redirect(url_for("admin.hours"))


def _summary(hours: dict[str, list[str]], holidays: list[dict]) -> str:
    week = "; ".join(f"{d[:3]} {','.join(v) or 'closed'}" for d, v in hours.items())
    return f"{week}; {len(holidays)} holidays"


def _imported(entry) -> dict:
    """One holiday of a confirmed import: [date, name] (closed all day) or [date, name, reduced hours]."""
    if not isinstance(entry, list) or len(entry) not in (2, 3):
        raise ValueError("not a holiday")
    hours = entry[2] if len(entry) == 3 else []
    if not isinstance(hours, list) or len(hours) > 24 or not all(isinstance(h, str) and len(h) <= 11 for h in hours):
        raise ValueError("not a list of hours")
    return {"date": dt.date.fromisoformat(entry[0]), "name": str(entry[1])[:80], "hours": hours}


@bp.post("/hours/import")
@role_required("admin")
def import_holidays():
    clinic = _clinic()
    existing = {h.date for h in clinic.holidays}
    if request.form.get("confirm"):
        try:
            new = [_imported(entry) for entry in json.loads(request.form.get("dates") or "[]")]
        except (ValueError, TypeError, RecursionError):
            flash("The import could not be read; upload the calendar again.", "error")
            return redirect(url_for("admin.hours"))
        new = [h for h in new if h["date"] not in existing]
        try:
            clinic_file.write(_path(), holidays=clinic_file.holiday_dicts(clinic) + new)
        except ClinicConfigError as exc:
            flash(f"Not imported: {_short(str(exc))}", "error")
            return redirect(url_for("admin.hours"))
        record(actions.HOLIDAYS_IMPORT, target="clinic:holidays",
               detail=", ".join(f"{h['date']} {h['name']}" + (f" open {','.join(h['hours'])}" if h["hours"] else "") for h in new))
        flash(f"{len(new)} holidays added.", "info")
        return redirect(url_for("admin.hours"))
    upload = request.files.get("calendar")
    data = upload.read(calendar_import.MAX_BYTES + 1) if upload else b""
    try:
        preview = calendar_import.read(data, existing, clinic.schedule())
    except calendar_import.CalendarError as exc:
        flash(f"Calendar not read: {exc}.", "error")
        return _render(status=422)
    record(actions.VIEW_ADMIN, target="clinic:holidays", detail=f"calendar preview: {len(preview.new)} new")
    payload = json.dumps([[d.isoformat(), n, preview.hours.get(d, [])] for d, n in preview.new])
    # Nothing importable, only events that cannot be read (impossible dates...): the preview says why, as a 422.
    status = 422 if not preview.new and not preview.duplicates and not preview.unchanged else 200
    return _render(preview={"preview": preview, "payload": payload}, status=status)

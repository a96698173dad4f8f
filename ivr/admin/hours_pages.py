"""Hours and holidays: the weekly hours, dated holidays, import from an .ics calendar.

They stay in config/clinic.yaml; only its ``hours:`` and ``holidays:`` parts
are rewritten (see clinic_file), after the whole new file validated with the
runtime's loader.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import flash, redirect, render_template, request, url_for

from ivr import services
from ivr.clinic import ClinicConfigError, load_clinic
from ivr.hours import WEEKDAYS
from ivr.prompts import spoken_problem
from ivr.staff.audit import record
from ivr.staff.auth import role_required
from ivr.store import audit as actions

from . import bp, calendar_import, clinic_file

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


def _render(hours=None, holidays=None, preview=None, status=200):
    clinic = _clinic()
    return render_template(
        "admin/hours.html",
        weekdays=WEEKDAYS,
        hours=hours if hours is not None else {d: ", ".join(clinic.hours.get(d, [])) for d in WEEKDAYS},
        holidays=holidays if holidays is not None else clinic_file.holiday_dicts(clinic),
        preview=preview,
        zone=clinic.timezone,
    ), status


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
    form = request.form
    hours = {day: _spans(form.get(f"hours_{day}", "")) for day in WEEKDAYS}
    holidays = []
    try:
        count = int(form.get("holiday_count", "0") or 0)
    except ValueError:
        count = 0
    for i in range(min(max(count, 0), MAX_HOLIDAYS) + 1):
        date = (form.get(f"holiday_date_{i}") or "").strip()
        name = " ".join((form.get(f"holiday_name_{i}") or "").split())
        if form.get(f"holiday_remove_{i}") or (not date and not name):
            continue
        try:
            day = clinic_file.parse_date(date)
        except ValueError:
            flash(f"Not saved: {date or '(empty)'} is not a date (YYYY-MM-DD) for holiday {name or i + 1}.", "error")
            return _render({d: ", ".join(v) for d, v in hours.items()}, status=422)
        problem = spoken_problem(name, frozenset(), "a holiday's name")
        if problem:  # the name is said in {hours_today}: braces would be read out
            flash(f"Not saved: holiday {name}: {problem}.", "error")
            return _render({d: ", ".join(v) for d, v in hours.items()}, status=422)
        holidays.append({"date": day, "name": name or "Holiday", "hours": _spans(form.get(f"holiday_hours_{i}", ""))})
    try:
        old, _new = clinic_file.write(_path(), hours=hours, holidays=holidays)
    except ClinicConfigError as exc:
        flash(f"Not saved: {_short(str(exc))}", "error")
        return _render({d: ", ".join(v) for d, v in hours.items()}, holidays, status=422)
    record(actions.HOURS_EDIT, target="clinic:hours", detail=_summary(hours, holidays))
    flash("Hours and holidays saved. Calls use them within two seconds.", "info")
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

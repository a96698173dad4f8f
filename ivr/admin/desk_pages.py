"""Desks in the browser: add one, rename it, its number, who works its callbacks, its hours, remove it.

    GET/POST  /admin/desks                  the desks; POST adds one
    GET/POST  /admin/desks/<key>            one desk's form; POST saves it
    POST      /admin/desks/<key>/remove     remove it (refused while a flow, a setting or a callback uses it)

A desk's key (``pharmacy``) is what flows and callbacks refer to; it is made from the first name given
and never changes, so a rename changes only the name staff and the editor show. The desks live in
config/clinic.yaml: it is edited with ruamel.yaml's round-trip mode (as flows are, ivr.flows.editing),
so its comments, order and quoting stay as they were and only the desk's own line changes; the new text
is checked by the runtime's loader (ivr.clinic.settings.load_clinic) before it replaces the file, and every web
process reads it again at once (the settings generation in Redis).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from flask import abort, flash, redirect, render_template, request, url_for
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ivr import services
from ivr.clinic.settings import COSTLY, ClinicConfigError, ClinicSettings, load_clinic
from ivr.flows import yaml_lines
from ivr.flows.editing import _indents
from ivr.clinic.hours import WEEKDAYS
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions

from . import bp, clinic_file, hours_pages

log = logging.getLogger(__name__)

# The roles whose staff can work a desk's callback queue (admins see every queue anyway), as the form says them.
ROLE_LABELS = {"nurse": "Nurses", "billing": "Billing staff", "scheduling": "Scheduling staff"}
MAX_NAME = 60


class DeskError(ValueError):
    """What is wrong with a desk form, in words for the manager: ``field`` names the form field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


# The clinic file --------------------------------------------------------------------------------


def clinic_path() -> Path:
    return services.get().runtime.config_dir / "clinic.yaml"


def current_clinic() -> ClinicSettings:
    """The settings as on disk now (the live ones if the file was broken by hand)."""
    try:
        return load_clinic(clinic_path())
    except ClinicConfigError:
        return services.get().runtime.clinic


def _yaml(text: str) -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = _indents(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _flow(value):
    """A list or mapping written on one line, as the shipped desks are."""
    if isinstance(value, dict):
        out = CommentedMap((k, _flow(v)) for k, v in value.items())
    elif isinstance(value, list):
        out = CommentedSeq(_flow(v) for v in value)
    else:
        return DoubleQuotedScalarString(value) if isinstance(value, str) and value.startswith("+") else value
    out.fa.set_flow_style()
    return out


def edit_desks(path: Path, change, write: bool = True) -> ClinicSettings:
    """Apply ``change(desks)`` (the ``desks:`` CommentedMap) to clinic.yaml, round-trip; validate with the
    runtime's loader; replace the file atomically. Raises ClinicConfigError (the file is left as it was)."""
    old = path.read_text(encoding="utf-8")
    yaml = _yaml(old)
    data = yaml.load(old)
    change(data["desks"])
    out = io.StringIO()
    yaml.dump(data, out)
    new = out.getvalue()
    settings = clinic_file.check_text(path, new)
    if write:
        clinic_file.atomic_write(path, new)
    return settings


def announce() -> None:
    """Every web process reads the settings again now (this one at once, the others on their next request)."""
    svc = services.get()
    svc.flow_versions.settings_changed()
    svc.runtime.refresh(force=True)


# Reading the form -------------------------------------------------------------------------------


def new_key(name: str, taken) -> str:
    """A stable key from a desk's first name: "Pharmacy refills" -> pharmacy_refills (pharmacy_refills_2 if taken)."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "desk"
    if not base[0].isalpha():
        base = f"desk_{base}"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def read_number(value: str, country: str) -> str:
    """A desk's number as +E.164 from what was typed ("(202) 555-0105" is read as the clinic's country).
    DeskError with the reason: not a number, not a valid one, premium-rate or shared-cost."""
    typed = " ".join((value or "").split())
    if not typed:
        raise DeskError("Give the desk's phone number, e.g. +1 202 555 0105.", "number")
    try:
        parsed = phonenumbers.parse(typed, country)
    except phonenumbers.NumberParseException:
        raise DeskError(f"“{typed}” is not a phone number: give it with its area code, e.g. +1 202 555 0105.", "number") from None
    if not phonenumbers.is_valid_number(parsed):
        reason = {
            phonenumbers.ValidationResult.TOO_SHORT: "it has too few digits",
            phonenumbers.ValidationResult.TOO_LONG: "it has too many digits",
            phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "its country code does not exist",
        }.get(phonenumbers.is_possible_number_with_reason(parsed), "no phone company gives out numbers like it")
        raise DeskError(f"“{typed}” is not a valid phone number: {reason}. Check it and give it with its area code.", "number")
    kind = COSTLY.get(phonenumbers.number_type(parsed))
    number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if kind:
        raise DeskError(f"“{typed}” is {kind}. Give the desk's ordinary number.", "number")
    return number


def read_hours(form) -> dict[str, list[str]] | None:
    """None (the clinic's hours) or the desk's own weekly hours from the form. DeskError naming the day."""
    if form.get("hours_mode") != "own":
        return None
    hours = {}
    for day in WEEKDAYS:
        try:
            hours[day] = hours_pages._read_day(form.get(f"hours_{day}") or "")  # "9-12, 1pm-5pm", as the hours page
        except ValueError as exc:
            raise DeskError(f"{day.capitalize()}: {exc}.", f"hours_{day}") from None
    return hours


@dataclass
class DeskForm:
    name: str
    number: str
    roles: list[str]
    hours: dict[str, list[str]] | None


def read_form(form, country: str) -> DeskForm:
    name = " ".join((form.get("name") or "").split())
    if not name:
        raise DeskError("Give the desk a name, e.g. Pharmacy.", "name")
    if len(name) > MAX_NAME:
        raise DeskError(f"The name is longer than {MAX_NAME} characters.", "name")
    number = read_number(form.get("number") or "", country)
    roles = [r for r in ROLE_LABELS if form.get(f"role_{r}")]
    return DeskForm(name, number, roles, read_hours(form))


def desk_entry(desk: DeskForm) -> CommentedMap:
    entry = {"name": desk.name, "number": desk.number, "roles": desk.roles}
    if desk.hours is not None:
        entry["hours"] = desk.hours
    return _flow(entry)


def add_desk(desk: DeskForm, write: bool = True) -> str:
    """Write a new desk to clinic.yaml (validated, atomic); its key. Raises ClinicConfigError.
    ``write=False``: only check that the settings would be valid with it."""
    key = new_key(desk.name, current_clinic().desks)

    def change(desks):
        desks[key] = desk_entry(desk)

    edit_desks(clinic_path(), change, write)
    return key


# Where a desk is used -------------------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    where: str  # in words: "flow main (draft), step to_pharmacy"
    link: str = ""


def _node_uses(node: dict, key: str) -> bool:
    if not isinstance(node, dict):
        return False
    if key in (node.get("desk"), node.get("department")):
        return True
    return any(isinstance(o, dict) and o.get("callback") == key for o in node.get("options") or [])


def flow_uses(name: str, text: str, key: str, draft: bool) -> list[Use]:
    try:
        data = yaml_lines.load(text)
    except yaml_lines.YamlSyntaxError:
        return []
    nodes = data.get("nodes") if isinstance(data, dict) else None
    steps = [str(n) for n, node in (nodes or {}).items() if _node_uses(node, key)] if isinstance(nodes, dict) else []
    label = f"the draft of flow {name}" if draft else f"flow {name}"
    return [Use(f"{label}, step {step}", url_for("admin.flow", name=name, node=step)) for step in steps]


def uses(key: str, clinic: ClinicSettings) -> list[Use]:
    """Everything that would break or lose its way without the desk, in words with a link where it can be fixed."""
    svc = services.get()
    found: list[Use] = []
    names = sorted(set(svc.flow_versions.names()) | set(svc.runtime.flows.names) | set(svc.flow_versions.draft_names()))
    for name in names:
        version = svc.flow_versions.live_version(name)
        live = svc.flow_versions.text(version) if version else None
        if live is None:
            try:
                live = svc.runtime.flows.live(name).text
            except KeyError:
                live = ""
        found += flow_uses(name, live, key, draft=False)
        draft = svc.flow_versions.draft(name)
        if draft is not None and draft.text != live:
            found += flow_uses(name, draft.text, key, draft=True)
    settings = {
        "calls go to it when anything fails (the fallback desk)": clinic.fallback_desk == key,
        "unanswered urgent callbacks move to its queue": clinic.callbacks.urgent_on_call_desk == key,
        "follow-up calls file their nurse callbacks in its queue": clinic.followups.nurse_department == key,
        "the scheduling system's departments are sent to it": key in clinic.followups.departments.values(),
    }
    found += [Use(f"the clinic's settings: {why}") for why, hit in settings.items() if hit]
    waiting = svc.callbacks.waiting_count(key) + len(svc.callbacks.scheduled(key))
    if waiting:
        found.append(Use(f"{waiting} callback{'s' if waiting != 1 else ''} in its queue (the console)", url_for("staff.console")))
    try:
        switch = svc.emergency.current()
    except Exception:  # noqa: BLE001 - the switch's state is only one more reason
        switch = None
    if switch is not None and switch.on and switch.desk == key:
        found.append(Use("the emergency switch sends every call to it", url_for("admin.emergency")))
    return found


# Pages -------------------------------------------------------------------------------------------


def _render(template: str, status: int = 200, **values):
    clinic = current_clinic()
    return render_template(template, clinic=clinic, weekdays=WEEKDAYS, role_labels=ROLE_LABELS,
                           national=_national, **values), status


def _national(number: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _values(form) -> dict:
    """What was typed, to show again with an error (nothing typed is lost)."""
    return {"name": form.get("name", ""), "number": form.get("number", ""),
            "roles": [r for r in ROLE_LABELS if form.get(f"role_{r}")],
            "hours_mode": form.get("hours_mode", "clinic"),
            "hours": {d: form.get(f"hours_{d}", "") for d in WEEKDAYS}}


def desk_values(desk=None) -> dict:
    """A desk's values for its form (an empty form without one)."""
    if desk is None:
        return {"name": "", "number": "", "roles": [], "hours_mode": "clinic", "hours": {d: "" for d in WEEKDAYS}}
    return {"name": desk.name, "number": desk.number, "roles": list(desk.roles),
            "hours_mode": "clinic" if desk.hours is None else "own",
            "hours": {d: ", ".join((desk.hours or {}).get(d, [])) for d in WEEKDAYS}}


def refused(exc: ClinicConfigError) -> str:
    """The loader's objection, for the log (it names file and line); the manager reads words."""
    log.warning("desk change refused by the settings check: %s", exc)
    return "The clinic's settings would not be valid with this change, so nothing was saved. Ask whoever looks after the server to check the settings file."


@bp.get("/desks")
@role_required("admin")
def desks():
    record(actions.VIEW_ADMIN, target="desks")
    return _render("admin/desks.html", values=desk_values(), error=None)


@bp.post("/desks")
@role_required("admin")
def add_desk_view():
    clinic = current_clinic()
    try:
        desk = read_form(request.form, clinic.country)
        if any(d.name.lower() == desk.name.lower() for d in clinic.desks.values()):
            raise DeskError(f"There is already a desk named {desk.name}: give this one another name.", "name")
        key = add_desk(desk)
    except DeskError as exc:
        return _render("admin/desks.html", 422, values=_values(request.form), error=exc)
    except ClinicConfigError as exc:
        return _render("admin/desks.html", 422, values=_values(request.form), error=DeskError(refused(exc)))
    announce()
    record(actions.DESK_ADD, target=f"desk:{key}", detail=f"{desk.name}, {desk.number}, roles {','.join(desk.roles) or 'none'}")
    flash(f"Desk {desk.name} added. Flows can put calls through to it now.", "info")
    return redirect(url_for("admin.desks"))


def _desk_or_404(key: str):
    desk = current_clinic().desks.get(key)
    if desk is None:
        abort(404)
    return desk


@bp.get("/desks/<key>")
@role_required("admin")
def desk(key: str):
    found = _desk_or_404(key)
    record(actions.VIEW_ADMIN, target=f"desk:{key}")
    return _render("admin/desk.html", key=key, desk=found, values=desk_values(found), error=None, in_use=None,
                   used_by=uses(key, current_clinic()))


@bp.post("/desks/<key>")
@role_required("admin")
def save_desk(key: str):
    old = _desk_or_404(key)
    clinic = current_clinic()
    try:
        desk = read_form(request.form, clinic.country)
        if any(k != key and d.name.lower() == desk.name.lower() for k, d in clinic.desks.items()):
            raise DeskError(f"There is already a desk named {desk.name}: give this one another name.", "name")

        def change(desks):
            entry = desks[key]
            entry["name"] = desk.name
            entry["number"] = DoubleQuotedScalarString(desk.number)
            entry["roles"] = _flow(desk.roles)
            if desk.hours is None:
                entry.pop("hours", None)
            else:
                entry["hours"] = _flow(desk.hours)

        edit_desks(clinic_path(), change)
    except DeskError as exc:
        return _render("admin/desk.html", 422, key=key, desk=old, values=_values(request.form), error=exc, in_use=None)
    except ClinicConfigError as exc:
        return _render("admin/desk.html", 422, key=key, desk=old, values=_values(request.form),
                       error=DeskError(refused(exc)), in_use=None)
    announce()
    changes = [f"name {old.name} -> {desk.name}" if old.name != desk.name else "",
               f"number {old.number} -> {desk.number}" if old.number != desk.number else "",
               f"roles {','.join(old.roles) or 'none'} -> {','.join(desk.roles) or 'none'}" if old.roles != desk.roles else "",
               "hours: " + ("the clinic's" if desk.hours is None else "; ".join(f"{d[:3]} {','.join(v) or 'closed'}" for d, v in desk.hours.items()))
               if old.hours != desk.hours else ""]
    record(actions.DESK_EDIT, target=f"desk:{key}", detail="; ".join(c for c in changes if c) or "nothing changed")
    flash(f"Desk {desk.name} saved. Calls use it at once.", "info")
    return redirect(url_for("admin.desk", key=key))


@bp.post("/desks/<key>/remove")
@role_required("admin")
def remove_desk(key: str):
    old = _desk_or_404(key)
    clinic = current_clinic()
    in_use = uses(key, clinic)
    if in_use:
        record(actions.DESK_REMOVE, target=f"desk:{key}", detail="refused, in use: " + "; ".join(u.where for u in in_use))
        return _render("admin/desk.html", 409, key=key, desk=old, values=desk_values(old), error=None, in_use=in_use)
    try:
        edit_desks(clinic_path(), lambda desks: desks.pop(key))
    except ClinicConfigError as exc:
        return _render("admin/desk.html", 422, key=key, desk=old, values=desk_values(old), error=DeskError(refused(exc)), in_use=None)
    announce()
    record(actions.DESK_REMOVE, target=f"desk:{key}", detail=f"{old.name}, {old.number}")
    flash(f"Desk {old.name} removed.", "info")
    return redirect(url_for("admin.desks"))


__all__ = ["DeskError", "DeskForm", "add_desk", "announce", "read_form", "read_number", "uses"]

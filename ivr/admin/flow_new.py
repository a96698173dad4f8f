"""New flows (from a template or a copy of a flow) and which flow answers which phone number.

A new flow is a draft until it is published, like any edit. The numbers
are the clinic's ``default_flow`` and ``flows_by_number`` in
config/clinic.yaml, rewritten (only those two keys, the rest of the file
byte for byte) after the result passes the runtime's own loader; a number
can only be given to a flow that is live, so no call ever reaches a flow
that is not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import phonenumbers

from flask import abort, flash, redirect, render_template, request, url_for

from ruamel.yaml.comments import CommentedSeq

from ivr import services
from ivr.clinic.settings import ClinicConfigError, e164
from ivr.flows import yaml_lines
from ivr.flows.editing import EditError, FlowEdit, check_id
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions

from . import bp, clinic_file
from .flow_pages import check, draft_text, live_flow_text

TEMPLATES = Path(__file__).resolve().parent.parent / "flows" / "templates"
EMPTY = "# A new flow: add its steps in the visual editor.\nname: {name}\nlanguages: [en]\nnodes: {{}}\n"


@dataclass(frozen=True)
class Start:
    key: str  # "empty", "template:<file stem>" or "copy:<flow>"
    title: str
    description: str


def _starts() -> list[Start]:
    out = [Start("empty", "An empty flow", "No steps yet: you add every step yourself.")]
    for path in sorted(TEMPLATES.glob("*.yaml")):
        data = yaml_lines.load(path.read_text(encoding="utf-8"))
        out.append(Start(f"template:{path.stem}", f"Template: {path.stem.replace('_', ' ')}", str(data.get("description") or "")))
    for name in _flow_names():
        out.append(Start(f"copy:{name}", f"A copy of flow {name}", "Every step of the live version, to change."))
    return out


def _flow_names() -> list[str]:
    svc = services.get()
    return sorted(set(svc.flow_versions.names()) | set(svc.runtime.flows.names))


def _start_text(key: str, name: str) -> str:
    if key == "empty":
        text = EMPTY.format(name=name)
    elif key.startswith("template:") and (TEMPLATES / f"{key[9:]}.yaml").is_file() and "/" not in key:
        text = (TEMPLATES / f"{key[9:]}.yaml").read_text(encoding="utf-8")
    elif key.startswith("copy:") and key[5:] in _flow_names():
        text = live_flow_text(key[5:])
    else:
        abort(400, description="unknown starting point")
    edit = FlowEdit(text)
    edit.data["name"] = name
    languages = list(services.get().runtime.clinic.languages)
    if list(edit.data.get("languages") or []) != languages:
        listed = CommentedSeq(languages)
        listed.fa.set_flow_style()
        edit.data["languages"] = listed
    if edit.data.get("default_language") not in languages:
        edit.data["default_language"] = languages[0]
    return edit.text()


@bp.route("/new-flow", methods=["GET", "POST"])
@role_required("admin")
def new_flow():
    svc = services.get()
    starts = _starts()
    if request.method == "GET":
        record(actions.VIEW_FLOW, target="new-flow")
        return render_template("admin/flow_new.html", starts=starts, chosen="empty", name="")
    name = (request.form.get("name") or "").strip()
    chosen = request.form.get("start") or "empty"
    try:
        check_id(name)
    except EditError as exc:
        flash(f"Not created: {str(exc).replace('a step', 'a flow')}.", "error")
        return render_template("admin/flow_new.html", starts=starts, chosen=chosen, name=name), 422
    if name in _flow_names() or svc.flow_versions.draft(name) is not None:
        flash(f"Not created: there is already a flow called {name}.", "error")
        return render_template("admin/flow_new.html", starts=starts, chosen=chosen, name=name), 422
    text = _start_text(chosen, name)
    _flow, issues = check(name, text)
    svc.flow_versions.save_draft(name, text, current_user().name, issues)
    record(actions.FLOW_CREATE, target=f"flow:{name}", detail=f"from {chosen}; {len(issues)} problems")
    flash(f"Flow {name} created as a draft. Change its steps, then publish it; then give it a phone number.", "info")
    return redirect(url_for("admin.flow", name=name))


# Numbers -----------------------------------------------------------------------------


def _live_flows() -> list[str]:
    svc = services.get()
    return sorted(set(svc.flow_versions.live()) | set(svc.runtime.flows.names))


def inbound_flows() -> list[str]:
    """The live flows that can answer a call coming in: not the follow-up flow (it greets a patient it
    called by name, which a caller's call cannot fill in)."""
    return [f for f in _live_flows() if f != services.get().runtime.clinic.followups.flow]


def _not_inbound(flow: str) -> str:
    if flow == services.get().runtime.clinic.followups.flow:
        return f"flow {flow} is for the clinic's calls to patients after a visit and cannot answer calls coming in"
    return f"flow {flow or '(none)'} is not a published flow (publish it first)"


@bp.route("/numbers", methods=["GET", "POST"])
@role_required("admin")
def numbers():
    svc = services.get()
    clinic = svc.runtime.clinic
    flows = inbound_flows()
    unpublished = [f for f in svc.flow_versions.draft_names() if f not in _live_flows() and f != clinic.followups.flow]
    if request.method == "GET":
        record(actions.VIEW_FLOW, target="numbers")
        rows = sorted(clinic.flows_by_number.items())
        return render_template("admin/numbers.html", clinic=clinic, flows=flows, unpublished=unpublished, rows=rows,
                               default=clinic.default_flow, drafts=_drafts_with_numbers())
    draft_flow = request.form.get("draft_flow") or "" if request.form.get("action") == "draft" else ""
    if draft_flow:
        if draft_flow not in flows + unpublished:
            flash(f"Not saved: {_not_inbound(draft_flow)}.", "error")
            return redirect(url_for("admin.numbers"))
        flows = flows + ([draft_flow] if draft_flow not in flows else [])  # it is live when they are
    default = request.form.get("default_flow") or ""
    problems = []
    if default not in flows:
        problems.append(f"default flow: {_not_inbound(default)}")
    mapping: dict[str, str] = {}
    numbers_ = request.form.getlist("number")
    targets = request.form.getlist("flow")
    for i, (raw, flow) in enumerate(zip(numbers_, targets), start=1):
        if not raw.strip():
            continue
        try:
            number = e164(raw.strip() if raw.strip().startswith("+") else _national(raw, clinic.country))
        except ValueError as exc:
            problems.append(f"row {i}: {exc}")
            continue
        if flow not in flows:
            problems.append(f"number {i}: {_not_inbound(flow)}")
            continue
        if number in mapping:
            problems.append(f"row {i}: {number} is listed twice")
            continue
        mapping[number] = flow
    if problems:
        flash("Not saved: " + "; ".join(problems) + ".", "error")
        return redirect(url_for("admin.numbers"))
    path = svc.runtime.config_dir / "clinic.yaml"
    if draft_flow:
        try:
            clinic_file.check_text(path, clinic_file.numbers_text(path.read_text(encoding="utf-8"), default, mapping))
        except ClinicConfigError as exc:
            flash(f"Not saved: {exc}", "error")
            return redirect(url_for("admin.numbers"))
        svc.flow_versions.save_draft_numbers(draft_flow, {"default_flow": default, "numbers": mapping})
        base = draft_text(draft_flow)
        svc.flow_versions.save_draft(draft_flow, base, current_user().name, check(draft_flow, base)[1])
        record(actions.NUMBERS_EDIT, target="clinic.yaml", detail=f"in the draft of flow {draft_flow}: default {default}; "
               f"{len(mapping)} numbers with their own flow")
        flash(f"Saved in the draft of flow {draft_flow}: the numbers follow this when you publish flow {draft_flow}.", "info")
        return redirect(url_for("admin.numbers"))
    try:
        old, _new = clinic_file.write_numbers(path, default, mapping)
    except ClinicConfigError as exc:
        flash(f"Not saved: {exc}", "error")
        return redirect(url_for("admin.numbers"))
    svc.runtime.refresh(force=True)
    record(actions.NUMBERS_EDIT, target="clinic.yaml",
           detail=f"default {default}; {len(mapping)} numbers with their own flow")  # numbers stay out of the log
    flash(f"Saved. Calls to numbers not listed go to flow {default}; new calls follow this at once.", "info")
    return redirect(url_for("admin.numbers"))


def _drafts_with_numbers() -> list[str]:
    store = services.get().flow_versions
    return [f for f in store.draft_names() if store.draft_numbers(f) is not None]


def _national(raw: str, country: str) -> str:
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number ({exc})") from None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

"""Flow pages: list, the YAML view (errors at their lines), check, try it, publish, history, diff, rollback.

The visual editor (the default view of a flow) is in ``flow_visual``; both edit the same draft.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib

from flask import abort, flash, jsonify, redirect, render_template, request, url_for

from ivr import services
from ivr.clinic.settings import ClinicConfigError
from ivr.flows import Flow, FlowInvalid, FlowRuntimeError, load_flow
from ivr.flows.validate import flow_prompt_uses
from ivr.clinic.prompts import PromptCatalog, PromptError, load_prompts
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions
from ivr.store.flows import Draft

from . import bp, tryit
from .flow_recordings import recording_changes, recording_diff, recordings_to_restore
from .flow_settings import settings_diff, settings_snapshot, settings_to_restore
from .picture import flow_svg, node_link

MAX_TEXT = 200_000  # characters, about 30 times the largest shipped flow; checked before anything parses the text


def require_flow(name: str) -> None:
    """404 unless the flow is live, has a file, or is a new flow with only a draft."""
    svc = services.get()
    if name not in svc.flow_versions.live() and name not in svc.runtime.flows.names and svc.flow_versions.draft(name) is None:
        abort(404)


def draft_text(name: str) -> str:
    """What the editors show and change: the draft if there is one, else the live text."""
    draft = services.get().flow_versions.draft(name)
    return draft.text if draft else live_flow_text(name)


def draft_catalog(name: str) -> PromptCatalog:
    """The live prompts with the texts and recordings saved into flow ``name``'s draft: what Try-it plays
    and checks use. A draft recording's file is under audio/kept/, which the calls' audio URL never serves."""
    from .clinic_file import KEPT

    svc = services.get()
    catalog = svc.runtime.prompts.with_texts(svc.flow_versions.draft_prompts(name))
    recordings = svc.flow_versions.draft_recordings(name)
    if not recordings:
        return catalog
    audio = {lang: dict(files) for lang, files in catalog.audio.items()}
    for lang, kept in recordings.items():
        audio.setdefault(lang, {}).update({pid: f"{KEPT}/{file}" for pid, file in kept.items()})
    return dataclasses.replace(catalog, audio=audio)


def draft_clinic_text(name: str) -> str | None:
    """clinic.yaml as flow ``name``'s draft would make it (its hours and holidays), or None if it has none."""
    from .clinic_file import holidays_block, hours_block, replace_blocks

    hours = services.get().flow_versions.draft_hours(name)
    if hours is None:
        return None
    path = services.get().runtime.config_dir / "clinic.yaml"
    return replace_blocks(path.read_text(encoding="utf-8"), {"hours": hours_block(hours["hours"]), "holidays": holidays_block(
        [dict(h, date=h["date"]) for h in hours["holidays"]])})


def draft_schedule(name: str):
    """The hours and holidays Try-it plays for flow ``name``: its draft's, else the live ones."""
    from .clinic_file import check_text

    text = draft_clinic_text(name)
    if text is None:
        return None
    try:
        return check_text(services.get().runtime.config_dir / "clinic.yaml", text).schedule()
    except ClinicConfigError:
        return None  # no longer fits clinic.yaml: the live hours (publish says why)


def prompt_changes(name: str) -> dict[str, dict[str, str]]:
    """The draft's prompt texts that differ from the live ones (language -> id -> new text)."""
    live = services.get().runtime.prompts.texts
    out: dict[str, dict[str, str]] = {}
    for lang, texts in services.get().flow_versions.draft_prompts(name).items():
        for pid, text in texts.items():
            if live.get(lang, {}).get(pid) != text:
                out.setdefault(lang, {})[pid] = text
    return out


def editor_state(name: str) -> tuple[Draft | None, str, list[dict], str]:
    """(draft, the text both views show, its problems, the live text) for flow ``name``."""
    draft = services.get().flow_versions.draft(name)
    live_text = live_flow_text(name)
    text = draft.text if draft else live_text
    issues = draft.issues if draft is not None else check(name, text)[1]
    return draft, text, issues, live_text


def problems_by_node(issues: list[dict]) -> dict[str, int]:
    """How many of the validator's problems concern each node (for the picture and the step list)."""
    counts: dict[str, int] = {}
    for issue in issues:
        if issue.get("node"):
            counts[issue["node"]] = counts.get(issue["node"], 0) + 1
    return counts


def said(prompt_id: str, catalog: PromptCatalog | None = None) -> str:
    """A prompt's text in the clinic's first language, for pictures and lists ("" if it has none)."""
    runtime = services.get().runtime
    lang = next(iter(runtime.clinic.languages))
    return (catalog or runtime.prompts).texts.get(lang, {}).get(prompt_id, "")


def said_in(name: str):
    """``said`` with flow ``name``'s draft prompts (the editor shows what the draft says)."""
    catalog = draft_catalog(name)
    return lambda prompt_id: said(prompt_id, catalog)


def live_flow_text(name: str) -> str:
    """The live version's YAML ("" for a new flow that was never published)."""
    svc = services.get()
    version = svc.flow_versions.live_version(name)
    text = svc.flow_versions.text(version) if version else None
    if text is None:
        try:
            text = svc.runtime.flows.live(name).text
        except KeyError:
            text = ""
    return text


def check(name: str, text: str) -> tuple[Flow | None, list[dict]]:
    """Validate draft text with the runtime's validator and the current settings and prompts."""
    if len(text) > MAX_TEXT:
        return None, [{"line": None, "node": None, "message": _too_long(text)}]
    try:
        flow = load_flow(text, name, services.get().runtime.environment(draft_catalog(name)))
    except FlowInvalid as exc:
        return None, [{"line": i.line, "node": i.node, "message": i.message} for i in exc.issues]
    if flow.name != name:
        return None, [{"line": 1, "node": None, "message": f"name must stay {name!r} (this page edits that flow)"}]
    return flow, []


def _too_long(text: str) -> str:
    return f"the flow is too long: {len(text):,} characters, at most {MAX_TEXT:,}"


def _json_body() -> dict:
    """The JSON object the editor sent; 400 for anything else (not JSON, not an object, nested too deeply)."""
    body = request.get_json(silent=True)
    if body is None:
        if request.get_data(cache=True).strip():
            abort(400, description="the body must be JSON (not nested more than 64 levels)")
        body = {}
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body


def _text_field() -> str:
    return (request.form.get("text") or "").replace("\r\n", "\n")


@bp.get("/flows")
@role_required("admin")
def flows():
    svc = services.get()
    rows = []
    names = sorted(set(svc.flow_versions.names()) | set(svc.runtime.flows.names) | set(svc.flow_versions.draft_names()))
    for name in names:
        history = svc.flow_versions.history(name)
        live = svc.flow_versions.live_version(name)
        current = next((v for v in history if v.version == live), None)
        rows.append({"name": name, "live": current, "versions": len(history), "draft": svc.flow_versions.draft(name)})
    record(actions.VIEW_FLOW, target="flows")
    live_names = set(svc.flow_versions.live()) | set(svc.runtime.flows.names)
    return render_template("admin/flows.html", rows=rows, zone=svc.runtime.clinic.zone, live_names=live_names)


@bp.get("/flows/<name>/yaml")
@role_required("admin")
def flow_yaml(name: str):
    """The advanced view: the draft as YAML text."""
    require_flow(name)
    svc = services.get()
    draft, text, issues, live_text = editor_state(name)
    history = svc.flow_versions.history(name)
    live = svc.flow_versions.live_version(name)
    record(actions.VIEW_FLOW, target=f"flow:{name}", detail=f"YAML view, {len(history)} versions listed")
    return render_template(
        "admin/flow_yaml.html",
        name=name,
        text=text,
        draft=draft,
        issues=issues,
        svg=flow_svg(text, problems_by_node(issues), node_link(url_for("admin.flow", name=name)), said_in(name)),
        history=history,
        live=live,
        languages=list(svc.runtime.clinic.languages),
        zone=svc.runtime.clinic.zone,
        changed=draft is not None and (draft.text != live_text or bool(prompt_changes(name)) or bool(recording_changes(name))),
        prompt_changes=prompt_changes(name),
        recording_changes=recording_changes(name),
        draft_hours=svc.flow_versions.draft_hours(name),
    )


@bp.post("/flows/<name>/check")
@role_required("admin")
def check_view(name: str):
    require_flow(name)
    text = _json_text(_json_body())
    flow, issues = check(name, text)  # the length first: a too-long text is neither parsed nor drawn
    svg = flow_svg(text, problems_by_node(issues), node_link(url_for("admin.flow", name=name)), said_in(name))
    return jsonify({"ok": flow is not None, "issues": issues, "svg": svg, "version": flow.version if flow else None})


def _json_text(body: dict) -> str:
    text = body.get("text")
    if text is None:
        return ""
    if not isinstance(text, str):
        abort(400, description="text must be a string")
    return text


@bp.post("/flows/<name>/try")
@role_required("admin")
def try_view(name: str):
    require_flow(name)
    body = _json_body()
    flow, issues = check(name, _json_text(body))
    if flow is None:
        return jsonify({"error": "The draft has errors; fix them to try it.", "issues": issues}), 422
    state = body.get("state")
    if state is not None and not isinstance(state, dict):
        abort(400)
    action = body.get("action") or {}
    if not isinstance(action, dict):
        abort(400)
    svc = services.get()
    svc.runtime.refresh(force=True)  # the prompts and hours a real call would use now, not the last call's
    try:
        if state is not None and state.get("version") != flow.version:
            return jsonify({"error": "The draft changed during the call: start a new call."}), 409
        turn = tryit.run(svc.runtime, flow, svc.now(), state, action, str(body.get("hours") or ""), draft_catalog(name),
                         draft_schedule(name))
    except (FlowRuntimeError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return jsonify({"error": f"The call cannot go on: {exc}"}), 422
    return jsonify(turn)


def _back(name: str):
    """Back to the view the form was sent from (the YAML view or the visual editor)."""
    view = "admin.flow_yaml" if request.form.get("view") == "yaml" else "admin.flow"
    return redirect(url_for(view, name=name))


@bp.post("/flows/<name>/save")
@role_required("admin")
def save(name: str):
    require_flow(name)
    svc = services.get()
    user = current_user()
    text = _text_field()
    if len(text) > MAX_TEXT:  # not kept, not even as a draft: every later view would carry it
        flash(f"Not saved: {_too_long(text)}.", "error")
        return _back(name)
    flow, issues = check(name, text)
    svc.flow_versions.save_draft(name, text, user.name, issues)
    if request.form.get("action") != "publish":
        record(actions.FLOW_DRAFT, target=f"flow:{name}", detail=f"{len(issues)} problems")
        flash("Draft saved." + (f" It has {len(issues)} problems to fix before it can be published." if issues else ""), "info")
        return _back(name)
    if flow is None:
        record(actions.FLOW_PUBLISH_REFUSED, target=f"flow:{name}", detail="; ".join(f"line {i['line']}: {i['message']}" for i in issues))
        where = "beside their lines" if request.form.get("view") == "yaml" else \
            "under “Problems to fix before publishing”, with links to their steps"
        flash(f"Not published: the draft has {len(issues)} problem{'s' if len(issues) != 1 else ''}, listed {where}. "
              "It is kept as a draft.", "error")
        return _back(name)
    changes = prompt_changes(name)
    recordings = recording_changes(name)
    hours = svc.flow_versions.draft_hours(name)
    numbers = svc.flow_versions.draft_numbers(name)
    if flow.version == svc.flow_versions.live_version(name) and not changes and not recordings and hours is None \
            and numbers is None:
        svc.flow_versions.discard_draft(name)
        flash("Nothing to publish: the draft is the same as the live version.", "info")
        return _back(name)
    note = (request.form.get("note") or "").strip()[:200]
    try:
        version = publish_with_prompts(name, text, changes, user.name, note, hours, numbers, recordings)
    except PromptError as exc:
        flash(f"Not published: a prompt could not be saved: {exc}. The draft is kept.", "error")
        return _back(name)
    except ClinicConfigError as exc:
        flash(f"Not published: the draft's hours or numbers no longer fit the clinic's settings ({_short(str(exc))}); "
              "change them on the hours or numbers page. The draft is kept.", "error")
        return _back(name)
    svc.flow_versions.discard_draft(name)
    record(actions.FLOW_PUBLISH, target=f"flow:{name}", detail=f"version {version.n} ({version.version}) {note}".strip()
           + (f"; prompts {_listed(changes)}" if changes else "") + (f"; recordings {_listed(recordings)}" if recordings else ""))
    flash(f"Version {version.n} is live" + (f", with the prompts {_listed(changes)}" if changes else "")
          + (f", with the recordings {_listed(recordings)}" if recordings else "")
          + (", with the draft's hours and holidays" if hours is not None else "")
          + (", with the draft's phone numbers" if numbers is not None else "")
          + ". Calls already in progress finish on the version they started with.", "info")
    return _back(name)


def _listed(changes: dict[str, dict[str, str]]) -> str:
    return ", ".join(f"{pid} ({lang})" for lang, texts in sorted(changes.items()) for pid in sorted(texts))


def _short(message: str) -> str:
    """A loader message without the file's path."""
    return "; ".join(line.split(": ", 1)[1] if ": " in line else line for line in message.splitlines())


def publish_with_prompts(name: str, text: str, changes: dict[str, dict[str, str]], who: str, note: str,
                         hours: dict | None = None, numbers: dict | None = None,
                         recordings: dict[str, dict[str, str | None]] | None = None):
    """Make flow text and prompt texts live together: the prompt files, then the flow version.

    The prompts live before (if not yet kept) and after are kept with the versions, so a
    rollback restores both. Every web process reloads the prompts at its next request.
    ``hours``: the draft's weekly hours and holidays, written to clinic.yaml first (ClinicConfigError,
    nothing published, if they no longer validate); ``numbers`` ({default_flow, numbers}): which flow
    answers which number, checked first and written once the flow is live; ``recordings`` (language -> id ->
    kept file, None: no recording): the recordings made live with the prompt texts. Raises PromptError
    (nothing published) if a prompts file cannot be changed.
    """
    from . import clinic_file

    svc = services.get()
    store, runtime = svc.flow_versions, svc.runtime
    folder = runtime.prompts_dir
    live = store.live_version(name)
    current = next((v for v in store.history(name) if v.version == live), None)
    if current is not None and store.kept_prompts(name, current.n) is None:
        store.keep_prompts(name, current.n, load_prompts(folder).texts)
        store.keep_settings(name, current.n, settings_snapshot())
    if current is not None and store.kept_recordings(name, current.n) is None:
        store.keep_recordings(name, current.n, clinic_file.live_recordings(folder, load_prompts(folder).audio))
    path = runtime.config_dir / "clinic.yaml"
    if numbers is not None:  # checked before anything is written
        clinic_file.check_text(path, clinic_file.numbers_text(path.read_text(encoding="utf-8"), numbers["default_flow"],
                                                              numbers["numbers"]))
    if hours is not None:
        clinic_file.write(runtime.config_dir / "clinic.yaml", hours=hours["hours"], holidays=[
            dict(h, date=dt.date.fromisoformat(h["date"])) for h in hours["holidays"]])
        record(actions.HOURS_EDIT, target="clinic:hours", detail=f"live with flow {name}")
    for lang, texts in sorted(changes.items()):
        for pid, new_text in sorted(texts.items()):
            previous = clinic_file.write_prompt(folder, lang, pid, new_text)
            record(actions.PROMPT_EDIT, target=f"prompt:{lang}:{pid}",
                   detail=f"live with flow {name}; was: {previous}" if previous is not None else f"live with flow {name}; new text")
    for lang, kept in sorted((recordings or {}).items()):
        for pid, file in sorted(kept.items()):
            clinic_file.write_recording(folder, lang, pid, file)
            record(actions.PROMPT_AUDIO, target=f"prompt:{lang}:{pid}",
                   detail=f"live with flow {name}: " + (f"recording {file}" if file else "recording taken away, the text is spoken"))
    version = store.publish(name, text, who, note=note)
    if numbers is not None:  # the flow is live: numbers may point at it now
        clinic_file.write_numbers(path, numbers["default_flow"], numbers["numbers"])
        record(actions.NUMBERS_EDIT, target="clinic.yaml", detail=f"live with flow {name}: default {numbers['default_flow']}; "
               f"{len(numbers['numbers'])} numbers with their own flow")
    if changes or recordings or hours is not None or numbers is not None:
        store.settings_changed()
        runtime.refresh(force=True)  # before the snapshot: it is read from the runtime's settings
    store.keep_prompts(name, version.n, load_prompts(folder).texts)
    store.keep_settings(name, version.n, settings_snapshot())
    store.keep_recordings(name, version.n, clinic_file.live_recordings(folder, load_prompts(folder).audio))
    runtime.sync_flows()
    return version


@bp.post("/flows/<name>/discard")
@role_required("admin")
def discard(name: str):
    require_flow(name)
    svc = services.get()
    svc.flow_versions.discard_draft(name)
    record(actions.FLOW_DRAFT, target=f"flow:{name}", detail="draft discarded")
    if name not in svc.flow_versions.live() and name not in svc.runtime.flows.names:
        flash(f"Draft discarded: the new flow {name} was never published, so it is gone.", "info")
        return redirect(url_for("admin.flows"))
    flash("Draft discarded: the editor shows the live version.", "info")
    return _back(name)


def _entry(name: str, n: int):
    entry = services.get().flow_versions.history_entry(name, n)
    if entry is None:
        abort(404)
    return entry


@bp.get("/flows/<name>/versions/<int:n>")
@role_required("admin")
def version(name: str, n: int):
    svc = services.get()
    entry = _entry(name, n)
    text = svc.flow_versions.text(entry.version) or ""
    record(actions.VIEW_FLOW_VERSION, target=f"flow:{name}", detail=f"version {n} ({entry.version})")
    return render_template("admin/flow_version.html", name=name, entry=entry, text=text,
                           live=svc.flow_versions.live_version(name), zone=svc.runtime.clinic.zone)


@bp.get("/flows/<name>/diff")
@role_required("admin")
def diff(name: str):
    svc = services.get()
    history = svc.flow_versions.history(name)
    if not history:
        abort(404)
    a = _entry(name, request.args.get("a", type=int) or max(history[0].n - 1, 1))
    b = _entry(name, request.args.get("b", type=int) or history[0].n)
    lines = list(
        difflib.unified_diff(
            (svc.flow_versions.text(a.version) or "").splitlines(),
            (svc.flow_versions.text(b.version) or "").splitlines(),
            fromfile=f"version {a.n}",
            tofile=f"version {b.n}",
            lineterm="",
        )
    )
    record(actions.VIEW_FLOW_DIFF, target=f"flow:{name}", detail=f"versions {a.n} and {b.n}")
    before, after = svc.flow_versions.kept_prompts(name, a.n), svc.flow_versions.kept_prompts(name, b.n)
    prompts = _prompt_diff(name, before, after, [svc.flow_versions.text(a.version) or "", svc.flow_versions.text(b.version) or ""])
    settings = settings_diff(svc.flow_versions.kept_settings(name, a.n), svc.flow_versions.kept_settings(name, b.n))
    recordings = recording_diff(svc.flow_versions.kept_recordings(name, a.n), svc.flow_versions.kept_recordings(name, b.n))
    return render_template("admin/flow_diff.html", name=name, a=a, b=b, lines=lines, history=history, zone=svc.runtime.clinic.zone,
                           prompts=prompts, prompts_known=before is not None and after is not None, settings=settings,
                           recordings=recordings)




def used_prompts(name: str, text: str, texts: dict[str, dict[str, str]]) -> set[str] | None:
    """The prompt ids a version of a flow plays (with the prompts it was published with); None if it does not load."""
    runtime = services.get().runtime
    try:
        flow = load_flow(text, name, runtime.environment(runtime.prompts.with_texts(texts)))
    except FlowInvalid:
        return None
    return set(flow_prompt_uses([flow], {}))


def _prompt_diff(name: str, before, after, texts: list[str]) -> list[dict]:
    """Prompt texts the two versions differ in, among those either plays: [{id, lang, old, new}]."""
    if before is None or after is None:
        return []
    used: set[str] = set()
    for text, kept in zip(texts, (before, after)):
        ids = used_prompts(name, text, kept)
        if ids is None:  # cannot tell which it plays: every prompt that changed
            used = {pid for t in (before, after) for lang in t.values() for pid in lang}
            break
        used |= ids
    rows = []
    for lang in sorted(set(before) | set(after)):
        for pid in sorted(used):
            old, new = before.get(lang, {}).get(pid), after.get(lang, {}).get(pid)
            if old != new:
                rows.append({"id": pid, "lang": lang, "old": old, "new": new})
    return rows


@bp.post("/flows/<name>/rollback/<int:n>")
@role_required("admin")
def rollback(name: str, n: int):
    svc = services.get()
    entry = _entry(name, n)
    text = svc.flow_versions.text(entry.version) or ""
    kept = svc.flow_versions.kept_prompts(name, n) or {}
    used = used_prompts(name, text, kept) or set()
    live = svc.runtime.prompts.texts
    restore = {}  # the prompts version n plays, as they were when it was live
    for lang, texts in kept.items():
        changed = {pid: t for pid, t in texts.items() if pid in used and live.get(lang, {}).get(pid) != t}
        if changed:
            restore[lang] = changed
    try:
        flow = load_flow(text, name, svc.runtime.environment(svc.runtime.prompts.with_texts(restore)))
        issues: list[dict] = []
    except FlowInvalid as exc:
        flow, issues = None, [{"line": i.line, "node": i.node, "message": i.message} for i in exc.issues]
    if flow is None:
        record(actions.FLOW_PUBLISH_REFUSED, target=f"flow:{name}", detail=f"rollback to version {n}: {issues[0]['message']}")
        flash(f"Version {n} no longer validates with today's settings and prompts: {issues[0]['message']}", "error")
        return redirect(url_for("admin.flow", name=name))
    kept_settings = svc.flow_versions.kept_settings(name, n)
    hours, numbers = settings_to_restore(name, kept_settings)
    recordings = recordings_to_restore(name, n, used)
    before = settings_snapshot()
    try:
        version = publish_with_prompts(name, text, restore, current_user().name, f"rollback to version {n}", hours, numbers,
                                       recordings)
    except PromptError as exc:
        flash(f"Not rolled back: a prompt could not be restored: {exc}.", "error")
        return redirect(url_for("admin.flow", name=name))
    except ClinicConfigError as exc:
        flash(f"Not rolled back: the hours or numbers version {n} was published with no longer fit the clinic's settings "
              f"({_short(str(exc))}); change them on the hours or numbers page, or roll back to another version.", "error")
        return redirect(url_for("admin.flow", name=name))
    changed = settings_diff(before, settings_snapshot())
    record(actions.FLOW_ROLLBACK, target=f"flow:{name}", detail=f"version {n} published again as version {version.n} ({version.version})"
           + (f"; prompts {_listed(restore)} restored" if restore else "")
           + (f"; recordings {_listed(recordings)} restored" if recordings else "")
           + ("; hours and holidays restored" if hours is not None else "") + ("; numbers restored" if numbers is not None else ""))
    flash(f"Rolled back: version {n} is live again as version {version.n}"
          + (f", with its prompts {_listed(restore)}" if restore else "")
          + (f", with its recordings {_listed(recordings)}" if recordings else "")
          + (", with its hours and holidays" if hours is not None else "")
          + (", with its phone numbers" if numbers is not None else "") + "."
          + (f" Changed back: {'; '.join(changed)}." if changed else ""), "info")
    return redirect(url_for("admin.flow", name=name))

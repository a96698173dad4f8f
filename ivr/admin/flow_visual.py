"""The visual flow editor, the default view of a flow: a picture, the steps, and a form per step.

Every form changes the flow's draft through ``ivr.flows.editing.FlowEdit``
(comments, order and layout of untouched lines are kept, so the YAML view
shows the same file) and saves it with the validator's problems, which the
page shows on the steps they concern. A form carries the draft's version it
was made from; if someone else changed the draft meanwhile, nothing is
overwritten and the page says so.
"""

from __future__ import annotations

from typing import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from ruamel.yaml.comments import CommentedSeq

from ivr import services
from ivr.flows.editing import EditError, FlowEdit
from ivr.flows.nodes import KINDS
from ivr.store import audit as actions
from ivr.store.flows import version_of
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required

from . import audio, bp, node_forms
from .flow_pages import (MAX_TEXT, check, draft_catalog, draft_text, editor_state, prompt_changes,
                         problems_by_node, require_flow, said, said_in)
from .flow_recordings import recording_changes
from .picture import flow_svg, node_link
from .prompt_pages import PROMPT_ID, PromptRefused, save_prompt_to_draft, save_recording_to_draft


def prompt_id_ok(prompt_id: str) -> bool:
    return bool(PROMPT_ID.fullmatch(prompt_id))


def _targets(edit: FlowEdit) -> list[tuple[str, str]]:
    """(value, label) of every unset way out of every step, for "connect the new step from"."""
    out = []
    for name, raw in edit.nodes.items():
        if not isinstance(raw, dict) or raw.get("type") not in node_forms.MODELS:
            continue
        for f in node_forms.fields(raw["type"]):
            if f.widget == "target" and not raw.get(f.name):
                out.append((f"{name}.{f.name}", f"{name}: {f.label.lower()}"))
    return out


@bp.get("/flows/<name>")
@role_required("admin")
def flow(name: str):
    return _editor(name, request.args.get("node") or None)


def _editor(name: str, selected: str | None, new_prompt: dict | None = None, status: int = 200):
    """The editor's page; ``new_prompt``: the step's "new prompt" form as typed, with its errors."""
    require_flow(name)
    svc = services.get()
    draft, text, issues, live_text = editor_state(name)
    try:
        edit = FlowEdit(text)
    except EditError as exc:
        flash(f"The visual editor cannot open this draft: {exc}.", "error")
        return redirect(url_for("admin.flow_yaml", name=name))
    step = None
    if selected is not None:
        raw = edit.nodes.get(selected)
        if not isinstance(raw, dict):
            abort(404)
        step = _step_view(selected, raw, edit, issues)
    languages = _flow_languages(edit)
    prompts = _prompt_choices(name)
    history = svc.flow_versions.history(name)
    record(actions.VIEW_FLOW, target=f"flow:{name}", detail=f"visual editor{', step ' + selected if selected else ''}")
    counts = problems_by_node(issues)
    return render_template(
        "admin/flow.html",
        name=name,
        text=text,
        base=version_of(text),
        draft=draft,
        issues=issues,
        general=[i for i in issues if not i.get("node")],
        counts=counts,
        steps=[(n, raw.get("type") if isinstance(raw, dict) else None) for n, raw in edit.nodes.items()],
        start=edit.data.get("start"),
        step=step,
        svg=flow_svg(text, counts, node_link(url_for("admin.flow", name=name)), said_in(name), selected),
        kinds=[(k, node_forms.KIND_WORDS.get(k, k)) for k in KINDS],
        kind_words=node_forms.KIND_WORDS,
        connect=_targets(edit),
        node_names=list(edit.nodes),
        prompts=prompts,
        desks={key: desk.name for key, desk in svc.runtime.clinic.desks.items()},
        opened=request.args.get("choice", type=int),
        can_undo=draft is not None and draft.undo is not None,
        recordings=any(svc.runtime.prompts.audio.values()),
        prompt_fields=[(f.name, f.label) for f in (step["fields"] if step else ()) if f.widget in ("prompt", "prompts")],
        new_prompt=new_prompt or {"id": _suggested_prompt(name, selected) if selected else "", "texts": {}, "errors": {}},
        languages=languages,
        language_names={code: voice.name for code, voice in svc.runtime.clinic.languages.items()},
        description=str(edit.data.get("description") or ""),
        default_language=str(edit.data.get("default_language") or (languages[0] if languages else "")),
        keys=node_forms.KEYS,
        history=history,
        live=svc.flow_versions.live_version(name),
        zone=svc.runtime.clinic.zone,
        changed=draft is not None and (draft.text != live_text or bool(prompt_changes(name)) or bool(recording_changes(name))
                                       or svc.flow_versions.draft_hours(name) is not None
                                       or svc.flow_versions.draft_numbers(name) is not None),
        prompt_changes=prompt_changes(name),
        recording_changes=recording_changes(name),
        draft_hours=svc.flow_versions.draft_hours(name),
        draft_numbers=svc.flow_versions.draft_numbers(name),
    ), status


def _flow_languages(edit: FlowEdit) -> list[str]:
    langs = edit.data.get("languages")
    if isinstance(langs, list) and langs:
        return [str(x) for x in langs]
    return list(services.get().runtime.clinic.languages)


def _prompt_choices(name: str) -> list[tuple[str, str]]:
    """(id, "id — what it says") for every prompt the clinic has and the draft adds, for the prompt lists."""
    catalog = draft_catalog(name)
    ids = sorted(set().union(*catalog.ids().values())) if catalog.ids() else []
    out = []
    for pid in ids:
        words = said(pid, catalog)
        out.append((pid, f"“{words[:70]}{'…' if len(words) > 70 else ''}” ({pid})" if words else f"{pid} (recording)"))
    return out


def _prompt_ids(name: str) -> set[str]:
    return set().union(*draft_catalog(name).ids().values())


def _suggested_prompt(name: str, node: str) -> str:
    """A free prompt name for a new prompt of step ``node`` ("to_pharmacy", "to_pharmacy_2"...)."""
    ids = _prompt_ids(name)
    base = node[:60]
    return next((c for c in [base] + [f"{base}_{n}" for n in range(2, 100)] if c not in ids), "")


@bp.post("/flows/<name>/steps/<node>/prompt")
@role_required("admin")
def new_step_prompt(name: str, node: str):
    """A new prompt made from a step's form: its text in each language side by side (checked as on the
    prompt page) and, where the clinic has recordings, one per language; saved into the draft, and the
    step plays it. Anything refused is shown beside its field with everything as typed."""
    require_flow(name)
    svc = services.get()
    form = request.form
    languages = list(svc.runtime.clinic.languages)
    prompt_id = (form.get("prompt_id") or "").strip()
    use_for = form.get("use_for") or ""
    texts = {lang: form.get(f"text_{lang}") or "" for lang in languages}
    typed = {"id": prompt_id, "use_for": use_for, "texts": texts, "errors": {}}
    errors = typed["errors"]
    if form.get("base") != version_of(draft_text(name)):
        flash("Not added: the draft was changed by someone else (or in another tab) after this page was opened. "
              "Here is the draft as it is now; your texts are still in the form.", "error")
        return _editor(name, node, typed, 409)
    try:
        kind = FlowEdit(draft_text(name)).node(node).get("type")
        widgets = {f.name: f.widget for f in node_forms.fields(kind) if f.widget in ("prompt", "prompts")}
    except EditError as exc:
        flash(f"Not added: {exc}.", "error")
        return redirect(url_for("admin.flow", name=name))
    if use_for not in widgets:
        errors["np-use"] = "Used for: choose where the step says it"
    if not prompt_id_ok(prompt_id):
        errors["np-id"] = "Name of the new prompt: lower-case letters, digits and _, starting with a letter"
    elif prompt_id in _prompt_ids(name):
        errors["np-id"] = f"Name of the new prompt: there is already a prompt called {prompt_id}; choose it from the list, or pick another name"
    recordings: dict[str, tuple[bytes, str]] = {}
    for lang in languages:
        upload = request.files.get(f"audio_{lang}")
        if upload and upload.filename:
            data = upload.read(audio.MAX_UPLOAD_BYTES + 1)
            try:
                recordings[lang] = (audio.convert(data, upload.filename)[0], upload.filename)
            except audio.AudioRejected as exc:
                errors[f"np-audio-{lang}"] = f"Recording in {svc.runtime.clinic.languages[lang].name}: not used: {exc}"
    if not any(t.strip() for t in texts.values()) and not recordings:
        errors.setdefault(f"np-text-{languages[0]}", f"Text in {svc.runtime.clinic.languages[languages[0]].name}: what the caller hears")
    if not errors:
        try:
            save_prompt_to_draft(name, prompt_id, texts, current_user().name)
        except PromptRefused as exc:
            errors[f"np-text-{exc.lang}" if exc.lang else "np-id"] = str(exc)
    if errors:
        flash(f"The new prompt was not added: {len(errors)} field{'s' if len(errors) != 1 else ''} to correct, marked below.", "error")
        return _editor(name, node, typed, 422)
    for lang, (wav, filename) in recordings.items():
        save_recording_to_draft(name, lang, prompt_id, wav, current_user().name, f"{filename}: from the step form of {name}.{node}")

    def use(edit: FlowEdit) -> str:
        raw = edit.node(node)
        if widgets[use_for] == "prompts":
            listed = [p for p in (raw.get(use_for) or []) if isinstance(p, str)]
            edit.set_fields(node, {use_for: listed + [prompt_id]})
        else:
            edit.set_fields(node, {use_for: prompt_id})
        return f"new prompt {prompt_id} saved and used by step {node}"

    return _change(name, use, node)


def _step_view(name: str, raw: dict, edit: FlowEdit, issues: list[dict]) -> dict:
    kind = raw.get("type")
    fields = node_forms.fields(kind) if kind in node_forms.MODELS else ()
    return {
        "name": name,
        "kind": kind,
        "known": kind in node_forms.MODELS,
        "raw": raw,
        "fields": fields,
        "issues": [i for i in issues if i.get("node") == name],
        "is_start": edit.data.get("start") == name,
        "rows": [_row_words(o, _flow_languages(edit), kind == "language")
                 for o in (raw.get("options") if isinstance(raw.get("options"), list) else [])],
    }


def _row_words(option, languages: list[str], shared: bool) -> dict:
    """A choice's spoken words as the form shows them: one list for every language (``shared``, as a
    language offer has, or as the flow already lists them), else one list per language."""
    option = option if isinstance(option, dict) else {}
    words = option.get("keywords")
    shared = shared or (isinstance(words, list) and bool(words))
    if isinstance(words, dict):
        every = [w for ws in words.values() if isinstance(ws, list) for w in ws]
        by_lang = {lang: ", ".join(map(str, words.get(lang) or [])) for lang in languages}
    else:
        every = list(words) if isinstance(words, list) else []
        by_lang = {lang: ", ".join(map(str, every)) for lang in languages}
    return {"raw": option, "shared": shared, "all": ", ".join(map(str, every)), "by_lang": by_lang}


def _change(name: str, what: Callable[[FlowEdit], str], node: str | None = None,
            choice: Callable[[FlowEdit], int | None] | None = None):
    """Apply one change to the draft (if it is still the one the form was made from), save it, go back
    (to ``choice``'s row of the step, opened and focused, when given). The editor's Undo gives the text before back."""
    require_flow(name)
    svc = services.get()
    text = draft_text(name)
    back = _page(name, node, text)
    if request.form.get("base") != version_of(text):
        flash("Not changed: the draft was changed by someone else (or in another tab) after this page was opened. "
              "Here is the draft as it is now; make your change again.", "error")
        return redirect(back)
    try:
        edit = FlowEdit(text)
        done = what(edit)
    except EditError as exc:
        flash(f"Not changed: {exc}.", "error")
        return redirect(back)
    new_text = edit.text()
    if len(new_text) > MAX_TEXT:
        flash("Not changed: the flow would be too long.", "error")
        return redirect(back)
    _flow, issues = check(name, new_text)
    svc.flow_versions.save_draft(name, new_text, current_user().name, issues, undo=text)
    record(actions.FLOW_DRAFT, target=f"flow:{name}", detail=f"visual editor: {done}; {len(issues)} problems")
    flash(f"{done[0].upper()}{done[1:]}. Saved in the draft" + (f", which has {len(issues)} problem{'s' if len(issues) != 1 else ''} to fix before it can be published." if issues else "; it is valid and can be published."), "info")
    return redirect(_page(name, node, new_text, choice(edit) if choice else None))


def _page(name: str, node: str | None, text: str, choice: int | None = None) -> str:
    """The editor's address, with ``node``'s form open if the text has that step (at ``choice``'s row)."""
    try:
        present = node is not None and node in FlowEdit(text).nodes
    except EditError:
        present = False
    if present and choice is not None:
        return url_for("admin.flow", name=name, node=node, choice=choice) + f"#choice-{choice}"
    return url_for("admin.flow", name=name, node=node) + "#step" if present else url_for("admin.flow", name=name)


@bp.post("/flows/<name>/undo")
@role_required("admin")
def undo(name: str):
    """Give the draft back as it was before its last edit of the steps (once)."""
    require_flow(name)
    svc = services.get()
    draft = svc.flow_versions.draft(name)
    if draft is None or draft.undo is None:
        flash("Nothing to undo: the draft's last change was not an edit of its steps, or it was undone already.", "error")
        return redirect(url_for("admin.flow", name=name))
    if request.form.get("base") != version_of(draft.text):
        flash("Not undone: the draft was changed by someone else (or in another tab) after this page was opened. "
              "Here is the draft as it is now.", "error")
        return redirect(url_for("admin.flow", name=name))
    _flow, issues = check(name, draft.undo)
    svc.flow_versions.save_draft(name, draft.undo, current_user().name, issues)
    record(actions.FLOW_DRAFT, target=f"flow:{name}", detail=f"visual editor: last edit undone; {len(issues)} problems")
    flash("Undone: the draft is as it was before its last change.", "info")
    return redirect(url_for("admin.flow", name=name, node=request.form.get("node") or None))


@bp.post("/flows/<name>/steps/<node>")
@role_required("admin")
def edit_step(name: str, node: str):
    """Save a step's form; or add a choice, rename it, make it the start, remove it."""
    action = request.form.get("action", "save")
    form = request.form

    def save(edit: FlowEdit) -> str:
        raw = edit.node(node)
        kind = raw.get("type")
        if kind not in node_forms.MODELS:
            raise EditError(f"step {node!r} has no known kind ({kind!r}); change it in the YAML view")
        values, clear = node_forms.parse(kind, form, _flow_languages(edit), raw)
        if action == "add_option":
            values.setdefault("options", list(raw.get("options") or []))
            key = node_forms.suggest_key({**raw, **values})
            values["options"] = list(values["options"]) + [{"digit": key} if key is not None else {}]
        edit.set_fields(node, values, clear)
        return f"step {node} changed" if action != "add_option" else f"a new choice added to step {node}"

    if action == "add_option":  # the new choice opened, its key suggested
        return _change(name, save, node, choice=lambda e: len(e.node(node).get("options") or []) - 1)
    if action == "save":
        return _change(name, save, node)
    if action == "start":
        return _change(name, lambda e: (e.set_start(node), f"calls now start at step {node}")[1], node)
    if action == "remove":
        def remove(edit: FlowEdit) -> str:
            touched = edit.remove_node(node)
            return f"step {node} removed" + (f", with the arrows to it from {', '.join(touched)}" if touched else "")
        return _change(name, remove)
    if action == "rename":
        new = (form.get("new_name") or "").strip()

        def rename(edit: FlowEdit) -> str:
            edit.rename_node(node, new)
            return f"step {node} is now called {new}"
        return _change(name, rename, new)
    abort(400, description="unknown action")


@bp.post("/flows/<name>/steps/<node>/reconnect")
@role_required("admin")
def reconnect(name: str, node: str):
    """An arrow of the picture dragged onto another step: that way out of ``node`` now goes there."""
    field = request.form.get("field") or ""
    target = request.form.get("target") or ""

    def change(edit: FlowEdit) -> str:
        edit.set_target(node, field, target)
        return f"step {node} ({_arrow_words(field)}) now goes to {target}"

    return _change(name, change, node)


def _arrow_words(field: str) -> str:
    if field.startswith("options["):
        return f"choice {int(field[len('options['):].split(']')[0]) + 1}"
    return node_forms.LABELS.get(field, field).lower()


@bp.post("/flows/<name>/settings")
@role_required("admin")
def flow_settings(name: str):
    """The flow's own settings: what it is for, its languages and the one a caller starts in."""
    form = request.form
    clinic_languages = list(services.get().runtime.clinic.languages)
    chosen = [lang for lang in clinic_languages if lang in form.getlist("languages")]
    default = form.get("default_language") or ""
    description = " ".join((form.get("description") or "").split())[:300]

    def change(edit: FlowEdit) -> str:
        if not chosen:
            raise EditError("a flow needs at least one language")
        if default not in chosen:
            raise EditError(f"the first language ({default or 'none'}) must be one of the flow's languages")
        listed = CommentedSeq(chosen)
        listed.fa.set_flow_style()
        edit.data["description"] = description
        if list(edit.data.get("languages") or []) != chosen:
            edit.data["languages"] = listed
        edit.data["default_language"] = default
        return "the flow's settings changed"

    return _change(name, change)


@bp.post("/flows/<name>/steps")
@role_required("admin")
def add_step(name: str):
    """Add a step of a kind, optionally as where an existing step goes next."""
    new = (request.form.get("new_name") or "").strip()
    kind = request.form.get("kind") or ""
    connect = request.form.get("connect") or ""
    if kind not in node_forms.MODELS:
        abort(400, description="unknown kind of step")

    def add(edit: FlowEdit) -> str:
        edit.add_node(new, kind)
        if connect:
            source, _, field = connect.partition(".")
            edit.node(source)
            if field not in node_forms.TARGETS:
                raise EditError(f"{field!r} is not a way out of a step")
            edit.set_fields(source, {field: new})
            return f"step {new} added after {source}"
        return f"step {new} added"

    return _change(name, add, new)

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

from . import bp, node_forms
from .flow_pages import (MAX_TEXT, check, draft_catalog, draft_text, editor_state, prompt_changes,
                         problems_by_node, require_flow, said, said_in)
from .picture import flow_svg, node_link


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
    require_flow(name)
    svc = services.get()
    draft, text, issues, live_text = editor_state(name)
    selected = request.args.get("node") or None
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
        desks=list(svc.runtime.clinic.desks),
        languages=languages,
        language_names={code: voice.name for code, voice in svc.runtime.clinic.languages.items()},
        description=str(edit.data.get("description") or ""),
        default_language=str(edit.data.get("default_language") or (languages[0] if languages else "")),
        keys=node_forms.KEYS,
        history=history,
        live=svc.flow_versions.live_version(name),
        zone=svc.runtime.clinic.zone,
        changed=draft is not None and (draft.text != live_text or bool(prompt_changes(name))),
        prompt_changes=prompt_changes(name),
    )


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
        out.append((pid, f"{pid} — “{words[:70]}{'…' if len(words) > 70 else ''}”" if words else f"{pid} (recording)"))
    return out


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


def _change(name: str, what: Callable[[FlowEdit], str], node: str | None = None):
    """Apply one change to the draft (if it is still the one the form was made from), save it, go back."""
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
    svc.flow_versions.save_draft(name, new_text, current_user().name, issues)
    record(actions.FLOW_DRAFT, target=f"flow:{name}", detail=f"visual editor: {done}; {len(issues)} problems")
    flash(f"{done[0].upper()}{done[1:]}. Saved in the draft" + (f", which has {len(issues)} problem{'s' if len(issues) != 1 else ''} to fix before it can be published." if issues else "; it is valid and can be published."), "info")
    return redirect(_page(name, node, new_text))


def _page(name: str, node: str | None, text: str) -> str:
    """The editor's address, with ``node``'s form open if the text has that step."""
    try:
        present = node is not None and node in FlowEdit(text).nodes
    except EditError:
        present = False
    return url_for("admin.flow", name=name, node=node) + "#step" if present else url_for("admin.flow", name=name)


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
            values["options"] = list(values["options"]) + [{}]
        edit.set_fields(node, values, clear)
        return f"step {node} changed" if action != "add_option" else f"a new choice added to step {node}"

    if action in ("save", "add_option"):
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

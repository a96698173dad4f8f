"""Prompt pages: texts per language, missing translations, recorded audio (upload, listen).

A text edit goes into a flow's draft (``save_prompt_to_draft``: the flow that plays
the prompt, or the one chosen), so callers hear it only when that flow is published,
together with the flow's own changes; Try-it plays it at once. Publishing writes
the live files the runtime reads (prompts/<lang>/prompts.yaml: only that prompt's
entry, atomically, after checking the result parses to the same prompts plus the
change; ``clinic_file.write_prompt``) and the previous text goes to the audit log.
A recording is the same (``save_recording_to_draft``): kept by its content's hash
(prompts/<lang>/audio/kept/), held by the draft, made prompts/<lang>/audio/<id>.wav when
the flow is published and brought back by a rollback.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for

from ivr import services
from ivr.flows import FlowInvalid, load_flow
from ivr.flows.validate import PromptUse, flow_prompt_uses
from ivr.clinic.prompts import (AUDIO_TYPES, FOLLOWUP_VALUES, PLACEHOLDERS, PromptCatalog, load_prompts, prompt_uses,
                                spoken_problem)
from ivr.staff.audit import record
from ivr.staff.auth import current_user, role_required
from ivr.store import audit as actions

from . import audio, bp
from .clinic_file import keep_recording, kept_recording
from .flow_pages import check, draft_catalog, draft_text

PROMPT_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_TEXT = 2000


def _folder() -> Path:
    return services.get().runtime.prompts_dir


def _catalog() -> PromptCatalog:
    """The prompts as they are on disk now (the runtime may reload a moment later)."""
    return load_prompts(_folder())


def _languages() -> list[str]:
    return list(services.get().runtime.clinic.languages)


def _check_lang(lang: str) -> None:
    if lang not in _languages():
        abort(404)


def _check_id(prompt_id: str) -> None:
    if not PROMPT_ID.fullmatch(prompt_id):
        abort(404)


@bp.before_request
def _settings_now():
    """Every admin page shows the prompts and settings as saved now, whichever web process saved them:
    the files, and ivr:settings:generation (moved by any process that wrote them), checked per request."""
    services.get().runtime.refresh(force=True)


@bp.after_request
def _say_settings_changed(response):
    """A page that wrote prompts or clinic.yaml tells every web process to read them again."""
    if request.method == "POST":
        runtime = services.get().runtime
        if runtime.files_changed():
            services.get().flow_versions.settings_changed()
            runtime.refresh(force=True)
    return response


@bp.get("/prompts")
@role_required("admin")
def prompts():
    catalog = _catalog()
    languages = _languages()
    ids = sorted(set().union(*[set(catalog.texts.get(lang, {})) | set(catalog.audio.get(lang, {})) for lang in languages]))
    missing = {lang: [i for i in ids if i not in catalog.texts.get(lang, {}) and i not in catalog.audio.get(lang, {})] for lang in languages}
    record(actions.VIEW_ADMIN, target="prompts")
    return render_template("admin/prompts.html", ids=ids, languages=languages, catalog=catalog, missing=missing,
                           placeholders=PLACEHOLDERS)


def _live_flows() -> list:
    runtime = services.get().runtime
    flows = []
    for name in runtime.flows.names:
        try:
            flows.append(runtime.flows.live(name))
        except KeyError:
            continue
    return flows


def _uses(prompt_id: str, draft_of: str | None = None) -> list[PromptUse]:
    """Where calls play the prompt: nodes of the live flows (flow ``draft_of`` as its draft has it, when
    the draft loads), and the code's own uses."""
    runtime = services.get().runtime
    drafted = _draft_flow(draft_of) if draft_of is not None else None
    flows = [f for f in _live_flows() if drafted is None or f.name != draft_of] + ([drafted] if drafted else [])
    return prompt_uses(prompt_id, flows, {runtime.clinic.followups.flow: FOLLOWUP_VALUES})


def _draft_flow(name: str):
    try:
        return load_flow(draft_text(name), name, services.get().runtime.environment(draft_catalog(name)))
    except FlowInvalid:
        return None


def flow_for(prompt_id: str) -> str:
    """The flow a prompt's edit goes live with: the first live flow that plays it, else the default flow."""
    for flow in _live_flows():
        if prompt_id in flow_prompt_uses([flow], {}):
            return flow.name
    return services.get().runtime.clinic.default_flow


def _flows() -> list[str]:
    svc = services.get()
    return sorted(set(svc.flow_versions.live()) | set(svc.runtime.flows.names) | set(svc.flow_versions.draft_names()))


def pending(prompt_id: str | None = None) -> list[tuple[str, str, str, str]]:
    """Prompt texts and recordings saved into drafts, not heard by callers yet: (flow, lang, id, text)."""
    store = services.get().flow_versions
    out = []
    for flow in store.draft_names():
        for lang, texts in sorted(store.draft_prompts(flow).items()):
            out += [(flow, lang, pid, f"“{text}”") for pid, text in sorted(texts.items()) if prompt_id in (None, pid)]
        for lang, kept in sorted(store.draft_recordings(flow).items()):
            out += [(flow, lang, pid, "a new recording") for pid in sorted(kept) if prompt_id in (None, pid)]
    return out


class PromptRefused(ValueError):
    """A prompt text that would not be heard as written; the message says why, in the manager's words."""

    def __init__(self, message: str, lang: str = "") -> None:
        super().__init__(message)
        self.lang = lang  # the language whose text is refused ("" if it is not about one)


def save_prompt_to_draft(flow: str, prompt_id: str, texts: dict[str, str], who: str) -> list[str]:
    """Save a prompt's texts (language -> text) into flow ``flow``'s draft; returns the languages changed.

    Every language is checked before any is kept (length, placeholders every use of the
    prompt can fill, the draft's own use included); callers hear them when the flow is
    published. Raises PromptRefused (nothing kept) with "<language name>: reason".
    The one way prompt texts are changed: the prompt page, the step form's "new prompt"
    and the department wizard all call it.
    """
    if not PROMPT_ID.fullmatch(prompt_id):
        raise PromptRefused("a prompt's name uses lower-case letters, digits and _ and starts with a letter")
    svc = services.get()
    store = svc.flow_versions
    names = {code: voice.name for code, voice in svc.runtime.clinic.languages.items()}
    current = draft_catalog(flow)
    uses = _uses(prompt_id, draft_of=flow)
    keep: dict[str, str] = {}
    for lang in _languages():
        text = " ".join((texts.get(lang) or "").split())
        if not text or current.texts.get(lang, {}).get(prompt_id) == text:
            continue  # an empty box leaves the prompt as it is (or missing)
        if len(text) > MAX_TEXT:
            raise PromptRefused(f"{names.get(lang, lang)}: the text is longer than {MAX_TEXT} characters", lang)
        problem = text_problem(text, uses)
        if problem:
            raise PromptRefused(f"{names.get(lang, lang)}: {problem}", lang)
        keep[lang] = text
    if not keep:
        return []
    base = draft_text(flow)
    for lang, text in keep.items():
        store.save_draft_prompt(flow, lang, prompt_id, text)
        was = current.texts.get(lang, {}).get(prompt_id)
        record(actions.PROMPT_EDIT, target=f"prompt:{lang}:{prompt_id}",
               detail=f"in the draft of flow {flow}; " + (f"was: {was}" if was is not None else "new text"))
    # The draft (its text as it was, or the live one) with its problems as they are now with these prompts.
    store.save_draft(flow, base, who, check(flow, base)[1])
    return list(keep)


def usable(uses: list[PromptUse]) -> list[str]:
    """The placeholders a prompt with these uses can say (every known one if it is not used yet)."""
    names = frozenset(PLACEHOLDERS).intersection(*(u.fills for u in uses))
    return [n for n in PLACEHOLDERS if n in names]


def text_problem(text: str, uses: list[PromptUse]) -> str:
    """Why callers would not hear ``text`` as meant where the prompt is played ("" if they would)."""
    return spoken_problem(text, uses)


@bp.get("/prompts/<prompt_id>")
@role_required("admin")
def prompt(prompt_id: str):
    _check_id(prompt_id)
    return _prompt_page(prompt_id, request.args.get("flow") or flow_for(prompt_id))


def _prompt_page(prompt_id: str, flow: str, typed: dict[str, str] | None = None, errors: dict[str, str] | None = None):
    """The prompt's page; ``typed``/``errors``: a refused form shown again as typed, each error beside its box."""
    catalog = _catalog()
    if flow not in _flows():
        flow = flow_for(prompt_id)
    uses = _uses(prompt_id, draft_of=flow)
    drafted = draft_catalog(flow).texts
    if typed:
        drafted = {lang: {**drafted.get(lang, {}), prompt_id: text} for lang, text in typed.items()}
    return render_template("admin/prompt.html", prompt_id=prompt_id, languages=_languages(), catalog=catalog,
                           clinic=services.get().runtime.clinic, uses=uses, usable=usable(uses),
                           placeholders=PLACEHOLDERS, flow=flow, flows=_flows(), drafted=drafted,
                           recorded=services.get().flow_versions.draft_recordings(flow),
                           pending=pending(prompt_id), errors=errors or {}), 422 if errors else 200


@bp.post("/prompts/<prompt_id>")
@role_required("admin")
def save_prompt(prompt_id: str):
    _check_id(prompt_id)
    flow = request.form.get("flow") or flow_for(prompt_id)
    if flow not in _flows():
        flash("Not saved: choose one of the flows.", "error")
        return redirect(url_for("admin.prompt", prompt_id=prompt_id))
    texts = {lang: request.form.get(f"text_{lang}") or "" for lang in _languages()}
    try:
        changed = save_prompt_to_draft(flow, prompt_id, texts, current_user().name)
    except PromptRefused as exc:
        flash(f"Not saved: {exc}.", "error")
        return _prompt_page(prompt_id, flow, texts, {f"text_{exc.lang or _languages()[0]}": f"{exc}"})
    if changed:
        flash(f"Saved in the draft of flow {flow} ({', '.join(changed)}): Try it plays it now; callers hear it "
              f"when you publish flow {flow}.", "info")
    else:
        flash("Nothing changed.", "info")
    return redirect(url_for("admin.prompt", prompt_id=prompt_id, flow=flow))


@bp.post("/prompts/new")
@role_required("admin")
def new_prompt():
    prompt_id = (request.form.get("prompt_id") or "").strip()
    if not PROMPT_ID.fullmatch(prompt_id):
        flash("A prompt id uses lower-case letters, digits and _ and starts with a letter.", "error")
        return redirect(url_for("admin.prompts"))
    return redirect(url_for("admin.prompt", prompt_id=prompt_id))


def _audio_path(lang: str, prompt_id: str) -> Path | None:
    folder = _folder() / lang / "audio"
    for suffix in AUDIO_TYPES:
        path = folder / f"{prompt_id}{suffix}"
        if path.is_file():
            return path
    return None


def save_recording_to_draft(flow: str, lang: str, prompt_id: str, wav: bytes, who: str, detail: str) -> None:
    """Keep a converted recording in flow ``flow``'s draft: Try-it plays it, callers hear it once the flow is
    published (with the draft's texts and steps), a rollback brings back the one before. The one way recordings
    are changed: the prompt page and the step form's "new prompt" both call it."""
    store = services.get().flow_versions
    kept = keep_recording(_folder(), lang, wav)
    base = draft_text(flow)
    store.save_draft(flow, base, who, check(flow, base)[1])  # the draft exists before it holds the recording
    store.save_draft_recording(flow, lang, prompt_id, kept)
    store.save_draft(flow, base, who, check(flow, base)[1])  # its problems as they are with the recording
    record(actions.PROMPT_AUDIO, target=f"prompt:{lang}:{prompt_id}", detail=f"in the draft of flow {flow}; {detail}")


@bp.post("/prompts/<lang>/<prompt_id>/audio")
@role_required("admin")
def upload_audio(lang: str, prompt_id: str):
    _check_lang(lang)
    _check_id(prompt_id)
    flow = request.form.get("flow") or flow_for(prompt_id)
    if flow not in _flows():
        flash("Recording not used: choose one of the flows.", "error")
        return redirect(url_for("admin.prompt", prompt_id=prompt_id))
    upload = request.files.get("audio")
    data = upload.read(audio.MAX_UPLOAD_BYTES + 1) if upload else b""
    name = upload.filename if upload and upload.filename else ""
    try:
        wav, seconds = audio.convert(data, name)
    except audio.AudioRejected as exc:
        record(actions.PROMPT_AUDIO_REFUSED, target=f"prompt:{lang}:{prompt_id}", detail=str(exc))
        flash(f"Recording not used: {exc}.", "error")
        return redirect(url_for("admin.prompt", prompt_id=prompt_id, flow=flow))
    save_recording_to_draft(flow, lang, prompt_id, wav, current_user().name,
                            f"{name}: {seconds:.1f} s, converted to 8 kHz mono WAV")
    flash(f"Recording saved ({seconds:.1f} seconds, converted for the phone) in the draft of flow {flow}: Try it plays "
          f"it now; callers hear it when you publish flow {flow}.", "info")
    return redirect(url_for("admin.prompt", prompt_id=prompt_id, flow=flow))


@bp.get("/prompts/<lang>/<prompt_id>/audio")
@role_required("admin")
def play_audio(lang: str, prompt_id: str):
    _check_lang(lang)
    _check_id(prompt_id)
    flow = request.args.get("flow")  # the recording in that flow's draft, if it holds one
    drafted = services.get().flow_versions.draft_recordings(flow).get(lang, {}).get(prompt_id) if flow else None
    path = kept_recording(_folder(), lang, drafted) if drafted else _audio_path(lang, prompt_id)
    if path is None:
        abort(404)
    mimetype = "audio/wav" if path.suffix == ".wav" else "audio/mpeg"
    return send_file(path, mimetype=mimetype, max_age=0)

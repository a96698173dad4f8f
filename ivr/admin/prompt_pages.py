"""Prompt pages: texts per language, missing translations, recorded audio (upload, listen).

The files stay the source the runtime reads (prompts/<lang>/prompts.yaml and
prompts/<lang>/audio/<id>.wav|mp3): an edit rewrites only that prompt's entry
in the language's file, atomically, after checking the result parses to the
same prompts plus the change; the previous text goes to the audit log. The
runtime picks the change up within two seconds like any file edit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for

from ivr import services
from ivr.flows import yaml_lines
from ivr.flows.validate import PromptUse, braces, unfillable
from ivr.prompts import (AUDIO_TYPES, FOLLOWUP_VALUES, PLACEHOLDERS, PromptCatalog, PromptError, load_prompts,
                         placeholder_names, placeholder_problem, prompt_uses)
from ivr.staff.audit import record
from ivr.store import audit as actions

from . import audio, bp
from .clinic_file import atomic_write, replace_blocks
from ivr.staff.auth import role_required

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


def _uses(prompt_id: str) -> list[PromptUse]:
    """Where calls play the prompt now: nodes of the live flows, and the code's own uses."""
    runtime = services.get().runtime
    flows = []
    for name in runtime.flows.names:
        try:
            flows.append(runtime.flows.live(name))
        except KeyError:
            continue
    return prompt_uses(prompt_id, flows, {runtime.clinic.followups.flow: FOLLOWUP_VALUES})


def usable(uses: list[PromptUse]) -> list[str]:
    """The placeholders a prompt with these uses can say (every known one if it is not used yet)."""
    names = frozenset(PLACEHOLDERS).intersection(*(u.fills for u in uses))
    return [n for n in PLACEHOLDERS if n in names]


def text_problem(text: str, uses: list[PromptUse]) -> str:
    """Why callers would not hear ``text`` as meant where the prompt is played ("" if they would)."""
    names = placeholder_names(text)
    unknown = names - set(PLACEHOLDERS)
    if unknown:
        return f"{braces(unknown)} is not a value a call can fill in (this prompt can use {braces(usable(uses))})"
    return placeholder_problem(text) or unfillable(names, uses)


@bp.get("/prompts/<prompt_id>")
@role_required("admin")
def prompt(prompt_id: str):
    _check_id(prompt_id)
    catalog = _catalog()
    uses = _uses(prompt_id)
    return render_template("admin/prompt.html", prompt_id=prompt_id, languages=_languages(), catalog=catalog,
                           clinic=services.get().runtime.clinic, uses=uses, usable=usable(uses),
                           placeholders=PLACEHOLDERS)


def write_prompt(folder: Path, lang: str, prompt_id: str, text: str) -> str | None:
    """Set one prompt's text in prompts/<lang>/prompts.yaml. Returns the previous text. Raises PromptError."""
    path = folder / lang / "prompts.yaml"
    old_text = path.read_text(encoding="utf-8") if path.exists() else f"# Prompts ({lang}).\n"
    old = yaml_lines.load(old_text) or {}
    new_text = replace_blocks(old_text, {prompt_id: [f"{prompt_id}: {json.dumps(text, ensure_ascii=False)}"]})
    try:
        new = yaml_lines.load(new_text)
    except yaml_lines.YamlSyntaxError as exc:
        raise PromptError(f"the prompts file would not be valid: {exc}") from None
    expected = {**{str(k): v for k, v in old.items()}, prompt_id: text}
    if {str(k): v for k, v in new.items()} != expected:
        raise PromptError("the prompts file could not be changed safely; edit it by hand")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, new_text)
    previous = old.get(prompt_id)
    return str(previous) if previous is not None else None


@bp.post("/prompts/<prompt_id>")
@role_required("admin")
def save_prompt(prompt_id: str):
    _check_id(prompt_id)
    catalog, uses = _catalog(), _uses(prompt_id)
    texts: dict[str, str] = {}
    for lang in _languages():  # every language is checked before any is written
        text = " ".join((request.form.get(f"text_{lang}") or "").split())
        if not text or catalog.texts.get(lang, {}).get(prompt_id) == text:
            continue  # an empty box leaves the prompt as it is (or missing)
        if len(text) > MAX_TEXT:
            flash(f"{lang}: the text is longer than {MAX_TEXT} characters.", "error")
            return redirect(url_for("admin.prompt", prompt_id=prompt_id))
        problem = text_problem(text, uses)
        if problem:
            flash(f"{lang}: not saved: {problem}.", "error")
            return redirect(url_for("admin.prompt", prompt_id=prompt_id))
        texts[lang] = text
    changed = []
    for lang, text in texts.items():
        try:
            previous = write_prompt(_folder(), lang, prompt_id, text)
        except PromptError as exc:
            flash(f"{lang}: not saved: {exc}", "error")
            return redirect(url_for("admin.prompt", prompt_id=prompt_id))
        record(actions.PROMPT_EDIT, target=f"prompt:{lang}:{prompt_id}",
               detail=f"was: {previous}" if previous is not None else "new text")
        changed.append(lang)
    flash(f"Saved ({', '.join(changed)}). Calls use it within two seconds." if changed else "Nothing changed.", "info")
    return redirect(url_for("admin.prompt", prompt_id=prompt_id))


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


@bp.post("/prompts/<lang>/<prompt_id>/audio")
@role_required("admin")
def upload_audio(lang: str, prompt_id: str):
    _check_lang(lang)
    _check_id(prompt_id)
    upload = request.files.get("audio")
    data = upload.read(audio.MAX_UPLOAD_BYTES + 1) if upload else b""
    name = upload.filename if upload and upload.filename else ""
    try:
        wav, seconds = audio.convert(data, name)
    except audio.AudioRejected as exc:
        record(actions.PROMPT_AUDIO_REFUSED, target=f"prompt:{lang}:{prompt_id}", detail=str(exc))
        flash(f"Recording not used: {exc}.", "error")
        return redirect(url_for("admin.prompt", prompt_id=prompt_id))
    folder = _folder() / lang / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / f"{prompt_id}.wav", wav)
    other = folder / f"{prompt_id}.mp3"
    if other.exists():
        other.unlink()  # one recording per prompt
    record(actions.PROMPT_AUDIO, target=f"prompt:{lang}:{prompt_id}", detail=f"{name}: {seconds:.1f} s, converted to 8 kHz mono WAV")
    flash(f"Recording saved ({seconds:.1f} seconds, converted for the phone). Calls play it within two seconds.", "info")
    return redirect(url_for("admin.prompt", prompt_id=prompt_id))


@bp.get("/prompts/<lang>/<prompt_id>/audio")
@role_required("admin")
def play_audio(lang: str, prompt_id: str):
    _check_lang(lang)
    _check_id(prompt_id)
    path = _audio_path(lang, prompt_id)
    if path is None:
        abort(404)
    mimetype = "audio/wav" if path.suffix == ".wav" else "audio/mpeg"
    return send_file(path, mimetype=mimetype, max_age=0)

"""Edits to the clinic's own files, keeping everything else: the ``hours:`` and ``holidays:`` parts of
config/clinic.yaml, one prompt's text in prompts/<lang>/prompts.yaml (``write_prompt``) and its recording
(``write_recording``, from the recordings kept by their content's hash).

The rest of the file (its comments, the desks, the callbacks settings) stays
byte for byte. The new text is checked with the same loader the runtime uses
(``ivr.clinic.settings.load_clinic``) before it replaces the file, atomically (write a
temporary file beside it, then rename), so the runtime only ever reads a
complete, valid file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from ivr.clinic.settings import ClinicConfigError, ClinicSettings, load_clinic
from ivr.clinic.hours import WEEKDAYS
from ivr.clinic.prompts import PromptError
from ivr.flows import yaml_lines


def _quote(text: str) -> str:
    """A YAML flow-style scalar: JSON strings are valid YAML."""
    return json.dumps(text, ensure_ascii=False)


def hours_block(hours: dict[str, list[str]]) -> list[str]:
    lines = ["hours:"]
    for day in WEEKDAYS:
        spans = hours.get(day, [])
        lines.append(f"  {day}: [{', '.join(_quote(s) for s in spans)}]")
    return lines


def holidays_block(holidays: list[dict]) -> list[str]:
    if not holidays:
        return ["holidays: []"]
    lines = ["holidays:"]
    for h in sorted(holidays, key=lambda h: h["date"]):
        parts = [f"date: {h['date']}", f"name: {_quote(h['name'])}"]
        if h.get("hours"):
            parts.append(f"hours: [{', '.join(_quote(s) for s in h['hours'])}]")
        lines.append("  - {" + ", ".join(parts) + "}")
    return lines


def _block_range(lines: list[str], key: str) -> tuple[int, int] | None:
    """[start, end) of a top-level key's block: its line and the indented/list lines after it.

    Comments and blank lines just before the next top-level key belong to that key.
    """
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if start is None:
        return None
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() == "" or line.startswith((" ", "\t", "-")) or line.startswith("#"):
            end += 1
            continue
        break
    while end > start + 1 and (lines[end - 1].strip() == "" or lines[end - 1].startswith("#")):
        end -= 1
    return start, end


def replace_blocks(text: str, blocks: dict[str, list[str]]) -> str:
    """``text`` with each top-level key's block replaced (appended when the key is absent)."""
    lines = text.splitlines()
    for key, block in blocks.items():
        found = _block_range(lines, key)
        if found is None:
            lines = lines + [""] + block
        else:
            lines = lines[: found[0]] + block + lines[found[1]:]
    return "\n".join(lines) + "\n"


def holiday_dicts(clinic: ClinicSettings) -> list[dict]:
    return [{"date": h.date, "name": h.name, "hours": list(h.hours)} for h in clinic.holidays]


def check_text(path: Path, text: str) -> ClinicSettings:
    """Validate clinic settings text with the runtime's loader. Raises ClinicConfigError."""
    fd, tmp = tempfile.mkstemp(prefix=".clinic-check-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return load_clinic(Path(tmp))
    finally:
        os.unlink(tmp)


def write(path: Path, hours: dict[str, list[str]] | None = None, holidays: list[dict] | None = None) -> tuple[str, str]:
    """Replace hours and/or holidays in clinic.yaml if the result validates. Returns (old text, new text).

    Raises ClinicConfigError (the file is left as it was).
    """
    old = path.read_text(encoding="utf-8")
    blocks = {}
    if hours is not None:
        blocks["hours"] = hours_block(hours)
    if holidays is not None:
        blocks["holidays"] = holidays_block(holidays)
    new = replace_blocks(old, blocks)
    check_text(path, new)
    atomic_write(path, new)
    return old, new


def numbers_text(old: str, default_flow: str, by_number: dict[str, str]) -> str:
    """clinic.yaml text with ``default_flow`` and ``flows_by_number`` replaced (not checked)."""
    mapping = ["flows_by_number: {}"] if not by_number else ["flows_by_number:"] + [
        f"  {_quote(number)}: {flow}" for number, flow in sorted(by_number.items())
    ]
    return replace_blocks(old, {"default_flow": [f"default_flow: {default_flow}"], "flows_by_number": mapping})


def write_numbers(path: Path, default_flow: str, by_number: dict[str, str]) -> tuple[str, str]:
    """Replace ``default_flow`` and ``flows_by_number`` in clinic.yaml if the result validates. (old, new)."""
    old = path.read_text(encoding="utf-8")
    new = numbers_text(old, default_flow, by_number)
    check_text(path, new)
    atomic_write(path, new)
    return old, new


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write a file so readers see the old or the new content, never a part."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value.strip())


__all__ = ["ClinicConfigError", "atomic_write", "check_text", "holiday_dicts", "replace_blocks", "write", "write_numbers"]


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


# Recordings: every one uploaded or live is kept once, by its content's hash, in prompts/<lang>/audio/kept/
# (the runtime lists only the files directly in audio/), so a draft can hold one and a rollback can bring one back.
KEPT = "kept"  # not hidden: backups copy it (they skip dot folders)
KEPT_NAME = re.compile(r"[0-9a-f]{16}\.(wav|mp3)")


def keep_recording(folder: Path, lang: str, data: bytes, suffix: str = ".wav") -> str:
    """Keep a recording's bytes; returns its kept name (hash + suffix), the same for the same bytes."""
    name = hashlib.sha256(data).hexdigest()[:16] + suffix
    path = folder / lang / "audio" / KEPT / name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    return name


def kept_recording(folder: Path, lang: str, name: str) -> Path | None:
    path = folder / lang / "audio" / KEPT / name
    return path if KEPT_NAME.fullmatch(name) and path.is_file() else None


def live_recordings(folder: Path, audio: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The live recordings (a catalog's lang -> id -> file) as kept names, each kept (for a version's rollback)."""
    out: dict[str, dict[str, str]] = {}
    for lang, files in audio.items():
        for prompt_id, file in files.items():
            path = folder / lang / "audio" / file
            if path.is_file():
                out.setdefault(lang, {})[prompt_id] = keep_recording(folder, lang, path.read_bytes(), path.suffix.lower())
    return out


def write_recording(folder: Path, lang: str, prompt_id: str, kept: str | None) -> None:
    """Make a kept recording the prompt's live one (None: no recording, the text is spoken). Raises PromptError."""
    audio = folder / lang / "audio"
    source = kept_recording(folder, lang, kept) if kept else None
    if kept and source is None:
        raise PromptError(f"the recording of {prompt_id} ({lang}) is no longer kept; upload it again")
    if source is not None:
        atomic_write(audio / f"{prompt_id}{source.suffix}", source.read_bytes())
    for suffix in (".wav", ".mp3"):  # one recording per prompt
        other = audio / f"{prompt_id}{suffix}"
        if (source is None or suffix != source.suffix) and other.exists():
            other.unlink()

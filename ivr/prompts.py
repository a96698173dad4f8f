"""Prompt texts and recordings, per language.

    prompts/<lang>/prompts.yaml     id: text   ("{clinic_name}" is filled in)
    prompts/<lang>/audio/<id>.mp3   optional recording, played instead of text-to-speech
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

from ivr.flows import yaml_lines

AUDIO_TYPES = (".mp3", ".wav")

# What a prompt may say in braces, and what fills it in: anything else would be read out as typed.
PLACEHOLDERS = {
    "clinic_name": "the clinic's name (any prompt)",
    "minutes": "the estimated wait (callback offers)",
    "position": "the caller's place in line (callback confirmations, holding)",
    "last4": "the last four digits of the callback number (callback prompts)",
    "digits": "the number the caller keyed in (callback read-back)",
    "first_name": "the patient's first name (follow-up calls)",
    "clinic_number": "the clinic's number, read out (follow-up calls)",
}


class PromptError(ValueError):
    """A prompts file is unreadable or malformed."""


def placeholder_problem(text: str) -> str:
    """Why ``text`` would not be spoken as meant ("" if fine): an unknown {name} or unbalanced braces."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return "its braces do not pair up: write {name} for a value, and no other braces"
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        known = ", ".join("{" + k + "}" for k in PLACEHOLDERS)
        return f"{', '.join('{' + n + '}' for n in unknown)} is not a value a call can fill in (known: {known})"
    return ""


@dataclass(frozen=True)
class PromptCatalog:
    texts: dict[str, dict[str, str]]  # lang -> id -> text
    audio: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> id -> file name
    folder: Path | None = None

    def ids(self) -> dict[str, frozenset[str]]:
        """Prompt ids available per language (text or audio)."""
        langs = set(self.texts) | set(self.audio)
        return {
            lang: frozenset(self.texts.get(lang, {})) | frozenset(self.audio.get(lang, {}))
            for lang in langs
        }

    def text(self, lang: str, prompt_id: str, variables: dict[str, str] | None = None) -> str | None:
        raw = self.texts.get(lang, {}).get(prompt_id)
        if raw is None:
            return None
        try:
            return raw.format_map(variables or {})
        except (KeyError, ValueError, IndexError):
            return raw

    def audio_file(self, lang: str, prompt_id: str) -> str | None:
        return self.audio.get(lang, {}).get(prompt_id)

    def missing_translations(self) -> dict[str, list[str]]:
        """For each language, the ids some other language has and it lacks."""
        ids = self.ids()
        every = frozenset().union(*ids.values()) if ids else frozenset()
        return {lang: sorted(every - have) for lang, have in ids.items() if every - have}


def load_prompts(folder: Path) -> PromptCatalog:
    """Read every prompts/<lang>/prompts.yaml and audio folder."""
    folder = Path(folder)
    texts: dict[str, dict[str, str]] = {}
    audio: dict[str, dict[str, str]] = {}
    if not folder.is_dir():
        raise PromptError(f"{folder}: prompts folder not found")
    for lang_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        lang = lang_dir.name
        text_file = lang_dir / "prompts.yaml"
        if text_file.exists():
            try:
                data = yaml_lines.load(text_file.read_text(encoding="utf-8")) or {}
            except yaml_lines.YamlSyntaxError as exc:
                raise PromptError(f"{text_file}:{exc.line}: {exc}") from None
            if not isinstance(data, dict):
                raise PromptError(f"{text_file}: must map prompt ids to texts")
            for key, value in data.items():
                line = data.lines.get(key)
                if not isinstance(value, str) or not value.strip():
                    raise PromptError(f"{text_file}:{line}: prompt {key!r} must be non-empty text")
                problem = placeholder_problem(value)
                if problem:
                    raise PromptError(f"{text_file}:{line}: prompt {key!r}: {problem}")
            texts[lang] = {str(k): v.strip() for k, v in data.items()}
        audio_dir = lang_dir / "audio"
        if audio_dir.is_dir():
            audio[lang] = {
                f.stem: f.name for f in sorted(audio_dir.iterdir()) if f.suffix.lower() in AUDIO_TYPES
            }
    return PromptCatalog(texts, audio, folder)

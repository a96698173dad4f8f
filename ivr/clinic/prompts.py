"""Prompt texts and recordings, per language.

    prompts/<lang>/prompts.yaml     id: text   ("{clinic_name}", "{hours_today}" ... are filled in)
    prompts/<lang>/audio/<id>.mp3   optional recording, played instead of text-to-speech

A placeholder is valid in a prompt only where every use of the prompt fills it in
(``prompt_uses``): ``{minutes}`` in a callback offer, ``{first_name}`` in the
follow-up flow, ``{hours_today}`` anywhere.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field, replace
from pathlib import Path

from ivr.flows import yaml_lines
from ivr.flows.validate import EVERY_CALL, PromptUse, braces, flow_prompt_uses, unfillable
from ivr.clinic.spoken_hours import NAMES as TIMED

AUDIO_TYPES = (".mp3", ".wav")

# What a prompt may say in braces, and what fills it in: anything else would be read out as typed.
PLACEHOLDERS = {
    "clinic_name": "the clinic's name (any prompt)",
    "hours_today": "today's opening hours, or that the clinic is closed today (any prompt)",
    "next_open": "when the clinic opens next, or until when it is open now (any prompt)",
    "hours_week": "the usual weekly opening hours (any prompt)",
    "minutes": "the estimated wait (callback offers)",
    "position": "the caller's place in line (callback confirmations, holding)",
    "last4": "the last four digits of the callback number (callback prompts)",
    "digits": "the number the caller keyed in (callback read-back)",
    "first_name": "the patient's first name (follow-up calls)",
    "clinic_number": "the clinic's number, read out (follow-up calls)",
}


# What the follow-up flow (clinic.yaml followups.flow) fills in besides EVERY_CALL (ivr.voice.followup).
FOLLOWUP_VALUES = frozenset({"first_name", "clinic_number"})
# Prompts the code plays outside any flow node, and what it fills in.
CODE_USES: dict[str, PromptUse] = {
    "followup_machine": PromptUse("the follow-up call's answering-machine message",
                                  frozenset({"clinic_name", "clinic_number"})),
}


class PromptError(ValueError):
    """A prompts file is unreadable or malformed."""


def placeholder_names(text: str) -> frozenset[str]:
    """The {names} a text says ("" if its braces do not pair up)."""
    try:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)
    except ValueError:
        return frozenset()


def says_the_time(text: str) -> bool:
    """Whether the text's words depend on the time of the call ({hours_today}, {next_open}, ...)."""
    return bool(placeholder_names(text) & set(TIMED))


def prompt_uses(prompt_id: str, flows, flow_values) -> list[PromptUse]:
    """Every place ``prompt_id`` is played: nodes of ``flows`` (Flow objects), and the code's own uses."""
    uses = list(flow_prompt_uses(flows, flow_values).get(prompt_id, []))
    if prompt_id in CODE_USES:
        uses.append(CODE_USES[prompt_id])
    return uses


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


def spoken_problem(text: str, where: list[PromptUse] | frozenset[str] = EVERY_CALL, what: str = "this prompt") -> str:
    """Why callers would not hear ``text`` as written ("" if they would): the one check of every text a caller
    hears, wherever it is typed (prompts, the emergency message, holiday names).

    ``where``: the places a prompt is played (PromptUse), or the values the place fills in
    (the emergency message: EVERY_CALL; a holiday's name: none). A misspelled {clinc_name},
    a value this place cannot fill or braces that do not pair up are refused, in words.
    """
    fills = where if isinstance(where, frozenset) else frozenset(PLACEHOLDERS).intersection(*(u.fills for u in where))
    usable = [n for n in PLACEHOLDERS if n in fills]
    can = f"{what} can use {braces(usable)}" if usable else f"{what} is said as typed, with no values in braces"
    names = placeholder_names(text)
    unknown = names - set(PLACEHOLDERS)
    if unknown:
        return f"{braces(unknown)} is not a value a call can fill in ({can})"
    problem = placeholder_problem(text)
    if problem:
        return problem
    if isinstance(where, frozenset):
        return f"{braces(names - fills)} cannot be filled in here: {can}" if names - fills else ""
    return unfillable(names, where)


@dataclass(frozen=True)
class PromptCatalog:
    texts: dict[str, dict[str, str]]  # lang -> id -> text
    audio: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> id -> file name
    folder: Path | None = None
    # lang -> id -> a tag that changes when the recording's file does: put in the URL callers' audio is
    # fetched from, so Twilio (which caches a <Play> URL for the hour the audio route allows) plays a
    # recording published or rolled back at once, not the old one it kept.
    stamps: dict[str, dict[str, str]] = field(default_factory=dict)

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

    def placeholders(self) -> dict[str, dict[str, frozenset[str]]]:
        """Language -> prompt id -> the {names} its text says (flow validation checks them per node)."""
        return {lang: {pid: placeholder_names(text) for pid, text in texts.items()} for lang, texts in self.texts.items()}

    def with_texts(self, changes: dict[str, dict[str, str]]) -> "PromptCatalog":
        """This catalog with some texts replaced or added (a flow's draft prompts over the live ones)."""
        if not any(changes.values()):
            return self
        texts = {lang: dict(t) for lang, t in self.texts.items()}
        for lang, changed in changes.items():
            texts.setdefault(lang, {}).update(changed)
        return replace(self, texts=texts)

    def audio_file(self, lang: str, prompt_id: str) -> str | None:
        return self.audio.get(lang, {}).get(prompt_id)

    def audio_stamp(self, lang: str, prompt_id: str) -> str | None:
        return self.stamps.get(lang, {}).get(prompt_id)

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
    stamps: dict[str, dict[str, str]] = {}
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
            files = [f for f in sorted(audio_dir.iterdir()) if f.suffix.lower() in AUDIO_TYPES and f.is_file()]
            audio[lang] = {f.stem: f.name for f in files}
            stamps[lang] = {f.stem: _stamp(f) for f in files}
    return PromptCatalog(texts, audio, folder, stamps)


def _stamp(path: Path) -> str:
    """Changes whenever the file is replaced (its time and size), without reading it."""
    st = path.stat()
    return hashlib.blake2b(f"{st.st_mtime_ns}:{st.st_size}".encode(), digest_size=4).hexdigest()

"""The settings form of one flow step, derived from its kind's schema (``ivr.flows.model``).

``fields(kind)`` says which inputs a step of that kind has (a step to go to,
a prompt, a desk, a number, a yes/no, the options); ``parse`` turns a
submitted form back into the values ``FlowEdit.set_fields`` writes. A new
node kind or field in the model gets a form without changes here.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ivr.flows.editing import EditError
from ivr.flows.model import Node

# Every node kind's schema by its ``type``, read from the flow model's union, so a new kind has a form.
MODELS: dict[str, type[BaseModel]] = {
    typing.get_args(model.model_fields["type"].annotation)[0]: model
    for model in typing.get_args(typing.get_args(Node)[0])
}

# What each kind is for, in the words the editor uses.
KIND_WORDS = {
    "say": "Say something, then go on",
    "menu": "Ask the caller to choose (keys or words)",
    "language": "Offer languages",
    "hours": "Open, closed or holiday?",
    "transfer": "Ring a desk",
    "callback": "Offer a call back",
    "hold": "Keep holding for a desk",
    "returning": "A caller with a callback in line: keep it or cancel it",
    "voicemail": "Take a message",
    "hangup": "Say goodbye and hang up",
    "goto": "Go to another step",
}

LABELS = {
    "next": "Then go to",
    "open": "When open, go to",
    "closed": "When closed, go to",
    "holiday": "On a holiday, go to",
    "on_failure": "If the caller does not choose, go to",
    "on_no_answer": "If nobody answers, go to",
    "on_busy": "If the line is busy, go to",
    "on_long_wait": "If the wait is long, go to",
    "on_timeout": "After the last round, go to",
    "on_no_input": "If the caller says nothing, go to",
    "prompt": "What the caller hears",
    "prompts": "What the caller hears, in order",
    "intro": "Said first, once (keys already work)",
    "language_prompt": "Prompt offering a choice's language",
    "no_input_retries": "Tries when the caller says nothing",
    "desk": "Desk",
    "department": "Department (queue)",
    "number": "Phone number (instead of a desk)",
    "timeout": "Seconds to wait",
    "retries": "Tries before giving up",
    "repeat_digit": "Key that repeats the menu",
    "options": "Choices",
    "digit": "Key",
    "keywords": "Spoken words",
    "language": "Language",
    "answer": "Answer recorded (follow-up calls)",
    "opt_out": "Stop calling this number (follow-up calls)",
    "callback": "Call back",
    "no_input_prompt": "Said after silence",
    "invalid_prompt": "Said after a wrong key",
    "failure_prompt": "Said before giving up",
    "field": "Question's name (follow-up calls)",
    "ring_seconds": "Seconds to ring each round",
    "rounds": "Rounds of holding",
    "max_length": "Longest message (seconds)",
    "finish_on_key": "Key that ends the message",
    "done_prompt": "Said after the message",
    "empty_prompt": "Said if there was no message",
    "ask_reason": "Ask the caller why they called",
    "ask_mobile": "Ask whether the phone takes texts (when texts are set up)",
    "mobile_prompt": "Asked: is this a mobile phone, for a text",
    "long_wait_minutes": "A long wait is over (minutes)",
    "keep_digit": "Key that keeps the callback",
    "cancel_digit": "Key that cancels the callback",
    "kept_prompt": "Said when the callback is kept",
    "cancelled_prompt": "Said when the callback is cancelled",
}

# Shown first in every form; the rest (retries, timeouts, standard prompts, follow-up answers) under "More settings".
MAIN = frozenset(("prompt", "prompts", "intro", "desk", "department", "number", "digit", "keywords", "options"))
TARGETS = frozenset(("next", "open", "closed", "holiday", "on_failure", "on_no_answer", "on_busy", "on_long_wait", "on_timeout", "on_no_input"))
KEYS = list("1234567890*#")


@dataclass(frozen=True)
class Field:
    """One input of a step's form."""

    name: str
    widget: str  # target, prompt, prompts, desk, key, language, keywords, int, bool, text, options
    label: str
    required: bool = False
    default: Any = None
    low: int | None = None
    high: int | None = None
    columns: tuple["Field", ...] = field(default_factory=tuple)  # for options: the fields of one choice
    more: bool = False  # shown under "More settings" (rarely changed, or only for follow-up calls)

    @property
    def default_text(self) -> str:
        return "" if self.default is None or self.default is PydanticUndefined else str(self.default)


def _bounds(info) -> tuple[int | None, int | None]:
    low = high = None
    for item in info.metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
    return low, high


def _base(annotation) -> Any:
    """``int`` for ``int | None`` and the like."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return args[0] if len(args) == 1 else annotation
    return annotation


def _widget(name: str, annotation) -> str:
    base = _base(annotation)
    if name in TARGETS:
        return "target"
    if name == "options":
        return "options"
    if name == "digit" or name.endswith("_digit"):
        return "key"
    if name == "keywords":
        return "keywords"
    if name == "language":
        return "language"
    if typing.get_origin(base) is list and (name == "prompts" or name.endswith("_prompts") or name == "intro"):
        return "prompts"
    if name == "prompt" or name.endswith("_prompt"):
        return "prompt"
    if name in ("desk", "department") or (name == "callback" and base is str):
        return "desk"
    if base is bool:
        return "bool"
    if base is int:
        return "int"
    return "text"


def _fields(model: type[BaseModel]) -> tuple[Field, ...]:
    out = []
    for name, info in model.model_fields.items():
        if name == "type":
            continue
        widget = _widget(name, info.annotation)
        low, high = _bounds(info)
        columns: tuple[Field, ...] = ()
        if widget == "options":
            option_model = typing.get_args(_base(info.annotation))[0]
            columns = _fields(option_model)
        default = None if info.default is PydanticUndefined else info.default
        if info.default_factory is not None:
            default = None
        more = not (info.is_required() or widget == "target" or name in MAIN)
        out.append(Field(name, widget, LABELS.get(name, name.replace("_", " ").capitalize()),
                         info.is_required(), default, low, high, columns, more))
    # What is said first comes first in the form.
    out.sort(key=lambda f: 0 if f.name == "intro" else 1)
    return tuple(out)


def fields(kind: str) -> tuple[Field, ...]:
    model = MODELS.get(kind)
    if model is None:
        raise EditError(f"{kind!r} is not a kind of step ({', '.join(MODELS)})")
    return _fields(model)


def suggest_key(raw: dict) -> Any:
    """The key a new choice of step ``raw`` is given: the first of 1-9, 0 that no choice has and
    that is not the step's repeat key (None if every key is taken)."""
    options = raw.get("options") if isinstance(raw.get("options"), list) else []
    taken = {str(o.get("digit")) for o in options if isinstance(o, dict)} | {str(raw.get("repeat_digit", "*"))}
    return next((int(k) for k in "1234567890" if k not in taken), None)


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("\n", ",").split(",") if w.strip()]


def _scalar(f: Field, raw: str, where: str) -> Any:
    raw = raw.strip()
    if f.widget == "int":
        try:
            value = int(raw)
        except ValueError:
            raise EditError(f"{where}: {raw!r} is not a whole number") from None
        if (f.low is not None and value < f.low) or (f.high is not None and value > f.high):
            raise EditError(f"{where}: {value} is outside {f.low}–{f.high}")
        return value
    if f.widget == "key":
        if raw not in KEYS:
            raise EditError(f"{where}: {raw!r} is not a phone key")
        return int(raw) if raw.isdigit() else raw
    return raw


def parse(kind: str, form, languages: list[str], old: dict) -> tuple[dict[str, Any], list[str]]:
    """(values to write, fields to remove) from a submitted step form (a werkzeug MultiDict)."""
    values: dict[str, Any] = {}
    clear: list[str] = []
    for f in fields(kind):
        where = f.label
        if f.widget == "options":
            values["options"] = _parse_options(f, form, languages, old)
            continue
        if f.widget == "bool":
            value: Any = form.get(f"f.{f.name}") == "on"
        elif f.widget == "prompts":
            value = [p for p in form.getlist(f"f.{f.name}") if p.strip()]
            if not value:
                clear.append(f.name)
                continue
        else:
            raw = form.get(f"f.{f.name}", "")
            if not raw.strip():
                clear.append(f.name)
                continue
            value = _scalar(f, raw, where)
        if f.name not in old and value == f.default:
            continue  # a default nobody wrote stays unwritten
        values[f.name] = value
    return values, clear


def _parse_options(f: Field, form, languages: list[str], old: dict) -> list[dict[str, Any]]:
    try:
        count = int(form.get("o.count", "0"))
    except ValueError:
        raise EditError("the form is damaged (o.count); reload the page") from None
    old_rows = old.get("options") if isinstance(old.get("options"), list) else []
    rows = []
    for i in range(min(count, 50)):
        if form.get(f"o.{i}.remove") == "on":
            continue
        before = old_rows[i] if i < len(old_rows) and isinstance(old_rows[i], dict) else {}
        row: dict[str, Any] = {}
        for column in f.columns:
            where = f"choice {len(rows) + 1}, {column.label.lower()}"
            name = f"o.{i}.{column.name}"
            if column.widget == "keywords":
                shared = form.get(f"{name}.all")
                if shared is not None:
                    words: Any = _words(shared)
                else:
                    words = {lang: _words(form.get(f"{name}.{lang}", "")) for lang in languages}
                    words = {lang: w for lang, w in words.items() if w}
                if words:
                    row["keywords"] = words
                continue
            if column.widget == "bool":
                value: Any = form.get(name) == "on"
                if value or column.name in before:
                    row[column.name] = value
                continue
            raw = form.get(name, "")
            if raw.strip():
                row[column.name] = _scalar(column, raw, where)
        rows.append(row)
    return rows

"""Dataclass records kept as Redis hashes: each field as text, read back by its declared type."""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from functools import cache
from typing import Any, get_type_hints


def encode(value: Any) -> str:
    """A field's value as hash text: booleans as "1"/"0", floats exactly (repr)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@cache
def _kinds(cls: type) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def decode(cls: type, raw: dict[Any, Any]) -> dict[str, Any]:
    """The constructor arguments of ``cls`` from a hash; fields missing there keep their defaults."""
    data = {text(k): text(v) for k, v in raw.items()}
    values: dict[str, Any] = {}
    for name, kind in _kinds(cls).items():
        if name not in data:
            continue
        value = data[name]
        if kind is bool:
            values[name] = value == "1"
        elif kind is int:
            values[name] = int(value or 0)
        elif kind is float:
            values[name] = float(value or 0)
        elif isinstance(kind, type) and issubclass(kind, Enum):
            values[name] = kind(value)
        else:
            values[name] = value
    return values

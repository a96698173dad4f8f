"""Urgent phrases in a voicemail's transcript (pure: no I/O).

Phrases are configured per language in clinic.yaml (``voicemail.urgent_phrases``).
Matching ignores case, accents and punctuation and works on whole words; a
word ending in ``*`` matches any word it begins (``suicid*``: suicide,
suicidal). It errs on the side of flagging: "no chest pain" is still urgent,
because a nurse reading one message too many costs less than one missed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> list[str]:
    """Lower-case words without accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [w for w in _NOT_WORD.split(plain.replace("'", "")) if w]


@dataclass(frozen=True)
class Phrase:
    text: str  # as configured, shown to staff
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Phrase":
        words = tuple(w + "*" if raw.endswith("*") else w for raw, w in _pairs(text))
        if not words:
            raise ValueError(f"urgent phrase {text!r} has no words")
        return cls(text.strip(), words)

    def found_in(self, words: list[str]) -> str | None:
        """What staff are shown if the phrase is in ``words``: the phrase, or for ``bleed*`` the word said."""
        n = len(self.words)
        for i in range(len(words) - n + 1):
            if all(_word_matches(p, w) for p, w in zip(self.words, words[i : i + n])):
                return " ".join(words[i : i + n]) if any(p.endswith("*") for p in self.words) else self.text
        return None


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for raw in text.split():
        words = normalise(raw)
        if words:
            out.append((raw, "".join(words)))
    return out


def _word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


class UrgentPhrases:
    """The configured phrases of each language."""

    def __init__(self, by_language: dict[str, list[str]]) -> None:
        self._phrases = {lang: [Phrase.parse(p) for p in phrases] for lang, phrases in by_language.items()}

    def find(self, transcript: str, lang: str) -> list[str]:
        """The phrases found in ``transcript``; a language without its own list is checked against all lists."""
        words = normalise(transcript)
        if not words:
            return []
        lists = [self._phrases[lang]] if lang in self._phrases else list(self._phrases.values())
        found: list[str] = []
        for phrases in lists:
            for phrase in phrases:
                said = phrase.found_in(words)
                if said and said not in found:
                    found.append(said)
        return found


def reason(found: list[str]) -> str:
    """What staff read: why this voicemail is urgent."""
    return "said " + ", ".join(f'"{p}"' for p in found) if found else ""

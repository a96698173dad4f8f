"""Match what a caller said to menu keywords.

Twilio's speech result is free text ("I'd like to pay my bill."). We fold case
and accents, and look for each keyword as whole words; the keyword spoken first
wins. Spoken digits ("two", "dos") count as key presses.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence, TypeVar

_NON_WORD = re.compile(r"[^a-z0-9]+")

SPOKEN_DIGITS: dict[str, dict[str, str]] = {
    "en": {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
           "six": "6", "seven": "7", "eight": "8", "nine": "9", "star": "*"},
    "es": {"cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
           "seis": "6", "siete": "7", "ocho": "8", "nueve": "9", "asterisco": "*"},
}

T = TypeVar("T")


def normalize(text: str) -> str:
    """Lower-case, strip accents and punctuation: 'Español!' -> 'espanol'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", plain).strip()


def _position(haystack: str, phrase: str) -> int:
    """Index of ``phrase`` as whole words in ``haystack`` (both normalized), or -1."""
    if not phrase:
        return -1
    found = f" {haystack} ".find(f" {phrase} ")
    return found


def spoken_digit(speech: str, langs: Iterable[str]) -> str:
    """A single digit the caller said ('2', 'two', 'dos'), or ''."""
    words = normalize(speech).split()
    if len(words) != 1:
        return ""
    word = words[0]
    if len(word) == 1 and word.isdigit():
        return word
    for lang in langs:
        digit = SPOKEN_DIGITS.get(lang, {}).get(word)
        if digit:
            return digit
    return ""


def best_match(speech: str, candidates: Sequence[tuple[T, Iterable[str]]]) -> T | None:
    """The candidate whose keyword appears earliest in ``speech``."""
    text = normalize(speech)
    if not text:
        return None
    best: tuple[int, int, T] | None = None
    for order, (item, keywords) in enumerate(candidates):
        for keyword in keywords:
            pos = _position(text, normalize(keyword))
            if pos >= 0 and (best is None or (pos, order) < best[:2]):
                best = (pos, order, item)
    return best[2] if best else None

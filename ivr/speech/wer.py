"""Word error rate, for the benchmark and the tests.

Both texts are brought to one spelling first, so that only what was heard counts: lower case, no
accents or punctuation, numbers as digits and a run of digits as single digits (Whisper writes
"555-212-4489" and "March 3rd" where the truth says "five five five, two one two, ..." and "March
third"), "Dr." as "doctor".
"""

from __future__ import annotations

import re
import unicodedata

_ORDINAL = re.compile(r"(\d)(st|nd|rd|th|o|a|er|ro|do|to|vo|no)\b")
_SPELLINGS = {"en": {"dr": "doctor", "mr": "mister", "mrs": "missus", "ok": "okay", "percent": "%"}, "es": {"dr": "doctor", "dra": "doctora"}}


def normalise(text: str, lang: str = "en") -> list[str]:
    """The words of ``text`` in one spelling (see the module's docstring)."""
    from text_to_num import alpha2digit

    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("-", " ")
    try:
        text = alpha2digit(text, lang if lang in ("en", "es", "fr", "de", "it", "pt", "nl") else "en", threshold=0)
    except Exception:  # noqa: BLE001 - a language text2num does not know: numbers stay words
        pass
    text = re.sub(r"(\d)[,.](\d)", r"\1\2", text)  # 1,000 and 1.000
    text = re.sub(r"\$\s*(\d+)", r"\1 dollars", text).replace("º", "").replace("ª", "")
    text = _ORDINAL.sub(r"\1", text)
    text = re.sub(r"(\d)", r" \1 ", text)
    text = re.sub(r"[^\w' ]+", " ", text).replace("_", " ")
    spell = _SPELLINGS.get(lang, {})
    words = [w.strip("'") for w in text.split()]
    return [spell.get(w, w) for w in words if w]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Substitutions + deletions + insertions turning ``ref`` into ``hyp``."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str, lang: str = "en") -> float:
    """Word error rate of one hypothesis (0.0 = perfect; can exceed 1.0)."""
    ref = normalise(reference, lang)
    return edit_distance(ref, normalise(hypothesis, lang)) / max(1, len(ref))


def corpus_wer(pairs: list[tuple[str, str]], lang: str = "en") -> float:
    """Errors over all reference words of (reference, hypothesis) pairs."""
    errors = sum(edit_distance(normalise(r, lang), normalise(h, lang)) for r, h in pairs)
    return errors / max(1, sum(len(normalise(r, lang)) for r, _ in pairs))

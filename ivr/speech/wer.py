"""Word error rate, for the benchmark and the tests."""

from __future__ import annotations

import re


def normalise(text: str) -> list[str]:
    """Lower case words without punctuation ("Hi, it's X-ray." -> hi it's x ray)."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Substitutions + deletions + insertions turning ``ref`` into ``hyp``."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one hypothesis (0.0 = perfect; can exceed 1.0)."""
    ref = normalise(reference)
    return edit_distance(ref, normalise(hypothesis)) / max(1, len(ref))


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """Errors over all reference words of (reference, hypothesis) pairs."""
    errors = sum(edit_distance(normalise(r), normalise(h)) for r, h in pairs)
    return errors / max(1, sum(len(normalise(r)) for r, _ in pairs))

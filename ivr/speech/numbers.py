"""Numbers in a transcript, made easy to read and dial back (pure: no I/O).

Whisper writes a phone number as it hears it: "555-338-9150" when said in groups, but often
"5, 5, 5, 3, 3, 8..." when a caller says it digit by digit (more so in Spanish). Staff should read
it as they would write it: a run of single digits becomes one number, and a run of ten (a North
American number) or seven digits is grouped 555-338-9150 / 338-9150. Other numbers (dates, doses,
amounts) are left as written.
"""

from __future__ import annotations

import re

# Three or more single digits, each followed by a comma, period, dash or space before the next.
_SPOKEN_DIGITS = re.compile(r"(?<![\w,.-])\d(?:[ ,.\-]{1,3}\d){2,}(?![\w-])")
_GROUPS = {10: (3, 3, 4), 11: (1, 3, 3, 4), 7: (3, 4)}


def _digits_only(run: str) -> str:
    return re.sub(r"\D", "", run)


def readable(text: str) -> str:
    """``text`` with digit-by-digit numbers joined and phone-length ones grouped."""

    def join(match: re.Match[str]) -> str:
        parts = re.split(r"[ ,.\-]+", match.group(0))
        if any(len(p) > 4 for p in parts):  # "1952" or "2033": already a written number, not digit by digit
            return match.group(0)
        digits = _digits_only(match.group(0))
        groups = _GROUPS.get(len(digits))
        if groups is None:
            return digits if all(len(p) == 1 for p in parts) else match.group(0)
        out, at = [], 0
        for size in groups:
            out.append(digits[at : at + size])
            at += size
        return "-".join(out)

    return _SPOKEN_DIGITS.sub(join, text)

"""Logging that never writes a full phone number.

Code should not log numbers at all; this filter is the safety net: anything
that looks like a phone number in a log record is masked to its last 4 digits.
"""

from __future__ import annotations

import logging
import re

# E.164 numbers (how Twilio sends them) and bare runs of 10+ digits.
_NUMBER = re.compile(r"\+\d{7,15}\b|\b\d{10,15}\b")


def mask_number(text: str) -> str:
    """'+15551234567' -> '+*******4567'."""
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7:
        return text
    return ("+" if text.startswith("+") else "") + "*" * (len(digits) - 4) + digits[-4:]


def mask_numbers(text: str) -> str:
    return _NUMBER.sub(lambda m: mask_number(m.group(0)), text)


class MaskingFormatter(logging.Formatter):
    """Masks numbers in the whole formatted line, tracebacks and exception messages included."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_numbers(super().format(record))


class MaskPhoneNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(level: str = "INFO") -> None:
    """Root logging to stderr, with phone numbers masked (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(h, "_ivr", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._ivr = True  # type: ignore[attr-defined]
        handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(MaskPhoneNumbers())
        root.addHandler(handler)
    root.setLevel(level)

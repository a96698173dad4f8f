"""Twilio voice webhooks: the caller's side of the system."""

from .views import bp
from . import outbound  # noqa: E402,F401 - registers /voice/outbound/* on bp
from . import followup  # noqa: E402,F401 - registers /voice/followup/* on bp

__all__ = ["bp"]

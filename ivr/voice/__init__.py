"""Twilio voice webhooks: the caller's side of the system."""

from .views import bp

__all__ = ["bp"]

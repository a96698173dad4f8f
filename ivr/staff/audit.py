"""Audit-log helper for staff views: fills in who is acting."""

from __future__ import annotations

from ivr import services

from .auth import current_user


def record(action: str, target: str = "", detail: str = "", actor: str | None = None) -> None:
    """Write an audit entry for the logged-in user (or ``actor``; "-" when nobody is known).

    ``target`` is a record id (a callback id, a department), never a phone number.
    """
    if actor is None:
        user = current_user()
        actor = user.name if user else "-"
    services.get().audit.record(actor, action, target=target, detail=detail)

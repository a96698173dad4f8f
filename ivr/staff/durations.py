"""How long something has waited or has left, in the console's words ("4 min", "2 h 05 min", "3 days")."""

from __future__ import annotations

import time

from . import bp


def waited(seconds: float) -> str:
    """'4 min', '2 h 05 min', '3 days' for a wait."""
    minutes = int(max(0, seconds) // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


@bp.app_template_filter("waited")
def _waited_filter(since: float) -> str:
    return waited(time.time() - since)

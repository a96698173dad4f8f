"""How much of a request is read, and how early it is refused."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Size limits for every request (none yet beyond Flask's defaults)."""

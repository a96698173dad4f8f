"""Metrics for operators (GET /metrics): to be filled in; registered by the app factory."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("metrics", __name__)


def init_app(app) -> None:
    app.register_blueprint(bp)

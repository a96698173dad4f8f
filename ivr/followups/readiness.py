"""Can this install place outbound calls (follow-ups, "Call patient")? Said at start-up, on /healthz
and in a banner on admin pages, so a missing setting is found before a patient goes uncalled."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from ivr import twilio_rest

log = logging.getLogger(__name__)


def problems_of_app(config: Mapping[str, Any]) -> list[str]:
    """What stops the web process from placing calls (its config, then the environment)."""
    return twilio_rest.problems(twilio_rest.settings_from_config(config))


def problems_of_worker() -> list[str]:
    """What stops a worker process from placing calls (its environment)."""
    return twilio_rest.problems(twilio_rest.settings_from_env())


def warn(where: str, problems: list[str], followups_enabled: bool) -> None:
    """Log, once at start-up, what outbound calls still need."""
    if problems and followups_enabled:
        log.warning("%s: follow-up calls cannot be placed until this is fixed (they wait, blocked, meanwhile): %s",
                    where, "; ".join(problems))

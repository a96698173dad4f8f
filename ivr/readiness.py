"""What this install still needs before it works for real, in words: said once at start-up, on
/healthz (always current) and in a banner on admin pages.

Each problem names the feature it stops and the setting that fixes it:

* Twilio's webhooks: ``TWILIO_AUTH_TOKEN`` (without it only ``ivr call`` reaches the app);
* outbound calls (follow-ups, "Call patient"): Twilio credentials and ``IVR_PUBLIC_URL``
  (``outbound_problems``; workers check their own environment with ``worker_outbound_problems``);
* recordings at rest: ``IVR_DATA_KEY`` (without it the key lives in DATA_DIR, beside the recordings);
* the clinic's numbers in config/clinic.yaml: still the example's fictional 555-01xx numbers.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from ivr import twilio_rest

log = logging.getLogger(__name__)

# North American numbers 555-0100 to 555-0199 are reserved for fiction: nobody answers them.
FICTIONAL = re.compile(r"\+1\d{3}5550[1][0-9]{2}")


def outbound_problems(config: Mapping[str, Any]) -> list[str]:
    """What stops the web process from placing calls (its config, then the environment)."""
    return twilio_rest.problems(twilio_rest.settings_from_config(config))


def worker_outbound_problems() -> list[str]:
    """What stops a worker process from placing calls (its environment)."""
    return twilio_rest.problems(twilio_rest.settings_from_env())


def warn_worker(followups_enabled: bool) -> None:
    """Log, once at a worker's start, what its outbound calls still need."""
    found = worker_outbound_problems()
    if found and followups_enabled:
        log.warning("worker: follow-up calls cannot be placed until this is fixed (they wait, blocked, meanwhile): %s",
                    "; ".join(found))


def problems(config: Mapping[str, Any], clinic) -> list[str]:
    """Every setting a feature still lacks, in words (empty: nothing)."""
    found = []
    if not config.get("TWILIO_AUTH_TOKEN"):
        found.append("TWILIO_AUTH_TOKEN is not set: Twilio's calls to this server are refused "
                     "(only `ivr call` can try the menus)")
    found += outbound_problems(config)
    if not config.get("DATA_KEY"):
        found.append("IVR_DATA_KEY is not set: recordings and transcripts are encrypted with a key kept in "
                     "the data folder beside them (set it from a secret store: `ivr data-key`)")
    if clinic is not None:
        numbers = {"main_number": clinic.main_number,
                   **{f"desks.{key}.number": desk.number for key, desk in clinic.desks.items()}}
        fictional = [name for name, number in numbers.items() if FICTIONAL.fullmatch(number)]
        if fictional:
            found.append("config/clinic.yaml still has the example's fictional 555-01xx numbers "
                         f"({', '.join(fictional)}): calls to them reach nobody")
    return found


def warn_at_start(config: Mapping[str, Any], clinic) -> None:
    for problem in problems(config, clinic):
        log.warning("not ready: %s", problem)

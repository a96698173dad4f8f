"""What this install still needs before it works for real, in words: said once at start-up, on
/healthz (always current) and in a banner on admin pages.

Each problem names the feature it stops and the setting that fixes it:

* Twilio's webhooks: ``TWILIO_AUTH_TOKEN`` (without it only ``ivr call`` reaches the app);
* outbound calls (follow-ups, "Call patient"): Twilio credentials and ``IVR_PUBLIC_URL``
  (``outbound_problems``; workers check their own environment with ``worker_outbound_problems``);
* recordings at rest: ``IVR_DATA_KEY`` (without it the key lives in DATA_DIR, beside the recordings);
* the clinic's numbers in config/clinic.yaml: still the example's fictional 555-01xx numbers;
* texts to patients (``texts_problems``, ``_texts_missing``): switched on by the Messaging Service SID, which
  must look like one (``MG`` and 32 hex digits), and they need what outbound calls need (the Twilio account,
  ``IVR_PUBLIC_URL`` for delivery reports); texts after an unreached follow-up asked for without it send none.

``problems`` says them as the person who runs the server needs them (the setting's name, for the log and
/healthz); ``missing`` says the same for staff: what is switched off and who can fix it, in words
(the admin banner, the Setup page), with the setting and what it does kept apart for the Setup page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ivr import texts
from ivr.telephony import twilio_rest

log = logging.getLogger(__name__)

# North American numbers 555-0100 to 555-0199 are reserved for fiction: nobody answers them.
FICTIONAL = re.compile(r"\+1\d{3}5550[1][0-9]{2}")
MESSAGING_SERVICE = re.compile(r"MG[0-9a-fA-F]{32}")


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


def problems(config: Mapping[str, Any], clinic, texts_refused: str = "") -> list[str]:
    """Every setting a feature still lacks, in words (empty: nothing); ``texts_refused`` as for ``texts_problems``."""
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
    return found + texts_problems(config, texts_refused)


# Twilio's refusals of a text that concern the Messaging Service itself (ivr.workers.texts.SERVICE_ERRORS).
SERVICE_REFUSALS = {
    "21606": "the clinic's number it sends from cannot send texts",
    "21701": "the clinic's texting service does not exist in its account",
    "21702": "the clinic's texting service is not taking new texts",
    "21703": "the clinic's texting service has no phone number free to send from",
    "21704": "the clinic's texting service has no phone number to send from",
    "21705": "the clinic's texting service is not valid",
}


def texts_problems(config: Mapping[str, Any], refused: str = "") -> list[str]:
    """What stops texts to patients, when they are switched on or asked for (empty: nothing, or texts off);
    ``refused``: Twilio's error code of a refusal about the Messaging Service (``TextStore.service_refusal``)."""
    sid = texts.messaging_service_sid(config)
    if not sid:
        if texts.followup_texts(config):
            return ["IVR_TEXTS_AFTER_UNREACHED_FOLLOWUP is on but IVR_TWILIO_MESSAGING_SERVICE_SID is not set: "
                    "no texts are sent"]
        return []
    found = []
    if not MESSAGING_SERVICE.fullmatch(sid):
        found.append("IVR_TWILIO_MESSAGING_SERVICE_SID is not a Messaging Service SID (MG and 32 hex digits): "
                     "Twilio refuses every text")
    blocked = outbound_problems(config)
    if blocked:
        found.append("texts to patients cannot be sent until outbound calls can be: " + "; ".join(blocked))
    if refused:
        found.append(f"Twilio refuses texts (error {refused}): {SERVICE_REFUSALS.get(refused, 'the Messaging Service')}"
                     "; fix it in Twilio's console (this clears when a text is sent)")
    return found


@dataclass(frozen=True)
class Missing:
    """One thing this install lacks, for staff: ``words`` say what is off until it is set (no setting names);
    ``settings`` and ``does`` are for the Setup page, for whoever runs the server; ``page`` is the admin page
    that fixes it in the browser, if one does."""

    key: str
    words: str
    settings: tuple[str, ...]
    does: str
    page: str = ""


def missing(config: Mapping[str, Any], clinic, texts_refused: str = "") -> list[Missing]:
    """``problems``, said for staff (``texts_refused``: as for ``texts_problems``)."""
    settings = twilio_rest.settings_from_config(config)
    found = []
    if not config.get("TWILIO_AUTH_TOKEN"):
        found.append(Missing(
            "auth_token", "Calls from patients are not answered until the clinic's Twilio account is connected",
            ("TWILIO_AUTH_TOKEN",), "Twilio's secret for the clinic's account: this server checks with it that "
            "every call it answers really comes from Twilio (without it only the test phone on the server can call)"))
    if not str(settings.get("TWILIO_ACCOUNT_SID") or "").strip() or not str(settings.get("TWILIO_AUTH_TOKEN") or "").strip():
        found.append(Missing(
            "account", "Calls to patients (follow-up calls, “Call patient”) are switched off until the clinic's "
            "Twilio account is connected", ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
            "the clinic's Twilio account and its secret: with them this server can place calls"))
    base = str(settings.get("TWILIO_API_BASE_URL") or "").strip()
    if base and not twilio_rest._absolute(base):
        found.append(Missing(
            "api_base", "Calls to patients are switched off until the address of Twilio's service is corrected",
            ("TWILIO_API_BASE_URL",), "another address for Twilio's service (for trials): a full web address, or unset"))
    public = str(settings.get("PUBLIC_URL") or "").strip()
    if not public or not twilio_rest._absolute(public.rstrip("/")):
        found.append(Missing(
            "public_url", "Calls to patients are switched off until the server's public address is "
            + ("set" if not public else "corrected (a full web address, such as https://phones.yourclinic.example)"),
            ("IVR_PUBLIC_URL",), "the web address Twilio reaches this server at, such as "
            "https://phones.yourclinic.example: Twilio calls it back during every call this server places"))
    if not config.get("DATA_KEY"):
        found.append(Missing(
            "data_key", "Voicemail recordings are locked with a key kept on the same disk as them, until the key "
            "is kept apart", ("IVR_DATA_KEY",), "the key that locks recordings and transcripts: kept in a secret store "
            "instead of the data folder, a copy of that folder alone opens no recording (`ivr data-key` makes one)"))
    if clinic is not None:
        fictional = [desk.name for desk in clinic.desks.values() if FICTIONAL.fullmatch(desk.number)]
        if fictional:
            found.append(Missing(
                "desk_numbers", "Calls put through to " + ", ".join(fictional) + " reach nobody until their real "
                "numbers are entered (they are still the example's)", (), "each desk's phone number", page="admin.desks"))
        if FICTIONAL.fullmatch(clinic.main_number):
            found.append(Missing(
                "main_number", "Patients called back see the example's number, not the clinic's, until it is entered"
                + (", and texts give them that number to call" if texts.messaging_service_sid(config) else ""),
                ("main_number in the clinic settings",), "the clinic's Twilio number: patients see it when staff "
                "call them back"))
    return found + _texts_missing(config, settings, public, texts_refused)


def _texts_missing(config: Mapping[str, Any], settings: Mapping[str, Any], public: str, refused: str) -> list[Missing]:
    """``texts_problems``, said for staff."""
    sid = texts.messaging_service_sid(config)
    service = ("IVR_TWILIO_MESSAGING_SERVICE_SID",)
    does = ("the Messaging Service (MG followed by 32 letters and digits) that sends the clinic's texts: made in "
            "Twilio's console, with the clinic's number among its senders")
    if not sid:
        if not texts.followup_texts(config):
            return []
        return [Missing("texts_service", "Texts after a follow-up call that reached nobody are asked for, but no "
                        "texts are sent until the clinic's Twilio texting service is named", service, does)]
    found = []
    if not MESSAGING_SERVICE.fullmatch(sid):
        found.append(Missing("texts_service", "Texts to patients are switched off until the name of the clinic's "
                             "Twilio texting service is corrected", service, does))
    account = not str(settings.get("TWILIO_ACCOUNT_SID") or "").strip() or not str(settings.get("TWILIO_AUTH_TOKEN") or "").strip()
    address = not public or not twilio_rest._absolute(public.rstrip("/"))
    if account or address:
        found.append(Missing(
            "texts_account", "Texts to patients are switched off until "
            + " and ".join(w for w, lacking in (("the clinic's Twilio account is connected", account),
                                                ("the server's public address is set", address)) if lacking),
            ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") * account + ("IVR_PUBLIC_URL",) * address,
            "what calls to patients need: texts go out through the same Twilio account, and Twilio reports each "
            "text's delivery to the server's public address"))
    if refused:
        found.append(Missing(
            "texts_refused", "Texts to patients are not going out: Twilio says "
            + SERVICE_REFUSALS.get(refused, "the clinic's texting service cannot send them"), (),
            f"the Messaging Service in Twilio's console, which must have the clinic's number among its senders "
            f"(Twilio's error {refused}; this clears by itself once a text goes)"))
    return found


# A setting problem's technical text (twilio_rest.TwilioNotConfigured names the settings), as staff read it.
_IN_WORDS = (
    ("TWILIO_API_BASE_URL", "calls to patients are switched off until the address of Twilio's service is corrected"),
    ("IVR_PUBLIC_URL must", "calls to patients are switched off until the server's public address is corrected"),
    ("IVR_PUBLIC_URL", "calls to patients are switched off until the server's public address is set"),
    ("TWILIO_", "calls to patients are switched off until the clinic's Twilio account is connected"),
)


def in_words(detail: object) -> str:
    """What a missing or wrong setting switches off, for staff (the setting's name stays in the log)."""
    text = str(detail or "")
    return next((words for marker, words in _IN_WORDS if marker in text), text)


def warn_at_start(config: Mapping[str, Any], clinic) -> None:
    for problem in problems(config, clinic):
        log.warning("not ready: %s", problem)

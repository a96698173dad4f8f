"""Twilio's REST API client, built from settings (used to place calls).

Settings, from the same sources as the app (``settings_from_env`` for worker
processes, ``settings_from_config`` for web processes):

* ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``: the account's credentials,
  from the environment only, never from files in the repository.
* ``PUBLIC_URL`` (``IVR_PUBLIC_URL``): the app's public base URL. Twilio needs
  absolute webhook URLs for the calls it places.
* ``TWILIO_API_BASE_URL`` (or ``IVR_TWILIO_API_BASE_URL``): optional; another
  base URL for Twilio's API, e.g. a mock server in tests
  (``http://127.0.0.1:4010``). It replaces ``https://api.twilio.com``
  (twilio-python: ``client.api.base_url``).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping
from urllib.parse import urlsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

REQUEST_TIMEOUT = 15.0  # seconds for one REST request (connect and read)

CREDENTIALS_MISSING = "Twilio credentials are not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
PUBLIC_URL_MISSING = (
    "IVR_PUBLIC_URL is not set: Twilio needs absolute webhook URLs for the calls it places "
    "(set it to the app's public address, e.g. https://phones.clinic.example)"
)

# twilio-python logs every request's URL and headers at INFO; keep worker logs to what matters.
_http_log = logging.getLogger("ivr.telephony.twilio_rest.http")
_http_log.setLevel(logging.WARNING)


class TwilioNotConfigured(RuntimeError):
    """Credentials or the public URL are missing or malformed: no call can be placed."""


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings this module reads, from the environment as the app reads it (IVR_* wins)."""
    env = os.environ if environ is None else environ
    return {
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_API_BASE_URL": env.get("IVR_TWILIO_API_BASE_URL") or env.get("TWILIO_API_BASE_URL", ""),
        "PUBLIC_URL": env.get("IVR_PUBLIC_URL", ""),
    }


def settings_from_config(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The same settings in a web process: the app's config, then the environment for the base URL."""
    env = os.environ if environ is None else environ
    return {
        "TWILIO_ACCOUNT_SID": str(config.get("TWILIO_ACCOUNT_SID") or ""),
        "TWILIO_AUTH_TOKEN": str(config.get("TWILIO_AUTH_TOKEN") or ""),
        "TWILIO_API_BASE_URL": str(config.get("TWILIO_API_BASE_URL") or env.get("TWILIO_API_BASE_URL", "")),
        "PUBLIC_URL": str(config.get("PUBLIC_URL") or ""),
    }


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def public_url(settings: Mapping[str, Any]) -> str:
    """The app's public base URL without a trailing slash; TwilioNotConfigured if missing or not absolute."""
    url = str(settings.get("PUBLIC_URL") or "").strip().rstrip("/")
    if not url:
        raise TwilioNotConfigured(PUBLIC_URL_MISSING)
    if not _absolute(url):
        raise TwilioNotConfigured(f"IVR_PUBLIC_URL must be an absolute http(s) URL, not {url!r}")
    return url


def problems(settings: Mapping[str, Any]) -> list[str]:
    """What stops calls from being placed with these settings, in words (empty: nothing)."""
    found = []
    for probe in (lambda: close(make_client(settings)), lambda: public_url(settings)):
        try:
            probe()
        except TwilioNotConfigured as exc:
            found.append(str(exc))
    return found


# Twilio error codes about one number, not the account: the follow-up for that number is over.
PER_NUMBER_ERRORS = frozenset({
    13223,  # the number's format is invalid
    13224,  # Twilio does not call this number, or it is invalid
    21211,  # invalid 'To' phone number
    21214,  # 'To' phone number cannot be reached
    21216,  # the number is blocked (Twilio's block list, premium rates)
    21217,  # the number does not appear to be valid
    21401,  # invalid phone number
    21407,  # this phone number type does not support voice
    21610,  # the number has unsubscribed
})


def account_wide(status: int, code: int | None) -> bool:
    """Whether a refusal from Twilio's API (a 4xx other than 429) would refuse every call: bad
    credentials, a suspended account, an unverified caller ID, a malformed request. Such a
    refusal holds the follow-ups until fixed; a refusal about one number ends that one only."""
    return 400 <= status < 500 and status != 429 and (code or 0) not in PER_NUMBER_ERRORS


def check(settings: Mapping[str, Any]) -> None:
    """TwilioNotConfigured unless calls can be placed with these settings (credentials, public URL)."""
    close(make_client(settings))
    public_url(settings)


def make_client(settings: Mapping[str, Any], http_client: TwilioHttpClient | None = None) -> Client:
    """A REST client for the configured account, pointed at TWILIO_API_BASE_URL when set."""
    sid = str(settings.get("TWILIO_ACCOUNT_SID") or "").strip()
    token = str(settings.get("TWILIO_AUTH_TOKEN") or "").strip()
    if not sid or not token:
        raise TwilioNotConfigured(CREDENTIALS_MISSING)
    base = str(settings.get("TWILIO_API_BASE_URL") or "").strip().rstrip("/")
    if base and not _absolute(base):
        raise TwilioNotConfigured(f"TWILIO_API_BASE_URL must be an absolute http(s) URL, not {base!r}")
    client = Client(
        sid,
        token,
        http_client=http_client or TwilioHttpClient(timeout=REQUEST_TIMEOUT, logger=_http_log),
        # Not os.environ: edge and region come from nowhere but here, so they cannot
        # rewrite the host of a base URL override.
        environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
    )
    if base:
        client.api.base_url = base
    return client


def close(client: Client) -> None:
    """Close the client's HTTP connections (a job makes one client per run)."""
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.close()

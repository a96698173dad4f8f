"""Configuration objects and where settings come from.

Order (later wins): ``Defaults`` below, environment variables (TWILIO_*,
REDIS_URL, and every ``IVR_*`` variable with the prefix dropped, e.g.
IVR_PUBLIC_URL -> PUBLIC_URL), then the mapping passed to ``create_app``.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_dir(name: str) -> str:
    """config/ or prompts/ in the working directory if present, else the project's own."""
    here = Path.cwd() / name
    return str(here if here.is_dir() else PROJECT_ROOT / name)


class Defaults:
    """Settings every deployment starts from."""

    CONFIG_DIR = _default_dir("config")
    PROMPTS_DIR = _default_dir("prompts")
    DATA_DIR = "var"
    PUBLIC_URL = ""  # e.g. https://phones.clinic.example; used to check signatures
    TRUSTED_PROXIES = 0  # reverse proxies in front of the app (for X-Forwarded-*)
    REDIS_URL = ""  # empty: the embedded server's socket under DATA_DIR
    REDIS_TIMEOUT = 1.0  # seconds; an outage becomes a quick fallback, not a hung call
    TWILIO_ACCOUNT_SID = ""
    TWILIO_AUTH_TOKEN = ""
    CALL_STATE_TTL = 6 * 3600
    RELOAD_INTERVAL = 2.0  # seconds between checks for edited config/prompt files
    LOG_LEVEL = "INFO"
    DATA_KEY = ""  # IVR_DATA_KEY: encrypts recordings and transcripts at rest; empty: a per-install key file
    SECRET_KEY = ""  # signs staff sessions; empty: a per-install key under DATA_DIR
    STAFF_IDLE_MINUTES = 15.0  # staff are logged off after this long without a request
    STAFF_SESSION_HOURS = 12.0  # a session ends this long after login, however active
    LOGIN_LIMIT_PER_USER = "5 per minute"  # failed logins for one username from one address (ivr.staff.limits)
    LOGIN_LIMIT_PER_USER_TOTAL = "30 per hour"  # failed logins for one username from all addresses; beyond: one guess per address per LOGIN_LIMIT_PER_USER window
    LOGIN_LIMIT_PER_ADDRESS = "20 per minute"  # login attempts from one IP address, right or wrong
    API_LIMIT = "60 per minute"  # requests to the scheduling API (POST /api/appointments) per key


def load_environment(config: dict, environ: os._Environ | dict | None = None) -> None:
    """Copy settings from the environment into a Flask config."""
    environ = os.environ if environ is None else environ
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "REDIS_URL"):
        if environ.get(name):
            config[name] = environ[name]


def embedded_redis_socket(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "redis" / "redis.sock"


def redis_url(config: dict) -> str:
    """REDIS_URL, or the embedded server's socket under DATA_DIR."""
    return config.get("REDIS_URL") or f"unix://{embedded_redis_socket(config['DATA_DIR'])}"


def _local_secret(path: Path, nbytes: int = 16) -> str:
    """A random secret kept in ``path`` (mode 0600), made once per install; the first writer wins."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(nbytes))
    try:
        os.link(tmp, path)  # atomic: the first process to get here wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def local_auth_token(data_dir: str | Path) -> str:
    """A per-install token used when TWILIO_AUTH_TOKEN is unset (local trials with `ivr call`).

    Real Twilio requests cannot match it, so they are refused until the real
    token is configured.
    """
    return _local_secret(Path(data_dir) / "local-twilio-token")


def secret_key(config: dict) -> str:
    """SECRET_KEY (IVR_SECRET_KEY), else a per-install random key in DATA_DIR/secret-key.

    Every web process of one install reads the same file, so sessions survive
    restarts and work across gunicorn workers; set IVR_SECRET_KEY when web
    processes run on several machines.
    """
    return config.get("SECRET_KEY") or _local_secret(Path(config["DATA_DIR"]) / "secret-key", nbytes=32)


def auth_token(config: dict) -> str:
    token = config.get("TWILIO_AUTH_TOKEN")
    if token:
        return token
    log.warning(
        "TWILIO_AUTH_TOKEN is not set: using a local token; only `ivr call` can reach the webhooks"
    )
    return local_auth_token(config["DATA_DIR"])

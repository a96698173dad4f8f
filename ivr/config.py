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
    # High availability (ivr.store.connect_from_config): Sentinels to ask for the primary, instead of REDIS_URL.
    REDIS_SENTINELS = ""  # IVR_REDIS_SENTINELS: "host:port,host:port,..."; empty: REDIS_URL / embedded server
    REDIS_SERVICE = "mymaster"  # IVR_REDIS_SERVICE: the master name the Sentinels watch
    REDIS_PASSWORD = ""  # IVR_REDIS_PASSWORD: the Redis servers' password with Sentinels (REDIS_URL carries its own)
    REDIS_SENTINEL_PASSWORD = ""  # IVR_REDIS_SENTINEL_PASSWORD: the Sentinels' own password, if they have one
    REDIS_MIN_REPLICAS = ""  # IVR_REDIS_MIN_REPLICAS: replicas that must hold a confirmed write; empty: 1 with Sentinels, else 0
    REDIS_REPLICA_WAIT_MS = 500  # IVR_REDIS_REPLICA_WAIT_MS: how long a confirmed write waits for them
    TWILIO_ACCOUNT_SID = ""
    TWILIO_AUTH_TOKEN = ""
    # Texts to patients (ivr.texts): on once a Messaging Service is named; its numbers send them.
    TWILIO_MESSAGING_SERVICE_SID = ""  # IVR_TWILIO_MESSAGING_SERVICE_SID (or TWILIO_MESSAGING_SERVICE_SID): MG...
    TEXTS_AFTER_UNREACHED_FOLLOWUP = False  # IVR_TEXTS_AFTER_UNREACHED_FOLLOWUP=1: a text when a follow-up call reached nobody
    TEXTS_LOOKUP = True  # IVR_TEXTS_LOOKUP=0: no carrier lookup (Twilio bills each); the caller's keypad answer decides
    CALL_STATE_TTL = 6 * 3600
    RELOAD_INTERVAL = 2.0  # seconds between checks for edited config/prompt files
    LOG_LEVEL = "INFO"
    DATA_KEY = ""  # IVR_DATA_KEY: encrypts recordings and transcripts at rest; empty: a per-install key file
    # Voicemail audio in S3-compatible object storage (ivr.recordings.object_store); no bucket: the data folder only.
    RECORDINGS_BUCKET = ""  # IVR_RECORDINGS_BUCKET; credentials from boto3's chain (AWS_ACCESS_KEY_ID, ...)
    RECORDINGS_ENDPOINT_URL = ""  # e.g. https://s3.clinic.internal:9000 (Ceph RGW, SeaweedFS, Garage, MinIO); empty: AWS
    RECORDINGS_REGION = ""  # the bucket's region, if the store needs one
    RECORDINGS_ADDRESSING_STYLE = "path"  # "path" (most on-premises stores) or "virtual" (bucket in the host name)
    SECRET_KEY = ""  # signs staff sessions; empty: a per-install key under DATA_DIR
    STAFF_IDLE_MINUTES = 15.0  # staff are logged off after this long without a request
    STAFF_SESSION_HOURS = 12.0  # a session ends this long after login, however active
    LOGIN_LIMIT_PER_USER = "5 per minute"  # failed logins for one username from one address (ivr.staff.limits)
    LOGIN_LIMIT_PER_USER_TOTAL = "30 per hour"  # failed logins for one username from all addresses; beyond: one guess per address per LOGIN_LIMIT_PER_USER window
    LOGIN_LIMIT_PER_ADDRESS = "20 per minute"  # login attempts from one IP address, right or wrong
    API_LIMIT = "60 per minute"  # requests to the scheduling API per key name, every route counted together
    API_BAD_KEY_LIMIT = "20 per minute"  # requests to the scheduling API without a valid key, per address
    # Reports (/admin/reports; ivr.reports.figures): definitions and how long call records are kept.
    REPORTS_RECORD_CALLS = True  # keep one record per call (no patient data) when it ends
    REPORTS_KEEP_DAYS = 400  # call records are kept this many days, then pruned by Redis
    REPORTS_SERVICE_LEVEL_SECONDS = 60  # service level: a person or a promise within this many seconds of arrival
    REPORTS_SHORT_ABANDON_SECONDS = 5  # hung up within this many seconds of reaching a queue: left out of service level and abandonment
    REPORTS_PROMISES_COUNT = "served"  # "served": a callback/voicemail promise counts as served; "excluded": left out of service level


def load_environment(config: dict, environ: os._Environ | dict | None = None) -> None:
    """Copy settings from the environment into a Flask config."""
    environ = os.environ if environ is None else environ
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "REDIS_URL"):
        if environ.get(name):
            config[name] = environ[name]


def embedded_redis_socket(data_dir: str | Path) -> Path:
    return Path(data_dir).resolve() / "redis" / "redis.sock"


def environment_settings(environ: os._Environ | dict | None = None) -> dict:
    """Defaults, then the environment (as the app reads it), for processes without a Flask app: workers, the CLI."""
    environ = os.environ if environ is None else environ
    settings = {k: getattr(Defaults, k) for k in dir(Defaults) if k.isupper()}
    load_environment(settings, environ)
    for key, value in environ.items():
        if key.startswith("IVR_") and value:
            settings[key[4:]] = value
    return settings


def redis_sentinels(config: dict) -> list[tuple[str, int]]:
    """REDIS_SENTINELS ("host:port,host:port") as (host, port) pairs; [] when unset. Raises ValueError."""
    found = []
    for item in str(config.get("REDIS_SENTINELS") or "").split(","):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"IVR_REDIS_SENTINELS: {item!r} is not host:port")
        found.append((host.strip("[]"), int(port)))
    return found


def redis_min_replicas(config: dict) -> int:
    """Replicas a confirmed write must reach: REDIS_MIN_REPLICAS, else 1 with Sentinels and 0 without."""
    value = config.get("REDIS_MIN_REPLICAS")
    if value is None or str(value).strip() == "":
        return 1 if redis_sentinels(config) else 0
    return max(0, int(value))


def redis_url(config: dict) -> str:
    """Where Redis is, as one address that ``ivr.store.connect`` (and the login limiter) understand.

    With IVR_REDIS_SENTINELS: ``redis+sentinel://[:password@]host:port,host:port/service`` with the
    replication settings in its query (``min_replicas``, ``replica_wait_ms``, ``sentinel_password``);
    else REDIS_URL, else the embedded server's socket under DATA_DIR.
    """
    sentinels = redis_sentinels(config)
    if not sentinels:
        return config.get("REDIS_URL") or f"unix://{embedded_redis_socket(config['DATA_DIR'])}"
    from urllib.parse import quote, urlencode

    password = str(config.get("REDIS_PASSWORD") or "")
    auth = f":{quote(password, safe='')}@" if password else ""
    hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in sentinels)
    query = {
        "min_replicas": redis_min_replicas(config),
        "replica_wait_ms": int(config.get("REDIS_REPLICA_WAIT_MS") or Defaults.REDIS_REPLICA_WAIT_MS),
    }
    if config.get("REDIS_SENTINEL_PASSWORD"):
        query["sentinel_password"] = str(config["REDIS_SENTINEL_PASSWORD"])
    service = quote(str(config.get("REDIS_SERVICE") or Defaults.REDIS_SERVICE), safe="")
    return f"redis+sentinel://{auth}{hosts}/{service}?{urlencode(query)}"


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

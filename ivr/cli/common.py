"""What the `ivr` commands share: settings, the Redis connection, who ran the command, the clinic's settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ivr import config as config_module


def read_settings() -> dict:
    """The settings the CLI needs, from the same sources as the app."""
    settings = {k: getattr(config_module.Defaults, k) for k in dir(config_module.Defaults) if k.isupper()}
    config_module.load_environment(settings)
    for key, value in os.environ.items():
        if key.startswith("IVR_") and value:
            settings[key[4:]] = value
    return settings


def connect_redis():
    """The Redis the app uses (REDIS_URL, else the embedded server's socket), or exit 1."""
    import redis

    from ivr.store import connect

    conn = connect(config_module.redis_url(read_settings()), timeout=5)
    try:
        conn.ping()
    except redis.RedisError as exc:
        click.echo(f"cannot reach Redis ({exc.__class__.__name__}): start `ivr serve` first (or set REDIS_URL)", err=True)
        sys.exit(1)
    return conn


def operator() -> str:
    """Who ran the command, for the audit log: cli:<login name>."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def clinic_or_exit():
    """The clinic's settings (config/clinic.yaml), or its error and exit 1."""
    from ivr.clinic.settings import ClinicConfigError, load_clinic

    try:
        return load_clinic(Path(read_settings()["CONFIG_DIR"]) / "clinic.yaml")
    except ClinicConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)

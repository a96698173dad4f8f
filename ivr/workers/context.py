"""What jobs need from outside: a Redis connection and the clinic settings.

A worker process sets these up once (``ivr worker``); jobs call ``get``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import redis

from ivr.clinic import ClinicSettings, load_clinic
from ivr.config import Defaults, redis_url
from ivr.sealing import Sealer
from ivr.store import connect


@dataclass(frozen=True)
class JobContext:
    redis: redis.Redis
    clinic: ClinicSettings
    data_dir: str
    sealer: Sealer  # encrypts recordings and transcripts at rest (IVR_DATA_KEY)


@lru_cache(maxsize=1)
def get() -> JobContext:
    config_dir = Path(os.environ.get("IVR_CONFIG_DIR") or Defaults.CONFIG_DIR)
    settings = {
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "DATA_DIR": os.environ.get("IVR_DATA_DIR") or Defaults.DATA_DIR,
    }
    return JobContext(
        redis=connect(redis_url(settings), timeout=5),
        clinic=load_clinic(config_dir / "clinic.yaml"),
        data_dir=settings["DATA_DIR"],
        sealer=Sealer.from_settings(os.environ.get("IVR_DATA_KEY", ""), settings["DATA_DIR"]),
    )

"""What jobs need from outside: a Redis connection and the clinic settings.

A worker process sets these up once (``ivr worker``); jobs call ``get``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import redis

from ivr.clinic.settings import ClinicSettings, load_clinic
from ivr.config import environment_settings
from ivr.protection.sealing import Sealer
from ivr.store import connect_from_config


@dataclass(frozen=True)
class JobContext:
    redis: redis.Redis
    clinic: ClinicSettings
    data_dir: str
    sealer: Sealer  # encrypts recordings and transcripts at rest (IVR_DATA_KEY)


@lru_cache(maxsize=1)
def get() -> JobContext:
    settings = environment_settings()  # REDIS_URL or IVR_REDIS_SENTINELS (ivr.store.connect), IVR_DATA_DIR, ...
    return JobContext(
        redis=connect_from_config(settings, timeout=5),
        clinic=load_clinic(Path(settings["CONFIG_DIR"]) / "clinic.yaml"),
        data_dir=settings["DATA_DIR"],
        sealer=Sealer.from_settings(str(settings.get("DATA_KEY") or ""), settings["DATA_DIR"]),
    )

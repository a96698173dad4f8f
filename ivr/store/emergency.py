"""The emergency "clinic closed" switch: one Redis hash every web process reads per incoming call.

While it is on, every new call hears the message (per language) and is rung
through to a desk (the on-call line), with voicemail if nobody answers.
Reading it never fails a call: any Redis problem reads as "off", and the
normal flow (with its own safe fallback) answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import redis

from . import keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Emergency:
    on: bool
    desk: str = ""
    messages: dict[str, str] = field(default_factory=dict)  # lang -> text
    who: str = ""
    at: float = 0.0

    @property
    def when(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(self.at, dt.timezone.utc) if self.at else None


OFF = Emergency(on=False)


class EmergencySwitch:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    def get(self) -> Emergency:
        """The switch as stored (raises on Redis errors; see :meth:`current`)."""
        return self.parse(self.conn.hgetall(keys.EMERGENCY))

    @staticmethod
    def read_into(pipe: redis.client.Pipeline) -> None:
        """Queue the switch's read on ``pipe`` (one round trip with other reads); ``parse`` its answer."""
        pipe.hgetall(keys.EMERGENCY)

    @staticmethod
    def parse(raw: dict) -> Emergency:
        if not raw:
            return OFF
        f = {k.decode(): v.decode() for k, v in raw.items()}
        messages = {k.split(":", 1)[1]: v for k, v in f.items() if k.startswith("message:")}
        return Emergency(f.get("on") == "1", f.get("desk", ""), messages, f.get("who", ""), float(f.get("at") or 0))

    def current(self) -> Emergency:
        """For the voice webhooks: the switch, or OFF when Redis cannot be read."""
        try:
            return self.get()
        except (redis.RedisError, OSError, ValueError):
            log.warning("emergency switch unreadable; treated as off")
            return OFF

    def set(self, on: bool, desk: str, messages: dict[str, str], who: str) -> Emergency:
        at = dt.datetime.now(dt.timezone.utc).timestamp()
        mapping = {"on": "1" if on else "0", "desk": desk, "who": who, "at": f"{at:.3f}"}
        mapping.update({f"message:{lang}": text for lang, text in messages.items()})
        pipe = self.conn.pipeline()
        pipe.delete(keys.EMERGENCY)
        pipe.hset(keys.EMERGENCY, mapping=mapping)
        pipe.execute()
        return self.get()

"""Which API key scope owns each appointment: a key sees and changes only its own scope's.

    scopes = AppointmentScopes(conn)
    mine = scopes.claim([(appointment_id, creates)], key.scope)  # [True/False] per item

One hash, appointment id -> scope (``keys.FOLLOWUP_SCOPES``). An appointment's owner is the
scope that created it through the API. One that has none yet (stored before scopes existed, or
by ``ivr followups import``) is taken by the first scope that touches it; one that does not exist
is taken only by a request that creates it (POST or PUT with an appointment), so asking about,
or cancelling, an id that is not there reserves nothing. All in one script per item: two keys
creating one id at once cannot both own it.
"""

from __future__ import annotations

from typing import Iterable

import redis

from . import keys

# KEYS: scopes, appointment.  ARGV: id, scope, creates (1/0).  1: the scope may touch it, 0: another's.
_CLAIM = """
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner then return owner == ARGV[2] and 1 or 0 end
if ARGV[3] == '1' or redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
"""


class AppointmentScopes:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._claim = conn.register_script(_CLAIM)

    def claim(self, items: Iterable[tuple[str, bool]], scope: str) -> list[bool]:
        """For each (appointment id, whether the request creates it): may ``scope`` touch it? One round trip."""
        items = list(items)
        if not items:
            return []
        pipe = self.conn.pipeline(transaction=False)
        for appointment_id, creates in items:
            self._claim(keys=[keys.FOLLOWUP_SCOPES, keys.FOLLOWUP_APPOINTMENT.format(appointment_id)],
                        args=[appointment_id, scope, 1 if creates else 0], client=pipe)
        return [bool(r) for r in pipe.execute()]

    def allows(self, appointment_id: str, scope: str, creates: bool = False) -> bool:
        return self.claim([(appointment_id, creates)], scope)[0]

    def owner(self, appointment_id: str) -> str | None:
        value = self.conn.hget(keys.FOLLOWUP_SCOPES, appointment_id)
        return value.decode() if isinstance(value, bytes) else value

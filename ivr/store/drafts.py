"""Unsaved outcomes: what a staff member has ticked and typed on a callback's page, kept while she types.

The callback page sends the outcome and note a moment after each change
(``POST /console/callbacks/<id>/draft``), so an idle logout, a closed tab or a
dead battery loses nothing: after logging in again the page shows them again.

* ``STAFF_DRAFT:{user}:{callback id}``  hash: ``outcome`` (a callbacks.Outcome value or ""),
                                        ``note`` (sealed like transcripts: notes may hold patient
                                        details), ``at`` (epoch seconds, the app's clock). Expires
                                        ``TTL`` seconds after the last change; deleted when the
                                        outcome is saved or the callback given back.

A draft is only ever read by the user who wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from ivr.protection.sealing import Sealer, SealError

from . import keys

TTL = 24 * 3600  # a draft outlives any session (STAFF_SESSION_HOURS) and a night's break
MAX_NOTE = 500  # as the outcome form's note


@dataclass(frozen=True)
class Draft:
    outcome: str
    note: str
    at: float


def _context(user: str, callback_id: str) -> str:
    return f"draft:{user}:{callback_id}"


class DraftStore:
    """Drafts per user and callback; notes sealed with the install's data key."""

    def __init__(self, conn: redis.Redis, sealer: Sealer, ttl: int = TTL) -> None:
        self.conn = conn
        self.sealer = sealer
        self.ttl = ttl

    def save(self, user: str, callback_id: str, outcome: str, note: str, now: float) -> None:
        """Keep what is on the form now (both fields empty: forget the draft)."""
        key = keys.STAFF_DRAFT.format(user, callback_id)
        note = note[:MAX_NOTE]
        if not outcome and not note.strip():
            self.conn.delete(key)
            return
        sealed = self.sealer.seal_text(note, _context(user, callback_id))
        pipe = self.conn.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping={"outcome": outcome, "note": sealed, "at": repr(float(now))})
        pipe.expire(key, self.ttl)
        pipe.execute()

    def get(self, user: str, callback_id: str) -> Draft | None:
        raw = self.conn.hgetall(keys.STAFF_DRAFT.format(user, callback_id))
        if not raw:
            return None
        f = {k.decode(): v.decode() for k, v in raw.items()}
        try:
            note = self.sealer.open_text(f.get("note", ""), _context(user, callback_id))
        except SealError:
            note = ""
        return Draft(outcome=f.get("outcome", ""), note=note, at=float(f.get("at") or 0))

    def delete(self, user: str, callback_id: str) -> None:
        self.conn.delete(keys.STAFF_DRAFT.format(user, callback_id))

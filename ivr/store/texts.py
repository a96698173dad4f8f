"""Texts (SMS) to patients in Redis: the per-patient counts, one text per purpose, what each callback
was texted and answered, delivery status, the number type, opt-outs.

Layout (names in ``keys``; ``{patient}`` is ``followups.patient_key(phone)``, a digest, never the number):

* ``TEXT_SENT:{patient}``      zset ``purpose:ref`` -> time, the texts that count toward the limits
                               (per day in the patient's zones, per 7 x 24 hours), 8 days.
* ``TEXT_GUARD:{purpose}:{ref}`` set once (SET NX, in the same script that re-checks the opt-out and
                               the limits) before the REST request: a job run twice never texts twice.
* ``TEXT_MESSAGE:{MessageSid}`` hash: ``callback``, ``purpose``, ``status`` (Twilio's), ``error``.
* ``TEXT_LOG:{callback id}``   list of JSON lines, newest first: what was sent (purpose, sid), not sent
                               (reason), the patient's replies (``reply``: sealed), opt-outs, cancel.
* ``TEXT_LATEST:{patient}``    the callback last texted about: a reply after it closed still lands there.
* ``TEXT_LINE:{patient}``      ``mobile``/``landline``/... and where it came from (``lookup``,
                               ``keypad``), 30 days.
* ``TEXT_REFUSED``             Twilio's error code when it refused a text for the Messaging Service
                               itself (no sender number...): shown on Setup and /healthz until a text goes.

Opt-outs are the follow-up do-not-call list (``FOLLOWUP_DO_NOT_CALL``): a patient who texts STOP
gets no more texts and no follow-up calls, and one who pressed 9 on a follow-up call gets no texts.
START takes off only an opt-out that came by text.

Bodies are never stored or logged: a text is known by its purpose; a reply is sealed (IVR_DATA_KEY)
like a transcript and opened for the callback's page.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import redis

from ivr.protection.sealing import Sealer

from . import keys
from .followups import patient_key

SENT_KEEP = 8 * 86400
GUARD_TTL = 30 * 86400
LOG_TTL = 40 * 86400  # longer than a finished callback is kept (35 days)
LOG_CAP = 50
LINE_TTL = 30 * 86400
TEXT_SOURCE = "text"  # do-not-call entries made by a text start with this

# Twilio's message statuses in order; final ones share the last rank.
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3, "receiving": 3, "received": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "read": 5, "canceled": 4}

# KEYS: guard, sent zset, do-not-call hash. ARGV: patient, now, day start, per day, per week, member, guard ttl,
# sent keep. Returns 'ok' or why not.
_CLAIM = """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 'opted_out' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'guarded' end
local now = tonumber(ARGV[2])
if redis.call('ZCOUNT', KEYS[2], ARGV[3], '+inf') >= tonumber(ARGV[4]) then return 'daily_limit' end
if redis.call('ZCOUNT', KEYS[2], '(' .. tostring(now - 7 * 86400), '+inf') >= tonumber(ARGV[5]) then
  return 'weekly_limit'
end
redis.call('SET', KEYS[1], 'pending', 'EX', ARGV[7])
redis.call('ZADD', KEYS[2], now, ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. tostring(now - tonumber(ARGV[8])))
redis.call('EXPIRE', KEYS[2], ARGV[8])
return 'ok'
"""

# KEYS: message hash. ARGV: status, rank, error, ttl for a message not yet known. Keeps the furthest status
# (webhooks come in any order, and may come before the job has noted what it sent). Returns the callback id.
_STATUS = """
local old = redis.call('HGET', KEYS[1], 'rank')
if old and tonumber(old) > tonumber(ARGV[2]) then return false end
local known = redis.call('HGET', KEYS[1], 'callback')
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2], 'error', ARGV[3])
if not known then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return known
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


class TextStore:
    def __init__(self, conn: redis.Redis, sealer: Sealer | None = None, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.sealer = sealer
        self.clock = clock
        self._claim = conn.register_script(_CLAIM)
        self._status = conn.register_script(_STATUS)

    # Limits and the guard --------------------------------------------------------

    def past_texts(self, phone: str) -> list[float]:
        """When this patient was texted (epoch seconds), in the last week and a day."""
        return [s for _, s in self.conn.zrangebyscore(
            keys.TEXT_SENT.format(patient_key(phone)), self.clock() - SENT_KEEP, "+inf", withscores=True)]

    def claim(self, phone: str, purpose: str, ref: str, day_start: float, per_day: int, per_week: int) -> str:
        """Take the text's guard if the opt-out and the limits still allow it: 'ok', or why not."""
        patient = patient_key(phone)
        return _text(self._claim(
            keys=[keys.TEXT_GUARD.format(f"{purpose}:{ref}"), keys.TEXT_SENT.format(patient), keys.FOLLOWUP_DO_NOT_CALL],
            args=[patient, repr(self.clock()), repr(day_start), per_day, per_week, f"{purpose}:{ref}", GUARD_TTL,
                  SENT_KEEP],
        ))

    def guarded(self, purpose: str, ref: str) -> bool:
        """Whether this text was sent, or may have been (a run took its guard)."""
        return bool(self.conn.exists(keys.TEXT_GUARD.format(f"{purpose}:{ref}")))

    def release(self, phone: str, purpose: str, ref: str, *, guard: bool) -> None:
        """The text was certainly not sent: it no longer counts; ``guard``: another run may try again."""
        pipe = self.conn.pipeline(transaction=True)
        pipe.zrem(keys.TEXT_SENT.format(patient_key(phone)), f"{purpose}:{ref}")
        if guard:
            pipe.delete(keys.TEXT_GUARD.format(f"{purpose}:{ref}"))
        pipe.execute()

    def sent(self, callback_id: str, phone: str, purpose: str, ref: str, message_sid: str, status: str) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.set(keys.TEXT_GUARD.format(f"{purpose}:{ref}"), message_sid, ex=GUARD_TTL)
        pipe.hset(keys.TEXT_MESSAGE.format(message_sid), mapping={"callback": callback_id or "-", "purpose": purpose})
        pipe.expire(keys.TEXT_MESSAGE.format(message_sid), LOG_TTL)
        self._status(keys=[keys.TEXT_MESSAGE.format(message_sid)], args=[status, STATUS_RANK.get(status, 1), "", LOG_TTL],
                     client=pipe)  # a report that came first stands
        if callback_id:
            pipe.set(keys.TEXT_LATEST.format(patient_key(phone)), callback_id, ex=LOG_TTL)
        pipe.delete(keys.TEXT_REFUSED)  # a text went: the service works
        pipe.execute()
        if callback_id:
            self.note(callback_id, "sent", purpose=purpose, sid=message_sid)

    def refused_by_service(self, code: int) -> None:
        """Twilio refused a text because of the Messaging Service itself (every text will be): kept until one goes."""
        self.conn.set(keys.TEXT_REFUSED, str(code))

    def service_refusal(self) -> str:
        """The error code of that refusal, or ""."""
        return _text(self.conn.get(keys.TEXT_REFUSED))

    # Delivery status -------------------------------------------------------------

    def set_status(self, message_sid: str, status: str, error: str = "") -> str | None:
        """Twilio's status callback: the callback id the message was about (None: unknown or older news)."""
        found = self._status(keys=[keys.TEXT_MESSAGE.format(message_sid)],
                             args=[status, STATUS_RANK.get(status, 1), error, 86400])
        return _text(found) if found else None

    def message(self, message_sid: str) -> dict[str, str]:
        return {_text(k): _text(v) for k, v in self.conn.hgetall(keys.TEXT_MESSAGE.format(message_sid)).items()}

    # What a callback was texted and answered ------------------------------------------

    def note(self, callback_id: str, kind: str, **details: Any) -> None:
        """One line on the callback's texts: kind ``sent``, ``not_sent``, ``reply``, ``opted_out``, ..."""
        reply = details.pop("reply", None)
        if reply is not None and self.sealer is not None:
            details["reply"] = self.sealer.seal_text(reply, f"text-reply:{callback_id}")
        line = json.dumps({"at": self.clock(), "kind": kind, **details})
        name = keys.TEXT_LOG.format(callback_id)
        pipe = self.conn.pipeline(transaction=True)
        pipe.lpush(name, line)
        pipe.ltrim(name, 0, LOG_CAP - 1)
        pipe.expire(name, LOG_TTL)
        pipe.execute()

    def log(self, callback_id: str) -> list[dict]:
        """The callback's text lines, newest first, replies opened and each sent text with its status."""
        lines = [json.loads(x) for x in self.conn.lrange(keys.TEXT_LOG.format(callback_id), 0, LOG_CAP - 1)]
        sids = [line["sid"] for line in lines if line.get("sid")]
        if sids:
            pipe = self.conn.pipeline(transaction=False)
            for sid in sids:
                pipe.hmget(keys.TEXT_MESSAGE.format(sid), "status", "error")
            statuses = dict(zip(sids, pipe.execute()))
            for line in lines:
                if line.get("sid"):
                    status, error = statuses[line["sid"]]
                    line["status"], line["error"] = _text(status), _text(error)
        for line in lines:
            if "reply" in line and self.sealer is not None:
                line["reply"] = self.sealer.open_text(line["reply"], f"text-reply:{callback_id}")
        return lines

    def latest_callback(self, phone: str) -> str | None:
        found = self.conn.get(keys.TEXT_LATEST.format(patient_key(phone)))
        return _text(found) if found else None

    # The patient's own texts and their answers ------------------------------------------

    def record_inbound(self, message_sid: str, phone: str, callback_id: str) -> bool:
        """Keep who sent an inbound text for a day (the answer job reads it); False if it was seen before."""
        name = keys.TEXT_MESSAGE.format(message_sid)
        if not self.conn.hsetnx(name, "from", phone):
            return False
        self.conn.hset(name, mapping={"callback": callback_id or "-", "purpose": "inbound"})
        self.conn.expire(name, 86400)
        return True

    def inbound_sender(self, message_sid: str) -> str:
        return _text(self.conn.hget(keys.TEXT_MESSAGE.format(message_sid), "from"))

    def claim_answer(self, answer: str, inbound_sid: str) -> bool:
        return bool(self.conn.set(keys.TEXT_GUARD.format(f"answer:{inbound_sid}"), answer, nx=True, ex=GUARD_TTL))

    def release_answer(self, answer: str, inbound_sid: str) -> None:
        self.conn.delete(keys.TEXT_GUARD.format(f"answer:{inbound_sid}"))

    def answered(self, callback_id: str, answer: str, message_sid: str, status: str) -> None:
        name = keys.TEXT_MESSAGE.format(message_sid)
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(name, mapping={"callback": callback_id or "-", "purpose": answer})
        pipe.expire(name, LOG_TTL)
        self._status(keys=[name], args=[status, STATUS_RANK.get(status, 1), "", LOG_TTL], client=pipe)
        pipe.delete(keys.TEXT_REFUSED)
        pipe.execute()
        if callback_id:
            self.note(callback_id, "sent", purpose=answer, sid=message_sid)

    # Number type ----------------------------------------------------------------

    def set_line_type(self, phone: str, line_type: str, source: str) -> None:
        self.conn.set(keys.TEXT_LINE.format(patient_key(phone)), f"{line_type}|{source}", ex=LINE_TTL)

    def line_type(self, phone: str) -> tuple[str, str]:
        """(type, source) as last learnt, or ("", "")."""
        found = _text(self.conn.get(keys.TEXT_LINE.format(patient_key(phone))))
        kind, _, source = found.partition("|")
        return kind, source

    # Opt-outs (the do-not-call list) --------------------------------------------------

    def opt_out(self, phone: str, word: str) -> bool:
        """No more texts or follow-up calls for this number (True if it was not on the list)."""
        entry = json.dumps({"at": self.clock(), "source": f"{TEXT_SOURCE}:{word}"[:40], "last4": phone[-4:]})
        return bool(self.conn.hsetnx(keys.FOLLOWUP_DO_NOT_CALL, patient_key(phone), entry))

    def opted_out(self, phone: str) -> bool:
        return bool(self.conn.hexists(keys.FOLLOWUP_DO_NOT_CALL, patient_key(phone)))

    def opt_in(self, phone: str) -> bool:
        """START: off the list, if a text put it there (a "do not call" said on a call or set by staff stays)."""
        name, patient = keys.FOLLOWUP_DO_NOT_CALL, patient_key(phone)
        found = self.conn.hget(name, patient)
        if not found or not str(json.loads(found).get("source", "")).startswith(TEXT_SOURCE):
            return False
        return bool(self.conn.hdel(name, patient))

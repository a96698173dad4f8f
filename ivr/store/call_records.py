"""One compact record per finished call, for the reports page (no patient data).

Layout (names in ``keys``):

* ``CALL_RECORDS:{clinic date}``  list of packed rows (``CallRecord.pack``), one per call that arrived
  that clinic day, in the order they ended. It expires ``keep_days`` after that day (Redis prunes it).
* ``CALL_RECORDED:{CallSid}``     string, one day: the call already has its row (a status callback
  Twilio sends again adds nothing).
* ``REPORT_TOTALS``               hash of counters that only grow (Prometheus reads them): see ``metric_fields``.
* ``REPORT_TALLY:{clinic date or YYYY-MM}``  hash: the reports' counts of a past day, or of a whole past month
  (``ivr.reports.figures.Tally`` as JSON), one field per department/definitions/zone, with what they were
  counted from (each day's row count and last row, the callbacks' rows around it); shared by every web
  process, so a fresh one does not count a year again. A day whose rows changed since (a call that ended
  after midnight, a callback finished later) does not match and is counted again (its month too).
  Expires with the (last) day's list.

A row holds when the call arrived, its flow and version, language, the steps it passed (as indexes
into that flow version's nodes, resolved with the stored version), where it ended, seconds from arrival
to the queue, to a person, to a promise and to the end, key presses and spoken answers, and whether
the clinic was open. No number, name, CallSid or transcript. About 60-80 bytes each; in a list's
listpack a stored call costs little more than that (``benches/reports_bench.py`` measures it).

Writing is one Lua script: one round trip, added to the status callback's work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import redis

from . import keys

DEFAULT_KEEP_DAYS = 400
RECORDED_TTL = 86400

# Where a call ended: code -> words (the reports page and the CSV say the words).
OUTCOMES: dict[str, str] = {
    "A": "A desk answered",
    "C": "Callback requested",
    "V": "Voicemail left",
    "E": "Hung up at the voicemail tone",
    "W": "Hung up while ringing, holding or at the callback offer",
    "M": "Hung up in the menu",
    "G": "Goodbye (the flow ended the call)",
    "F": "Fallback: apology and the fallback desk",
    "X": "Emergency switch on",
    "N": "Ended before the menus (no call state)",
}
SERVED = frozenset("ACV")  # reached a person, or a promise kept (callback, voicemail)
ABANDONED = frozenset("EW")  # reached a queue, hung up before a person or a promise

# KEYS: recorded flag, day list, totals. ARGV: row, expire-at (epoch), recorded ttl, then field, increment pairs.
_RECORD = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIREAT', KEYS[2], ARGV[2])
for i = 4, #ARGV - 1, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
return 1
"""

# Histogram buckets (seconds) for time to a person or promise, and to a callback (Prometheus).
BUCKETS = (10, 20, 30, 45, 60, 90, 120, 180, 300, 600)
CALLBACK_BUCKETS = (300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200)
TALLY_FORMAT = "2"  # change when the cached counts' shape changes: counts cached before are not read


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def _opt(value: int | None) -> str:
    return "" if value is None else str(int(value))


def _unopt(text: str) -> int | None:
    return int(text) if text else None


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ made unpacking a year of rows twice as slow
class CallRecord:
    """One finished call. Seconds are counted from arrival; None: it never got there."""

    arrived: int  # epoch seconds
    flow: str = ""
    version: str = ""
    lang: str = ""
    path: tuple[int, ...] = ()  # indexes into list(flow.nodes) of that version
    outcome: str = "N"
    department: str = ""  # desk / department the call ended at (empty: none, e.g. hung up in the menu)
    first_prompt_ms: int | None = None
    to_queue: int | None = None  # reached a desk, hold, callback offer or voicemail
    to_person: int | None = None  # a desk answered
    to_promise: int | None = None  # callback stored or voicemail kept
    to_end: int = 0
    keys: int = 0  # answers by key press
    speech: int = 0  # answers by speech
    open: str = "o"  # o open, c closed, h holiday

    def pack(self) -> str:
        return "|".join((
            str(self.arrived), self.flow, self.version, self.lang, ".".join(_b36(i) for i in self.path),
            self.outcome, self.department, _opt(self.first_prompt_ms), _opt(self.to_queue), _opt(self.to_person),
            _opt(self.to_promise), str(self.to_end), str(self.keys), str(self.speech), self.open,
        ))

    @classmethod
    def unpack(cls, raw: bytes | str) -> "CallRecord":
        text = raw.decode() if isinstance(raw, bytes) else raw
        (arrived, flow, version, lang, path, outcome, dept, fp, tq, tp, tpr, tend, k, v, open_) = text.split("|")
        return cls(
            int(arrived), flow, version, lang, tuple(int(p, 36) for p in path.split(".")) if path else (),
            outcome, dept, _unopt(fp), _unopt(tq), _unopt(tp), _unopt(tpr), int(tend), int(k), int(v), open_,
        )

    @property
    def served_seconds(self) -> int | None:
        """Seconds to a person, else to a promise."""
        return self.to_person if self.to_person is not None else self.to_promise


def metric_fields(rec: CallRecord, service_level_seconds: int) -> list[str]:
    """The REPORT_TOTALS counters this call adds one to (labels: outcome codes and department names only)."""
    dept = rec.department or "none"
    out = [f"calls|{rec.outcome}|{dept}"]
    if rec.to_queue is not None:
        out.append(f"queued|{dept}")
        if rec.outcome in ABANDONED:
            out.append(f"abandoned|{dept}")
        served = rec.served_seconds
        if rec.outcome in SERVED and served is not None:
            out.append(f"served|{dept}")
            if served <= service_level_seconds:
                out.append(f"served_in_sl|{dept}")
            le = next((b for b in BUCKETS if served <= b), "inf")
            kind = "person" if rec.to_person is not None else "promise"
            out.append(f"ttp|{kind}|{dept}|{le}")
            out.append(f"ttp_sum|{kind}|{dept}|{served}")
    return out


class CallRecords:
    def __init__(self, conn: redis.Redis, keep_days: int = DEFAULT_KEEP_DAYS) -> None:
        self.conn = conn
        self.keep_days = int(keep_days)
        self._record = conn.register_script(_RECORD)

    def expire_at(self, day: dt.date) -> int:
        end = dt.datetime.combine(day + dt.timedelta(days=self.keep_days + 1), dt.time(), dt.timezone.utc)
        return int(end.timestamp())

    def record(self, call_sid: str, day: dt.date, rec: CallRecord, fields: Iterable[str] = ()) -> bool:
        """Keep ``rec`` under its clinic ``day``, once per call. True if kept now."""
        args: list = [rec.pack(), self.expire_at(day), RECORDED_TTL]
        for name in fields:
            if name.startswith("ttp_sum|"):
                base, _, value = name.rpartition("|")
                args += [base, int(value)]
            else:
                args += [name, 1]
        names = [keys.CALL_RECORDED.format(call_sid), keys.CALL_RECORDS.format(day.isoformat()), keys.REPORT_TOTALS]
        return bool(self._record(keys=names, args=args))

    def add_raw(self, day: dt.date, rows: Sequence[str], pipe=None) -> None:
        """Append packed rows (benches, imports)."""
        target = pipe if pipe is not None else self.conn
        target.rpush(keys.CALL_RECORDS.format(day.isoformat()), *rows)
        target.expireat(keys.CALL_RECORDS.format(day.isoformat()), self.expire_at(day))

    def days(self, days: Sequence[dt.date]) -> dict[dt.date, list[bytes]]:
        """Every packed row of each clinic day, in one round trip."""
        pipe = self.conn.pipeline(transaction=False)
        for day in days:
            pipe.lrange(keys.CALL_RECORDS.format(day.isoformat()), 0, -1)
        return dict(zip(days, pipe.execute()))

    def read(self, days: Sequence[dt.date]) -> list[CallRecord]:
        return [CallRecord.unpack(r) for rows in self.days(days).values() for r in rows]

    def fingerprints(self, days: Sequence[dt.date], zone) -> dict[dt.date, str]:
        """What each clinic day's counts are made from: its row count and last row (rows are only appended;
        pruning drops the list), the row counts of the callbacks' lists of the UTC days around it and the
        number of follow-up appointments that day. One round trip."""
        utc_days = sorted({day + dt.timedelta(days=i) for day in days for i in (-1, 0, 1)})
        pipe = self.conn.pipeline(transaction=False)
        for day in days:
            pipe.llen(keys.CALL_RECORDS.format(day.isoformat()))
            pipe.lindex(keys.CALL_RECORDS.format(day.isoformat()), -1)
            start = dt.datetime.combine(day, dt.time(), zone).timestamp()
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).timestamp()
            pipe.zcount(keys.FOLLOWUP_APPOINTMENTS, start, f"({end}")
        for day in utc_days:
            pipe.llen(keys.CALLBACK_RECORDS.format(day.isoformat()))
        replies = pipe.execute()
        ended = dict(zip(utc_days, replies[3 * len(days):]))
        out = {}
        for i, day in enumerate(days):
            length, last, followups = replies[3 * i:3 * i + 3]
            around = ".".join(str(ended[day + dt.timedelta(days=k)]) for k in (-1, 0, 1))
            out[day] = f"{length}:{hashlib.blake2b(last or b'', digest_size=6).hexdigest()}:{around}:{followups}"
        return out

    def cached_tallies(self, parts: dict[str, str], variant: str) -> dict[str, str]:
        """The counts kept (JSON) of parts of a range (label: a date, or a month "YYYY-MM" -> the fingerprint
        of what it holds now) that were made from what they hold now; one round trip."""
        labels = list(parts)
        pipe = self.conn.pipeline(transaction=False)
        for label in labels:
            pipe.hget(keys.REPORT_TALLY.format(label), f"{TALLY_FORMAT}|{variant}")
        out = {}
        for label, raw in zip(labels, pipe.execute()):
            if raw:
                fingerprint, _, counts = raw.decode().partition("\n")
                if fingerprint == parts[label]:
                    out[label] = counts
        return out

    def keep_tallies(self, variant: str, counts: dict[str, tuple[str, str, dt.date]]) -> None:
        """Keep parts' counts (label -> (fingerprint, JSON, its last day: they expire with that day's rows))
        for every web process; one round trip."""
        pipe = self.conn.pipeline(transaction=False)
        for label, (fingerprint, text, last) in counts.items():
            key = keys.REPORT_TALLY.format(label)
            pipe.hset(key, f"{TALLY_FORMAT}|{variant}", f"{fingerprint}\n{text}")
            pipe.expireat(key, self.expire_at(last))
        pipe.execute()

    def totals(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.conn.hgetall(keys.REPORT_TOTALS).items()}


@dataclass
class Marks:
    """What the call's webhooks note for its record, kept in the call's own hash (same round trip as its state)."""

    fields: dict[str, str] = field(default_factory=dict)  # HSETNX: first value wins
    counts: dict[str, int] = field(default_factory=dict)  # HINCRBY

    def args(self) -> list[str]:
        out: list[str] = []
        for name, value in self.fields.items():
            out += [name, value]
        for name, n in self.counts.items():
            out += ["+" + name, str(n)]
        return out


MARK_FIELDS = ("m:t0", "m:fp", "m:tq", "m:tp", "m:tpr", "m:k", "m:v", "m:open", "m:fb", "m:em")


# Callbacks' lifecycle, kept as long as the call records (the callback's own hash goes 35 days after it ends).
# One row per callback that ended (done or closed), under the UTC date it ended:
# requested_at|first_claimed_at|finished_at|status|outcome|attempts|urgent|source|department (no number, no name).
class CallbackLifecycle:
    def __init__(self, conn: redis.Redis, keep_days: int = DEFAULT_KEEP_DAYS) -> None:
        self.conn = conn
        self.keep_days = int(keep_days)

    def record(self, fields: dict[str, str]) -> None:
        finished = float(fields.get("finished_at") or 0)
        day = dt.datetime.fromtimestamp(finished, dt.timezone.utc).date()
        row = "|".join((
            str(int(float(fields.get("requested_at") or 0))), str(int(float(fields.get("first_claimed_at") or 0))),
            str(int(finished)), fields.get("status", ""), fields.get("outcome", ""), fields.get("attempts", "0"),
            "1" if fields.get("urgent") in ("1", "True", "true") else "0", fields.get("source", ""),
            fields.get("department", ""),
        ))
        key = keys.CALLBACK_RECORDS.format(day.isoformat())
        end = dt.datetime.combine(day + dt.timedelta(days=self.keep_days + 1), dt.time(), dt.timezone.utc)
        pipe = self.conn.pipeline(transaction=False)
        pipe.rpush(key, row)
        pipe.expireat(key, int(end.timestamp()))
        dept = fields.get("department", "") or "none"
        pipe.hincrby(keys.REPORT_TOTALS, f"cb|{fields.get('status', '')}|{dept}", 1)
        if fields.get("status") == "done":  # time to callback (Prometheus): request -> reached or message left
            seconds = max(0, int(finished - float(fields.get("requested_at") or finished)))
            le = next((b for b in CALLBACK_BUCKETS if seconds <= b), "inf")
            pipe.hincrby(keys.REPORT_TOTALS, f"ttc|{dept}|{le}", 1)
            pipe.hincrby(keys.REPORT_TOTALS, f"ttc_sum|{dept}", seconds)
        pipe.execute()

    @staticmethod
    def _parse(raw: bytes) -> dict:
        req, claim, fin, status, outcome, attempts, urgent, source, dept = raw.decode().split("|")
        return {"requested": int(req), "first_claimed": int(claim), "finished": int(fin), "status": status,
                "outcome": outcome, "attempts": int(attempts), "urgent": urgent == "1", "source": source,
                "department": dept}

    def ended_on(self, days: Sequence[dt.date], zone) -> dict[dt.date, list[dict]]:
        """Callbacks that ended on each clinic day (in ``zone``), in one round trip."""
        utc_days = sorted({day + dt.timedelta(days=i) for day in days for i in (-1, 0, 1)})
        pipe = self.conn.pipeline(transaction=False)
        for day in utc_days:
            pipe.lrange(keys.CALLBACK_RECORDS.format(day.isoformat()), 0, -1)
        out: dict[dt.date, list[dict]] = {day: [] for day in days}
        for rows in pipe.execute():
            for raw in rows:
                row = self._parse(raw)
                day = dt.datetime.fromtimestamp(row["finished"], zone).date()
                if day in out:
                    out[day].append(row)
        return out

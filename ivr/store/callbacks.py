"""Callbacks instead of hold: per-department queues, claims as leases, retries, history, statistics.

Layout (names in ``keys``):

* ``CALLBACK:{id}``            hash: the fields of :class:`Callback` as strings, plus ``place``
                               (its score in the queue) and ``first_claimed_at``.
* ``CALLBACK_QUEUE:{dept}``    zset of waiting ids. Score = *place*: ``requested_at`` (epoch
                               seconds, the time the patient asked), minus ``URGENT_SHIFT`` (1e10 s,
                               ~317 years) when urgent. So urgent ones come first, each group
                               oldest first; a callback keeps its place however often it comes
                               back (lease expiry, release, retry).
* ``CALLBACK_LEASES:{dept}``   zset claimed id -> lease deadline; ``CALLBACK_SCHEDULED:{dept}``
                               zset retry id -> not_before.
* ``CALLBACK_PHONES:{dept}``   hash phone -> id of the open (waiting/claimed/scheduled)
                               callback: one per number and department.
* ``CALLBACK_CALL:{dept}:{CallSid}`` -> id for a day: a replayed webhook gets the same request.
* ``CALLBACK_STAFF:{staff}``   set of ids a staff member holds.
* ``CALLBACK_HISTORY:{sha1(phone)}`` capped list of JSON events, newest first (the key
                               name carries a digest, not the number). Each event has
                               ``event``, ``id``, ``department``, ``at`` (epoch s), and per kind:
                               requested / requested_again (source), claimed (staff, attempt),
                               lease_expired / released / retry_due (back in line), outcome
                               (staff, outcome, note, status, attempts), retry_scheduled
                               (not_before, attempt), closed (note), urgent, escalated,
                               cancelled (by the patient on the phone: ``cancel``).
* ``CALLBACK_EVENTS:{dept}``   zset ``kind|id|seconds`` by time for statistics: ``claim``
                               (first claim; seconds waited), ``done``, ``closed`` and
                               ``cancelled`` (seconds from request to the end).
* ``CALLBACK_HANDLING:{dept}`` last ``HANDLING_KEEP`` claim->finish durations;
  ``CALLBACK_FINISHERS:{dept}`` staff -> their last finish (who is working the queue).

Every change of state is one Lua script, so it is atomic; after it, a small event
(department, kind, id: no patient data) goes to the open consoles (``ivr.store.events``). Scripts that act on
callbacks found while running build key names from the ``keys`` templates
(the part before ``{0}``): fine on a single Redis, not on Redis Cluster.
Phone numbers are patient data: nothing here logs them, and key names carry
only an (unsalted, so not secret) digest of them.

Durability: a request is in Redis when ``request`` returns; with the append-only
file and ``appendfsync everysec`` it is on disk within about a second, before a
caller has finished hearing the confirmation prompt. With replication configured
(IVR_REDIS_SENTINELS / IVR_REDIS_MIN_REPLICAS) ``request`` also returns only once
the request is on that many replicas (``ivr.store.durable``), else it raises and
the caller is never told "we will call you back": losing the primary loses no
confirmed request.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from typing import Any, Callable, Sequence

import redis

from . import callback_scripts as lua
from . import durable, keys
from .callback_types import (
    URGENT_SHIFT,
    Callback,
    HoldsTooMany,
    InLine,
    LeaseExpired,
    NotClaimed,
    Outcome,
    Placed,
    RetryPolicy,
    Status,
    UnknownCallback,
    estimate_seconds,
    phone_digest,
)
from .events import LiveEvents
from .records import text as _text

log = logging.getLogger(__name__)

HANDLING_KEEP = 50  # recent handling durations kept per department
STAFF_WINDOW = 3600  # staff who finished a callback this recently count as working the queue
FINISHED_TTL = 35 * 86400  # a done or closed callback's hash is deleted after this
EVENTS_KEEP = 35 * 86400  # statistics events kept (stats windows longer than this see less)
CALL_TTL = 86400  # how long a CallSid maps to its request


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


class CallbackQueue:
    """Per-department callback queues over one Redis connection."""

    def __init__(
        self,
        conn: redis.Redis,
        lease_seconds: int | Callable[[], int] = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conn = conn
        self._lease = lease_seconds
        self.clock = clock
        self._request = conn.register_script(lua.REQUEST)
        self._claim = conn.register_script(lua.CLAIM)
        self._finish = conn.register_script(lua.FINISH)
        self._renew = conn.register_script(lua.RENEW)
        self._release = conn.register_script(lua.RELEASE)
        self._sweep_all = conn.register_script(lua.SWEEP_ALL)
        self._transcript = conn.register_script(lua.TRANSCRIPT)
        self._not_urgent = conn.register_script(lua.NOT_URGENT)
        self._position = conn.register_script(lua.POSITION)
        self._cancel = conn.register_script(lua.CANCEL)
        self._escalate_unattended = conn.register_script(lua.ESCALATE_UNATTENDED)
        self.live = LiveEvents(conn)  # tells open consoles about each change (ivr.store.events)

    # Callers ------------------------------------------------------------

    @property
    def lease_seconds(self) -> int:
        """How long a claim lasts; a callable given at construction is asked each time (live settings)."""
        return int(self._lease() if callable(self._lease) else self._lease)

    def request(
        self,
        department: str,
        phone: str,
        lang: str,
        *,
        caller_id: str = "",
        call_sid: str = "",
        source: str = "call",
        urgent: bool = False,
        urgent_reason: str = "",
        reason_recording_sid: str = "",
        reason_recording_url: str = "",
        requested_at: float | None = None,
    ) -> Placed:
        """Put a patient in line, or find them already there (``created`` False).

        Already open in this department (waiting, claimed or scheduled): the
        existing callback is returned and keeps the earlier place; an urgent
        request makes it urgent, a missing recording is filled in, and a
        scheduled retry comes back into the queue now (the patient is
        reachable). The same ``call_sid`` and department twice: the first
        request, whatever became of it.
        """
        if not department or not phone:
            raise ValueError("a callback needs a department and a phone number")
        now = self.clock()
        at = now if requested_at is None else float(requested_at)
        cb = Callback(
            id=secrets.token_hex(8),
            department=department,
            phone=phone,
            lang=lang,
            requested_at=at,
            caller_id=caller_id,
            call_sid=call_sid,
            source=source,
            urgent=urgent,
            urgent_reason=urgent_reason,
            reason_recording_sid=reason_recording_sid,
            reason_recording_url=reason_recording_url,
        )
        flat = [x for kv in cb.to_fields().items() for x in kv]
        reply = self._request(
            keys=[
                keys.CALLBACK_PHONES.format(department),
                keys.CALLBACK_QUEUE.format(department),
                keys.CALLBACK_SCHEDULED.format(department),
                keys.CALLBACK.format(cb.id),
                keys.CALLBACK_CALL.format(f"{department}:{call_sid}"),
            ],
            args=[
                department, phone, cb.id, repr(now), "1" if call_sid else "", CALL_TTL,
                repr(at), "1" if urgent else "0", urgent_reason,
                reason_recording_sid, reason_recording_url, repr(cb.place), source, *flat,
            ],
        )
        created, position = bool(reply[1]), int(reply[2])
        placed = Placed(cb if created else Callback.from_fields(_pairs(reply[3])), created, position)
        durable(self.conn)  # on the replicas too before anyone is told (raises NotReplicated)
        self.live.publish("urgent" if urgent else "request", placed.callback.id, department)
        return placed

    def open_for_into(self, pipe: redis.client.Pipeline, phone: str) -> None:
        """Queue the question "has ``phone`` a callback in line?" on ``pipe`` (read by ``parse_open_for``).

        One EVAL of a short script: it adds no round trip to the pipeline it joins (a new call's
        first read), and needs no script loaded beforehand.
        """
        pipe.eval(lua.OPEN_FOR, 0, phone, repr(self.clock()), STAFF_WINDOW, HANDLING_KEEP)

    @staticmethod
    def parse_open_for(raw: Any, phone: str) -> InLine | None:
        if not raw:
            return None
        cid, dept, status, lang, position, staff, *durations = raw
        position = int(position)
        return InLine(_text(cid), _text(dept), phone, _text(lang), Status(_text(status)), position,
                      estimate_seconds(position, durations, int(staff)))

    def open_for(self, phone: str) -> InLine | None:
        """The open (waiting, claimed or scheduled) callback for ``phone`` in any department, or None;
        the one longest in line when there are several."""
        if not phone:
            return None
        pipe = self.conn.pipeline(transaction=False)
        self.open_for_into(pipe, phone)
        return self.parse_open_for(pipe.execute()[0], phone)

    def cancel(self, callback_id: str, phone: str, how: str = "on the phone") -> bool:
        """The patient calling (or texting, ``how``) from ``phone`` cancels their open callback: it leaves the
        queue (closed, "cancelled by the patient on the phone"). False if it is not open or not that number's."""
        dept = self._cancel(args=[callback_id, phone, repr(self.clock()), FINISHED_TTL, EVENTS_KEEP, how])
        if not dept:
            return False
        self.live.publish("outcome", callback_id, _text(dept))  # closed, as a console sees it
        return True

    def set_transcript(
        self,
        callback_id: str,
        transcript: str,
        urgent: bool = False,
        urgent_reason: str = "",
        *,
        pipeline: redis.client.Pipeline | None = None,
    ) -> None:
        """Attach the transcript of the patient's message; ``urgent`` moves it ahead of non-urgent ones.

        An urgent callback stays urgent. With ``pipeline`` the command is only
        queued there (and an unknown id is not reported).
        """
        args = [callback_id, transcript, "1" if urgent else "0", urgent_reason, repr(self.clock())]
        kind = "urgent" if urgent else "transcript"
        if pipeline is not None:
            self._transcript(args=args, client=pipeline)
            self.live.publish(kind, callback_id, pipeline=pipeline)
            return
        if not self._transcript(args=args):
            raise UnknownCallback(f"no callback {callback_id}")
        self.live.publish(kind, callback_id)

    def not_urgent(self, callback_id: str) -> None:
        """Back to its place by request time: what made it urgent is settled (an unclear message someone
        has now listened to, ivr.speech.clarity)."""
        if not self._not_urgent(args=[callback_id, repr(self.clock())]):
            raise UnknownCallback(f"no callback {callback_id}")
        self.live.publish("transcript", callback_id)

    # Reading ------------------------------------------------------------

    def get(self, callback_id: str) -> Callback | None:
        raw = self.conn.hgetall(keys.CALLBACK.format(callback_id))
        return Callback.from_fields(raw) if raw else None

    def _get_many(self, ids: Sequence[Any]) -> list[Callback]:
        pipe = self.conn.pipeline(transaction=False)
        for cid in ids:
            pipe.hgetall(keys.CALLBACK.format(_text(cid)))
        return [Callback.from_fields(raw) for raw in pipe.execute() if raw]

    def find_for_call(self, department: str, call_sid: str) -> str | None:
        """The id of the request a call made in a department (kept for a day), if any."""
        found = self.conn.get(keys.CALLBACK_CALL.format(f"{department}:{call_sid}"))
        return _text(found) if found else None

    def position(self, callback_id: str) -> int | None:
        """1-based place among the waiting callbacks of its department; None if not waiting."""
        found = self._position(args=[callback_id])
        return int(found) if found is not None else None

    def waiting_count(self, department: str) -> int:
        return int(self.conn.zcard(keys.CALLBACK_QUEUE.format(department)))

    def waiting(self, department: str, limit: int = 100, offset: int = 0) -> list[Callback]:
        """Waiting callbacks in queue order: urgent first, then oldest request."""
        if limit <= 0:
            return []
        ids = self.conn.zrange(keys.CALLBACK_QUEUE.format(department), offset, offset + limit - 1)
        return self._get_many(ids)

    def scheduled(self, department: str, limit: int = 100) -> list[Callback]:
        """Retries waiting for their time, soonest first."""
        ids = self.conn.zrange(keys.CALLBACK_SCHEDULED.format(department), 0, limit - 1)
        return self._get_many(ids)

    def claimed_by(self, staff: str) -> list[Callback]:
        """The callbacks ``staff`` holds, oldest claim first (an expired lease shows until swept)."""
        ids = self.conn.smembers(keys.CALLBACK_STAFF.format(staff))
        held = [cb for cb in self._get_many(sorted(ids)) if cb.status is Status.CLAIMED and cb.claimed_by == staff]
        return sorted(held, key=lambda cb: cb.claimed_at)

    def history(self, phone: str, limit: int = 50) -> list[dict]:
        """Events for this number across departments, newest first (see the module docstring)."""
        if limit <= 0:
            return []
        raw = self.conn.lrange(keys.CALLBACK_HISTORY.format(phone_digest(phone)), 0, limit - 1)
        return [json.loads(item) for item in raw]

    # Staff --------------------------------------------------------------

    def claim_next(self, departments: Sequence[str], staff: str, most: int = 0) -> Callback | None:
        """Atomically take the best waiting callback of these departments (urgent, then oldest).

        Expired leases and due retries of these departments are put back in
        line first. The claim lasts ``lease_seconds`` unless renewed. With
        ``most``, a staff member who already holds that many gets
        ``HoldsTooMany`` instead, decided in the same script as the claim, so
        two "Take next" at once cannot both succeed.
        """
        if not staff:
            raise ValueError("claim_next needs the staff member's name")
        if not departments:
            return None
        now = self.clock()
        raw = self._claim(args=[repr(now), repr(now + self.lease_seconds), staff, most, *departments])
        if raw == b"full":
            raise HoldsTooMany(staff, most)
        if not raw:
            return None
        claimed = Callback.from_fields(_pairs(raw))
        self.live.publish("claim", claimed.id, claimed.department)
        return claimed

    def renew(self, callback_id: str, staff: str) -> bool:
        """Extend ``staff``'s unexpired claim by a full lease. False if they do not hold it."""
        now = self.clock()
        return bool(self._renew(args=[callback_id, staff, repr(now), repr(now + self.lease_seconds)]))

    def release(self, callback_id: str, staff: str) -> bool:
        """Give the callback back: it returns to its own place in line now."""
        released = bool(self._release(args=[callback_id, staff, repr(self.clock())]))
        if released:
            self.live.publish("release", callback_id)
        return released

    def finish(
        self,
        callback_id: str,
        staff: str,
        outcome: Outcome,
        note: str = "",
        retry: RetryPolicy | None = None,
    ) -> Callback:
        """Record the outcome of ``staff``'s call.

        reached / left_message: done. wrong_number: closed. no_answer: one more
        attempt; while fewer than ``retry.attempts`` it is scheduled for
        ``retry.hours.next_allowed(now + spacing)`` and comes back at its
        original place, else closed with "no answer after N attempts" (no
        ``retry``: closed at once). An urgent one is scheduled for
        ``now + retry.urgent_spacing_seconds`` at any hour, never closed for
        want of an answer, and moved to ``retry.on_call``'s queue after
        ``retry.urgent_tries_before_on_call`` tries (see RetryPolicy).
        Raises UnknownCallback, NotClaimed or LeaseExpired.
        """
        outcome = Outcome(outcome)
        now = self.clock()
        max_attempts, not_before, urgent_not_before = 0, 0.0, 0.0
        if outcome is Outcome.NO_ANSWER and retry is not None:
            due = dt.datetime.fromtimestamp(now + retry.spacing_seconds, dt.timezone.utc)
            max_attempts, not_before = retry.attempts, retry.hours.next_allowed(due).timestamp()
            if retry.urgent_spacing_seconds > 0:
                urgent_not_before = now + retry.urgent_spacing_seconds
        before = self.get(callback_id)
        reply = self._finish(
            args=[
                callback_id, staff, repr(now), outcome.value, note, max_attempts, repr(not_before),
                FINISHED_TTL, HANDLING_KEEP, STAFF_WINDOW, EVENTS_KEEP,
                repr(urgent_not_before), retry.urgent_tries_before_on_call if retry else 0, retry.on_call if retry else "",
            ]
        )
        verdict = _text(reply[0])
        if verdict == "unknown":
            raise UnknownCallback(f"no callback {callback_id}")
        if verdict == "expired":
            raise LeaseExpired(f"callback {callback_id}: the claim by {staff} has expired")
        if verdict == "not_claimed":
            raise NotClaimed(f"callback {callback_id} is {_text(reply[1])}, not claimed by {staff}")
        done = Callback.from_fields(_pairs(reply[1]))
        if done.status in (Status.DONE, Status.CLOSED):
            self._keep_lifecycle(_pairs(reply[1]))
        if before is not None and before.department != done.department:  # moved to the on-call desk
            self.live.publish("outcome", done.id, before.department)
            self.live.publish("urgent", done.id, done.department)
        else:
            self.live.publish("outcome", done.id, done.department)
        return done

    def escalate_unattended(self, department: str, on_call: str, reason: str = "nobody on duty") -> list[str]:
        """Move ``department``'s urgent callbacks that wait or wait for their next try (not one a
        person holds) to the ``on_call`` desk, each keeping its place; the ids moved."""
        if not on_call or on_call == department:
            return []
        moved = [_text(i) for i in self._escalate_unattended(args=[department, on_call, repr(self.clock()), reason])]
        for callback_id in moved:
            self.live.publish("outcome", callback_id, department)
            self.live.publish("urgent", callback_id, on_call)
        return moved

    def _keep_lifecycle(self, fields: dict[str, str]) -> None:
        """Its times for the reports (ivr.store.call_records.CallbackLifecycle); never fails the outcome."""
        from .call_records import CallbackLifecycle

        try:
            CallbackLifecycle(self.conn).record(fields)
        except redis.RedisError:
            log.warning("callback %s: its lifecycle could not be kept for the reports", fields.get("id", ""))

    def release_expired(self) -> int:
        """Put expired claims and due retries of every department back in line; how many moved."""
        moved = int(self._sweep_all(args=[repr(self.clock())]))
        if moved:
            self.live.publish("requeue", "", "*")  # which departments is not known here: every console looks
        return moved

    # Figures ------------------------------------------------------------

    def estimated_wait_seconds(self, department: str, position: int | None = None) -> int:
        """Seconds until a patient at ``position`` (default: joining now, at the end) has been called.

        ``position * mean handling time / staff``: the mean of the department's
        last HANDLING_KEEP claim->finish durations (DEFAULT_HANDLING_SECONDS
        before there are any), shared among the distinct staff who finished one
        of its callbacks in the last STAFF_WINDOW seconds (at least 1).
        """
        now = self.clock()
        pipe = self.conn.pipeline(transaction=False)
        pipe.zcard(keys.CALLBACK_QUEUE.format(department))
        pipe.lrange(keys.CALLBACK_HANDLING.format(department), 0, HANDLING_KEEP - 1)
        pipe.zcount(keys.CALLBACK_FINISHERS.format(department), now - STAFF_WINDOW, "+inf")
        depth, durations, staff = pipe.execute()
        return estimate_seconds(position if position is not None else int(depth) + 1, durations, int(staff))

    def stats(
        self, department: str, now: float | None = None, target_seconds: int = 3600, window_seconds: int = 86400
    ) -> dict:
        """A department's queue figures for the last ``window_seconds``.

        waiting_now, scheduled_now, claimed_now; claimed (first claims in the
        window) and average_wait_seconds (request -> first claim; 0 when none);
        completed (reached or message left), completed_within_target (request
        -> done within ``target_seconds``); abandoned (closed unreached: no
        answer after all attempts, or wrong number); oldest_waiting_seconds.
        """
        now = self.clock() if now is None else now
        queue = keys.CALLBACK_QUEUE.format(department)
        pipe = self.conn.pipeline(transaction=False)
        pipe.zcard(queue)
        pipe.zcard(keys.CALLBACK_SCHEDULED.format(department))
        pipe.zcard(keys.CALLBACK_LEASES.format(department))
        pipe.zrangebyscore(keys.CALLBACK_EVENTS.format(department), now - window_seconds, now)
        pipe.zrange(queue, 0, 0, withscores=True)
        pipe.zrangebyscore(queue, 0, "+inf", start=0, num=1, withscores=True)
        waiting, scheduled, claimed_now, events, head, oldest_plain = pipe.execute()
        waits, done, abandoned = [], [], 0
        for member in events:
            kind, _, seconds = _text(member).split("|")
            if kind == "claim":
                waits.append(float(seconds))
            elif kind == "done":
                done.append(float(seconds))
            elif kind == "closed":
                abandoned += 1
        oldest = [score + URGENT_SHIFT for _, score in head if score < 0]
        oldest += [score for _, score in oldest_plain]
        return {
            "waiting_now": int(waiting),
            "scheduled_now": int(scheduled),
            "claimed_now": int(claimed_now),
            "claimed": len(waits),
            "average_wait_seconds": int(round(sum(waits) / len(waits))) if waits else 0,
            "completed": len(done),
            "completed_within_target": sum(1 for s in done if s <= target_seconds),
            "abandoned": abandoned,
            "oldest_waiting_seconds": int(max(0.0, now - min(oldest))) if oldest else 0,
        }

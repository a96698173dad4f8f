"""Live console events: every change to a callback queue, published through Redis pub/sub.

Publishing (``LiveEvents.publish``, called by ``ivr.store.callbacks`` after each
change) is one Lua script: it numbers the event (``CALLBACK_LIVE_VERSION``,
+1), keeps it in a short list (``CALLBACK_LIVE_RECENT``, the last
``RECENT_KEEP``, replayed to a console that reconnects) and PUBLISHes it on
``CALLBACK_LIVE``. An event is ``{"v": n, "department": ..., "kind": ..., "id": ...}``:
which queue changed, how, and the callback's random id. Never a number, a
name or a reason: the console fetches the queue again (server-rendered, with
its masking and role checks) to see what changed. ``department`` ``"*"``
means "any queue" (lapsed claims and due retries put back in line by a sweep).

Kinds: ``request`` (a new or repeated request), ``urgent`` (a new urgent
request, or a callback made urgent: by a repeated request or its
transcript), ``transcript``, ``claim``, ``release``, ``outcome`` (done,
closed or a retry scheduled), ``requeue`` (back in line after a sweep).

Sessions. When a staff session ends on the server (logout, a user disabled or
given a new password), ``publish_session_end`` sends ``{"kind": "session_end",
"user": name}`` on the same channel, not numbered and not kept: the user's
open streams check their session at once and end within a second, instead of
at their next heartbeat. It never reaches a browser.

A failed publish is logged and swallowed: the change itself is already
stored, and consoles fall back to fetching the queue every few seconds when
their stream breaks.

Subscribing (``Hub``): one background thread per process and Redis holds one
pub/sub connection and hands each event to every open stream of that process
(``Hub.listen``), so 50 open consoles cost one Redis connection per web
process, not 50. The thread starts with the first listener and stops a few
seconds after the last one has gone. Every web process (on any machine)
subscribes to the same Redis channel, so a change made anywhere reaches
every console.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from typing import Any

import redis

from . import keys

log = logging.getLogger(__name__)

RECENT_KEEP = 200  # events kept for consoles that reconnect
RESYNC = "resync"  # a listener may have missed events (the hub lost Redis for a while): fetch everything
SESSION_END = "session_end"  # a staff session ended: that user's streams check theirs now

# KEYS: version, recent, callback hash; ARGV: department ('' = read from the hash), kind, id, channel, keep
_PUBLISH = """
local dept = ARGV[1]
if dept == '' then dept = redis.call('HGET', KEYS[3], 'department') or '' end
if dept == '' then return 0 end
local v = redis.call('INCR', KEYS[1])
local msg = cjson.encode({v = v, department = dept, kind = ARGV[2], id = ARGV[3]})
redis.call('LPUSH', KEYS[2], msg)
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[5]) - 1)
redis.call('PUBLISH', ARGV[4], msg)
return v
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def publish_session_end(conn: redis.Redis, user: str, *, pipeline: redis.client.Pipeline | None = None) -> None:
    """Tell every web process that a session of ``user`` ended (see Sessions above)."""
    message = json.dumps({"kind": SESSION_END, "user": user, "department": "", "id": "", "v": 0})
    if pipeline is not None:
        pipeline.publish(keys.CALLBACK_LIVE, message)
        return
    try:
        conn.publish(keys.CALLBACK_LIVE, message)
    except redis.RedisError as exc:  # the session is ended; its streams notice at their next heartbeat
        log.warning("session end not published to live consoles: %s", exc)


class LiveEvents:
    """Publish queue changes, read the current version and the recent events."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self._publish = conn.register_script(_PUBLISH)

    def publish(
        self,
        kind: str,
        callback_id: str,
        department: str = "",
        *,
        pipeline: redis.client.Pipeline | None = None,
    ) -> int:
        """Announce a change; ``department`` empty: the callback's own (read in the script).

        Returns the event's number (0 when queued on ``pipeline``, or not published).
        """
        args = [department, kind, callback_id, keys.CALLBACK_LIVE, RECENT_KEEP]
        script_keys = [keys.CALLBACK_LIVE_VERSION, keys.CALLBACK_LIVE_RECENT, keys.CALLBACK.format(callback_id)]
        if pipeline is not None:
            self._publish(keys=script_keys, args=args, client=pipeline)
            return 0
        try:
            return int(self._publish(keys=script_keys, args=args))
        except redis.RedisError as exc:  # the change is stored; consoles catch up on their next fetch
            log.warning("live console event %s not published: %s", kind, exc)
            return 0

    def version(self) -> int:
        """The number of the latest event (0 before any)."""
        found = self.conn.get(keys.CALLBACK_LIVE_VERSION)
        return int(found) if found else 0

    def since(self, after: int) -> tuple[int, list[dict] | None]:
        """(current version, the events numbered above ``after``, oldest first).

        None instead of the list when they are not all kept any more (or the
        numbering went back, e.g. Redis lost its data): fetch everything.
        """
        pipe = self.conn.pipeline(transaction=True)
        pipe.get(keys.CALLBACK_LIVE_VERSION)
        pipe.lrange(keys.CALLBACK_LIVE_RECENT, 0, RECENT_KEEP - 1)
        raw_version, raw_events = pipe.execute()
        current = int(raw_version) if raw_version else 0
        if after == current:
            return current, []
        if after > current:
            return current, None
        found = []
        for item in raw_events:  # newest first
            event = json.loads(_text(item))
            if event["v"] <= after:
                break
            found.append(event)
        found.reverse()
        if not found or found[0]["v"] != after + 1:
            return current, None
        return current, found


class Listener:
    """One open stream's inbox: events from the hub, oldest first."""

    def __init__(self, hub: "Hub") -> None:
        self._hub = hub
        self._inbox: queue.SimpleQueue[dict] = queue.SimpleQueue()

    def put(self, event: dict) -> None:
        self._inbox.put(event)

    def get(self, timeout: float) -> dict | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            return self._inbox.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def close(self) -> None:
        self._hub._remove(self)

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hub:
    """The process's one subscription to ``CALLBACK_LIVE``, shared by its open streams."""

    def __init__(self, conn: redis.Redis, linger: float = 5.0, poll: float = 1.0) -> None:
        self.conn = conn
        self.linger = linger  # seconds the subscription stays after the last listener left
        self.poll = poll
        self._lock = threading.Lock()
        self._listeners: set[Listener] = set()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._subscribed = threading.Event()
        self._last_left = time.monotonic()

    def listen(self, wait: float = 2.0) -> Listener:
        """A new inbox; returns once the subscription is in place (or ``wait`` seconds have passed),
        so nothing published after this returns is missed."""
        listener = Listener(self)
        with self._lock:
            if self._pid != os.getpid():  # forked since (gunicorn): the parent's thread is not here
                self._pid, self._thread = os.getpid(), None
                self._subscribed.clear()
            self._listeners.add(listener)
            if self._thread is None or not self._thread.is_alive():
                self._subscribed.clear()
                self._thread = threading.Thread(target=self._run, name="live-events", daemon=True)
                self._thread.start()
        self._subscribed.wait(wait)
        return listener

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)

    def _remove(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)
            if not self._listeners:
                self._last_left = time.monotonic()

    def _idle(self) -> bool:
        """True (and the thread is forgotten) once nobody has listened for ``linger`` seconds."""
        with self._lock:
            if self._listeners or time.monotonic() - self._last_left < self.linger:
                return False
            self._thread = None
            self._subscribed.clear()
            return True

    def _send(self, event: dict) -> None:
        with self._lock:
            targets = list(self._listeners)
        for listener in targets:
            listener.put(event)

    def _run(self) -> None:
        lost = False
        while True:
            pubsub = None
            try:
                pubsub = self.conn.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(keys.CALLBACK_LIVE)
                pubsub.get_message(timeout=self.poll)  # the subscribe confirmation
                self._subscribed.set()
                if lost:  # events may have gone by while Redis was away
                    self._send({"kind": RESYNC, "department": "*", "id": "", "v": 0})
                    lost = False
                while True:
                    message = pubsub.get_message(timeout=self.poll)
                    if message is not None and message.get("type") == "message":
                        try:
                            self._send(json.loads(_text(message["data"])))
                        except (ValueError, KeyError):
                            log.warning("a live console event could not be read")
                    elif self._idle():
                        return
            except (redis.RedisError, OSError) as exc:
                if not lost:
                    log.warning("live console events: lost Redis (%s); trying again", exc)
                lost = True
                self._subscribed.clear()
                if self._idle():
                    return
                time.sleep(1.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001  (closing a broken connection)
                        pass

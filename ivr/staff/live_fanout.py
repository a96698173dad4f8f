"""One fan-out per web process for the live console's streams: changes coalesced, rendered once, handed out.

The process's subscription (``ivr.store.events.Hub``) has one listener here,
not one per stream. A change is pushed at once when nothing was pushed in the
last ``PUSH_SECONDS`` (1 s); changes that come sooner wait for that moment and go
out together, so a burst of changes during a hundred calls costs each process
one push per interval, not one per change. A push costs its process mostly
the reading of the queues from Redis (``ivr.staff.console.queue_view``); when
pushes take more than ``BUSY_SHARE`` of the time (a loaded machine, long
queues) the interval grows to at most ``LONGEST_SECONDS``, so callers keep
the process and a console still sees a change within 2 s. For each push and each view (the
departments a console shows, in its order) with an open stream that cares,
the "changed" messages and the "queues" message are made once, as bytes
(``render``), and the same ``Push`` goes to every such stream: a stream does
no Redis work, no rendering and no encoding for it, only its own socket write
(and its own "mine", when the push may concern the user's claims: see
``Push.may_concern``). The streams get a push ``STREAMS_PER_TURN`` at a time,
with a real wait between: under gevent a greenlet's ``sleep(0)`` lets only
greenlets already runnable go, while a webhook whose request has just come in
waits for the next poll of the sockets; so 50 streams' writes never stand in
one block before Twilio's requests. Session ends are handed on at once, without waiting.

For a claim the fan-out reads once who holds the callback now (``claimer``),
so only that user's streams read their own callbacks again; the name stays on
the server (it is never in a message).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterable

from ivr.store.events import RESYNC, SESSION_END, Hub, Listener

log = logging.getLogger(__name__)

PUSH_SECONDS = 1.0  # at most one push per this long in each process (the first change after a quiet spell: at once)
LONGEST_SECONDS = 1.5  # ... or longer when pushes cost more (BUSY_SHARE), never longer than this (push p99 <= 2 s)
BUSY_SHARE = 0.02  # the share of a process's time its pushes may take (reading the queues from Redis, mostly)
POLL_SECONDS = 1.0  # how often an idle fan-out checks whether its streams have all gone
STREAMS_PER_TURN = 10  # streams handed a push before the process's other requests get a turn
TURN_SECONDS = 0.001  # a real wait, not sleep(0): gevent polls sockets (Twilio's webhooks) only between loop turns

View = tuple[str, ...]  # a console's departments, in the order it lists them


@dataclass(frozen=True)
class Push:
    """What one push brings to the streams of one view."""

    version: int  # the events' number the queues are as of (or later)
    events: tuple[dict, ...]  # the view's events, oldest first (a resync as kind RESYNC)
    parts: tuple[tuple[int, bytes], ...]  # each event's "changed" message, by number
    queues: bytes  # the "queues" message (b"" when it could not be made: the page fetches instead)
    claimers: dict[str, str | None] = field(default_factory=dict)  # claimed callback id -> holder now (None: unknown)

    @property
    def resync(self) -> bool:
        return any(e.get("kind") == RESYNC for e in self.events)

    @cached_property
    def whole(self) -> bytes:
        return b"".join(part for _number, part in self.parts) + self.queues

    def body(self, seen: int, mine: bytes = b"") -> bytes:
        """The messages for a stream that has sent everything up to ``seen``, with its own "mine" before the
        queues: the same bytes for every stream but one that sends its "mine" or has just replayed some of them."""
        if not mine and all(number > seen or number == 0 for number, _part in self.parts):
            return self.whole
        return b"".join(part for number, part in self.parts if number > seen or number == 0) + mine + self.queues

    def may_concern(self, user: str, own_ids: str) -> bool:
        """Whether the user's own callbacks may have changed (``own_ids``: " id id " as last sent)."""
        for event in self.events:
            kind, cid = event.get("kind"), event.get("id")
            if kind == RESYNC or f" {cid} " in own_ids:
                return True
            if kind == "claim" and self.claimers.get(cid, None) in (None, user):
                return True
        return False


class Inbox:
    """One stream's inbox: ``Push`` objects and session-end events, oldest first."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.departments = set(view)
        self._items: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, item: Push | dict) -> None:
        self._items.put(item)

    def get(self, timeout: float) -> Push | dict | None:
        try:
            return self._items.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def cares(self, event: dict) -> bool:
        return event.get("kind") == RESYNC or event.get("department") in self.departments or event.get("department") == "*"


Render = Callable[[View, int, dict], bytes]  # (view, version, a request environ of a stream of it) -> "queues" message
Changed = Callable[[dict, int], bytes]  # (event, version) -> its "changed" message


class Fanout:
    """The process's streams and the one listener that feeds them (see the module's docstring)."""

    def __init__(self, hub: Hub, render: Render, changed: Changed, claimer: Callable[[str], str | None],
                 version: Callable[[], int], interval: float = PUSH_SECONDS, poll: float = POLL_SECONDS) -> None:
        self.hub, self.render, self.changed, self.claimer, self.version = hub, render, changed, claimer, version
        self.interval, self.poll = interval, poll
        self._lock = threading.Lock()
        self._inboxes: dict[Inbox, dict] = {}  # open streams -> a request environ to render their view in
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.pushes = 0  # pushes made (each: one render per view that cared), for tests and the bench
        self.renders = 0

    def join(self, view: View, environ: dict) -> Inbox:
        """A stream's inbox; once this returns, every change published afterwards reaches it."""
        inbox = Inbox(view)
        with self._lock:
            if self._pid != os.getpid():  # forked since: the parent's listener and thread are not here
                self._pid, self._listener, self._thread = os.getpid(), None, None
            self._inboxes[inbox] = environ
            if self._listener is None:
                self._listener = self.hub.listen()  # waits for the subscription
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, args=(self._listener,), name="live-fanout", daemon=True)
                self._thread.start()
        return inbox

    def leave(self, inbox: Inbox) -> None:
        with self._lock:
            self._inboxes.pop(inbox, None)

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._inboxes)

    def _stop_if_idle(self, listener: Listener) -> bool:
        with self._lock:
            if self._inboxes:
                return False
            listener.close()
            if self._listener is listener:
                self._listener = self._thread = None
            return True

    def _targets(self) -> list[tuple[Inbox, dict]]:
        with self._lock:
            return list(self._inboxes.items())

    def _run(self, listener: Listener) -> None:
        last = float("-inf")
        while True:
            event = listener.get(self.poll)
            if event is None:
                if self._stop_if_idle(listener):
                    return
                continue
            batch: list[dict] = []
            due = max(time.monotonic(), last + self.interval)
            while event is not None:  # this change and those that come before its push is due
                if event.get("kind") == SESSION_END:
                    for inbox, _environ in self._targets():
                        inbox.put(event)
                else:
                    batch.append(event)
                event = listener.get(due - time.monotonic())
            if batch:
                began = time.monotonic()
                try:
                    self._push(batch)
                except Exception:  # noqa: BLE001  (the fan-out must outlive one bad push; the pages fetch instead)
                    log.exception("live console push failed")
                took = time.monotonic() - began  # longer on a busy machine or with long queues: push less often
                last = began + min(max(0.0, took / BUSY_SHARE - self.interval), LONGEST_SECONDS - self.interval)

    def _push(self, batch: Iterable[dict]) -> None:
        batch = list(batch)
        version = max(int(e.get("v") or 0) for e in batch)
        if version == 0:  # a resync alone: the queues as of now
            try:
                version = self.version()
            except Exception:  # noqa: BLE001
                version = 0
        claimers: dict[str, str | None] = {}
        for event in batch:
            if event.get("kind") == "claim" and event.get("id") not in claimers:
                try:
                    claimers[event["id"]] = self.claimer(event["id"])
                except Exception:  # noqa: BLE001  (unknown: every stream reads its own again)
                    claimers[event["id"]] = None
        made: dict[View, Push | None] = {}
        handed = 0
        for inbox, environ in self._targets():
            if inbox.view not in made:
                made[inbox.view] = self._for_view(inbox, environ, batch, version, claimers)
            push = made[inbox.view]
            if push is not None:
                inbox.put(push)
                handed += 1
                if handed % STREAMS_PER_TURN == 0:  # those streams write now; webhooks that came meanwhile go next
                    time.sleep(TURN_SECONDS)
        self.pushes += 1

    def _for_view(self, inbox: Inbox, environ: dict, batch: list[dict], version: int,
                  claimers: dict[str, str | None]) -> Push | None:
        events = tuple(e if e.get("kind") != RESYNC else {**e, "v": version} for e in batch if inbox.cares(e))
        if not events:
            return None
        parts = tuple((int(e.get("v") or 0) if e.get("kind") != RESYNC else 0, self.changed(e, version)) for e in events)
        try:
            queues = self.render(inbox.view, version, environ)
            self.renders += 1
        except Exception as exc:  # noqa: BLE001  ("changed" without queues: live.js fetches them after 5 s)
            log.warning("live console queues not rendered: %s", type(exc).__name__)
            queues = b""
        return Push(version, events, parts, queues, claimers)

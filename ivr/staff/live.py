"""The live console: queue changes pushed to open consoles (server-sent events), the queue as a fragment.

    GET  /console/live          text/event-stream: "changed" events for the user's departments
    GET  /console/live/queues   the console's queues, claims and statistics as an HTML fragment

How it works. Every change to a callback (request, urgent flag, transcript,
claim, release, outcome, requeue) is published through Redis pub/sub
(``ivr.store.events``); each web process holds one subscription, and one
fan-out (``ivr.staff.live_fanout``) takes its events for all the process's open
streams, so a change made by any process, on any machine, reaches every
console. A stream sends ``changed`` ``{"v", "department", "kind", "id"}`` only
for the user's departments (the departments of their role, as the console
shows them), then ``queues`` ``{"v", "html"}``: the console's queues as
``/console/live/queues`` renders them, from the same templates, with the same
masking. So a change costs a console no request, and costs a process the same
whether 1 or 200 consoles are open: the fan-out pushes at most once a
second (changes in between go together), and for each push renders and
encodes the queues of each set of departments once; every stream of that set
writes the same bytes (the forms' token is filled in by the page). The user's
own callbacks come as ``mine`` ``{"html"}``, read again only when a change is
about one of them or is a claim of theirs. The events' numbers are SSE
ids, so a browser that reconnects (Last-Event-ID) gets what it missed, or one
"changed" of kind ``resync``, and the queues as they are now. The page also
passes the number read before its own data (``?since=``), so nothing between
rendering the page and opening the stream is missed.

Connections. A stream holds a web server connection for its life (a greenlet
under ``ivr serve``'s gevent worker, a thread under a threaded one): it ends after
``LIVE_STREAM_SECONDS`` (300; the browser reconnects within seconds), sends a
comment every ``LIVE_HEARTBEAT_SECONDS`` (15; proxies keep the connection, a
browser that left is noticed) and checks the session then, and at once when a
session of its user ends anywhere (logout, disable, new password: published by
``ivr.store.sessions``), so a stream ends within a second of its logout. So a process never
runs out of connections or threads for Twilio's webhooks, it serves at most
``LIVE_MAX_STREAMS`` streams (IVR_LIVE_MAX_STREAMS; by default, under
gunicorn's gevent worker, half its ``--worker-connections``; under its
threaded worker, its ``--threads`` minus one; no limit under other servers); a
console refused (503) fetches the queue every 10 s and tries the stream again
a minute later.

Sessions. Live requests check the session without renewing it: a console left
open on an unattended desk still logs out after IVR_STAFF_IDLE_MINUTES (the
stream says "ended", the page reloads to the login page with the reason).
Staying logged in is the staff pages' idle warning's job ("Stay logged in").

Opening the console is audited (``view_queue``, by the console page); the
fragment fetched after each change is not, or 50 consoles would write 50
entries per change.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Iterator

from flask import Blueprint, Response, current_app, g, render_template, request, session
from flask_wtf.csrf import generate_csrf

from ivr import services
from ivr.store.events import RESYNC, Hub, LiveEvents
from ivr.store.users import User

from . import bp
from .auth import SESSION_ID, peek
from .console import _chart, queue_view
from .live_fanout import Fanout, Push
from .pages import _headers

# Not under the staff blueprint: its before_request renews the session, and live requests must not.
live_bp = Blueprint("staff_live", __name__)
live_bp.after_request(_headers)
bp.record_once(lambda state: state.app.register_blueprint(live_bp))

EXTENSION = "ivr.staff.live"
STREAM_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0
RETRY_MS = 3000  # the browser reconnects this long after a stream ends
REFUSED_RETRY_SECONDS = 60


class _State:
    """Per app (and process): the fan-out of the Redis subscription to the streams, and the count of open streams."""

    def __init__(self, fanout: Fanout) -> None:
        self.fanout = fanout
        self.lock = threading.Lock()
        self.streams = 0


def _state() -> _State:
    app = current_app._get_current_object()
    found = app.extensions.get(EXTENSION)
    if found is None:
        with _CREATE_LOCK:
            found = app.extensions.get(EXTENSION)
            if found is None:
                found = app.extensions[EXTENSION] = _State(_fanout(app))
    return found


_CREATE_LOCK = threading.Lock()


def _fanout(app) -> Fanout:
    """The process's fan-out: it renders each view's queues once per push, in a request like the streams'
    own (url_for, the templates' globals) without their cookie (nothing of any user's session in it)."""

    def render(view: tuple[str, ...], version: int, environ: dict) -> bytes:
        with app.request_context(environ):
            return shared_message(view, version).encode()

    def claimer(callback_id: str) -> str | None:
        with app.app_context():
            found = services.get().callbacks.get(callback_id)
            return found.claimed_by if found else ""

    def version() -> int:
        with app.app_context():
            return _events().version()

    def changed(event: dict, version: int) -> bytes:
        if event.get("kind") == RESYNC:
            return _message("changed", {"v": version, "kind": RESYNC, "department": "*", "id": ""}, version).encode()
        return _message("changed", event, event["v"]).encode()

    return Fanout(Hub(services.get().redis), render, changed, claimer, version)


def _events() -> LiveEvents:
    return services.get().callbacks.live


def _setting(name: str, default: float) -> float:
    value = current_app.config.get(name)
    return float(value) if value not in (None, "") else default


def gunicorn_option(flag: str, argv: list[str] | None = None) -> str | None:
    """The value of gunicorn's option ``flag`` (``--threads``, ``-k``) on its command line, or None."""
    argv = sys.argv if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if flag.startswith("--") and arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def default_max_streams(argv: list[str] | None = None) -> int | None:
    """Streams a gunicorn process serves by default: half its connections under an asynchronous
    worker (gevent, as ``ivr serve`` runs it), its threads minus one under the threaded one, no
    limit when not under gunicorn."""
    if "gunicorn" not in sys.modules:
        return None
    worker_class = gunicorn_option("--worker-class", argv) or gunicorn_option("-k", argv) or "sync"
    if "gevent" in worker_class or "eventlet" in worker_class:
        return int(gunicorn_option("--worker-connections", argv) or 1000) // 2
    return max(int(gunicorn_option("--threads", argv) or 1) - 1, 0)


def max_streams() -> int | None:
    """How many streams this process serves at once (None: no limit)."""
    value = current_app.config.get("LIVE_MAX_STREAMS")
    if value not in (None, ""):
        return int(value)
    return default_max_streams()


def session_user(sid: str | None = None) -> User | None:
    """The logged-in user (of this request, or of session ``sid``), checked like every staff page
    without counting it as activity (``auth.peek``)."""
    sid = session.get(SESSION_ID) if sid is None else sid
    return peek(sid)[0] if sid else None


def _departments(user: User) -> list[str]:
    return services.get().runtime.clinic.departments_for(user.role)


def _refused(status: int, text: str, retry_after: int | None = None) -> Response:
    resp = Response(text + "\n", status, mimetype="text/plain")
    if retry_after:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


def _message(event: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _last_seen() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("since") or ""
    return int(raw) if raw.isdigit() else None


@live_bp.get("/console/live")
def stream():
    user = session_user()
    if user is None:
        return _refused(401, "Log in first.")
    state = _state()
    limit = max_streams()
    with state.lock:
        if limit is not None and state.streams >= limit:
            return _refused(503, "Too many live consoles on this server process: fetch the queue instead.", REFUSED_RETRY_SECONDS)
        state.streams += 1
    # Rendering after the view has returned needs a request like this one (url_for, the templates' globals);
    # none of what the stream renders reads the session, so the cookie stays out (no signature checked again).
    environ = {k: v for k, v in request.environ.items() if not k.startswith("werkzeug.") and k != "HTTP_COOKIE"}
    try:
        order = tuple(_departments(user))  # as the console lists them
        departments = set(order)
        life = _setting("LIVE_STREAM_SECONDS", STREAM_SECONDS)
        beat = _setting("LIVE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)
        inbox = state.fanout.join(order, environ)  # in before the version is read: nothing falls in between
        last = _last_seen()
        events = _events()
        current, missed = events.since(last) if last is not None else (events.version(), [])
    except BaseException:
        with state.lock:
            state.streams -= 1
        raise

    app = current_app._get_current_object()
    sid = session.get(SESSION_ID, "")

    def still_in() -> bool:
        with app.app_context():
            return session_user(sid) is not None

    csrf = str(generate_csrf())
    mine: dict[str, str] = {}  # the ids of the user's own callbacks as last sent: {"ids": " id id "}

    def own_callbacks() -> str:
        """The "mine" event: the user's own callbacks (read again only when a change may concern them)."""
        with app.request_context(environ):
            held = services.get().callbacks.claimed_by(user.name)
            mine["ids"] = " " + " ".join(cb.id for cb in held) + " "
            return _message("mine", {"html": render_template("staff/_console_mine.html", mine=held)})

    def queues_now(version: int) -> str:
        """The "queues" event as the stream opens (later ones come made from the fan-out)."""
        with app.request_context(environ):
            return shared_message(order, version)

    def generate() -> Iterator[str | bytes]:  # runs after the view has returned: no request context
        seen = current
        try:
            # The page's form token, new with each stream (a console stays open for hours; tokens last one).
            yield f"retry: {RETRY_MS}\n" + _message("hello", {"v": current, "csrf": csrf}, current)
            if missed is None:
                yield (_message("changed", {"v": current, "kind": RESYNC, "department": "*", "id": ""}, current)
                       + own_callbacks() + queues_now(current))
            elif missed:
                relevant = [e for e in missed if e["department"] in departments or e["department"] == "*"]
                if relevant:
                    yield "".join(_message("changed", e, e["v"]) for e in relevant) + own_callbacks() + queues_now(current)
            start = time.monotonic()
            deadline, next_beat = start + life, start + beat
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return  # the browser reconnects with Last-Event-ID
                item = inbox.get(min(deadline, next_beat) - now)
                if item is None:
                    if time.monotonic() >= next_beat:
                        if not still_in():
                            yield _message("ended", {"reason": "session"})
                            return
                        yield f": keep-alive\nid: {seen}\n\n"  # an id with no data moves Last-Event-ID on
                        next_beat = time.monotonic() + beat
                    continue
                if not isinstance(item, Push):  # a session ended somewhere: this one?
                    if item.get("user") == user.name and not still_in():
                        yield _message("ended", {"reason": "session"})
                        return
                    continue
                if item.version <= seen and not item.resync:
                    continue  # all of it sent already, from the replay
                own = own_callbacks().encode() if not mine or item.may_concern(user.name, mine["ids"]) else b""
                yield item.body(seen, own)  # the same bytes for every stream of this view, but for "mine"
                seen = max(seen, item.version)  # (the fan-out paces the streams' writes: live_fanout.STREAMS_PER_TURN)
        finally:
            state.fanout.leave(inbox)
            with state.lock:
                state.streams -= 1

    resp = Response(generate(), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return resp


@live_bp.get("/console/live/queues")
def queues():
    """The live part of the console (claims, Take next, queues, statistics), as on the console page.

    A console fetches this when it has no stream (every 10 s); with one, the stream sends the same
    after each change. The part that is the same for everyone who works the same departments is
    rendered once per change in each process and shared (``shared_queues``); only the user's own
    callbacks and form token are theirs."""
    user = session_user()
    if user is None:
        return _refused(401, "Log in first.")
    svc = services.get()
    version = _events().version()  # read before the data: a change after this is a newer version
    shared = shared_queues(tuple(_departments(user)), version)
    html = render_template("staff/_console_mine.html", mine=svc.callbacks.claimed_by(user.name))
    resp = Response(html + "\n" + shared.replace(CSRF_SLOT, str(generate_csrf())), mimetype="text/html")
    resp.headers["X-Live-Version"] = str(version)
    return resp


CSRF_SLOT = "__ivr_csrf_token__"  # where each user's own CSRF token goes in the shared part
SHARED_SECONDS = 5.0  # a shared render is reused for the same version this long (waits shown move on)


class _Shared:
    """The last shared render per set of departments, in this process, with a lock each: of many consoles
    asking at once after a change, one renders and the others wait for it and take the same."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.locks: dict[tuple[str, ...], threading.Lock] = {}
        self.rendered: dict[tuple[str, ...], tuple[int, float, str]] = {}
        self.messages: dict[tuple[str, ...], tuple[tuple, str]] = {}
        self.renders = 0  # how many times it rendered (for tests and the bench)

    def lock_for(self, departments: tuple[str, ...]) -> threading.Lock:
        with self.lock:
            return self.locks.setdefault(departments, threading.Lock())


def _shared() -> _Shared:
    ext = current_app.extensions
    if "ivr_live_shared" not in ext:
        ext["ivr_live_shared"] = _Shared()
    return ext["ivr_live_shared"]


def shared_message(departments: tuple[str, ...], version: int) -> str:
    """The "queues" event of ``departments`` as of ``version``: encoded once, sent to every stream of
    this process that shows them. The forms' token is each page's own (live.js fills it in)."""
    html = shared_queues(departments, version)
    cache = _shared()
    key = cache.rendered[departments][:2]  # (version, when rendered): a new render, a new message
    hit = cache.messages.get(departments)
    if hit and hit[0] == key:
        return hit[1]
    message = _message("queues", {"v": version, "html": html}, version)
    cache.messages[departments] = (key, message)
    return message


def shared_queues(departments: tuple[str, ...], version: int) -> str:
    """The queues of ``departments`` as of ``version``, rendered once and shared (with CSRF_SLOT for the token)."""
    cache = _shared()
    with cache.lock_for(departments):
        hit = cache.rendered.get(departments)
        if hit and hit[0] == version and time.monotonic() - hit[1] < SHARED_SECONDS:
            return hit[2]
        svc = services.get()
        clinic = svc.runtime.clinic
        svc.callbacks.release_expired()
        target = clinic.callbacks.target_minutes * 60
        found = [queue_view(key, target) for key in departments]
        html = render_template(
            "staff/_console_queues.html",
            queues=found,
            chart=_chart(found, target),
            target_minutes=clinic.callbacks.target_minutes,
            csrf_slot=CSRF_SLOT,
        )
        cache.rendered[departments] = (version, time.monotonic(), html)
        cache.renders += 1
        return html


@bp.before_request
def _version_before_console() -> None:
    """The console page passes the live version read before its data to the stream (``?since=``)."""
    if request.endpoint == "staff.console":
        try:
            g.live_version = _events().version()
        except Exception:  # noqa: BLE001  (the console works without it: the stream sends everything)
            g.live_version = None

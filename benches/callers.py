"""Simulated callers for the benchmarks: calls through the phone menu as Twilio makes them, timed.

A ``Caller`` thread runs one call after another with ivr.telephony.simulator.PhoneCall (every request signed as
Twilio signs it), reacting to what it hears: language, a menu choice among those offered (keys or
speech), no answer at the desk, "leave a message", a recording and its callbacks. Each request is timed
by a ``Recorder``; ``measure`` runs ``settings.calls`` of them for the measured window and returns the
``Phase``. How the figures are read: benches/webhook_bench.py.
"""

from __future__ import annotations

import http.client
import itertools
import random
import select
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

from benches.harness import CpuSnapshot, Server, Settings, cpu_snapshot
from ivr.telephony.simulator import API_VERSION, CallError, PhoneCall, Transport, Turn
from ivr.voice.safety import APOLOGY

TARGET_CALLS = 100
OK_STATUSES = (200, 204)

INCOMING, STEP_LANGUAGE, STEP_MENU = "incoming", "step (language)", "step (menu)"
STEP_DIAL, STEP_OFFER, STEP_RECORD = "step (dial result)", "step (callback offer)", "step (record)"
RECORDING_CB, STATUS_CB = "recording callback", "status callback"
WEBHOOK_KINDS = (INCOMING, STEP_LANGUAGE, STEP_MENU, STEP_DIAL, STEP_OFFER, STEP_RECORD, RECORDING_CB, STATUS_CB)
BASE_FALLBACK, BASE_HEALTHZ = "fallback (signed, no Redis)", "healthz (unsigned, Redis reads)"
BASELINE_KINDS = (BASE_FALLBACK, BASE_HEALTHZ)

# Paths -> kind; /voice/step is named after what the call was answering.
PATH_KINDS = {
    "/voice/incoming": INCOMING,
    "/voice/recording": RECORDING_CB,
    "/voice/status": STATUS_CB,
    "/voice/fallback": BASE_FALLBACK,
    "/healthz": BASE_HEALTHZ,
}


# One caller -------------------------------------------------------------------


@dataclass
class Window:
    """The measured window, in perf_counter() seconds (never, until set)."""

    start: float = float("inf")
    end: float = float("inf")

    def flag(self, moment: float) -> str:
        return "1" if self.start <= moment < self.end else "0"


@dataclass(frozen=True)
class Sample:
    kind: str
    start: float  # perf_counter() when the request was sent
    ms: float
    ok: bool


@dataclass
class Recorder:
    """Everything one caller thread observed (only that thread writes to it)."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each call
    menus: Counter = field(default_factory=Counter)
    inputs: Counter = field(default_factory=Counter)
    phase: str = ""  # what the next /voice/step answers: language, menu, dial result, callback offer, record

    def add(self, kind: str, start: float, ms: float, ok: bool, error: str = "") -> None:
        self.samples.append(Sample(kind, start, ms, ok))
        if not ok:
            self.errors.append(error or f"{kind}: failed")


def request_kind(url: str, phase: str) -> str:
    path = urlsplit(url).path
    if path == "/voice/step":
        return f"step ({phase})"
    return PATH_KINDS.get(path, path)


def bench_headers(kind: str, window: Window) -> dict[str, str]:
    """Unsigned labels for gunicorn's access log (--server-timing); the app ignores them."""
    return {"X-Bench-Kind": kind, "X-Bench-Window": window.flag(time.perf_counter())}


class HttpClient(Protocol):
    """One call's HTTP connection to the server."""

    def request(
        self, method: str, url: str, data: dict[str, str] | None, headers: dict[str, str]
    ) -> tuple[int, str]: ...

    def close(self) -> None: ...


class RequestsClient:
    """A requests.Session (the default client)."""

    def __init__(self, timeout: float) -> None:
        self.session = requests.Session()
        # No proxy or netrc settings from the environment: every request goes
        # straight to 127.0.0.1, and requests skips re-reading the environment
        # on every request (about half its CPU per request on this machine).
        self.session.trust_env = False
        self.timeout = timeout

    def request(self, method: str, url: str, data: dict[str, str] | None, headers: dict[str, str]) -> tuple[int, str]:
        resp = self.session.request(method, url, data=data, headers=headers, timeout=self.timeout)
        return resp.status_code, resp.text

    def close(self) -> None:
        self.session.close()


class StdlibClient:
    """One keep-alive http.client connection: a load generator that needs about a quarter of requests' CPU."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        conn = self.conn
        if conn is not None and conn.sock is not None and select.select([conn.sock], [], [], 0)[0]:
            conn.close()  # the server closed the idle connection (keep-alive timeout)
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        return conn

    def request(self, method: str, url: str, data: dict[str, str] | None, headers: dict[str, str]) -> tuple[int, str]:
        parts = urlsplit(url)
        body = urlencode(data).encode() if data is not None else None
        if body is not None:
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        conn = self._connection(parts.netloc)
        try:
            conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, text

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


CLIENTS: dict[str, Callable[[float], HttpClient]] = {"requests": RequestsClient, "http.client": StdlibClient}
TRANSPORT_ERRORS = (OSError, http.client.HTTPException, requests.RequestException)


def timed_request(
    client: HttpClient, rec: Recorder, window: Window, kind: str,
    method: str, url: str, data: dict[str, str] | None, headers: dict[str, str],
) -> tuple[int, str]:
    """Send one request, timing it; failures are recorded, and transport errors raised as TransportFailed."""
    headers = {**headers, **bench_headers(kind, window)}
    start = time.perf_counter()
    try:
        status, text = client.request(method, url, data, headers)
    except TRANSPORT_ERRORS as exc:
        rec.add(kind, start, (time.perf_counter() - start) * 1000, False, f"{kind}: {type(exc).__name__}")
        raise TransportFailed(kind) from exc
    ms = (time.perf_counter() - start) * 1000
    rec.add(kind, start, ms, status in OK_STATUSES, f"{kind}: HTTP {status}")
    return status, text


def timed_transport(client: HttpClient, rec: Recorder, window: Window) -> Transport:
    """A simulator transport that times each POST and records its kind and outcome."""

    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        return timed_request(client, rec, window, request_kind(url, rec.phase), "POST", url, data, headers)

    return post


class TransportFailed(RuntimeError):
    """A request got no HTTP answer (already recorded as an error)."""


class FlowMismatch(RuntimeError):
    """The call did not go where the menu says it should."""


class Stopped(Exception):
    """The benchmark is stopping (Ctrl-C or deadline)."""


@dataclass(frozen=True)
class MenuChoice:
    digits: str = ""
    speech: str = ""
    keyword: str = ""  # the menu must list this keyword in its speech hints for the phrase to apply


# Keys 1 and 2 exist in the main and the after-hours menu alike; each phrase is
# used only when the menu offered its keyword (config/flows/main.yaml).
MENU_CHOICES: dict[str, tuple[MenuChoice, ...]] = {
    "en": (
        MenuChoice(digits="1"),
        MenuChoice(digits="2"),
        MenuChoice(speech="I need to pay my bill", keyword="bill"),
        MenuChoice(speech="appointment", keyword="appointment"),
        MenuChoice(speech="It's urgent, I need to talk to someone", keyword="urgent"),
        MenuChoice(speech="I want to leave a message", keyword="message"),
    ),
    "es": (
        MenuChoice(digits="1"),
        MenuChoice(digits="2"),
        MenuChoice(speech="Necesito pagar mi factura", keyword="factura"),
        MenuChoice(speech="Una cita, por favor", keyword="cita"),
        MenuChoice(speech="Es urgente", keyword="urgente"),
        MenuChoice(speech="Quiero dejar un mensaje", keyword="mensaje"),
    ),
}
LANGUAGE_DIGITS = {"": "en", "9": "es"}  # a call starts in English; 9 in the first question is Spanish
# When nobody answers, the flow may offer a callback, hold or a message: the caller asks for a message.
MESSAGE_CHOICES: dict[str, tuple[MenuChoice, ...]] = {
    "en": (MenuChoice(speech="I'd like to leave a message", keyword="message"),
           MenuChoice(speech="voicemail", keyword="voicemail")),
    "es": (MenuChoice(speech="Quiero dejar un mensaje", keyword="mensaje"),
           MenuChoice(speech="Un recado, por favor", keyword="recado")),
}
CALLBACK_KEYWORDS = {"callback", "call me back", "call back", "llámenme", "que me llamen"}
MAX_STEPS_TO_VOICEMAIL = 4  # dial result, offer, ... before the recording starts


def hints_of(turn: Turn) -> set[str]:
    return {h.strip().casefold() for h in turn.gather.get("hints", "").split(",") if h.strip()}


def menu_name(hints: set[str]) -> str:
    if hints & {"appointment", "cita"}:
        return "main menu (open)"
    if hints & {"message", "mensaje"}:
        return "after-hours menu"
    return "other menu"


def check_turn(turn: Turn, expected: tuple[str, ...], what: str) -> None:
    if any(text in turn.text for text in APOLOGY):
        raise FlowMismatch(f"{what}: the app answered with its apology fallback (server-side failure)")
    if turn.waiting not in expected:
        raise FlowMismatch(f"{what}: the call waits on {turn.waiting or 'nothing'}, expected {' or '.join(expected)}")


CALLER_NUMBERS = itertools.count()  # every call of the process (warm-up and measured) a number of its own


class Caller:
    """One thread's callers: one call after another, with think time between webhooks."""

    def __init__(
        self, server: Server, settings: Settings, rng: random.Random, stop: threading.Event,
        window: Window, think: bool = True,
    ) -> None:
        self.server = server
        self.window = window
        self.settings = settings
        self.rng = rng
        self.stop = stop
        self.think = think
        self.rec = Recorder()
        self.validator = RequestValidator(server.token)

    def loop(self, start_at: float, stop_starting_at: float, first_index: int, stride: int, max_calls: int) -> None:
        """Start calls until ``stop_starting_at`` (perf_counter) or ``max_calls``; finish the call in progress."""
        if self.stop.wait(max(0.0, start_at - time.perf_counter())):
            return
        index = first_index
        for _ in range(max_calls):
            if self.stop.is_set() or time.perf_counter() >= stop_starting_at:
                return
            self.one_call(index)
            index += stride

    def pause(self) -> None:
        if self.think and self.settings.think_max > 0:
            if self.stop.wait(self.rng.uniform(self.settings.think_min, self.settings.think_max)):
                raise Stopped
        elif self.stop.is_set():
            raise Stopped

    def one_call(self, index: int) -> None:
        started = time.perf_counter()
        client = CLIENTS[self.settings.client](self.settings.timeout)
        # A number of its own: a number that called before has a callback in line (its voicemail made one) and is
        # asked about it on arrival instead of hearing the menu (the returning node). 10,000 calls before one repeats.
        phone = PhoneCall(timed_transport(client, self.rec, self.window), self.server.base_url, self.server.token,
                          caller=f"+1202555{next(CALLER_NUMBERS) % 10000:04d}")
        try:
            self.script(phone, client, index)
        except Stopped:
            return
        except TransportFailed:
            pass  # already recorded
        except CallError as exc:
            last = self.rec.samples[-1] if self.rec.samples else None
            if last is None or last.ok:  # else its HTTP failure was recorded already
                self.rec.errors.append(f"step ({self.rec.phase}): {exc}")
        except FlowMismatch as exc:
            self.rec.errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a benchmark bug must not hide the others
            self.rec.errors.append(f"{self.rec.phase}: unexpected {type(exc).__name__}: {exc}")
        finally:
            client.close()
            self.rec.calls.append((started, time.perf_counter()))

    def script(self, phone: PhoneCall, client: HttpClient, index: int) -> None:
        """incoming, baseline, language, menu, [dial result, callback offer], record (+ callback), status."""
        self.rec.phase = "incoming"
        turn = phone.start()
        check_turn(turn, ("gather",), "incoming")
        self.baseline(client, phone, index)
        self.pause()

        digit = self.rng.choice(tuple(LANGUAGE_DIGITS))
        lang = LANGUAGE_DIGITS[digit]
        self.rec.phase = "language"
        if digit:
            turn = phone.press(digit)
        check_turn(turn, ("gather",), f"language {digit or '(none: English)'}")
        if not turn.gather.get("language", lang).startswith(lang):
            raise FlowMismatch(f"language {digit}: the menu listens in {turn.gather.get('language')}, expected {lang}")
        self.pause()

        turn = self.choose(phone, turn, lang)
        for _ in range(MAX_STEPS_TO_VOICEMAIL):
            if turn.waiting == "record":
                break
            self.pause()
            turn = self.toward_voicemail(phone, turn, lang)
        check_turn(turn, ("record",), "on the way to voicemail")
        self.pause()

        self.rec.phase = "record"
        turn = phone.record(seconds=10)
        check_turn(turn, ("ended",), "record")
        self.pause()
        self.rec.phase = "status"
        phone.hang_up(duration=60)

    def toward_voicemail(self, phone: PhoneCall, turn: Turn, lang: str) -> Turn:
        """Nobody answers the desk; to an offer (callback, hold or message), the caller asks for voicemail."""
        if turn.waiting == "dial":
            self.rec.phase = "dial result"
            turn = phone.dial_result("no-answer")
            check_turn(turn, ("record", "gather"), "dial no-answer")
            return turn
        hints = hints_of(turn)
        choice = next((c for c in MESSAGE_CHOICES[lang] if c.keyword in hints), None)
        if choice is None:
            raise FlowMismatch(f"after the menu: a question without a message option (hints: {sorted(hints)})")
        self.rec.phase = "callback offer" if hints & CALLBACK_KEYWORDS else "gather"
        turn = phone.say(choice.speech)
        check_turn(turn, ("record", "dial", "gather"), f"{self.rec.phase}: {choice.speech!r}")
        return turn

    def choose(self, phone: PhoneCall, turn: Turn, lang: str) -> Turn:
        hints = hints_of(turn)
        options = [c for c in MENU_CHOICES[lang] if c.digits or c.keyword in hints]
        choice = self.rng.choice(options)
        self.rec.menus[menu_name(hints)] += 1
        self.rec.inputs[f"{lang} {'keys' if choice.digits else 'speech'}"] += 1
        self.rec.phase = "menu"
        said = choice.digits or repr(choice.speech)
        turn = phone.press(choice.digits) if choice.digits else phone.say(choice.speech)
        # A desk with a long wait offers a callback before ringing: an offer (gather) is taken toward voicemail too.
        check_turn(turn, ("dial", "record", "gather"), f"menu {said} ({menu_name(hints)}, {lang})")
        return turn

    def baseline(self, client: HttpClient, phone: PhoneCall, index: int) -> None:
        """One minimal request under the same load: signed fallback (even calls) or healthz (odd)."""
        if index % 2:
            url = self.server.base_url + "/healthz"
            timed_request(client, self.rec, self.window, BASE_HEALTHZ, "GET", url, None, {})
            return
        url = self.server.base_url + "/voice/fallback"
        params = {
            "AccountSid": phone.account_sid, "ApiVersion": API_VERSION, "CallSid": phone.call_sid,
            "CallStatus": "in-progress", "Direction": "inbound", "From": phone.caller, "To": phone.called,
        }
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, params)}
        status, body = timed_request(client, self.rec, self.window, BASE_FALLBACK, "POST", url, params, headers)
        if status == 200 and "<Dial" not in body:
            self.rec.errors.append(f"{BASE_FALLBACK}: answered without a <Dial>")


# A load phase -------------------------------------------------------------------


@dataclass
class Phase:
    callers: list[Caller]
    window: tuple[float, float]  # perf_counter() bounds of the measured window
    cpu: tuple[CpuSnapshot | None, CpuSnapshot | None] = (None, None)
    unfinished: int = 0

    def recorders(self) -> list[Recorder]:
        return [c.rec for c in self.callers]


def start_callers(
    server: Server, settings: Settings, stop: threading.Event, window: Window, count: int, think: bool,
    t0: float, ramp: float, stop_starting_at: float, max_calls: int, seed_rng: random.Random,
) -> tuple[list[Caller], list[threading.Thread]]:
    """``count`` caller threads, started at random moments of [t0, t0 + ramp]."""
    callers = [Caller(server, settings, random.Random(seed_rng.random()), stop, window, think) for _ in range(count)]
    threads = []
    for i, caller in enumerate(callers):
        start_at = t0 + seed_rng.uniform(0, ramp)
        thread = threading.Thread(
            target=caller.loop, args=(start_at, stop_starting_at, i, count, max_calls),
            name=f"caller-{i}", daemon=True,
        )
        thread.start()
        threads.append(thread)
    return callers, threads


def join_all(threads: list[threading.Thread], deadline: float) -> int:
    """Join until ``deadline`` (perf_counter); returns how many threads are still running."""
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()))
    return sum(t.is_alive() for t in threads)


def warm_up(server: Server, settings: Settings, seed_rng: random.Random) -> list[Recorder]:
    """A few calls without think time, not measured: imports, connections, Redis scripts."""
    count = min(settings.calls, settings.warmup_calls)
    if not count:
        return []
    stop = threading.Event()
    try:
        callers, threads = start_callers(
            server, settings, stop, Window(), count, False, time.perf_counter(), 0.0, float("inf"), 1, seed_rng
        )
        left = join_all(threads, time.perf_counter() + settings.longest_call + 5)
    finally:
        stop.set()
    recs = [c.rec for c in callers]
    if left:
        recs[0].errors.append(f"warm-up: {left} caller(s) did not finish in time")
    return recs


def measure(server: Server, settings: Settings, seed_rng: random.Random) -> Phase:
    """The measured run: ramp-up, window of ``duration`` seconds, then the calls in progress finish."""
    stop = threading.Event()
    t0 = time.perf_counter()
    window = Window(t0 + settings.ramp, t0 + settings.ramp + settings.duration)
    try:
        callers, threads = start_callers(
            server, settings, stop, window, settings.calls, True, t0, settings.ramp, window.end, 1_000_000, seed_rng
        )
        phase = Phase(callers, (window.start, window.end))
        sleep_until(phase.window[0], stop)
        before = cpu_snapshot(server)
        print(f"measuring for {settings.duration:g} s ...", file=sys.stderr, flush=True)
        sleep_until(phase.window[1], stop)
        phase.cpu = (before, cpu_snapshot(server))
        phase.unfinished = join_all(threads, phase.window[1] + settings.longest_call + 5)
    finally:
        stop.set()
    return phase


def sleep_until(moment: float, stop: threading.Event) -> None:
    stop.wait(max(0.0, moment - time.perf_counter()))


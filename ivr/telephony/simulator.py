"""A phone call as Twilio makes it: signed webhooks, TwiML followed verb by verb.

Used by ``ivr call`` (a phone in the terminal), by the tests and by the
benchmark, so anyone can try a flow without a Twilio account. It follows
Twilio's documented behaviour: Say/Play are heard; Gather waits for keys or
speech and posts to its action (with empty input too when
actionOnEmptyResult is set, else goes on with the next verb); Dial and Record
post their results to their action; Record that hears nothing goes on with the
next verb; Redirect is followed; Hangup or the end of the document ends the call.

A message left on the terminal phone is real audio: the typed words are spoken by espeak-ng
(``speak``), made into what a phone line carries (8 kHz mono), and kept in the data folder as
``local-recordings/<RecordingSid>.wav`` (``save_local_recording``), where the voicemail pipeline
takes it instead of Twilio's copy while the server has no Twilio account (``local_recording``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"


class Transport(Protocol):
    def __call__(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]: ...


class CallError(RuntimeError):
    """The app answered something Twilio could not play (the caller would hear an error)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, when the app answered one other than 200


@dataclass(frozen=True)
class Heard:
    """One thing the caller hears or experiences."""

    kind: str  # say | play | dial | record | pause
    text: str = ""
    language: str = ""


@dataclass
class Turn:
    """What happened since the caller last acted, and what the call waits for now."""

    heard: list[Heard] = field(default_factory=list)
    waiting: str = ""  # gather | dial | record | ended
    gather: dict[str, str] = field(default_factory=dict)  # attributes of the waiting Gather
    dial_number: str = ""
    twiml: list[str] = field(default_factory=list)  # every document received, in order

    @property
    def said(self) -> list[str]:
        return [h.text for h in self.heard if h.kind == "say"]

    @property
    def text(self) -> str:
        return " ".join(self.said)


def requests_transport(timeout: float = 10.0) -> Transport:
    import requests

    session = requests.Session()

    def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        resp = session.post(url, data=data, headers=headers, timeout=timeout)
        return resp.status_code, resp.text

    return post


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


# The terminal phone's recordings ------------------------------------------------

LOCAL_RECORDINGS = "local-recordings"
_RECORDING_SID = re.compile(r"RE[0-9a-f]{32}")
VOICES = {"en": "en-us", "es": "es-419"}  # espeak-ng voices for the clinic's languages


class CannotSpeak(RuntimeError):
    """espeak-ng is missing or failed (the message says which)."""


def speak(text: str, lang: str = "en") -> bytes:
    """``text`` said by espeak-ng in ``lang``, as a phone line carries it: 8 kHz, mono, 16-bit WAV."""
    if not shutil.which("espeak-ng"):
        raise CannotSpeak("espeak-ng is not installed (scripts/bootstrap installs it)")
    voice = VOICES.get(lang, lang or "en-us")
    done = subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "--stdout", text], capture_output=True, timeout=60)
    if done.returncode != 0 or not done.stdout:
        raise CannotSpeak(f"espeak-ng could not speak in {voice}: {done.stderr.decode(errors='replace').strip()[:200]}")
    phone = subprocess.run(["ffmpeg", "-v", "error", "-f", "wav", "-i", "pipe:0", "-ar", "8000", "-ac", "1",
                            "-acodec", "pcm_s16le", "-f", "wav", "pipe:1"], input=done.stdout, capture_output=True, timeout=60)
    if phone.returncode != 0:
        raise CannotSpeak("ffmpeg could not convert the spoken message")
    return phone.stdout


def local_recording(data_dir: str | os.PathLike, recording_sid: str) -> Path | None:
    """Where the terminal phone keeps recording ``recording_sid``, if it made one."""
    if not _RECORDING_SID.fullmatch(recording_sid or ""):
        return None
    path = Path(data_dir) / LOCAL_RECORDINGS / f"{recording_sid}.wav"
    return path if path.is_file() else None


def save_local_recording(data_dir: str | os.PathLike, recording_sid: str, audio: bytes) -> Path:
    """Keep ``audio`` as recording ``recording_sid`` for the voicemail pipeline (folder 0700, file 0600)."""
    if not _RECORDING_SID.fullmatch(recording_sid):
        raise ValueError(f"not a recording sid: {recording_sid!r}")
    folder = Path(data_dir) / LOCAL_RECORDINGS
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{recording_sid}.wav"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(audio)
    return path


class PhoneCall:
    """One simulated inbound call to ``base_url`` (e.g. http://127.0.0.1:5000)."""

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        auth_token: str,
        caller: str = "+12025550123",
        called: str = "+12025550199",
        account_sid: str | None = None,
        call_sid: str | None = None,
        on_request: Callable[[str, dict[str, str]], None] | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.caller, self.called = caller, called
        self.account_sid = account_sid or new_sid("AC")
        self.call_sid = call_sid or new_sid("CA")
        self.on_request = on_request
        self.ended = False
        self.language = ""  # of the last thing the clinic said (Twilio's code, e.g. es-MX)
        self.requests = 0
        self._document_url = self.base_url + "/voice/incoming"
        self._pending: tuple[str, ET.Element, list[ET.Element]] | None = None

    # What the caller does ------------------------------------------------

    def start(self) -> Turn:
        return self._post_and_run(self.base_url + "/voice/incoming", {}, Turn())

    def press(self, digits: str) -> Turn:
        return self._answer_gather({"Digits": digits})

    def say(self, words: str, confidence: float = 0.92) -> Turn:
        return self._answer_gather({"SpeechResult": words, "Confidence": f"{confidence:.2f}"})

    def silence(self) -> Turn:
        return self._answer_gather(None)

    def dial_result(self, status: str = "no-answer", duration: int = 0) -> Turn:
        verb, element, rest = self._take("dial")
        action = element.get("action")
        if not action:
            return self._run(rest, Turn())
        params = {"DialCallStatus": status, "DialCallDuration": str(duration)}
        if status in ("completed", "answered"):
            params["DialCallSid"] = new_sid("CA")
            params["DialBridged"] = "true"
        return self._post_and_run(self._resolve(action), params, Turn())

    def record(self, seconds: int = 12, finished_on: str = "#", sid: str | None = None) -> Turn:
        """Leave a message of ``seconds`` (recording ``sid``: new by default); posts the action and the
        recording status callback."""
        verb, element, rest = self._take("record")
        sid = sid or new_sid("RE")
        url = f"https://api.twilio.com/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{sid}"
        turn = Turn()
        callback = element.get("recordingStatusCallback")
        action = element.get("action")
        result = {"RecordingUrl": url, "RecordingSid": sid, "RecordingDuration": str(seconds), "Digits": finished_on}
        if action:
            turn = self._post_and_run(self._resolve(action), result, turn)
        else:
            turn = self._run(rest, turn)
        if callback:
            self._post(
                self._resolve(callback),
                {
                    "RecordingSid": sid,
                    "RecordingUrl": url,
                    "RecordingStatus": "completed",
                    "RecordingDuration": str(seconds),
                    "RecordingChannels": "1",
                    "RecordingSource": "RecordVerb",
                    "RecordingStartTime": "",
                },
                document=False,
            )
        return turn

    def record_nothing(self) -> Turn:
        """The caller stays silent at the tone: Twilio goes on with the next verb."""
        verb, element, rest = self._take("record")
        return self._run(rest, Turn())

    def hang_up(self, duration: int = 60) -> int:
        """The caller hangs up: Twilio posts the final status callback. Returns its HTTP status."""
        self.ended = True
        self._pending = None
        status, _ = self._post(
            self.base_url + "/voice/status",
            {"CallStatus": "completed", "CallDuration": str(duration)},
            document=False,
        )
        return status

    # Twilio's side ---------------------------------------------------------

    def _params(self, extra: dict[str, str]) -> dict[str, str]:
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.call_sid,
            "CallStatus": "in-progress" if self.requests else "ringing",
            "Called": self.called,
            "Caller": self.caller,
            "Direction": "inbound",
            "From": self.caller,
            "To": self.called,
        }
        params.update(extra)
        return params

    def _post(self, url: str, extra: dict[str, str], document: bool = True) -> tuple[int, str]:
        params = self._params(extra)
        signature = self.validator.compute_signature(url, params)
        if self.on_request:
            self.on_request(url, params)
        self.requests += 1
        status, body = self.transport(url, params, {"X-Twilio-Signature": signature})
        if document:
            self._document_url = url
        return status, body

    def _resolve(self, url: str) -> str:
        return urljoin(self._document_url, url)

    def _post_and_run(self, url: str, extra: dict[str, str], turn: Turn) -> Turn:
        status, body = self._post(url, extra)
        if status != 200:
            raise CallError(f"{url} answered HTTP {status}: the caller would hear an application error", status=status)
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise CallError(f"{url} answered invalid XML ({exc}): the caller would hear an application error") from None
        if root.tag != "Response":
            raise CallError(f"{url} answered <{root.tag}>, not <Response>")
        turn.twiml.append(body)
        return self._run(list(root), turn)

    def _run(self, verbs: list[ET.Element], turn: Turn) -> Turn:
        for i, verb in enumerate(verbs):
            rest = verbs[i + 1:]
            tag = verb.tag
            if tag in ("Say", "Play", "Pause"):
                self._hear(verb, turn)
            elif tag == "Gather":
                for child in verb:
                    self._hear(child, turn)
                self._pending = ("gather", verb, rest)
                turn.waiting, turn.gather = "gather", dict(verb.attrib)
                return turn
            elif tag == "Dial":
                number = (verb.text or "").strip() or " ".join((c.text or "").strip() for c in verb)
                turn.heard.append(Heard("dial", number))
                self._pending = ("dial", verb, rest)
                turn.waiting, turn.dial_number = "dial", number
                return turn
            elif tag == "Record":
                turn.heard.append(Heard("record"))
                self._pending = ("record", verb, rest)
                turn.waiting = "record"
                return turn
            elif tag == "Redirect":
                return self._post_and_run(self._resolve((verb.text or "").strip()), {}, turn)
            elif tag in ("Hangup", "Reject"):
                break
            else:
                raise CallError(f"unexpected TwiML verb <{tag}>")
        self.ended = True
        self._pending = None
        turn.waiting = "ended"
        return turn

    def _hear(self, verb: ET.Element, turn: Turn) -> None:
        if verb.tag == "Say":
            turn.heard.append(Heard("say", " ".join((verb.text or "").split()), verb.get("language", "")))
            self.language = verb.get("language", "") or self.language
        elif verb.tag == "Play":
            turn.heard.append(Heard("play", (verb.text or "").strip()))
        elif verb.tag == "Pause":
            turn.heard.append(Heard("pause", verb.get("length", "1")))

    def _take(self, kind: str) -> tuple[str, ET.Element, list[ET.Element]]:
        if self._pending is None or self._pending[0] != kind:
            now = self._pending[0] if self._pending else "nothing (the call ended)"
            raise CallError(f"the call is not waiting on {kind}; it waits on {now}")
        pending, self._pending = self._pending, None
        return pending

    def _answer_gather(self, params: dict[str, str] | None) -> Turn:
        verb, element, rest = self._take("gather")
        action = element.get("action") or self._document_url
        if params is None:
            if element.get("actionOnEmptyResult") == "true":
                return self._post_and_run(self._resolve(action), {}, Turn())
            return self._run(rest, Turn())
        return self._post_and_run(self._resolve(action), params, Turn())

"""Twilio's recording endpoints as the voicemail pipeline uses them, on localhost.

Recording audio (``GET …/Recordings/{sid}.wav``) is not in Twilio's OpenAPI
description, so Prism cannot serve it; this server does, with the account's
basic auth, Twilio's 404 while a recording is not ready yet, and deletion
(``DELETE …/Recordings/{sid}.json``). The request shape of the deletion is
checked against the description separately, with Prism.

It also lists the account's recordings (``GET …/Recordings.json``) and reads a
call (``GET …/Calls/{sid}.json``) for the recovery of recordings that were never
kept, with the recordings a test says the account holds (Prism can only answer
with its description's example; the request is contract-checked with Prism).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Recordings/(RE[0-9a-fA-F]{32})\.(wav|json)$")
_LIST = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Recordings\.json(\?.*)?$")
_CALL = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Calls/(CA[0-9a-fA-F]{32})\.json$")
RFC2822 = "%a, %d %b %Y %H:%M:%S +0000"


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    recordings: dict[str, bytes] = field(default_factory=dict)
    default_audio: bytes | None = None  # served for any sid not in ``recordings`` (calls from the simulator)
    not_ready: dict[str, int] = field(default_factory=dict)  # sid -> how many more GETs answer 404
    failing: dict[str, int] = field(default_factory=dict)  # sid -> HTTP status every GET answers
    deleted: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # (method, path, authorised)
    # Recordings the account holds, for the list: sid -> {"call_sid", "source", "status", "duration"}
    held: dict[str, dict] = field(default_factory=dict)
    callers: dict[str, str] = field(default_factory=dict)  # CallSid -> the number that called

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _authorised(self) -> bool:
                expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                return self.headers.get("Authorization") == f"Basic {expected}"

            def _send(self, status: int, body: bytes = b"", kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _match(self):
                ok = self._authorised()
                fake.requests.append((self.command, self.path, ok))
                m = _PATH.match(self.path)
                if not ok:
                    self._send(401, b'{"code": 20003, "message": "Authenticate"}')
                    return None
                if m is None or m.group(1) != fake.account_sid:
                    self._send(404, b'{"code": 20404}')
                    return None
                return m

            def _listing(self) -> bool:
                """The recordings list or one call; True if this request was one of those."""
                listing, call = _LIST.match(self.path), _CALL.match(self.path)
                if not listing and not call:
                    return False
                ok = self._authorised()
                fake.requests.append((self.command, self.path, ok))
                if not ok or (listing or call).group(1) != fake.account_sid:
                    self._send(401 if not ok else 404, b'{"code": 20003}')
                    return True
                if call:
                    sid = call.group(2)
                    body = {"sid": sid, "account_sid": fake.account_sid, "from": fake.callers.get(sid, ""),
                            "status": "completed", "direction": "inbound"}
                    self._send(200 if sid in fake.callers else 404, json.dumps(body).encode())
                    return True
                now = datetime.datetime.now(datetime.timezone.utc).strftime(RFC2822)
                recordings = [
                    {"sid": sid, "account_sid": fake.account_sid, "call_sid": r.get("call_sid", ""),
                     "source": r.get("source", "RecordVerb"), "status": r.get("status", "completed"),
                     "duration": str(r.get("duration", 20)), "date_created": now, "channels": 1}
                    for sid, r in fake.held.items() if sid not in fake.deleted
                ]
                page = {"recordings": recordings, "next_page_uri": None, "previous_page_uri": None, "page": 0,
                        "page_size": 50, "start": 0, "end": len(recordings), "uri": self.path, "first_page_uri": self.path}
                self._send(200, json.dumps(page).encode())
                return True

            def do_GET(self) -> None:  # noqa: N802
                if self._listing():
                    return
                m = self._match()
                if m is None:
                    return
                sid = m.group(2)
                if sid in fake.failing:
                    self._send(fake.failing[sid], b'{"code": 20500}')
                    return
                if fake.not_ready.get(sid, 0) > 0:
                    fake.not_ready[sid] -= 1
                    self._send(404, b'{"code": 20404}')
                    return
                audio = fake.recordings.get(sid, fake.default_audio)
                if sid in fake.deleted or audio is None or m.group(3) != "wav":
                    self._send(404, b'{"code": 20404}')
                    return
                self._send(200, audio, "audio/x-wav")

            def do_DELETE(self) -> None:  # noqa: N802
                m = self._match()
                if m is None:
                    return
                if m.group(3) != "json" or m.group(2) in fake.deleted:
                    self._send(404, b'{"code": 20404}')
                    return
                fake.deleted.append(m.group(2))
                self._send(204)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-twilio")
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def settings(self) -> dict[str, str]:
        """Twilio settings for the pipeline, pointed at this server."""
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_BASE_URL": self.base_url,
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

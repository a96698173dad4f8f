"""Request size limits and early refusals (ivr/protection/request_limits.py, ivr/voice/security.py), and inputs
that used to be 500s or slow: impossible .ics dates, JSON and YAML nested thousands deep, huge flow
texts, a three-hour MP3 prompt."""

from __future__ import annotations

import io
import json
import select
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from ivr.protection import request_limits
from ivr.admin import audio
from ivr.flows import yaml_lines

from .conftest import TOKEN
from .test_admin import PASSWORD, csrf, logged_in, users  # noqa: F401  (users is a fixture)

MB = 1024 * 1024
GOOD_SHAPE = "A" * 27 + "="  # looks like a signature, is not one


def twilio_params(**extra: str) -> dict[str, str]:
    params = {
        "AccountSid": "AC" + "1" * 32, "ApiVersion": "2010-04-01", "CallSid": "CA" + "2" * 32,
        "CallStatus": "ringing", "Direction": "inbound", "From": "+12025550123", "To": "+12025550199",
    }
    params.update(extra)
    return params


def sign(url: str, params) -> str:
    return RequestValidator(TOKEN).compute_signature(url, params)


class Body(io.RawIOBase):
    """A request body that counts what the server read of it and fails if it reads past ``stop``."""

    def __init__(self, size: int, stop: int | None = None) -> None:
        self.size, self.stop, self.read_bytes, self.pos = size, stop, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking, which reads nothing
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: offset, 1: self.pos + offset, 2: self.size + offset}[whence]
        return self.pos

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        if self.stop is not None and self.read_bytes + n > self.stop:
            raise AssertionError(f"the server read past {self.stop} bytes of the body")
        buffer[:n] = b"a" * n
        self.read_bytes += n
        self.pos += n
        return n


def send(client, path: str, body: Body, headers: dict[str, str], chunked: bool = False, **kw):
    """POST ``body``: with its Content-Length, or chunked (no length; the server says where it ends)."""
    environ = {"wsgi.input_terminated": True} if chunked else {}
    if chunked:
        headers = {**headers, "Transfer-Encoding": "chunked"}
    return client.post(path, input_stream=body, headers=headers, content_type="application/x-www-form-urlencoded",
                       environ_overrides=environ, **kw)


# 1. Size limits, enforced while reading ---------------------------------------------------------


@pytest.mark.parametrize("signature", ["", "!!not base64!!", GOOD_SHAPE])
def test_oversized_webhook_is_refused_before_its_body_is_read(client, signature):
    body = Body(250 * MB, stop=0)
    resp = send(client, "/voice/incoming", body, {"X-Twilio-Signature": signature} if signature else {})
    assert resp.status_code in (403, 413)
    assert resp.status_code == (413 if signature == GOOD_SHAPE else 403)
    assert body.read_bytes == 0


def test_missing_or_malformed_signature_is_refused_before_reading_even_a_small_body(client, redis_conn):
    for signature in ["", "garbage", "x" * 28]:
        body = Body(2000, stop=0)
        resp = send(client, "/voice/incoming", body, {"X-Twilio-Signature": signature}, chunked=True)
        assert resp.status_code == 403 and body.read_bytes == 0
    assert redis_conn.keys("ivr:call:*") == []


def test_chunked_webhook_over_the_limit_is_read_to_one_byte_past_it_and_refused(client):
    body = Body(250 * MB, stop=request_limits.WEBHOOK.body + 1)
    resp = send(client, "/voice/incoming", body, {"X-Twilio-Signature": GOOD_SHAPE}, chunked=True)
    assert resp.status_code == 413
    assert body.read_bytes == request_limits.WEBHOOK.body + 1


def test_chunked_body_exactly_at_the_limit_is_not_refused_for_its_size(client):
    body = Body(request_limits.WEBHOOK.body)
    resp = send(client, "/voice/status", body, {"X-Twilio-Signature": GOOD_SHAPE}, chunked=True)
    assert resp.status_code == 403  # read whole, then the (forged) signature is checked


def test_real_webhooks_with_generous_forms_still_answer(client):
    params = twilio_params(SpeechResult="x" * 30_000, Extra="y" * 20_000)  # about 50 KB
    url = "http://localhost/voice/incoming"
    resp = client.post("/voice/incoming", data=params, headers={"X-Twilio-Signature": sign(url, params)})
    assert resp.status_code == 200
    assert ET.fromstring(resp.data).tag == "Response"


def test_signed_chunked_webhook_is_parsed_once_read(client):
    params = twilio_params()
    encoded = urlencode(params).encode()
    resp = client.post("/voice/incoming", input_stream=io.BytesIO(encoded), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": sign("http://localhost/voice/incoming", params),
                                "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 200 and ET.fromstring(resp.data).tag == "Response"


@pytest.mark.parametrize("chunked", [False, True])
def test_login_form_is_limited_to_a_few_kilobytes(client, chunked):
    body = Body(250 * MB, stop=0 if not chunked else request_limits.STAFF.body + 1)
    resp = send(client, "/login", body, {}, chunked=chunked)
    assert resp.status_code == 413
    assert body.read_bytes == (0 if not chunked else request_limits.STAFF.body + 1)


def test_admin_limits_leave_room_for_recordings_but_not_more(app, users):  # noqa: F811
    admin = logged_in(app)
    body = Body(audio.MAX_UPLOAD_BYTES + 2 * MB, stop=0)
    assert send(admin, "/admin/prompts/en/welcome/audio", body, {}).status_code == 413
    assert body.read_bytes == 0
    body = Body(3 * MB, stop=0)
    assert send(admin, "/admin/hours", body, {}).status_code == 413 and body.read_bytes == 0
    assert request_limits.audio_upload_limit().body > audio.MAX_UPLOAD_BYTES
    # A recording the size of the limit is read (and judged by audio.convert, not refused unread).
    token = csrf(admin, "/admin/prompts/welcome")
    big = b"RIFF" + b"\0" * (audio.MAX_UPLOAD_BYTES - 4)
    resp = admin.post("/admin/prompts/en/welcome/audio", data={"csrf_token": token, "audio": (io.BytesIO(big), "big.wav")},
                      content_type="multipart/form-data", follow_redirects=True)
    assert resp.status_code == 200 and "Recording not used" in resp.get_data(as_text=True)


def test_api_keeps_its_own_limit(client):
    body = Body(5 * MB)  # over every limit here except the API's 8 MB
    resp = send(client, "/api/appointments", body, {"Authorization": "Bearer nope"})
    assert resp.status_code == 401  # the API's own checks answered, not a 413 from here


# 2. 500s that are now clear 4xx -------------------------------------------------------------------


@pytest.mark.parametrize("date", ["20261345", "20260230"])
def test_calendar_with_an_impossible_date_is_a_clear_422(make_app, config_copy, users, date):  # noqa: F811
    config, prompts = config_copy
    admin = logged_in(make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts)))
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\n"
           f"DTSTART;VALUE=DATE:{date}\r\nSUMMARY:Founders Day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    resp = admin.post("/admin/hours/import", data={"csrf_token": csrf(admin, "/admin/hours"),
                                                     "calendar": (io.BytesIO(ics.encode()), "bad.ics")},
                      content_type="multipart/form-data")
    assert resp.status_code == 422
    assert f"Founders Day: the start date {date} is not a real date" in resp.get_data(as_text=True)


def test_hours_form_with_a_nonsense_holiday_count_is_not_a_500(app, users):  # noqa: F811
    admin = logged_in(app)
    for count in ["many", "99999999999"]:
        resp = admin.post("/admin/hours", data={"csrf_token": csrf(admin, "/admin/hours"), "holiday_count": count,
                                                "hours_monday": "nonsense"})
        assert resp.status_code < 500


@pytest.mark.parametrize("endpoint", ["check", "try"])
def test_json_nested_100k_deep_is_a_400(app, users, endpoint):  # noqa: F811
    admin = logged_in(app)
    token = csrf(admin, "/admin/flows/main")
    for body in ["[" * 100_000 + "]" * 100_000, '{"a":' * 100 + "1" + "}" * 100, "[1]", '{"text": ["x"]}']:
        resp = admin.post(f"/admin/flows/main/{endpoint}", data=body, content_type="application/json",
                          headers={"X-CSRFToken": token})
        assert resp.status_code == 400, body[:20]


def test_json_depth_is_measured_without_recursion():
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    assert request_limits.json_depth(deep) > request_limits.MAX_JSON_DEPTH
    assert request_limits.json_depth({"a": [1, {"b": 2}]}) == 3


def test_yaml_nested_5000_deep_is_an_issue_not_a_crash(app, users):  # noqa: F811
    admin = logged_in(app)
    token = csrf(admin, "/admin/flows/main")
    for text in ["name: main\nnodes: " + "[" * 5000 + "]" * 5000,
                 "name: main\nnodes:\n  " + "- " * 5000 + "x\n"]:
        resp = admin.post("/admin/flows/main/check", json={"text": text}, headers={"X-CSRFToken": token})
        assert resp.status_code == 200
        answer = resp.get_json()
        assert answer["ok"] is False
        assert any("depth limit" in i["message"] for i in answer["issues"])
    with pytest.raises(yaml_lines.YamlSyntaxError, match="depth limit"):
        yaml_lines.load("a: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(yaml_lines.YamlSyntaxError, match="aliases"):  # a "billion laughs"
        yaml_lines.load("a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(12)))


def test_flow_text_length_is_checked_before_it_is_parsed_or_drawn(app, users, monkeypatch):  # noqa: F811
    admin = logged_in(app)
    token = csrf(admin, "/admin/flows/main")
    parsed = []
    real_load = yaml_lines.load
    monkeypatch.setattr(yaml_lines, "load", lambda text: parsed.append(len(text)) or real_load(text))
    text = "name: main\n#" + "x" * 1_500_000  # 1.5 MB: under the admin body limit, over MAX_TEXT
    started = time.monotonic()
    resp = admin.post("/admin/flows/main/check", json={"text": text}, headers={"X-CSRFToken": token})
    assert time.monotonic() - started < 1.0
    answer = resp.get_json()
    assert answer["ok"] is False and "too long" in answer["issues"][0]["message"]
    assert "longer than 200,000 characters" in answer["svg"]
    assert parsed == []
    # Not kept as a draft either (every later view of the editor would carry it).
    resp = admin.post("/admin/flows/main/save", data={"csrf_token": token, "text": text}, follow_redirects=True)
    assert "Not saved: the flow is too long" in resp.get_data(as_text=True)
    assert app.extensions["ivr"].flow_versions.draft("main") is None
    # 5 MB is over the admin body limit: refused unread.
    assert admin.post("/admin/flows/main/check", json={"text": "x" * 5 * MB}, headers={"X-CSRFToken": token}).status_code == 413


def test_three_hour_mp3_is_refused_before_it_is_decoded(tmp_path, monkeypatch):
    one = tmp_path / "one.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=60",
                    "-ac", "1", "-b:a", "8k", "-write_xing", "0", str(one)], check=True)
    three_hours = one.read_bytes() * 180  # CBR frames back to back: 10.8 MB, 3 hours
    decoded = []
    real = audio.AudioSegment.from_file
    monkeypatch.setattr(audio.AudioSegment, "from_file", lambda *a, **k: decoded.append(k) or real(*a, **k))
    started = time.monotonic()
    with pytest.raises(audio.AudioRejected, match=r"1084\d seconds long; prompts may be 120 seconds at most"):
        audio.convert(three_hours, "long.mp3")
    assert decoded == [] and time.monotonic() - started < 5
    # Whatever the headers say, no more than MAX_SECONDS + 1 is ever decoded.
    monkeypatch.setattr(audio, "_seconds", lambda info: None)
    with pytest.raises(audio.AudioRejected, match="longer than 120 seconds"):
        audio.convert(three_hours, "long.mp3")
    assert decoded and decoded[-1]["duration"] == audio.MAX_SECONDS + 1


# 4. Under a real server: oversized bodies do not hold up a call ----------------------------------------


def _raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode("latin-1"))
    return sock


def _status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_real_server_refuses_big_bodies_unread_while_a_call_is_answered(start_server):
    live = start_server()
    port = live.server.server_port
    size = 50 * MB
    results: dict[str, object] = {}

    def attacker(i: int) -> None:
        chunked = i % 2 == 1
        path = "/voice/incoming" if i < 2 else "/login"
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                f"X-Twilio-Signature: {GOOD_SHAPE}\r\n")
        head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {size}\r\n\r\n"
        sock = _raw_request(port, head)
        sent = 0
        try:
            chunk = b"a" * 65536
            while sent < size:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server answered: stop sending
                sock.sendall((b"10000\r\n" + chunk + b"\r\n") if chunked else chunk)
                sent += len(chunk)
            results[f"status{i}"] = _status_of(sock)
            results[f"sent{i}"] = sent
        except OSError as exc:  # the server may close while we send: that is a refusal too
            results[f"status{i}"] = 413 if sent < size else repr(exc)
            results[f"sent{i}"] = sent
        finally:
            sock.close()

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    import requests

    params = twilio_params()
    url = f"http://127.0.0.1:{port}/voice/incoming"
    started = time.monotonic()
    resp = requests.post(url, data=params, headers={"X-Twilio-Signature": sign(url, params)}, timeout=5)
    took = time.monotonic() - started
    for t in threads:
        t.join(30)
    assert resp.status_code == 200 and ET.fromstring(resp.content).tag == "Response"
    assert took < 1.0, took
    for i in range(4):
        assert results[f"status{i}"] == 413, results
        # Refused long before the 50 MB were sent (a few MB may sit in socket buffers on the way).
        assert results[f"sent{i}"] < 8 * MB, results

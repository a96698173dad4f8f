"""A "recording" that is really a playlist makes no request (issue 31, finding 6).

ffprobe and ffmpeg read a file's real format: an HLS playlist named ``.mp3`` (or sent as a voicemail)
made the server fetch every address it listed. A local HTTP server stands in for the target and counts
what it is asked for; the upload page and the voicemail decoder must refuse the file without a request.
"""

from __future__ import annotations

import http.server
import io
import threading

import pytest

from ivr.admin import audio
from ivr.speech.audio import decode_audio, probe
from ivr.speech.types import AudioUnreadable

from .test_admin import csrf, logged_in, users, wav_bytes  # noqa: F401  (users: a fixture)


@pytest.fixture
def target():
    """A web server on localhost that records every path requested of it."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.end_headers()
            self.wfile.write(b"\xff\xfb\x90\x00" * 256)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()
    server.server_close()


def playlists(base: str) -> list[bytes]:
    """HLS in its two shapes (segments, and a master playlist naming a variant), and an HLS key URI."""
    return [
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{base}/segment.ts\n#EXT-X-ENDLIST\n".encode(),
        f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000\n{base}/variant.m3u8\n".encode(),
        f"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"{base}/key\"\n#EXTINF:10,\n{base}/s.ts\n#EXT-X-ENDLIST\n".encode(),
    ]


def test_the_playlists_would_make_an_unrestricted_ffprobe_fetch(target):
    """The finding itself: left to guess, ffprobe fetches what a piped playlist names (so the test can fail)."""
    import subprocess

    base, asked = target
    subprocess.run(["ffprobe", "-v", "quiet", "-of", "json", "-show_format", "cache:pipe:0"],
                   input=playlists(base)[0], capture_output=True, timeout=30)
    assert asked == ["/segment.ts"]


def test_a_playlist_uploaded_as_a_prompt_is_refused_without_a_request(make_app, config_copy, users, target):  # noqa: F811
    base, asked = target
    config, prompts = config_copy
    admin = logged_in(make_app(CONFIG_DIR=str(config), PROMPTS_DIR=str(prompts), RELOAD_INTERVAL=0))
    token = csrf(admin, "/admin/prompts/welcome")
    for n, payload in enumerate(playlists(base)):
        for name in ("hello.mp3", "hello.wav"):
            resp = admin.post("/admin/prompts/en/welcome/audio", data={"csrf_token": token, "audio": (io.BytesIO(payload), name)},
                              content_type="multipart/form-data", follow_redirects=True)
            assert resp.status_code == 200
            assert f"not a {name[-3:].upper()} recording" in resp.get_data(as_text=True), (n, name)
    assert asked == []
    assert not (prompts / "en" / "audio" / "welcome.wav").exists()
    # A real recording still goes through the same path.
    wav, seconds = audio.convert(wav_bytes(), "ok.wav")
    assert wav[:4] == b"RIFF" and 1.4 < seconds < 1.6


def test_a_playlist_sent_as_a_voicemail_is_unreadable_without_a_request(target):
    base, asked = target
    for payload in playlists(base):
        with pytest.raises(AudioUnreadable, match="not an audio file"):
            decode_audio(payload, 16000)
        assert probe(payload) == {}
    assert asked == []
    # The decoder still reads what Twilio sends (WAV, MP3) and what Asterisk ships (GSM).
    assert decode_audio(wav_bytes(), 16000).seconds == pytest.approx(1.5, abs=0.05)
    assert decode_audio(wav_bytes(fmt="mp3"), 16000).seconds == pytest.approx(1.5, abs=0.1)

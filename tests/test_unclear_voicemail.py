"""Nothing hidden (issue 29, part 2): a message with speech the engine could not make out is shown as
"unclear — listen to the recording", waits with the urgent ones until someone has listened, and is
never a routine empty transcript. Real Spanish speech, the real transcriber, real Redis, the console."""

from __future__ import annotations

import json
import re
import subprocess
import secrets

import pytest
from click.testing import CliRunner
from rq import Queue

from ivr import cli
from ivr.clinic.settings import load_clinic
from ivr.speech import decode_audio, transcriber_for, unclear
from ivr.speech.types import Segment, Transcript
from ivr.staff.passwords import hash_password
from ivr.store.voicemails import VoicemailStatus
from ivr.workers import SPEECH_QUEUE
from ivr.workers import voicemail as jobs

from .fake_twilio import FakeTwilio
from .processes import ROOT

VOICEMAILS = ROOT / "tests" / "data" / "voicemails"
PASSWORD = "correct horse battery staple"
CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")


def muffled_spanish() -> bytes:
    """Four seconds of a Spanish caller (the blood-test results message) as a bad line carries it:
    only what is under 250 Hz. Its level and Silero's voice detector say someone speaks; Whisper base
    writes one segment it itself judges to be no speech (0.8), or, right after decoding the whole message,
    no segment at all (CTranslate2's int8 figures shift a little with what it decoded before), so the
    transcript is empty either way."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(VOICEMAILS / "es-results-01.wav"), "-ss", "0.8", "-t", "4",
         "-af", "lowpass=f=250,lowpass=f=250,lowpass=f=250", "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw",
         "-f", "wav", "pipe:1"],
        capture_output=True, check=True,
    ).stdout


@pytest.fixture(scope="module")
def muffled() -> bytes:
    return muffled_spanish()


def test_real_spanish_speech_heard_as_nothing_is_unclear_not_no_speech(muffled, tmp_path):
    es = transcriber_for("es", tmp_path / "models")
    audio = decode_audio(muffled, es.sample_rate)
    transcript = es.transcribe(audio)
    assert transcript.text == "" and transcript.speech_heard is True
    assert not any(s.kept for s in transcript.segments)
    assert unclear(transcript, audio)
    # The same message heard whole is clear.
    whole = es.transcribe(decode_audio((VOICEMAILS / "es-results-01.wav").read_bytes(), es.sample_rate))
    assert whole.text and not unclear(whole)


def _t(text: str, *segments: Segment, heard: bool | None = True, confidence: float = 0.8) -> Transcript:
    return Transcript(text, (), confidence, 10.0, "whisper:base", "es", heard, segments)


@pytest.mark.parametrize(
    "transcript, expected",
    [
        (_t("hola quiero una cita", Segment(0, 5, -0.4, 0.1, 1.2, True)), False),
        (_t("", heard=True), True),  # a voice, no words
        (_t("", heard=False), False),  # silence, music, line noise: nobody spoke
        (_t("hola a la no me cuento", Segment(0, 5, -1.4, 0.3, 1.3, True)), True),  # Whisper unsure of its words
        (_t("la libra de la libra de la libra", Segment(0, 5, -0.6, 0.3, 2.9, True)), True),  # repeating itself
        (_t("hola", Segment(0, 2, -0.4, 0.1, 1.0, True), Segment(2, 10, -0.9, 0.8, 1.5, False)), True),  # most dropped
        (_t("hola", heard=None), False),  # an engine without figures and no audio to check
        (_t("o la mirillo necesita más menítica", Segment(0, 5, -0.8, 0.1, 1.2, True), confidence=0.55), True),  # words doubted
    ],
)
def test_what_makes_a_transcript_unclear(transcript, expected):
    assert unclear(transcript) is expected


@pytest.fixture
def twilio():
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    yield fake
    fake.stop()


def _csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_an_unclear_spanish_message_is_shown_unclear_with_the_urgent_ones_until_someone_listens(app, client, twilio, tmp_path, muffled):
    svc = app.extensions["ivr"]
    svc.users.add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    pipeline = jobs.Pipeline(svc.voicemails, svc.callbacks, CLINIC, svc.vault, svc.sealer, twilio.settings(), tmp_path / "models")
    queue = Queue(SPEECH_QUEUE, connection=svc.redis)

    def leave(audio: bytes, caller: str) -> str:
        sid = "RE" + secrets.token_hex(16)
        twilio.recordings[sid] = audio
        form = {"RecordingSid": sid, "CallSid": "CA" + secrets.token_hex(16), "RecordingStatus": "completed", "RecordingDuration": "5"}
        jobs.receive(form, {"department": "nurse", "lang": "es", "purpose": "voicemail"}, caller, svc.voicemails, svc.callbacks, queue, CLINIC)
        assert pipeline.run(sid) == "transcribed"
        return sid

    routine = leave((VOICEMAILS / "es-refill-04.wav").read_bytes(), "+13055550111")  # left first, clear, routine
    sid = leave(muffled, "+13055550122")
    vm = svc.voicemails.get(sid)
    assert vm.unclear and not vm.urgent and vm.status is VoicemailStatus.TRANSCRIBED  # never "no speech detected"
    assert svc.sealer.open_text(vm.transcript, f"transcript:{sid}") == ""
    waiting = svc.callbacks.waiting("nurse")
    assert [cb.id for cb in waiting][:2] == [vm.callback_id, svc.voicemails.get(routine).callback_id]

    client.post("/login", data={"csrf_token": _csrf(client, "/login"), "username": "nina", "password": PASSWORD})
    queue_page = client.get("/console").get_data(as_text=True)
    row = re.search(rf'<tr data-callback="{vm.callback_id}".*?</tr>', queue_page, re.S).group(0)
    assert "Unclear — listen to the recording" in row and "Poco claro — escuche la grabación" in row
    assert "Urgent" not in row and "No message" not in row and "said nothing" not in row
    page = client.get(f"/console/callbacks/{vm.callback_id}").get_data(as_text=True)
    assert "Unclear — listen to the recording" in page and "nobody has listened yet" in page

    # Nina plays it: it goes back to its place by time, and the page says who listened.
    audio = client.get(f"/console/callbacks/{vm.callback_id}/recordings/{sid}.wav")
    assert audio.status_code == 200 and audio.data == muffled
    assert svc.voicemails.get(sid).listened_by == "nina"
    waiting = svc.callbacks.waiting("nurse")
    assert [cb.id for cb in waiting][:2] == [svc.voicemails.get(routine).callback_id, vm.callback_id]
    page = client.get(f"/console/callbacks/{vm.callback_id}").get_data(as_text=True)
    assert "Unclear — listen to the recording" in page and "listened to by nina" in page


def test_an_urgent_message_stays_urgent_after_it_is_played(app, client, twilio, tmp_path):
    svc = app.extensions["ivr"]
    svc.users.add("nina", "nurse", hash_password(PASSWORD))
    pipeline = jobs.Pipeline(svc.voicemails, svc.callbacks, CLINIC, svc.vault, svc.sealer, twilio.settings(), tmp_path / "models")
    sid = "RE" + secrets.token_hex(16)
    twilio.recordings[sid] = (VOICEMAILS / "es-urgent-02.wav").read_bytes()
    form = {"RecordingSid": sid, "CallSid": "CA" + secrets.token_hex(16), "RecordingStatus": "completed", "RecordingDuration": "9"}
    jobs.receive(form, {"department": "nurse", "lang": "es", "purpose": "voicemail"}, "+13055550133",
                 svc.voicemails, svc.callbacks, Queue(SPEECH_QUEUE, connection=svc.redis), CLINIC)
    assert pipeline.run(sid) == "transcribed"
    vm = svc.voicemails.get(sid)
    client.post("/login", data={"csrf_token": _csrf(client, "/login"), "username": "nina", "password": PASSWORD})
    assert client.get(f"/console/callbacks/{vm.callback_id}/recordings/{sid}.wav").status_code == 200
    cb = svc.callbacks.get(vm.callback_id)
    assert cb.urgent and "no puedo respirar" in svc.sealer.open_text(cb.urgent_reason, f"callback-urgent:{cb.id}")


def test_ivr_transcribe_json_says_urgent_and_unclear_per_file(muffled, tmp_path):
    muffled_file = tmp_path / "muffled.wav"
    muffled_file.write_bytes(muffled)
    result = CliRunner().invoke(cli.main, ["transcribe", "--json", "--language", "es", "--models-dir", str(tmp_path / "models"),
                                           str(VOICEMAILS / "es-urgent-05.wav"), str(muffled_file)])
    assert result.exit_code == 0, result.output
    urgent, unclear_one = json.loads(result.output[result.output.index("["):])
    assert urgent["unclear"] is False and urgent["urgent"]
    assert {"heard", "phrase", "another_reading"} == set(urgent["urgent"][0]) and urgent["urgent"][0]["phrase"] == "pensamientos suicidas"
    assert unclear_one["text"] == "" and unclear_one["unclear"] is True and unclear_one["urgent"] == []

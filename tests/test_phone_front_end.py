"""The phone-line front end for pocketsphinx: noise reduced, upper band refilled, on real voicemails."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ivr.speech import Audio, decode_audio
from ivr.speech.phone import PHONE_RATE, WIDE_RATE, prepare, reduce_noise, widen
from ivr.speech.sphinx import SphinxTranscriber
from ivr.speech.wer import corpus_wer

VOICEMAILS = Path(__file__).resolve().parent / "data" / "voicemails"
with open(VOICEMAILS / "truth.tsv", newline="") as fh:
    ROWS = list(csv.DictReader(fh, delimiter="\t"))


def tone(freq: float, seconds: float, rate: int = PHONE_RATE, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def band_energy(samples: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    freq = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[(freq >= lo) & (freq < hi)].sum())


def as_audio(samples: np.ndarray, rate: int = PHONE_RATE) -> Audio:
    pcm = np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()
    return Audio(pcm=pcm, sample_rate=rate, seconds=len(samples) / rate)


def test_plain_resampling_keeps_the_phone_band_and_adds_nothing_above_it():
    x = tone(1000, 1.0)
    y = widen(x, image=False)
    assert len(y) == 2 * len(x)
    assert band_energy(y, WIDE_RATE, 4000, 8000) < 1e-6 * band_energy(y, WIDE_RATE, 900, 1100)
    assert np.allclose(y[::2], x, atol=1.0)  # the original samples are still there


def test_widening_mirrors_speech_into_the_empty_upper_band_and_keeps_the_phone_band():
    x = tone(3000, 1.0)
    y = widen(x)
    assert band_energy(y, WIDE_RATE, 2900, 3100) == pytest.approx(band_energy(widen(x, image=False), WIDE_RATE, 2900, 3100), rel=1e-3)
    image = band_energy(y, WIDE_RATE, 4900, 5100)  # 3 kHz mirrored about 4 kHz
    assert 0.05 * band_energy(y, WIDE_RATE, 2900, 3100) < image < band_energy(y, WIDE_RATE, 2900, 3100)


def test_noise_reduction_removes_steady_hum_thins_hiss_and_keeps_the_speech_bursts():
    rng = np.random.default_rng(3)
    hum = tone(60, 3.0, amplitude=1500) + tone(180, 3.0, amplitude=750)  # mains hum
    hiss = rng.normal(0, 300, PHONE_RATE * 3)
    burst = np.zeros_like(hiss)
    burst[PHONE_RATE : 2 * PHONE_RATE] = tone(800, 1.0, amplitude=6000)  # a second of "speech" mid-recording
    cleaned = reduce_noise(hum + hiss + burst)
    assert len(cleaned) == len(hiss)
    quiet = slice(PHONE_RATE // 4, PHONE_RATE // 2 + PHONE_RATE // 4)  # line noise alone
    loud = slice(PHONE_RATE + 1000, 2 * PHONE_RATE - 1000)
    assert band_energy(cleaned[quiet], PHONE_RATE, 40, 200) < 0.02 * band_energy((hum + hiss)[quiet], PHONE_RATE, 40, 200)
    assert band_energy(cleaned[quiet], PHONE_RATE, 300, 3400) < 0.9 * band_energy(hiss[quiet], PHONE_RATE, 300, 3400)
    assert band_energy(cleaned[loud], PHONE_RATE, 700, 900) == pytest.approx(band_energy(burst[loud], PHONE_RATE, 700, 900), rel=0.1)


def test_recordings_shorter_than_a_frame_and_empty_ones_pass_through():
    assert prepare(as_audio(np.zeros(0))).pcm == b""
    short = prepare(as_audio(tone(500, 0.01)))
    assert short.sample_rate == WIDE_RATE and len(short.pcm) == 2 * 2 * 80


def test_only_phone_rate_audio_is_accepted():
    with pytest.raises(ValueError, match="8000 Hz"):
        prepare(as_audio(tone(500, 0.5, rate=16_000), rate=16_000))


def test_the_front_end_and_its_adaptation_beat_the_model_fed_plainly_resampled_audio():
    """Six reference voicemails: the shipped engine against the same LM on plainly resampled audio."""
    rows = ROWS[::7][:6]
    audio = [decode_audio((VOICEMAILS / f"{r['id']}.wav").read_bytes(), PHONE_RATE) for r in rows]
    shipped, plain = SphinxTranscriber(), SphinxTranscriber(phone=False)
    assert shipped.sample_rate == PHONE_RATE
    adapted = corpus_wer([(r["text"], shipped.transcribe(a).text) for r, a in zip(rows, audio)])
    unadapted = corpus_wer([(r["text"], plain.transcribe(a).text) for r, a in zip(rows, audio)])
    assert adapted < 0.8 * unadapted, (adapted, unadapted)


# the phone transform (ivr/speech/adapt.py) ----------------------------------------------------------


def test_shipped_transform_reads_back_and_writes_identically(tmp_path):
    from ivr.speech.adapt import read_mllr, write_mllr
    from ivr.speech.sphinx import PHONE_MLLR

    streams = read_mllr(PHONE_MLLR)
    assert [a.shape for a, _, _ in streams] == [(13, 13)] * 3
    write_mllr(tmp_path / "again.mllr", streams)
    assert (tmp_path / "again.mllr").read_text() == PHONE_MLLR.read_text()


def test_channel_transform_undoes_the_voice_before_the_line():
    from ivr.speech.adapt import channel_transform

    rng = np.random.default_rng(5)
    eye = np.eye(13)
    phone = [(eye + 0.1 * rng.standard_normal((13, 13)), rng.standard_normal(13), np.ones(13)) for _ in range(3)]
    voice = [(eye + 0.1 * rng.standard_normal((13, 13)), rng.standard_normal(13), np.ones(13)) for _ in range(3)]
    untouched = channel_transform(phone, voice, 0.0)
    for (a, b, _), (pa, pb, _) in zip(untouched, phone):
        assert np.allclose(a, pa) and np.allclose(b, pb)
    mean = rng.standard_normal(13)
    for (a, b, _), (pa, pb, _), (va, vb, _) in zip(channel_transform(phone, voice, 1.0), phone, voice):
        as_voice = va @ mean + vb  # a mean moved to the voice, then the whole combined transform ...
        assert np.allclose(a @ as_voice + b, pa @ mean + pb)  # ... lands where the phone transform takes the mean

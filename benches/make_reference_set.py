"""Make the reference voicemails: synthetic callers on a phone line, with their true text.

    .venv/bin/pip install -e '.[reference]'      # hibari-tts (English TTS, offline) and numpy
    .venv/bin/python -m benches.make_reference_set

Each text in benches/reference_texts.py is spoken by hibari-tts at a varied speed, then put through
what a phone line does: a pause before and after, line noise (hiss and mains hum) at a varied
signal-to-noise ratio, a varied level (some callers are quiet), band-limiting to 300-3400 Hz,
resampling to 8 kHz and mu-law coding (ffmpeg), as Twilio's recordings of a phone call are. Writes
tests/data/voicemails/<id>.wav and truth.tsv (id, speed, level dBFS, SNR dB, text). Deterministic
(seeded), so running it again gives the same files for the same hibari version.

Engine settings are chosen on real human speech (benches/speech_sets.py), not on these files.

Korean files for the Vosk engine are spoken by Debian's espeak-ng (ko-*.wav, same line conditions).

    .venv/bin/python -m benches.make_reference_set --spanish     # only the Spanish set

The Spanish set (benches/reference_texts_es.py: 24 voicemails, 8 of them urgent) is spoken by
espeak-ng's Latin-American voice (es-419) at a varied speed (135-165 words a minute) and pitch, then
put through the same phone line (level -30..-16 dBFS, SNR 18..30 dB): tests/data/voicemails/es-*.wav
and truth-es.tsv (id, text), for the Spanish benchmark and the urgent-voicemail tests.
espeak-ng's Spanish is robotic (its d often heard as n), so the set is harder than most callers: even
without the phone line Whisper base misses words; slower speech or the Spain voice (es) did no better.

    .venv/bin/python -m benches.make_reference_set --added-words   # only tests/data/added_words

tests/data/added_words holds voicemails saying a word the clinic vocabulary lacks, for the test that
a clinic's own urgent phrases ("anaphyla*") are heard once the engine is told them.
"""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import sys
from pathlib import Path

from benches.reference_texts import VOICEMAILS

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "voicemails"
ADDED_WORDS_OUT = OUT.parent / "added_words"
TTS_RATE = 24_000

# Korean: "hello, hospital appointment, thank you" in a few short sentences (known words the tests look for).
KOREAN: list[tuple[str, str]] = [
    ("ko-01", "안녕하세요 병원 예약 감사합니다"),
    ("ko-02", "내일 병원에 가고 싶습니다 감사합니다"),
    ("ko-03", "안녕하세요 저는 김민수입니다 내일 오후 두 시 예약을 취소하고 싶습니다 전화 부탁드립니다 감사합니다"),
    ("ko-04", "약을 다시 처방받고 싶습니다 약국에 보내 주세요 제 전화번호는 공일공 일이삼사 오육칠팔입니다"),
    ("ko-05", "어제부터 열이 나고 기침이 심합니다 간호사와 이야기하고 싶습니다 빨리 연락 주세요"),
    ("ko-06", "병원비 청구서에 대해 질문이 있습니다 보험이 바뀌었습니다 다시 전화해 주세요 감사합니다"),
]


# Voicemails with a word no clinic list has: a clinic adds it to its urgent phrases.
ADDED_WORD_VOICEMAILS: list[tuple[str, str]] = [
    ("added-01", "hello this is laura bennett my son had anaphylaxis after eating peanuts last night "
                 "he is better now but i need to talk to a nurse today please call me back"),
]


def phone_line(samples, rate: int, rng: random.Random, *, level_db: float, snr_db: float):
    """Pauses, line noise and a level, as float32 at ``rate`` (band-limit and mu-law come in ffmpeg)."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float32)
    lead = np.zeros(int(rate * rng.uniform(0.3, 0.9)), dtype=np.float32)
    tail = np.zeros(int(rate * rng.uniform(0.5, 1.2)), dtype=np.float32)
    x = np.concatenate([lead, x, tail])
    speech_rms = float(np.sqrt(np.mean(np.square(x[np.abs(x) > 1e-4])))) or 1e-3
    x = x / speech_rms  # speech at RMS 1, then noise relative to it
    gen = np.random.default_rng(rng.randrange(2**32))
    hiss = gen.standard_normal(len(x)).astype(np.float32)
    t = np.arange(len(x), dtype=np.float32) / rate
    hum = (np.sin(2 * np.pi * 60 * t) + 0.5 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
    noise = hiss + 0.3 * hum
    noise *= 10 ** (-snr_db / 20) / float(np.sqrt(np.mean(np.square(noise))))
    x = x + noise
    x *= 10 ** (level_db / 20)  # speech RMS in dBFS
    return np.clip(x, -1.0, 1.0)


def write_phone_wav(samples, rate: int, path: Path) -> None:
    """Band-limit to 300-3400 Hz, resample to 8 kHz, code as mu-law WAV (ffmpeg)."""
    import numpy as np

    raw = np.asarray(samples, dtype="<f4").tobytes()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
         "-af", "highpass=f=300:poles=2,lowpass=f=3400:poles=2", "-ar", "8000", "-ac", "1",
         "-c:a", "pcm_mulaw", "-map_metadata", "-1", "-fflags", "+bitexact", str(path)],
        input=raw, check=True,
    )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--added-words", action="store_true", help=f"only write {ADDED_WORDS_OUT}")
    parser.add_argument("--spanish", action="store_true", help=f"only write the Spanish set (es-*.wav, truth-es.tsv) in {OUT}")
    args = parser.parse_args()
    if args.spanish:
        speak_spanish()
        return
    if not args.added_words:
        speak(VOICEMAILS, OUT)
        speak_korean()
    speak(ADDED_WORD_VOICEMAILS, ADDED_WORDS_OUT)


def speak(texts: list[tuple[str, str]], out_dir: Path) -> None:
    import numpy as np
    from hibari import Hibari

    out_dir.mkdir(parents=True, exist_ok=True)
    tts = Hibari()
    rows = []
    for i, (vid, text) in enumerate(texts):
        rng = random.Random(f"voicemail-{vid}")
        speed = round(rng.uniform(0.85, 1.15), 2)
        level = round(rng.uniform(-34.0, -14.0), 1)
        snr = round(rng.uniform(15.0, 30.0), 1)
        audio = np.asarray(tts(text, speed=speed, seed=i), dtype=np.float32)
        write_phone_wav(phone_line(audio, TTS_RATE, rng, level_db=level, snr_db=snr), TTS_RATE, out_dir / f"{vid}.wav")
        rows.append((vid, speed, level, snr, text))
        print(f"{vid}: speed {speed}, level {level} dBFS, SNR {snr} dB, {len(audio) / TTS_RATE:.1f} s", flush=True)
    with open(out_dir / "truth.tsv", "w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(["id", "speed", "level_dbfs", "snr_db", "text"])
        out.writerows(rows)


def speak_korean() -> None:
    import numpy as np

    if not shutil.which("espeak-ng"):
        print("espeak-ng not found: Korean files not made", file=sys.stderr)
        return
    ko_rows = []
    for vid, text in KOREAN:
        rng = random.Random(f"voicemail-{vid}")
        wav = subprocess.run(["espeak-ng", "-v", "ko", "-s", "140", "--stdout", text], check=True, capture_output=True).stdout
        pcm = np.frombuffer(wav[44:], dtype="<i2").astype(np.float32) / 32768.0  # espeak-ng: 22050 Hz 16-bit mono
        write_phone_wav(phone_line(pcm, 22_050, rng, level_db=-20.0, snr_db=30.0), 22_050, OUT / f"{vid}.wav")
        ko_rows.append((vid, text))
    with open(OUT / "truth-ko.tsv", "w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(["id", "text"])
        out.writerows(ko_rows)


def speak_spanish() -> None:
    """The Spanish set: espeak-ng es-419 at a varied speed and pitch, on the same phone line as the English set."""
    import numpy as np

    from benches.reference_texts_es import VOICEMAILS_ES

    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng not found: the Spanish files need it (apt-get install espeak-ng)")
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for vid, text in VOICEMAILS_ES:
        rng = random.Random(f"voicemail-{vid}")
        speed = rng.randint(135, 165)  # words a minute (espeak-ng's default is 175)
        pitch = rng.randint(35, 65)  # 0-99, default 50
        level = round(rng.uniform(-30.0, -16.0), 1)
        snr = round(rng.uniform(18.0, 30.0), 1)
        wav = subprocess.run(["espeak-ng", "-v", "es-419", "-s", str(speed), "-p", str(pitch), "--stdout", text],
                             check=True, capture_output=True).stdout
        pcm = np.frombuffer(wav[44:], dtype="<i2").astype(np.float32) / 32768.0  # espeak-ng: 22050 Hz 16-bit mono
        write_phone_wav(phone_line(pcm, 22_050, rng, level_db=level, snr_db=snr), 22_050, OUT / f"{vid}.wav")
        rows.append((vid, text))
        print(f"{vid}: speed {speed}, pitch {pitch}, level {level} dBFS, SNR {snr} dB, {len(pcm) / 22_050:.1f} s", flush=True)
    with open(OUT / "truth-es.tsv", "w", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(["id", "text"])
        out.writerows(rows)


if __name__ == "__main__":
    main()

"""The recordings the speech benchmark and tests hear, with their true text.

- ``human(lang)``: REAL human speech: the telephony prompts Allison Smith recorded for Asterisk
  (Debian's asterisk-core-sounds-en-gsm / -es-gsm, CC-BY-SA-3.0, es-MX for Spanish), with the
  transcripts Debian ships beside them (asterisk-core-sounds-en / -es). Prompts of four words or
  more, nothing in brackets (tones), notes in parentheses left out ("(10 seconds of silence)",
  "(simple tone sound plays)": not words anyone says); shuffled with a fixed seed and split into a development part
  (settings are chosen on it) and a held-out part (only measured). Put on a phone line as Twilio
  records it: the GSM-coded prompt decoded and coded again as 8 kHz mu-law WAV. None of these texts
  is used for anything but scoring.
- ``clinic(lang)``: synthetic clinic voicemails (tests/data/voicemails/, benches/make_reference_set.py).
- ``no_speech()``: recordings in which nobody speaks: digital silence, line noise, the hold music of
  Debian's asterisk-moh-opsound-gsm, ringback, a hang-up (click then reorder tone), key presses.

``scripts/bootstrap test`` installs the Debian packages.
"""

from __future__ import annotations

import csv
import gzip
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CLINIC_DIR = ROOT / "tests" / "data" / "voicemails"
SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")
MOH = Path("/usr/share/asterisk/moh")
VOICE = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison"}
DEV_SHARE = 0.5  # the first half (after the seeded shuffle) is for development, the rest held out
MIN_WORDS = 4
PACKAGES = "asterisk-core-sounds-en asterisk-core-sounds-en-gsm asterisk-core-sounds-es asterisk-core-sounds-es-gsm asterisk-moh-opsound-gsm"


@dataclass(frozen=True)
class Recording:
    id: str
    text: str  # "" where nobody speaks
    data: bytes  # as Twilio would hand it over: a WAV file
    urgent: bool = False


class MissingData(RuntimeError):
    """The Debian packages that hold the recordings are not installed."""


def _phone_wav(raw: bytes, fmt: str = "gsm", rate: int = 8000) -> bytes:
    """``raw`` audio coded as Twilio's recordings are: 8 kHz mono mu-law WAV (ffmpeg)."""
    args = ["ffmpeg", "-v", "error", "-f", fmt] + (["-ar", str(rate), "-ac", "1"] if fmt != "gsm" else []) + [
        "-i", "pipe:0", "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw", "-map_metadata", "-1", "-fflags", "+bitexact", "-f", "wav", "pipe:1"]
    return subprocess.run(args, input=raw, capture_output=True, check=True).stdout


def _transcripts(lang: str) -> dict[str, str]:
    doc = DOCS / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
    if not doc.is_file():
        raise MissingData(f"{doc} is missing: apt-get install {PACKAGES}")
    out = {}
    for line in gzip.open(doc, "rt", encoding="utf-8", errors="replace"):
        name, sep, text = line.partition(":")
        if sep and not line.startswith(";") and name.strip():
            out[name.strip()] = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    return out


def human(lang: str, part: str = "all", limit: int | None = None) -> list[Recording]:
    """Real human prompts in ``lang`` ("en", "es"); ``part`` "dev", "held-out" or "all"; the first ``limit``."""
    folder = SOUNDS / VOICE[lang]
    chosen = []
    for name, text in sorted(_transcripts(lang).items()):
        path = folder / f"{name}.gsm"
        if "[" in text or len(text.split()) < MIN_WORDS or not path.is_file():
            continue
        chosen.append((name, text, path))
    if not chosen:
        raise MissingData(f"no prompts in {folder}: apt-get install {PACKAGES}")
    random.Random(f"human-{lang}").shuffle(chosen)
    split = int(len(chosen) * DEV_SHARE)
    chosen = {"dev": chosen[:split], "held-out": chosen[split:], "all": chosen}[part][:limit]
    return [Recording(f"{lang}/{name}", text, _phone_wav(path.read_bytes())) for name, text, path in chosen]


def clinic(lang: str) -> list[Recording]:
    """The synthetic clinic voicemails of ``lang`` ("en": truth.tsv, "es": truth-es.tsv)."""
    truth = CLINIC_DIR / ("truth.tsv" if lang == "en" else f"truth-{lang}.tsv")
    with open(truth, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [Recording(r["id"], r["text"], (CLINIC_DIR / f"{r['id']}.wav").read_bytes(), "urgent" in r["id"]) for r in rows]


def _pcm_wav(samples: np.ndarray, rate: int = 8000) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return _phone_wav(pcm, "s16le", rate)


def _tones(freqs: tuple[float, ...], on: float, off: float, seconds: float, level: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * 8000)) / 8000
    wave = sum(np.sin(2 * np.pi * f * t) for f in freqs) * level / len(freqs)
    return wave * ((t % (on + off)) < on)


def no_speech() -> list[Recording]:
    """Recordings with no words in them: anything an engine writes here is invented."""
    rng = np.random.default_rng(20261206)
    t = np.arange(20 * 8000) / 8000
    hiss = rng.standard_normal(len(t)) * 0.01
    hum = 0.02 * np.sin(2 * np.pi * 60 * t) + 0.01 * np.sin(2 * np.pi * 180 * t)
    click = np.zeros(8000)
    click[4000:4040] = 0.8
    dtmf = np.concatenate([_tones(pair, 0.15, 0.35, 0.5, 0.3) for pair in [(697, 1209), (770, 1336), (852, 1477), (941, 1336)] * 3])
    out = [
        Recording("silence-digital", "", _pcm_wav(np.zeros(10 * 8000))),
        Recording("line-noise", "", _pcm_wav(hiss + hum)),
        Recording("ringback", "", _pcm_wav(_tones((440, 480), 2.0, 4.0, 18.0) + hiss[: 18 * 8000])),
        Recording("hang-up", "", _pcm_wav(np.concatenate([hiss[:16000], click, _tones((480, 620), 0.25, 0.25, 8.0)]))),
        Recording("key-presses", "", _pcm_wav(np.concatenate([hiss[:8000], dtmf, hiss[:16000]]))),
    ]
    songs = sorted(MOH.glob("*.gsm"))
    if not songs:
        raise MissingData(f"no hold music in {MOH}: apt-get install {PACKAGES}")
    for song in songs:  # 30 s from a minute in: the music proper, not a fade-in
        pcm = subprocess.run(["ffmpeg", "-v", "error", "-f", "gsm", "-i", str(song), "-ss", "60", "-t", "30", "-f", "s16le", "-ac", "1", "-ar", "8000", "pipe:1"],
                             capture_output=True, check=True).stdout
        out.append(Recording(f"hold-music-{song.stem}", "", _pcm_wav(np.frombuffer(pcm, "<i2") / 32768.0)))
    return out

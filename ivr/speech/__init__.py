"""Offline speech to text for voicemails: patient speech never leaves the clinic's machine.

``transcribe_bytes(data, "en")`` decodes a recording and transcribes it with the engine for the
language (ivr.speech.registry): Whisper by default (faster-whisper, weights from pinned packages,
checked by sha256), Vosk where a clinic chooses a model it installed, pocketsphinx as the last resort.
"""

from __future__ import annotations

from ivr.speech.audio import decode_audio
from ivr.speech.clarity import unclear
from ivr.speech.registry import EngineInfo, detect_language, engines, transcribe_bytes, transcriber_for
from ivr.speech.types import Audio, AudioUnreadable, Transcriber, TranscriberUnavailable, Transcript, Word
from ivr.speech.whisper_models import ModelFileError

__all__ = [
    "Audio", "AudioUnreadable", "EngineInfo", "ModelFileError", "Transcriber", "TranscriberUnavailable", "Transcript", "Word",
    "decode_audio", "detect_language", "engines", "transcribe_bytes", "transcriber_for", "unclear",
]

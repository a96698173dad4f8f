"""Offline speech to text for voicemails: patient speech never leaves the clinic's machine.

``transcribe_bytes(data, "en")`` decodes a recording and transcribes it with the engine for the
language: a Vosk model when one is installed (``models_dir/<lang>/`` or a ``vosk_model_<lang>``
package), else for English pocketsphinx with the clinic language model (ivr/speech/lm.py).
"""

from __future__ import annotations

from ivr.speech.audio import decode_audio
from ivr.speech.registry import EngineInfo, engines, transcribe_bytes, transcriber_for
from ivr.speech.types import Audio, AudioUnreadable, Transcriber, TranscriberUnavailable, Transcript, Word

__all__ = [
    "Audio", "AudioUnreadable", "EngineInfo", "Transcriber", "TranscriberUnavailable", "Transcript", "Word",
    "decode_audio", "engines", "transcribe_bytes", "transcriber_for",
]

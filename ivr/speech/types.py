"""What the speech engines take and give: audio, words with timings, transcripts, errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Word:
    """One recognised word: times in seconds from the start of the audio, confidence 0..1."""

    text: str
    start: float
    end: float
    confidence: float

    def as_dict(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end, "confidence": self.confidence}


@dataclass(frozen=True)
class Transcript:
    """An engine's reading of one recording. No words means no speech was detected."""

    text: str
    words: tuple[Word, ...]
    confidence: float  # mean word confidence, 0.0 when there are no words
    seconds: float  # audio duration
    engine: str  # e.g. "whisper:tiny.en"
    language: str = ""  # the language heard, when the engine was told or detected it

    @classmethod
    def from_words(
        cls, words: list[Word] | tuple[Word, ...], seconds: float, engine: str, language: str = "", text: str | None = None
    ) -> Transcript:
        """``text`` defaults to the words joined by spaces (an engine that writes "555-212-4489" gives its own)."""
        words = tuple(words)
        confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
        text = " ".join(w.text for w in words) if text is None else text
        return cls(text, words, round(confidence, 4), round(seconds, 3), engine, language)

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "words": [w.as_dict() for w in self.words],
            "confidence": self.confidence,
            "seconds": self.seconds,
            "engine": self.engine,
            "language": self.language,
        }


@dataclass(frozen=True)
class Audio:
    """16-bit signed little-endian mono PCM."""

    pcm: bytes
    sample_rate: int
    seconds: float


class AudioUnreadable(Exception):
    """The recording is empty, corrupt or not audio (the message says which, in plain words)."""


class TranscriberUnavailable(Exception):
    """No speech engine is installed for that language (the message says how to install one)."""


@runtime_checkable
class Transcriber(Protocol):
    name: str
    language: str
    sample_rate: int

    def transcribe(self, audio: Audio) -> Transcript: ...

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
class Segment:
    """How sure the engine was of one stretch it heard (Whisper's own figures), kept or dropped."""

    start: float
    end: float
    avg_logprob: float  # mean log-probability of its tokens (0 is certain; Whisper distrusts < -1)
    no_speech_prob: float  # the model's belief that nobody speaks here
    compression_ratio: float  # text length over its zlib length: > 2.4 is Whisper's sign of repetition
    kept: bool  # False: dropped as invented text over no speech

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "avg_logprob": self.avg_logprob, "no_speech_prob": self.no_speech_prob,
                "compression_ratio": self.compression_ratio, "kept": self.kept}


@dataclass(frozen=True)
class Transcript:
    """An engine's reading of one recording. No words means no speech was detected."""

    text: str
    words: tuple[Word, ...]
    confidence: float  # mean word confidence, 0.0 when there are no words
    seconds: float  # audio duration
    engine: str  # e.g. "whisper:tiny.en"
    language: str = ""  # the language heard, when the engine was told or detected it
    # Whether the audio holds speech by our own checks (level and voice activity); None: not checked.
    speech_heard: bool | None = None
    segments: tuple[Segment, ...] = ()  # the engine's own certainty per stretch (Whisper only)
    # Other readings of the same speech that the engine nearly wrote (Whisper's next beam hypotheses, one
    # text per piece each): read for urgent phrases the best reading lost, never shown as the transcript.
    alternatives: tuple[str, ...] = ()

    @classmethod
    def from_words(
        cls, words: list[Word] | tuple[Word, ...], seconds: float, engine: str, language: str = "", text: str | None = None,
        speech_heard: bool | None = None, segments: tuple[Segment, ...] | list[Segment] = (),
        alternatives: tuple[str, ...] | list[str] = (),
    ) -> Transcript:
        """``text`` defaults to the words joined by spaces (an engine that writes "555-212-4489" gives its own)."""
        words = tuple(words)
        confidence = sum(w.confidence for w in words) / len(words) if words else 0.0
        text = " ".join(w.text for w in words) if text is None else text
        return cls(text, words, round(confidence, 4), round(seconds, 3), engine, language, speech_heard, tuple(segments),
                   tuple(alternatives))

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "words": [w.as_dict() for w in self.words],
            "confidence": self.confidence,
            "seconds": self.seconds,
            "engine": self.engine,
            "language": self.language,
            "speech_heard": self.speech_heard,
            "segments": [s.as_dict() for s in self.segments],
            "alternatives": list(self.alternatives),
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

"""Speech to text with Whisper: faster-whisper on CTranslate2, int8 on the CPU, from a local folder only.

Whisper hears open vocabulary (names, medicines, streets) in English, Spanish and ~100 other
languages. Its known failing is to write text where nobody speaks ("Thank you for watching" over
hold music); three guards keep a transcript of silence, line noise, music or a hang-up empty:
our own speech check (ivr.speech.audio.has_speech), voice-activity detection with settings that
keep quiet callers' words, and dropping any segment the model itself thinks holds no speech.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ivr.speech.audio import cut, has_speech, pause_cuts
from ivr.speech.types import Audio, Segment, Transcript, Word
from ivr.speech.whisper_models import ModelFolder

SAMPLE_RATE = 16_000
# Longer recordings are heard in pieces cut at pauses, each within one of Whisper's 30 s windows:
# faster-whisper takes a whole piece's spectrogram at once, and memory grew with the piece (a worker
# with English and Spanish loaded, after a 10- and a 15-minute message: peak 830 MB with 60 s pieces,
# 676 MB with 30 s; 300 s pieces took 657 MB for tiny.en alone).
PIECE_SECONDS = 30.0
BEAM_SIZE = 5
# Voice-activity detection (Silero, in faster-whisper), with more padding and a lower threshold than
# its defaults, which the issue saw drop quiet callers' words. On the development sets (Debian's human
# prompts, loudness-normalised first) these, the defaults and no VAD at all gave the same word errors;
# on the no-speech recordings VAD alone, with the other two guards off, let no word through.
VAD = {"threshold": 0.35, "min_silence_duration_ms": 1000, "speech_pad_ms": 600}
# A segment is dropped when the model both gives it a no-speech probability of NO_SPEECH or more and is
# unsure of its words (mean log-probability under NO_SPEECH_LOGPROB). Measured with the other guards
# off: invented text scored (0.94, -0.82) "You" on silence, (0.65, -0.80) over a ringback tone and
# (0.83, -0.59) over hold music; real speech at most 0.44 on the development sets, and one held-out
# Spanish window of real speech (0.66, -0.45), which the probability alone threw away.
NO_SPEECH = 0.6
NO_SPEECH_LOGPROB = -0.5
# Voice in the audio, for telling a message nobody could transcribe from one where nobody spoke
# (ivr.speech.clarity): Silero's probability for a frame to be voice, and the seconds of voice needed.
VOICE_THRESHOLD = 0.5
MIN_VOICE_SECONDS = 1.0
# Other readings kept per piece for the urgent-phrase check (ivr.speech.urgency): the next hypotheses of a
# second beam search over the piece. On the development set of urgent voicemails (benches/urgent_dev_texts.py,
# espeak-ng on a phone line, Whisper base) reading the best and the next two caught English 15/20 urgent
# messages instead of 13/20 and Spanish 16/20 instead of 15/20, with no more false alarms (0/14, 2/14);
# the fourth and fifth found nothing more. Costs one more encoder pass and beam search per piece.
ALTERNATIVES = 2


@dataclass
class LoadedModel:
    """One faster-whisper model in memory, shared by every language it serves (one utterance at a time)."""

    files: ModelFolder
    model: object
    multilingual: bool
    lock: threading.Lock


def load(files: ModelFolder, threads: int = 1) -> LoadedModel:
    """Load a checked model folder (never a name: a name would make faster-whisper download)."""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(files.folder), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1, local_files_only=True)
    return LoadedModel(files, model, bool(model.model.is_multilingual), threading.Lock())


class WhisperTranscriber:
    """A loaded Whisper model transcribing one language (``language=""``: detect it per recording)."""

    sample_rate = SAMPLE_RATE

    def __init__(self, loaded: LoadedModel, language: str) -> None:
        if language and language != "en" and not loaded.multilingual:
            raise ValueError(f"the Whisper model {loaded.files.name} is English only; it cannot transcribe {language!r}")
        self.language = language
        self._loaded = loaded
        self.where = str(loaded.files.folder)
        self.name = f"whisper:{loaded.files.name}"

    @property
    def multilingual(self) -> bool:
        return self._loaded.multilingual

    def detect_language(self, audio: Audio, candidates: list[str]) -> tuple[str, float]:
        """The most likely of ``candidates`` for the speech in ``audio``, and its probability."""
        if not self._loaded.multilingual or not has_speech(audio):  # nothing to tell a language by
            return ("en" if "en" in candidates else candidates[0]), 0.0
        samples = _floats(audio)[: 30 * SAMPLE_RATE]
        with self._loaded.lock:
            from faster_whisper.vad import VadOptions

            _, _, probs = self._loaded.model.detect_language(samples, vad_filter=True, vad_parameters=VadOptions(**VAD))
        by_lang = dict(probs)
        best = max(candidates, key=lambda lang: by_lang.get(lang, 0.0))
        return best, round(by_lang.get(best, 0.0), 3)

    def transcribe(self, audio: Audio) -> Transcript:
        """The recording's words with times and confidence; no words when nobody speaks."""
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"{self.name} needs {self.sample_rate} Hz audio, got {audio.sample_rate} Hz")
        if not has_speech(audio):
            return Transcript.from_words([], audio.seconds, self.name, self.language, speech_heard=False)
        bounds = pause_cuts(audio, PIECE_SECONDS)
        words: list[Word] = []
        texts: list[str] = []
        segments: list[Segment] = []
        alternatives: list[str] = []
        for start, end in zip(bounds, bounds[1:]):
            piece = cut(audio, start, end)
            piece_words, piece_text, piece_segments = self._piece(piece, start, audio.seconds)
            words += piece_words
            texts += [piece_text] if piece_text else []
            segments += piece_segments
            if piece_words:  # nothing to read again where nobody spoke
                alternatives += [t for t in self._alternatives(piece) if t and t != piece_text]
        return Transcript.from_words(words, audio.seconds, self.name, self.language, text=" ".join(texts) if words else "",
                                     speech_heard=bool(self._voice_seconds(audio) >= MIN_VOICE_SECONDS), segments=segments,
                                     alternatives=alternatives)

    def _voice_seconds(self, audio: Audio) -> float:
        """Seconds of voice in ``audio`` by Silero's voice-activity detector (music and tones are not voice)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        found = get_speech_timestamps(_floats(audio), VadOptions(threshold=VOICE_THRESHOLD), sampling_rate=SAMPLE_RATE)
        return sum(s["end"] - s["start"] for s in found) / SAMPLE_RATE

    def _piece(self, audio: Audio, offset: float, seconds: float) -> tuple[list[Word], str, list[Segment]]:
        """The words of one piece, timed from ``offset`` in a recording of ``seconds``, its text and segments."""
        samples = _floats(audio)
        with self._loaded.lock:
            segments, _ = self._loaded.model.transcribe(
                samples,
                language=self.language or None,
                beam_size=BEAM_SIZE,
                vad_filter=True,
                vad_parameters=VAD,
                word_timestamps=True,
                condition_on_previous_text=False,
            )
            heard = list(segments)  # decoding happens while iterating
        kept = [s for s in heard if not _no_speech(s)]
        figures = [
            Segment(round(offset + s.start, 2), round(offset + s.end, 2), round(float(s.avg_logprob), 3),
                    round(float(s.no_speech_prob), 3), round(float(s.compression_ratio), 3), not _no_speech(s))
            for s in heard
        ]
        words = []
        text = " ".join(s.text.strip() for s in kept if s.text.strip())
        for segment in kept:
            for w in segment.words or ():
                if w.word.strip():
                    start = min(seconds, offset + w.start)
                    end = min(seconds, max(start, offset + w.end))
                    words.append(Word(w.word.strip(), round(float(start), 2), round(float(end), 2), round(float(w.probability), 3)))
        return words, text, figures

    def _alternatives(self, audio: Audio) -> list[str]:
        """The texts of the ALTERNATIVES readings after the best one of a piece (at most 30 s), by beam search."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        if self._loaded.multilingual and not self.language:
            return []  # the language is told per recording only when known
        model = self._loaded.model
        with self._loaded.lock:
            tokenizer = Tokenizer(model.hf_tokenizer, self._loaded.multilingual, task="transcribe",
                                  language=self.language if self._loaded.multilingual else None)
            prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
            features = model.feature_extractor(_floats(audio))
            encoded = model.encode(pad_or_trim(features[:, : model.feature_extractor.nb_max_frames]))
            result = model.model.generate(encoded, [prompt], beam_size=BEAM_SIZE, num_hypotheses=ALTERNATIVES + 1,
                                          max_length=model.max_length, suppress_blank=True, suppress_tokens=[-1])[0]
        return [tokenizer.decode(ids).strip() for ids in result.sequences_ids[1:]]


def _no_speech(segment) -> bool:
    return segment.no_speech_prob >= NO_SPEECH and segment.avg_logprob < NO_SPEECH_LOGPROB


def _floats(audio: Audio) -> np.ndarray:
    return np.frombuffer(audio.pcm[: len(audio.pcm) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0

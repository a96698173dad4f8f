"""Speech to text with Vosk (Kaldi) for any language with a Vosk model folder."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

from ivr.speech.audio import has_speech
from ivr.speech.types import Audio, Transcript, Word

CHUNK = 16_000 * 2 * 4  # bytes fed per call (4 s at 16 kHz)


class VoskTranscriber:
    """A Vosk model loaded once; a recogniser per recording. ``grammar`` limits the words it may hear."""

    sample_rate = 16_000

    def __init__(self, model_dir: Path, language: str, *, source: str = "", grammar: list[str] | None = None) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self.language = language
        self.where = str(model_dir)
        self.name = f"vosk:{language} ({source or model_dir})"
        self._grammar = json.dumps(grammar, ensure_ascii=False) if grammar else None
        self._model = vosk.Model(str(model_dir))
        self._vosk = vosk
        self._lock = threading.Lock()  # Kaldi models are shared read-only, but keep creation tidy

    def restricted(self, words: list[str]) -> VoskTranscriber:
        """The same loaded model, hearing only ``words`` (a Vosk grammar; "[unk]" is added for the rest)."""
        other = copy.copy(self)
        other._grammar = json.dumps([*words, "[unk]"], ensure_ascii=False)
        other.name = f"{self.name} restricted to {len(words)} words"
        return other

    def transcribe(self, audio: Audio) -> Transcript:
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"{self.name} needs {self.sample_rate} Hz audio, got {audio.sample_rate} Hz")
        if not has_speech(audio):  # no words made out of silence or steady line noise
            return Transcript.from_words([], audio.seconds, self.name, self.language)
        with self._lock:
            rec = (self._vosk.KaldiRecognizer(self._model, self.sample_rate, self._grammar) if self._grammar
                   else self._vosk.KaldiRecognizer(self._model, self.sample_rate))
        rec.SetWords(True)
        results = []
        for i in range(0, len(audio.pcm), CHUNK):
            if rec.AcceptWaveform(audio.pcm[i : i + CHUNK]):
                results.append(json.loads(rec.Result()))
        results.append(json.loads(rec.FinalResult()))
        words = [
            Word(w["word"], round(w["start"], 2), round(min(w["end"], audio.seconds), 2), round(min(1.0, max(0.0, w.get("conf", 0.0))), 3))
            for r in results for w in r.get("result", []) if w["word"] != "[unk]"
        ]
        return Transcript.from_words(words, audio.seconds, self.name, self.language)

"""English speech to text with pocketsphinx and its wheel's general model: the small last resort.

Used only when the Whisper packages are missing (or a clinic chooses it). It knows a closed
vocabulary and makes many errors on real calls; a message it transcribes is still a callback
request with its audio, and urgent words it happens to hear still flag it.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from ivr.speech.audio import cut, has_speech, pause_cuts
from ivr.speech.types import Audio, Transcript, Word

FRAME_RATE = 100  # pocketsphinx frames per second
PIECE_SECONDS = 20.0  # one long utterance costs more per second the longer it is: decode in pieces cut at pauses


class SphinxTranscriber:
    """pocketsphinx with the en-us model, language model and dictionary its wheel carries."""

    language = "en"
    sample_rate = 16_000
    name = "pocketsphinx:en-us"

    def __init__(self) -> None:
        import pocketsphinx

        model = Path(pocketsphinx.get_model_path()) / "en-us"
        self.where = str(model)
        self._decoder = pocketsphinx.Decoder(
            hmm=str(model / "en-us"), lm=str(model / "en-us.lm.bin"), dict=str(model / "cmudict-en-us.dict"), loglevel="ERROR"
        )
        self._lock = threading.Lock()  # one decoder per process; utterances one at a time

    def transcribe(self, audio: Audio) -> Transcript:
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"{self.name} needs {self.sample_rate} Hz audio, got {audio.sample_rate} Hz")
        if not has_speech(audio):  # pocketsphinx reads digital silence as "dog"
            return Transcript.from_words([], audio.seconds, self.name, self.language)
        bounds = pause_cuts(audio, PIECE_SECONDS)
        words: list[Word] = []
        for start, end in zip(bounds, bounds[1:]):
            piece = cut(audio, start, end)
            if len(bounds) == 2 or has_speech(piece):
                with self._lock:
                    words += self._decode(piece, start, audio.seconds)
        return Transcript.from_words(words, audio.seconds, self.name, self.language)

    def _decode(self, piece: Audio, offset: float, seconds: float) -> list[Word]:
        d = self._decoder
        d.start_utt()
        d.process_raw(piece.pcm, full_utt=True)
        d.end_utt()
        if d.hyp() is None:
            return []
        words = []
        for seg in d.seg():
            text = re.sub(r"\(\d+\)$", "", seg.word)
            if text.startswith(("<", "[")):
                continue
            start = offset + seg.start_frame / FRAME_RATE
            end = min(seconds, offset + (seg.end_frame + 1) / FRAME_RATE)
            words.append(Word(text, round(start, 2), round(end, 2), round(min(1.0, max(0.0, seg.prob)), 3)))
        return words

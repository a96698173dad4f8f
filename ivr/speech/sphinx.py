"""English speech to text with pocketsphinx: the model in its wheel, with the clinic language model."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from ivr.speech import phone as phone_line
from ivr.speech.audio import cut, has_speech, pause_cuts
from ivr.speech.types import Audio, Transcript, Word

DATA_DIR = Path(__file__).resolve().parent / "data"
CLINIC_LM = DATA_DIR / "clinic-en.lm.bin"
CLINIC_DICT = DATA_DIR / "clinic-en.dict"
PHONE_MLLR = DATA_DIR / "clinic-en.mllr"  # the wideband model adapted to phone calls (ivr/speech/adapt.py)
MODEL_RATE = 16_000  # the wheel's model is wideband; phone audio is widened to it (ivr/speech/phone.py)
FRAME_RATE = 100  # pocketsphinx frames per second
PIECE_SECONDS = 20.0  # longer recordings are decoded in pieces cut at pauses (see transcribe)
MAX_PREFIX_WORDS = 12  # words "anaphyla*" may bring in from the general dictionary
FILLERS = {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[MUSIC]", "[BREATH]", "[COUGH]", "[LAUGH]", "[UM]", "[UH]"}

# Search settings on top of pocketsphinx's defaults, chosen on the development voicemails
# (benches/dev_texts.py, spoken like the reference set), never on the reference set. Without the second
# (flat-lexicon) pass the clinic LM made 29.5% word errors there instead of 30.6%, with a quarter less
# CPU. With the phone front end and its adaptation the defaults made 23.1% (the first 30 of them); scoring 8 Gaussians per
# frame instead of 4 and a language weight of 6.0 instead of 6.5 made 21.1%, for about half again the
# CPU (the benchmark's real-time factor with them: 0.107 with the four-voice adaptation, benches/README.md).
# A weight of 5.0 cost more CPU for no gain; with the four-voice adaptation 5.5 and 7.0 were no better.
SEARCH: dict = {"fwdflat": False, "lw": 6.0, "topn": 8}


class SphinxTranscriber:
    """pocketsphinx with the bundled en-us acoustic model, adapted to phone calls, and the clinic LM.

    It takes phone audio (8 kHz). With the phone adaptation, the audio is cleaned of line noise and
    its upper band refilled (ivr/speech/phone.py) and the model's means moved by the transform
    estimated on audio prepared the same way.

    ``clinic=False`` is the wheel as it comes (general LM, no adaptation): the benchmark's baseline.
    ``phone=False`` keeps the clinic LM but leaves the audio (only resampled) and the model unadapted.
    """

    language = "en"
    sample_rate = phone_line.PHONE_RATE

    def __init__(self, *, clinic: bool = True, phone: bool | None = None) -> None:
        import pocketsphinx

        model = Path(pocketsphinx.get_model_path()) / "en-us"
        options = {
            "hmm": str(model / "en-us"),
            "samprate": MODEL_RATE,
            "loglevel": "ERROR",
            "lm": str(CLINIC_LM if clinic else model / "en-us.lm.bin"),
            "dict": str(CLINIC_DICT if clinic else model / "cmudict-en-us.dict"),
        }
        phone = clinic if phone is None else phone
        self.phone = phone
        if phone:
            options["mllr"] = str(PHONE_MLLR)
        options.update(SEARCH)
        if clinic:
            self.name = "pocketsphinx:en-us phone-adapted + clinic LM" if phone else "pocketsphinx:en-us + clinic LM"
        else:
            self.name = "pocketsphinx:en-us (general LM)" + (" phone-adapted" if phone else "")
        self.where = options["lm"]
        self._general_dict = model / "cmudict-en-us.dict"
        self._vocabulary = set(_words_of(Path(options["dict"])))
        self._unheard: set[str] = set()  # words asked for with no pronunciation known
        self._decoder = pocketsphinx.Decoder(**options)
        self._lock = threading.Lock()  # one decoder per process; utterances one at a time

    def add_words(self, words: Iterable[str]) -> list[str]:
        """Let the decoder hear ``words`` (e.g. a clinic's urgent phrases) that its vocabulary lacks.

        A word ending in ``*`` stands for the words it begins ("anaphyla*": anaphylaxis, anaphylactic).
        Pronunciations come from the wheel's general English dictionary; a word enters the language
        model as a unigram. Returns the words that could not be added (no pronunciation known), each
        only the first time it is asked for.
        """
        general = _pronunciations(self._general_dict)
        new: dict[str, str] = {}
        unknown: list[str] = []
        for raw in words:
            word = raw.strip().lower()
            if word.endswith("*"):
                stem = word[:-1]
                if not stem or any(w.startswith(stem) for w in self._vocabulary):
                    continue
                found = sorted(w for w in general if w.startswith(stem))[:MAX_PREFIX_WORDS]
            elif word in self._vocabulary or word in self._unheard:
                continue
            else:
                found = [word] if word in general else []
            if not found:
                unknown.append(raw)
                self._unheard.add(word)
            new.update((w, general[w]) for w in found)
        if new:
            with self._lock:
                for i, (word, phones) in enumerate(new.items()):
                    self._decoder.add_word(word, phones, update=i == len(new) - 1)
            self._vocabulary.update(new)
        return unknown

    def transcribe(self, audio: Audio) -> Transcript:
        """The recording's words. One long utterance costs more time and memory per second the longer it
        is (a 15-minute one: 0.58 x real time, 789 MB, most of it the front end's spectra), so a recording
        over PIECE_SECONDS is prepared and decoded in pieces cut at pauses, each its own utterance."""
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"{self.name} needs {self.sample_rate} Hz audio, got {audio.sample_rate} Hz")
        if not has_speech(audio):  # no words made out of silence or steady line noise
            return Transcript.from_words([], audio.seconds, self.name)
        bounds = pause_cuts(audio, PIECE_SECONDS)
        words: list[Word] = []
        for start, end in zip(bounds, bounds[1:]):
            piece = cut(audio, start, end)
            if len(bounds) > 2 and not has_speech(piece):
                continue
            wide = phone_line.prepare(piece, phone=self.phone)
            with self._lock:
                words += self._decode(wide, start, audio.seconds)
        return Transcript.from_words(words, audio.seconds, self.name)

    def _decode(self, wide: Audio, offset: float, seconds: float) -> list[Word]:
        """One utterance's words, timed from ``offset`` seconds into a recording of ``seconds``."""
        d = self._decoder
        d.start_utt()
        d.process_raw(wide.pcm, full_utt=True)
        d.end_utt()
        words: list[Word] = []
        if d.hyp() is None:
            return words
        for seg in d.seg():
            text = re.sub(r"\(\d+\)$", "", seg.word)
            if text in FILLERS or text.startswith("["):
                continue
            confidence = min(1.0, max(0.0, seg.prob))  # posterior probability of the word
            start = offset + seg.start_frame / FRAME_RATE
            end = min(seconds, offset + (seg.end_frame + 1) / FRAME_RATE)
            words.append(Word(text, round(start, 2), round(end, 2), round(confidence, 3)))
        return words


def _words_of(dictionary: Path) -> Iterable[str]:
    """The words of a pocketsphinx dictionary ("word(2)" alternatives folded into "word")."""
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield line.split(maxsplit=1)[0].split("(")[0]


@cache
def _pronunciations(dictionary: Path) -> dict[str, str]:
    """Each word's first pronunciation in a pocketsphinx dictionary (read once per process)."""
    out: dict[str, str] = {}
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, _, phones = line.partition(" ")
        if phones and "(" not in word:
            out.setdefault(word, phones.strip())
    return out

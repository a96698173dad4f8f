"""Urgent phrases in a voicemail's transcript, heard through recognition errors (pure: no I/O).

    found = UrgentPhrases(clinic.voicemail.urgent_phrases).matches(transcript, "es")
    reason(found)  # 'heard "combulsión" (taken for "convulsión")'

Phrases are configured per language in clinic.yaml (``voicemail.urgent_phrases``). One entry is one
emergency: ways of saying it separated by ``|``, the first being the name staff read ("dolor en el
pecho | me duele el pecho | presión en el pecho"). A word ending in ``*`` matches any word it begins
(``convulsi*``: convulsión, convulsiones, convulsionando); when its stem is short (``bleed*``), its
inflected forms (bleeding, bleeded, ...) are what is heard fuzzily.

A transcript is read as words without case, accents or punctuation. A way of saying matches when its
words come in order with at most ``GAP`` other words between two of them ("dolor muy fuerte en el
pecho" says "dolor en el pecho"); its small words (de, el, the, my, ...) may be missing or different.
A word of six letters or more also matches a word that is spelt or sounds nearly the same: Whisper
base hears espeak's "convulsión" as "combulsión", "respirar" as "respilar". Closeness is rapidfuzz's
normalised Levenshtein similarity of the spellings, and of the sounds (jellyfish's metaphone codes for
English; for Spanish, the spelling rewritten as it sounds: b/v, c/s/z, ll/y, silent h, ...). Each match
says what was heard and which phrase it was taken for, so the nurse can judge.

One reading is not taken: an emergency named as what a medicine is for ("seizure medication", "medicamento
para las convulsiones"), the commonest routine message that says an urgent word. Otherwise it errs on
the side of flagging: "no chest pain" is still urgent, because a nurse reading one message
too many costs less than one missed. A message nobody can make out is the other safety net
(ivr.speech.clarity: shown as unclear, with the urgent ones, until someone has listened).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from rapidfuzz.distance import Levenshtein

_NOT_WORD = re.compile(r"[^\w]+")
GAP = 2  # other words allowed between two words of a phrase
FUZZY_MIN_LETTERS = 6  # shorter words must be said exactly (or as the phrase's * allows): "ahora" is not "ahoga"
CLOSE = 0.8  # similarity (0..1) from which a word is taken for the phrase's word
# A way of saying of at least PHRASE_LETTERS sounds is also looked for as a whole, across the words
# the engine cut it into ("no lor me pecho" for "dolor de pecho", "pensamientos cuidí más" for
# "pensamientos suicidas"): the run of words whose sounds together are closest to it, by rapidfuzz's
# normalised Levenshtein similarity (in percent) from PHRASE_CLOSE.
PHRASE_LETTERS = 11
PHRASE_CLOSE = 80.0
# Sounding alike counts only for words spelt at least this alike: metaphone gives "overrides" and
# "overdose" the same code.
SPELT_AT_LEAST = 0.7
# A word ending in * whose stem is too short to be heard fuzzily ("bleed*") is still heard fuzzily as one
# of its inflected forms of FUZZY_MIN_LETTERS or more ("bleeding" heard as "leading"): the stem with these
# endings.
ENDINGS = {
    "en": ("ing", "ed", "s", "er"),
    "es": ("o", "a", "os", "as", "ar", "er", "ir", "ando", "iendo", "ado", "ido", "ada", "aron", "ieron"),
}
# An emergency named as what a medicine is for is a refill, not the emergency: "seizure medication",
# "medicamento para las convulsiones". A match is not taken when the word after it is one of these, or
# when it follows one of these and "for"/"para" (small words between allowed).
MEDICINES = {
    "en": {"medicine", "medicines", "medication", "medications", "meds", "pills", "tablets", "prescription", "prescriptions", "refill", "refills"},
    "es": {"medicina", "medicinas", "medicamento", "medicamentos", "receta", "recetas", "pastillas", "tabletas", "jarabe"},
}
FOR = {"en": {"for", "against"}, "es": {"para", "contra"}}
# Words a phrase may have or lack without changing what it says (per language; any language's count).
SMALL_WORDS = {
    "en": {"a", "an", "the", "my", "his", "her", "their", "our", "your", "of", "in", "on", "to", "is", "are", "was", "be", "been", "am", "im", "it", "its", "and", "so", "very", "really"},
    "es": {"el", "la", "los", "las", "lo", "le", "un", "una", "de", "del", "en", "al", "mi", "mis", "su", "sus", "tu", "y", "que", "muy", "con", "a"},
}


def normalise(text: str) -> list[str]:
    """Lower-case words without accents or punctuation ("can't" is "cant")."""
    return [w for w, _ in _words(text)]


def _words(text: str) -> list[tuple[str, str]]:
    """(normalised, as written) for each word of ``text``."""
    out = []
    for raw in text.split():
        plain = _plain(raw.replace("'", "").replace("\u2019", ""))
        out += [(w, raw.strip(".,;:!?¿¡\"()")) for w in _NOT_WORD.split(plain) if w]
    return out


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_SPANISH_SOUND = [  # spelling -> sound, in order (on words without accents)
    (r"ch", "C"), (r"ll", "y"), (r"qu([ei])", r"k\1"), (r"gu([ei])", r"g\1"), (r"g([ei])", r"j\1"), (r"c([ei])", r"s\1"),
    (r"c", "k"), (r"z", "s"), (r"v", "b"), (r"w", "b"), (r"h", ""), (r"x", "ks"), (r"rr", "r"), (r"n([bp])", r"m\1"),
    (r"y$", "i"), (r"(.)\1", r"\1"),
]


@lru_cache(maxsize=4096)
def sound(word: str, lang: str) -> str:
    """How ``word`` sounds, written so that words that sound alike are spelt alike."""
    if lang == "es":
        for pattern, repl in _SPANISH_SOUND:
            word = re.sub(pattern, repl, word)
        return word
    return jellyfish.metaphone(word) if word.isascii() else word


def whole_sound(word: str, lang: str) -> str:
    """A word's letters for comparing whole phrases: its sound in Spanish, its spelling in English (whose
    metaphone codes are too short to align)."""
    return sound(word, lang) if lang == "es" else word


@lru_cache(maxsize=65536)
def closeness(pattern: str, word: str, lang: str) -> float:
    """How surely ``word`` (heard) is the phrase's ``pattern`` word: 1 said as is (or as ``*`` allows), else the
    best of spelling similarity and the mean of spelling and sound similarity (for words spelt at least
    SPELT_AT_LEAST alike); 0 for short words not said."""
    stem = pattern[:-1] if pattern.endswith("*") else pattern
    if word == stem or (pattern.endswith("*") and word.startswith(stem)):
        return 1.0
    if len(word) < 3:
        return 0.0
    if len(stem) < FUZZY_MIN_LETTERS:
        forms = [stem + e for e in ENDINGS.get(lang, ()) if len(stem + e) >= FUZZY_MIN_LETTERS] if pattern.endswith("*") else []
        return max((closeness(form, word, lang) for form in forms), default=0.0)
    heard = word[: len(stem) + 2] if pattern.endswith("*") else word  # an inflection's ending is not a difference
    spelling = max(Levenshtein.normalized_similarity(stem, heard),
                   Levenshtein.normalized_similarity(stem, word[: len(stem)]) if pattern.endswith("*") else 0.0)
    if spelling < SPELT_AT_LEAST:
        return spelling
    said = sound(stem, lang)
    sounds = Levenshtein.normalized_similarity(said, sound(heard, lang))
    if pattern.endswith("*"):  # an inflection: as far as the stem goes
        sounds = max(sounds, Levenshtein.normalized_similarity(said, sound(word, lang)[: len(said)]))
    return max(spelling, (spelling + sounds) / 2)


@dataclass(frozen=True)
class Match:
    """What was heard (as the transcript wrote it) and the phrase it was taken for (its name in clinic.yaml)."""

    heard: str
    phrase: str
    exact: bool  # every word said as the phrase has it (or as its * allows)
    elsewhere: bool = False  # heard in another reading of the recording (Transcript.alternatives), not in its text

    def as_dict(self) -> dict:
        return {"heard": self.heard, "phrase": self.phrase, "another_reading": self.elsewhere}

    def __str__(self) -> str:
        if self.elsewhere:
            return f'heard "{self.heard}" in another reading of the recording (taken for "{self.phrase}")'
        if self.exact and _plain(self.heard) == _plain(self.phrase):
            return f'said "{self.heard}"'
        return f'heard "{self.heard}" (taken for "{self.phrase}")'


@dataclass(frozen=True)
class Way:
    """One way of saying an emergency: its words, and which of them must be there."""

    words: tuple[str, ...]
    needed: tuple[bool, ...]
    sounds: str  # the whole way as it sounds, without spaces ("" when too short to look for whole)

    @classmethod
    def parse(cls, text: str, lang: str) -> "Way":
        words = tuple(w + "*" if raw.endswith("*") else w for raw, w in _pairs(text))
        if not words:
            raise ValueError(f"urgent phrase {text!r} has no words")
        small = SMALL_WORDS.get(lang) or set().union(*SMALL_WORDS.values())
        needed = tuple(w not in small for w in words)
        if not any(needed):
            needed = (True,) * len(words)  # "a la": every word then
        sounds = "" if any(w.endswith("*") for w in words) else "".join(whole_sound(w, lang) for w in words)
        return cls(words, needed, sounds if len(sounds) >= PHRASE_LETTERS else "")

    def find_whole(self, words: list[str], lang: str) -> tuple[int, int] | None:
        """(first, last) indices of the words the way was heard across as a whole, or None: the run of
        words whose sounds, put together, are closest to the way's (at least PHRASE_CLOSE)."""
        if not self.sounds:
            return None
        sounds = [whole_sound(w, lang) for w in words]
        size = len(self.sounds)
        best, best_score = None, PHRASE_CLOSE / 100
        for first in range(len(words)):
            said = ""
            for last in range(first, len(words)):
                said += sounds[last]
                if len(said) > size * 1.4:
                    break
                if len(said) >= size * 0.7:
                    score = Levenshtein.normalized_similarity(self.sounds, said, score_cutoff=best_score)
                    if score >= best_score and (best is None or score > best_score) and not as_medicine(words, first, last, lang):
                        best, best_score = (first, last), score
        return best

    def find(self, words: list[str], lang: str) -> tuple[int, int, bool] | None:
        """(first, last) indices of the words it was heard in, and whether exactly; None if not heard."""
        key = [(w, i) for i, (w, n) in enumerate(zip(self.words, self.needed)) if n]  # (word, its place in the phrase)
        best = None
        for start in range(len(words)):
            score = closeness(key[0][0], words[start], lang)
            if score < CLOSE:
                continue
            found = self._rest(words, start, key[0][1], key[1:], lang, [score])
            if found is not None and not as_medicine(words, start, found[0], lang):
                end, scores = found
                exact = all(s == 1.0 for s in scores)
                if exact:
                    return start, end, True
                best = best or (start, end, False)
        return best

    def _rest(self, words, at, place, key, lang, scores):
        """The rest of the needed words after ``words[at]`` (the phrase's word at ``place``): GAP other words
        may come between two, besides the small words the phrase has between them."""
        if not key:
            return at, scores
        word, nplace = key[0]
        for nxt in range(at + 1, min(len(words), at + 1 + GAP + nplace - place)):
            score = closeness(word, words[nxt], lang)
            if score >= CLOSE:
                found = self._rest(words, nxt, nplace, key[1:], lang, scores + [score])
                if found is not None:
                    return found
        return None


def as_medicine(words: list[str], first: int, last: int, lang: str) -> bool:
    """Whether words[first..last] name what a medicine is for ("seizure meds", "medicina para la epilepsia")."""
    medicines = MEDICINES.get(lang) or set().union(*MEDICINES.values())
    if last + 1 < len(words) and words[last + 1] in medicines:
        return True
    small = SMALL_WORDS.get(lang) or set().union(*SMALL_WORDS.values())
    before = first - 1
    while before >= 0 and words[before] in small:
        before -= 1
    connectors = FOR.get(lang) or set().union(*FOR.values())
    return before >= 1 and words[before] in connectors and words[before - 1] in medicines


@dataclass(frozen=True)
class Phrase:
    """One emergency as configured: its name (the first way of saying it) and every way."""

    text: str  # as configured
    name: str  # shown to staff
    ways: tuple[Way, ...]

    @classmethod
    def parse(cls, text: str, lang: str = "") -> "Phrase":
        parts = [p.strip() for p in text.split("|")]
        if not all(parts):
            raise ValueError(f"urgent phrase {text!r} has an empty way of saying it (two | together, or one at an end)")
        ways = tuple(Way.parse(p, lang) for p in parts)
        return cls(text.strip(), parts[0].replace("*", ""), ways)

    def found_in(self, words: list[tuple[str, str]], lang: str) -> Match | None:
        plain = [w for w, _ in words]
        fuzzy = None
        for way in self.ways:
            found = way.find(plain, lang)
            if found is None:
                continue
            start, end, exact = found
            match = Match(" ".join(raw for _, raw in words[start : end + 1]), self.name, exact)
            if exact:
                return match
            fuzzy = fuzzy or match
        for way in () if fuzzy else self.ways:
            whole = way.find_whole(plain, lang)
            if whole is not None:
                return Match(" ".join(raw for _, raw in words[whole[0] : whole[1] + 1]), self.name, False)
        return fuzzy


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for raw in text.split():
        words = normalise(raw)
        if words:
            out.append((raw, "".join(words)))
    return out


class UrgentPhrases:
    """The configured phrases of each language."""

    def __init__(self, by_language: dict[str, list[str]]) -> None:
        self._phrases = {lang: [Phrase.parse(p, lang) for p in phrases] for lang, phrases in by_language.items()}

    def matches(self, transcript: str, lang: str, alternatives: tuple[str, ...] | list[str] = ()) -> list[Match]:
        """What was heard as which phrase; a language without its own list is checked against all lists.
        ``alternatives``: other readings of the same recording (Transcript.alternatives), read for the phrases
        the transcript does not have; their matches say so."""
        found: list[Match] = []
        lists = [(lang, self._phrases[lang])] if lang in self._phrases else list(self._phrases.items())
        for n, text in enumerate([transcript, *alternatives]):
            words = _words(text)
            for phrase_lang, phrases in lists if words else ():
                for phrase in phrases:
                    match = phrase.found_in(words, phrase_lang)
                    if match and all(m.phrase != match.phrase for m in found):
                        found.append(dataclasses.replace(match, elsewhere=n > 0))
        return found

    def find(self, transcript: str, lang: str) -> list[str]:
        """What was heard as an urgent phrase, as the transcript wrote it."""
        return [m.heard for m in self.matches(transcript, lang)]


# Why a message with speech nobody could make out waits with the urgent ones (ivr.speech.clarity).
UNCLEAR_REASON = "unclear — listen to the recording"


def reason(found: list[Match]) -> str:
    """What staff read: why this voicemail is urgent ('said "chest pain"; heard "combude" (taken for "convulsión")')."""
    return "; ".join(str(m) for m in found)

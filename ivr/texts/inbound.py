"""What a patient's text asks for: stop, start, help, cancel the callback, or a note for the nurse.

Keywords are whole messages (case, accents and punctuation ignored), as carriers read them; "no more
texts" and the like count anywhere in a short message, in English and Spanish, so a patient who writes
it in their own words is never texted again.
"""

from __future__ import annotations

import re
import unicodedata

STOP, START, HELP, CANCEL, NOTE = "stop", "start", "help", "cancel", "note"

# Whole-message keywords: (kind, language it tells, words). Twilio's and the carriers' own, and Spanish.
_KEYWORDS = (
    (STOP, "en", {"stop", "stopall", "unsubscribe", "end", "quit", "optout", "opt out", "revoke"}),
    (STOP, "es", {"alto", "baja", "cancelar", "parar", "detener"}),
    (START, "en", {"start", "unstop", "yes", "subscribe"}),
    (START, "es", {"inicio", "iniciar", "empezar", "comenzar", "si"}),
    (HELP, "en", {"help", "info"}),
    (HELP, "es", {"ayuda"}),
    (CANCEL, "en", {"cancel", "cancel it", "cancel the call", "cancel my call", "cancel the callback",
                    "cancel my callback", "cancel callback", "no need to call", "dont call"}),
    (CANCEL, "es", {"cancela", "cancelela", "cancelenla", "cancelar la llamada", "cancela la llamada",
                    "anular", "anular la llamada", "no llamen", "no me llamen"}),
)
# "No more texts" in the patient's own words: anywhere in the message.
_NO_MORE_TEXTS = (
    ("en", re.compile(r"\b(no|stop|dont|do not|quit|never)\s+(\w+\s+){0,3}(text|texts|texting|sms|messages|msgs)\b")),
    ("en", re.compile(r"\b(unsubscribe|opt me out|remove me|take me off)\b")),
    ("es", re.compile(r"\b(no|basta de|dejen de|deje de)\s+(\w+\s+){0,3}(mensajes|textos|sms|escriban)\b")),
    ("es", re.compile(r"\b(darme de baja|dar de baja|quitenme|eliminen mi numero)\b")),
)
_SPANISH_HINTS = re.compile(r"\b(llamen|llamar|llamada|despues|manana|gracias|por favor|ya no|no puedo|hola)\b")


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by single spaces (apostrophes dropped: don't -> dont)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace("'", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def classify(body: str) -> tuple[str, str]:
    """(kind, language told by the words or "") for one inbound text."""
    words = normalise(body)
    for kind, lang, keywords in _KEYWORDS:
        if words in keywords:
            return kind, lang
    if len(words) <= 160:
        for lang, pattern in _NO_MORE_TEXTS:
            if pattern.search(words):
                return STOP, lang
    return NOTE, "es" if _SPANISH_HINTS.search(words) else ""

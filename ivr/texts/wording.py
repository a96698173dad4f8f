"""What each text says, per language (en, es): plain words, the clinic's name and number, and nothing about
the patient's health beyond "the clinic will call you back" (texts are not private: a lock screen, a shared
phone). Every text that starts a conversation ends with how to stop them.
"""

from __future__ import annotations

import datetime as dt

import phonenumbers

CONFIRM_CALLBACK = "confirm_callback"  # a callback request was kept
CONFIRM_VOICEMAIL = "confirm_voicemail"  # a voicemail was kept (it is a callback request)
MISSED_CALLBACK = "missed_callback"  # a callback attempt reached nobody: the next try, the number to call
FOLLOWUP_UNREACHED = "followup_unreached"  # a follow-up call reached nobody on any try (optional)
PURPOSES = (CONFIRM_CALLBACK, CONFIRM_VOICEMAIL, MISSED_CALLBACK, FOLLOWUP_UNREACHED)
# Answers to the patient's own text: sent at once, never counted toward the limits.
STOPPED, STARTED, HELP, CANCELLED, NOTHING_TO_CANCEL = "stopped", "started", "help", "cancelled", "nothing_to_cancel"
ANSWERS = (STOPPED, STARTED, HELP, CANCELLED, NOTHING_TO_CANCEL)

_TEXTS = {
    "en": {
        CONFIRM_CALLBACK: "{clinic} will call you back {when}, from {number}. Reply STOP to stop texts.",
        CONFIRM_VOICEMAIL: "{clinic} got your message and will call you back {when}, from {number}. "
                           "Reply STOP to stop texts.",
        MISSED_CALLBACK: "{clinic} tried to call you back. We will try again {when}, from {number}. "
                         "You can also call us at {number}. Reply STOP to stop texts.",
        FOLLOWUP_UNREACHED: "{clinic} tried to call you. If you would like to talk with us, call {number}. "
                            "Reply STOP to stop texts.",
        STOPPED: "You will get no more texts or follow-up calls from {clinic}. Reply START to get texts again.",
        STARTED: "You will get texts from {clinic} again. Reply STOP to stop texts.",
        HELP: "{clinic}: texts about your callback. To talk with us, call {number}. Reply STOP to stop texts.",
        CANCELLED: "Your callback from {clinic} is cancelled. If you need us, call {number}.",
        NOTHING_TO_CANCEL: "{clinic} has no callback waiting for this number. If you need us, call {number}.",
    },
    "es": {
        CONFIRM_CALLBACK: "{clinic} le devolverá la llamada {when}, desde el {number}. "
                          "Responda ALTO para no recibir más mensajes.",
        CONFIRM_VOICEMAIL: "{clinic} recibió su mensaje y le devolverá la llamada {when}, desde el {number}. "
                           "Responda ALTO para no recibir más mensajes.",
        MISSED_CALLBACK: "{clinic} intentó devolverle la llamada. Lo intentaremos otra vez {when}, desde el "
                         "{number}. También puede llamarnos al {number}. Responda ALTO para no recibir más mensajes.",
        FOLLOWUP_UNREACHED: "{clinic} intentó llamarle. Si quiere hablar con nosotros, llame al {number}. "
                            "Responda ALTO para no recibir más mensajes.",
        STOPPED: "Ya no recibirá mensajes ni llamadas de seguimiento de {clinic}. "
                 "Responda START para recibir mensajes otra vez.",
        STARTED: "Recibirá mensajes de {clinic} otra vez. Responda ALTO para no recibir más mensajes.",
        HELP: "{clinic}: mensajes sobre su llamada. Para hablar con nosotros, llame al {number}. "
              "Responda ALTO para no recibir más mensajes.",
        CANCELLED: "Su llamada de {clinic} está cancelada. Si nos necesita, llame al {number}.",
        NOTHING_TO_CANCEL: "{clinic} no tiene ninguna llamada pendiente para este número. "
                           "Si nos necesita, llame al {number}.",
    },
}
LANGUAGES = tuple(_TEXTS)
_SOON = {"en": "as soon as we can", "es": "lo antes posible"}
_TODAY = {"en": "today, about {time}", "es": "hoy, hacia las {time}"}
_ON_DAY = {"en": "{day}, about {time}", "es": "el {day}, hacia las {time}"}
_TOMORROW = {"en": "tomorrow", "es": "mañana"}
_DAYS = {"en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
         "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")}


def language(lang: str) -> str:
    """The text's language: the caller's when there are texts in it, else English."""
    return lang if lang in _TEXTS else "en"


def phone_words(number: str) -> str:
    """The clinic's number as people write it: 202-555-0199 (North America), else international."""
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    if parsed.country_code == 1:
        n = str(parsed.national_number)
        return f"{n[:3]}-{n[3:6]}-{n[6:]}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def clock_words(when: dt.datetime, lang: str) -> str:
    """2:30 PM; 2:30 p. m."""
    hour = when.hour % 12 or 12
    half = ("AM", "PM") if lang == "en" else ("a. m.", "p. m.")
    return f"{hour}:{when.minute:02d} {half[when.hour >= 12]}"


def when_words(when: dt.datetime | None, now: dt.datetime, lang: str) -> str:
    """When the clinic will call, in the patient's zone (``when`` is aware, in that zone), rounded up to a
    quarter hour: "today, about 2:30 PM", "tomorrow, about 9:00 AM", "Monday, about 9:00 AM"; without a
    time, or more than six days off, "as soon as we can"."""
    lang = language(lang)
    if when is None:
        return _SOON[lang]
    when = when.astimezone(now.tzinfo)
    quarter = (-when.minute) % 15
    when = (when + dt.timedelta(minutes=quarter)).replace(second=0, microsecond=0)
    days = (when.date() - now.date()).days
    if days == 0:
        return _TODAY[lang].format(time=clock_words(when, lang))
    if 0 < days <= 6:
        day = _TOMORROW[lang] if days == 1 else _DAYS[lang][when.weekday()]
        text = _ON_DAY[lang].format(day=day, time=clock_words(when, lang))
        return text.replace("el mañana", "mañana")
    return _SOON[lang]


def text_for(purpose: str, lang: str, clinic: str, number: str, when: str = "") -> str:
    """The body of one text."""
    return _TEXTS[language(lang)][purpose].format(clinic=clinic, number=phone_words(number), when=when)

"""The emergency "clinic closed" answer: the admins' message, then the on-call line, then voicemail.

Needs only the clinic settings and the switch; no flow, no call state.
"""

from __future__ import annotations

import datetime as dt

from twilio.twiml.voice_response import VoiceResponse

from ivr.clinic.settings import ClinicSettings
from ivr.clinic.spoken_hours import prompt_values
from ivr.store.emergency import Emergency

DEFAULT_MESSAGES = {
    "en": "Our clinic is closed right now. We are connecting you to the nurse on call.",
    "es": "Nuestra clínica está cerrada en este momento. Le comunicamos con la enfermera de guardia.",
}


def _filled(text: str, clinic: ClinicSettings, now: dt.datetime | None, lang: str) -> str:
    """{clinic_name}, {hours_today}, {next_open}... filled in as in any prompt; other braces are left as typed."""
    try:
        return text.format_map(prompt_values(clinic.schedule(), now, lang, {"clinic_name": clinic.name}))
    except (KeyError, ValueError, IndexError, AttributeError):
        return text.replace("{clinic_name}", clinic.name)


def closed_twiml(clinic: ClinicSettings, switch: Emergency, now: dt.datetime | None = None) -> str:
    """Say the message in every clinic language, ring the chosen desk; no answer -> voicemail."""
    response = VoiceResponse()
    for lang, voice in clinic.languages.items():
        text = (switch.messages.get(lang) or DEFAULT_MESSAGES.get(lang) or "").strip()
        if text:
            response.say(_filled(text, clinic, now, lang), voice=voice.voice, language=voice.say_language)
    desk = clinic.desks.get(switch.desk)
    number = desk.number if desk else clinic.fallback_number
    response.dial(number, timeout=30, action="/voice/fallback/voicemail", method="POST")
    return str(response)

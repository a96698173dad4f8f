"""TwiML that needs nothing but the clinic's fallback number: used when anything fails.

The caller hears an apology and is connected to a person; if nobody answers,
they can leave a voicemail. It never touches Redis, flows or prompt files (the
view that ends the voicemail tries to keep it, and picks the words it may say).
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

APOLOGY = (
    "We're sorry, our phone menu is having a problem. Please hold while we connect you to our staff.",
    "Lo sentimos, tenemos un problema con el menú telefónico. Espere mientras le comunicamos con nuestro personal.",
)
LEAVE_MESSAGE = (
    "Nobody could take your call. Please leave your name, number and message after the tone.",
    "Nadie pudo atender su llamada. Deje su nombre, número y mensaje después del tono.",
)
THANKS = (
    "Thank you. We will call you back. Goodbye.",
    "Gracias. Le devolveremos la llamada. Adiós.",
)
NO_MESSAGE = (
    "We did not get a message. If you need us, please call again. Goodbye.",
    "No recibimos ningún mensaje. Si nos necesita, vuelva a llamar. Adiós.",
)
# When the message could not be confirmed as kept: no promise we cannot keep.
THANKS_UNCONFIRMED = (
    "Thank you, your message was recorded. Our system is having trouble, so if you need us today, "
    "please call again later. Goodbye.",
    "Gracias, su mensaje quedó grabado. Nuestro sistema tiene problemas; si nos necesita hoy, "
    "vuelva a llamar más tarde. Adiós.",
)
EN, ES = ("Polly.Joanna", "en-US"), ("Polly.Lupe", "es-US")


def _say_both(response: VoiceResponse, texts: tuple[str, str]) -> None:
    response.say(texts[0], voice=EN[0], language=EN[1])
    response.say(texts[1], voice=ES[0], language=ES[1])


def apology(number: str | None) -> str:
    """Apologise and ring ``number``; no answer leads to a voicemail."""
    response = VoiceResponse()
    _say_both(response, APOLOGY)
    if number:
        response.dial(number, timeout=25, action="/voice/fallback/voicemail", method="POST")
    else:
        response.redirect("/voice/fallback/voicemail", method="POST")
    return str(response)


def voicemail(dial_status: str) -> str:
    """After the fallback Dial: hang up if someone answered, else take a message."""
    response = VoiceResponse()
    if dial_status in ("completed", "answered"):
        response.hangup()
        return str(response)
    _say_both(response, LEAVE_MESSAGE)
    response.record(
        max_length=120,
        play_beep=True,
        timeout=5,
        trim="trim-silence",
        action="/voice/fallback/done",
        method="POST",
        recording_status_callback="/voice/recording?department=front_desk&lang=en",
        recording_status_callback_event="completed",
        recording_status_callback_method="POST",
    )
    _say_both(response, NO_MESSAGE)  # Twilio goes on here only when nothing was recorded
    response.hangup()
    return str(response)


def done(kept: bool = True) -> str:
    """After the message: a call back is promised only when the voicemail was kept (``kept``)."""
    response = VoiceResponse()
    _say_both(response, THANKS if kept else THANKS_UNCONFIRMED)
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())

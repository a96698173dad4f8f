"""Render the engine's replies as TwiML.

Every Gather, Dial and Record names ``/voice/step?s=N`` as its action, N being
the number of the request the call will make next; that number is how replayed
webhooks are recognised.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import quote

from twilio.twiml.voice_response import Gather as TwiGather
from twilio.twiml.voice_response import VoiceResponse

from ivr.clinic.settings import ClinicSettings
from ivr.flows import Dial, Gather, Hangup, Prompt, Record, Reply
from ivr.flows.actions import NOTES, Music
from ivr.clinic.hours import Schedule
from ivr.clinic.prompts import PromptCatalog, says_the_time
from ivr.clinic.spoken_hours import prompt_values

log = logging.getLogger(__name__)

STEP_URL = "/voice/step"


def step_url(seq: int, path: str = STEP_URL, **extra: str) -> str:
    query = "".join(f"&{k}={quote(v)}" for k, v in extra.items())
    return f"{path}?s={seq}{query}"


class Renderer:
    """Turns replies into TwiML for one clinic's voices and prompts, as heard at ``now``.

    Prompts are filled with ``variables`` (the clinic's name, ...), the prompt's own values and the
    spoken hours ({hours_today}, {next_open}: ivr.clinic.spoken_hours) at ``now`` (default: this instant).
    ``timed`` tells whether a prompt said the hours: then the TwiML holds only for this moment.
    """

    def __init__(
        self,
        clinic: ClinicSettings,
        prompts: PromptCatalog,
        audio_base: str,
        step_path: str = STEP_URL,
        variables: dict[str, str] | None = None,
        now: dt.datetime | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        self.clinic = clinic
        self.prompts = prompts
        self.audio_base = audio_base.rstrip("/")
        self.step_path = step_path  # follow-up calls answer at their own URL
        self.variables = {"clinic_name": clinic.name, **(variables or {})}
        self.now = now
        self._schedule = schedule
        self.timed = False

    def _voice(self, lang: str):
        voice = self.clinic.languages.get(lang)
        if voice is None:
            voice = next(iter(self.clinic.languages.values()))
        return voice

    def _audio_url(self, lang: str, prompt_id: str) -> str | None:
        audio = self.prompts.audio_file(lang, prompt_id)
        if not audio:
            return None
        stamp = self.prompts.audio_stamp(lang, prompt_id)  # a new URL for a new recording: Twilio caches by URL
        return f"{self.audio_base}/voice/audio/{lang}/{quote(audio)}" + (f"?v={stamp}" if stamp else "")

    @property
    def schedule(self) -> Schedule:
        if self._schedule is None:
            self._schedule = self.clinic.schedule()
        return self._schedule

    def words(self, prompt: Prompt, lang: str | None = None) -> tuple[str | None, str | None]:
        """(text, recording URL) of a prompt in ``lang`` as a call hears it now: the text with its values
        filled in (None if the language lacks it), and the recording that is played instead, if any.

        Prompts with values ("about {minutes} minutes") or that say the hours are always
        spoken, since a recording cannot say the number or know today's hours.
        Real calls and Try-it (ivr.admin.tryit) both use this.
        """
        lang = lang or prompt.lang
        raw = self.prompts.texts.get(lang, {}).get(prompt.id)
        values = prompt_values(self.schedule, self.now, lang, {**self.variables, **dict(prompt.values)})
        text = self.prompts.text(lang, prompt.id, values)
        self.timed = self.timed or values.timed
        live = bool(prompt.values) or (raw is not None and says_the_time(raw))
        return text, None if live else self._audio_url(lang, prompt.id)

    def speak(self, parent, prompt: Prompt) -> None:
        """Add a prompt to a response or Gather: its recording if any, else its text."""
        lang = prompt.lang
        text, audio = self.words(prompt)
        if audio:
            parent.play(audio)
            return
        if text is None:  # only if prompts changed under a live flow
            lang = next(iter(self.clinic.languages))
            text, _ = self.words(prompt, lang)
            log.error("prompt %s missing in %s", prompt.id, prompt.lang)
        if text is None:
            return
        voice = self._voice(lang)
        parent.say(text, voice=voice.voice, language=voice.say_language)

    def render(self, reply: Reply, seq: int) -> str:
        response = VoiceResponse()
        for action in reply.actions:
            if isinstance(action, Prompt):
                self.speak(response, action)
            elif isinstance(action, Gather):
                speech: dict[str, object] = {}  # optional attributes
                if action.num_digits is not None:
                    speech["num_digits"] = action.num_digits
                if action.finish_on_key != "#":
                    speech["finish_on_key"] = action.finish_on_key
                if action.speech:
                    speech["speech_timeout"] = "auto"
                    if action.hints:
                        speech["hints"] = ", ".join(dict.fromkeys(action.hints))
                gather = TwiGather(
                    input="dtmf speech" if action.speech else "dtmf",
                    action=step_url(seq, self.step_path),
                    method="POST",
                    timeout=action.timeout,
                    action_on_empty_result=True,
                    language=self._voice(action.lang).say_language,
                    **speech,
                )
                for prompt in action.prompts:
                    self.speak(gather, prompt)
                response.append(gather)
            elif isinstance(action, Dial):
                # The number as the Dial's text: action, timeout and method are the Dial's own attributes.
                # Twilio's <Number> noun adds only what this line does not use (sendDigits, a whisper url,
                # per-leg statusCallback events, machine detection).
                response.dial(action.number, timeout=action.timeout, action=step_url(seq, self.step_path), method="POST")
            elif isinstance(action, Record):
                response.record(
                    action=step_url(seq, self.step_path),
                    method="POST",
                    max_length=action.max_length,
                    finish_on_key=action.finish_on_key,
                    play_beep=True,
                    timeout=5,
                    trim="trim-silence",
                    recording_status_callback=(
                        f"/voice/recording?department={quote(action.department)}&lang={quote(action.lang)}"
                        f"&purpose={quote(action.purpose)}"
                    ),
                    recording_status_callback_event="completed",
                    recording_status_callback_method="POST",
                )
                # Twilio skips the action when nothing was recorded and goes on here.
                response.redirect(step_url(seq, self.step_path, e="empty"), method="POST")
            elif isinstance(action, Music):
                music = self._audio_url(action.lang, "hold_music") or self.clinic.callbacks.hold_music_url
                if music:
                    response.play(music)
                else:
                    response.pause(length=30)
            elif isinstance(action, Hangup):
                response.hangup()
            elif isinstance(action, NOTES):
                # Only follow-up calls carry these out (ivr.voice.followup, before rendering).
                log.error("%s in a call that does not act on it; ignored", type(action).__name__)
            else:
                raise TypeError(f"cannot render {action!r}: effects are performed before rendering")
        return str(response)

"""Clinic settings (config/clinic.yaml): name, time zone, hours, holidays, desks, voices."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ivr.flows import yaml_lines
from ivr.clinic.hours import WEEKDAYS, Holiday, Schedule, Span, parse_spans
from ivr.speech.urgency import Phrase


class ClinicConfigError(ValueError):
    """clinic.yaml is missing or invalid; the message names file, line and field."""


class _At(ValueError):
    """A validation error about a part of the field being checked (a day, a list item).

    ``load_clinic`` appends ``path`` to the field's location, so the message
    names the line of that part rather than the line of the whole field.
    """

    def __init__(self, message: str, *path: object) -> None:
        super().__init__(message)
        self.path = path


@functools.lru_cache(maxsize=4096)
def e164(value: str) -> str:
    """Normalise a phone number to +E.164; ValueError if it is not a valid number (answers are cached:
    the clinic's own numbers come with every webhook)."""
    try:
        parsed = phonenumbers.parse(str(value), None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number in +E.164 form ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PhoneNumber = Annotated[str, AfterValidator(e164)]

# Numbers a caller would pay extra to be put through to, or that share the cost: never a desk.
COSTLY = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number (callers put through to it would pay extra)",
    phonenumbers.PhoneNumberType.SHARED_COST: "a shared-cost number (callers put through to it would pay part of the cost)",
}


def ordinary(value: str) -> str:
    """A desk's number: valid, and not premium-rate or shared-cost (ValueError with the reason)."""
    kind = COSTLY.get(phonenumbers.number_type(phonenumbers.parse(value, None)))
    if kind:
        raise ValueError(f"{value} is {kind}: give the desk's ordinary number")
    return value


DeskNumber = Annotated[str, AfterValidator(e164), AfterValidator(ordinary)]


ROLES = ("nurse", "billing", "scheduling", "admin")



def _weekly_hours(value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
    """Weekly hours (a desk's or the clinic's): known weekdays, spans like "08:00-17:00"."""
    for day, spans in (value or {}).items():
        if day not in WEEKDAYS:
            raise _At(f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})", day)
        try:
            parse_spans(spans)
        except ValueError as exc:
            raise _At(str(exc), day) from None
    return value


class Desk(_Strict):
    name: str
    number: DeskNumber
    # Staff roles that work this desk's callback queue (admins see every queue).
    roles: list[Literal["nurse", "billing", "scheduling", "admin"]] = Field(default_factory=list)
    # Its own weekly hours (the clinic's holidays still apply); absent: the clinic's hours. Outside them a
    # transfer to the desk does not ring it and goes on as if nobody answered (callback offer, voicemail).
    hours: dict[str, list[str]] | None = None

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        return _weekly_hours(value)


class _CallsPatients(_Strict):
    """Settings of a part that calls patients: when it may (never outside 08:00-21:00)."""

    calling_hours: str = "09:00-20:00"

    @field_validator("calling_hours")
    @classmethod
    def _window(cls, value: str) -> str:
        span = Span.parse(value)
        if span.start < 8 * 60 or span.end > 21 * 60:
            raise ValueError(f"{value!r}: patients may only be called between 08:00 and 21:00")
        return value

    @property
    def calling_window(self) -> Span:
        return Span.parse(self.calling_hours)


class CallbackSettings(_CallsPatients):
    """How queued callbacks are offered, claimed and retried (``calling_hours`` in clinic time)."""

    offer_when_wait_over_minutes: int = Field(default=5, ge=0, le=240)
    lease_minutes: int = Field(default=10, ge=1, le=240)
    # Callbacks one person may hold at once ("Take next" says which one she holds beyond this).
    max_claims_per_user: int = Field(default=1, ge=1, le=20)
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_spacing_minutes: int = Field(default=30, ge=1, le=1440)
    target_minutes: int = Field(default=60, ge=1, le=10080)
    # An urgent callback not reached is tried again this soon, at any hour (routine ones keep calling hours),
    # and after this many unanswered tries it moves to the on-call desk's queue ("" : it stays where it is).
    urgent_retry_minutes: int = Field(default=10, ge=1, le=120)
    urgent_tries_before_on_call: int = Field(default=2, ge=1, le=10)
    urgent_on_call_desk: str = ""
    # Played to callers who keep holding (Twilio fetches it); "" for a pause instead.
    hold_music_url: str = "https://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3"
    # Countries callbacks may go to (two-letter codes); empty: the clinic's own country only.
    # Premium-rate, shared-cost and similar numbers are never called back, wherever they are.
    call_back_countries: list[str] = Field(default_factory=list)

    @field_validator("call_back_countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        for i, code in enumerate(value):
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise _At(f"{code!r} is not a two-letter country code such as US", i)
        return value


DEFAULT_URGENT_PHRASES = {  # the same as config/clinic.yaml ships
    "en": [
        "chest pain* | chest hurts | pain in my chest | pressure in my chest | chest pressure | tightness in my chest | chest tightness | heart attack",
        "can't breathe | cannot breathe | can't catch my breath | trouble breathing | difficulty breathing | struggling to breathe | hard to breathe | short of breath | shortness of breath | not breathing | gasping for air | turning blue | lips are blue",
        "bleeding a lot | bleed* | lot of blood | losing blood | hemorrhag*",
        "suicidal thoughts | suicid* | kill myself | kill himself | kill herself | end my life | ending my life | take my own life | want to die | wants to die | don't want to live | better off dead",
        "hurting myself | hurt myself | harm myself | harming myself | self harm | cutting myself",
        "overdose | overdose* | too many pills | whole bottle of pills | took all my pills",
        "stroke | face is drooping | face drooping | slurred speech | speech is slurred | can't move my arm | numb on one side",
        "seizure | seizure* | convulsion* | epileptic fit",
        "passed out | pass out | passing out | fainted | fainting | collapsed | unconscious | unresponsive | not responding | won't wake up | can't wake him | can't wake her",
        "allergic reaction | anaphyla* | throat is closing | throat closing | throat feels tight | tongue is swelling | face is swelling | epipen",
    ],
    "es": [
        "dolor en el pecho | dolor de pecho | me duele el pecho | le duele el pecho | presión en el pecho | opresión en el pecho | me aprieta el pecho | infarto | ataque al corazón | ataque cardiaco",
        "no puedo respirar | no puede respirar | me falta el aire | le falta el aire | falta de aire | falta la respiración | dificultad para respirar | cuesta respirar | me ahogo | se ahoga | ahogando | labios morados",
        "sangra mucho | sangrando | sangrado | mucha sangre | no deja de sangrar | no para de sangrar | hemorragia",
        "pensamientos suicidas | suicid* | matarme | matarse | se quiere matar | me quiero matar | quitarme la vida | quitarse la vida | quiero morirme | me quiero morir | se quiere morir | quiere morirse | no quiero vivir | no quiero seguir viviendo | acabar con mi vida",
        "hacerme daño | hacerse daño | quiere hacer daño | quiero hacer daño | lastimarme",
        "sobredosis | muchas pastillas | demasiadas pastillas | todas las pastillas",
        "derrame | derrame cerebral | embolia | cara caída | cara chueca | no puede mover el brazo",
        "convulsión | convulsi* | ataque epiléptico | crisis epiléptica | ataque de epilepsia",
        "se desmayó | desmay* | perdió el conocimiento | perdió la conciencia | inconsciente | no responde | no despierta | no se despierta",
        "reacción alérgica | se me cierra la garganta | se le cierra la garganta | cerrando la garganta | se le hincha la cara | anafila*",
    ],
}


class VoicemailSettings(_Strict):
    """How voicemails are transcribed and flagged."""

    # Phrases that make a voicemail urgent (top of its queue), per language.
    urgent_phrases: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_URGENT_PHRASES.items()})
    attempts: int = Field(default=5, ge=1, le=20)  # pipeline runs (fetch, transcribe) before a failure is final
    # Days voicemail audio and transcripts are kept after the message arrived, on disk and in the bucket
    # (ivr.workers.retention deletes them, with the voicemail, and says so in the audit log).
    keep_days: int = Field(default=90, ge=1, le=3660)
    # Which speech engine transcribes each language (ivr.speech.registry): whisper (the default),
    # whisper:MODEL or whisper:FOLDER, vosk or vosk:FOLDER, pocketsphinx (English only).
    engines: dict[str, str] = Field(default_factory=dict)

    @field_validator("engines")
    @classmethod
    def _engines(cls, value: dict[str, str]) -> dict[str, str]:
        from ivr.speech.registry import parse

        for lang, spec in value.items():
            try:
                parse(spec)
            except ValueError as exc:
                raise _At(str(exc), lang) from None
        return value

    @field_validator("urgent_phrases")
    @classmethod
    def _phrases(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for lang, phrases in value.items():
            for i, phrase in enumerate(phrases):
                try:
                    Phrase.parse(phrase)
                except ValueError as exc:
                    raise _At(str(exc), lang, i) from None
        return value

class FollowupSettings(_CallsPatients):
    """Automated post-appointment follow-up calls (ivr.followups); ``calling_hours`` in the patient's time."""

    enabled: bool = True
    flow: str = "followup"  # the flow a patient who answers hears
    delay_hours: float = Field(default=24, ge=0, le=24 * 30)  # first try this long after the appointment
    max_calls_per_day: int = Field(default=1, ge=1, le=3)  # per patient (phone number), local calendar day
    max_calls_per_week: int = Field(default=3, ge=1, le=10)  # per patient, any 7 days
    retry_attempts: int = Field(default=2, ge=0, le=5)  # busy / no answer / failed: tries after the first
    retry_spacing_minutes: int = Field(default=120, ge=5, le=10080)
    calls_per_second: float = Field(default=1.0, gt=0, le=100)  # Twilio's limit, shared by all workers
    nurse_department: str = "nurse"  # where "press 1 to talk to a nurse" files the callback
    give_up_after_days: int = Field(default=7, ge=1, le=60)  # no call later than this after the appointment
    # Zones patients live in besides the clinic's: a time sent with a UTC offset and no zone is
    # placed in the first of these (then the phone number's own zones) that has that offset then.
    timezones: list[str] = Field(default_factory=list)
    # The scheduling system's department names -> desks (e.g. Cardiology: nurse); any case.
    departments: dict[str, str] = Field(default_factory=dict)

    @field_validator("timezones")
    @classmethod
    def _zones(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise _At(f"unknown time zone {name!r} (use a name like America/Denver)", i) from None
        return value


class Voice(_Strict):
    name: str
    say_language: str = Field(description="Twilio language code, e.g. en-US")
    voice: str = Field(description="Twilio voice, e.g. Polly.Joanna-Neural")


class HolidayEntry(_Strict):
    date: dt.date
    name: str
    hours: list[str] = Field(default_factory=list)


class ClinicSettings(_Strict):
    name: str
    main_number: PhoneNumber  # the clinic's Twilio number: caller ID for callbacks
    timezone: str
    country: str = "US"  # for phone numbers given without +country code
    languages: dict[str, Voice] = Field(min_length=1)
    hours: dict[str, list[str]]
    holidays: list[HolidayEntry] = Field(default_factory=list)
    desks: dict[str, Desk] = Field(min_length=1)
    fallback_desk: str = "front_desk"
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    voicemail: VoicemailSettings = Field(default_factory=VoicemailSettings)
    followups: FollowupSettings = Field(default_factory=FollowupSettings)
    default_flow: str = "main"
    flows_by_number: dict[str, str] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use a name like America/New_York)") from None
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a two-letter country code such as US")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _weekly_hours(value)

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: list[HolidayEntry]) -> list[HolidayEntry]:
        seen: set[dt.date] = set()
        for i, h in enumerate(value):
            if h.date in seen:
                raise _At(f"{h.date} is listed twice", i)
            seen.add(h.date)
            try:
                parse_spans(h.hours)
            except ValueError as exc:
                raise _At(f"{h.date} ({h.name}): {exc}", i, "hours") from None
        return value

    @field_validator("flows_by_number")
    @classmethod
    def _numbers(cls, value: dict[str, str]) -> dict[str, str]:
        return {e164(k): v for k, v in value.items()}

    @model_validator(mode="after")
    def _fallback(self) -> "ClinicSettings":
        if self.fallback_desk not in self.desks:
            raise _At(
                f"{self.fallback_desk!r} is not one of the desks ({', '.join(self.desks)})",
                "fallback_desk",
            )
        on_call = self.callbacks.urgent_on_call_desk
        if on_call and on_call not in self.desks:
            raise _At(f"{on_call!r} is not one of the desks ({', '.join(self.desks)})", "callbacks", "urgent_on_call_desk")
        if self.followups.nurse_department not in self.desks:
            raise _At(
                f"{self.followups.nurse_department!r} is not one of the desks ({', '.join(self.desks)})",
                "followups", "nurse_department",
            )
        for name, desk in self.followups.departments.items():
            if desk not in self.desks:
                raise _At(f"{desk!r} is not one of the desks ({', '.join(self.desks)})", "followups", "departments", name)
        # The follow-up flow greets a patient the clinic called, by name: a caller's call cannot fill that in.
        outbound = (f"{self.followups.flow!r} is the follow-up flow (followups.flow): it is for the clinic's calls "
                    "to patients after a visit and cannot answer calls coming in")
        if self.default_flow == self.followups.flow:
            raise _At(outbound, "default_flow")
        for number, flow in self.flows_by_number.items():
            if flow == self.followups.flow:
                raise _At(outbound, "flows_by_number", number)
        return self

    # Derived views -------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def schedule(self) -> Schedule:
        weekly = {WEEKDAYS.index(day): parse_spans(spans) for day, spans in self.hours.items()}
        holidays = {h.date: Holiday(h.date, h.name, parse_spans(h.hours)) for h in self.holidays}
        return Schedule(self.zone, weekly, holidays)

    @functools.cached_property
    def desk_schedules(self) -> dict[str, Schedule]:
        """The schedules of the desks that keep their own hours (with the clinic's holidays)."""
        clinic = self.schedule()
        return {key: Schedule(clinic.timezone, {WEEKDAYS.index(d): parse_spans(s) for d, s in desk.hours.items()},
                              clinic.holidays)
                for key, desk in self.desks.items() if desk.hours is not None}

    def desk_numbers(self) -> dict[str, str]:
        return {key: desk.number for key, desk in self.desks.items()}

    def departments_for(self, role: str) -> list[str]:
        """The callback queues a staff role works (admins: all)."""
        if role == "admin":
            return list(self.desks)
        return [key for key, desk in self.desks.items() if role in desk.roles]

    @property
    def fallback_number(self) -> str:
        return self.desks[self.fallback_desk].number

    def flow_for(self, called: str) -> str:
        if not self.flows_by_number:
            return self.default_flow
        try:
            return self.flows_by_number.get(e164(called), self.default_flow)
        except ValueError:
            return self.default_flow


def load_clinic(path: Path) -> ClinicSettings:
    """Read and validate clinic.yaml. Raises :class:`ClinicConfigError` with file:line: reason."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ClinicConfigError(f"{path}: cannot read clinic settings: {exc.strerror}") from None
    try:
        data = yaml_lines.load(text)
    except yaml_lines.YamlSyntaxError as exc:
        raise ClinicConfigError(f"{path}:{exc.line}: {exc}") from None
    if not isinstance(data, dict):
        raise ClinicConfigError(f"{path}: clinic settings must be a mapping")
    try:
        return ClinicSettings.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, _At):
                loc += cause.path
            line = yaml_lines.line_of(data, loc)
            field = ".".join(str(p) for p in loc) or "(top)"
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            msg = msg.removeprefix("Value error, ")
            lines.append(f"{path}:{line or 1}: {field}: {msg}")
        raise ClinicConfigError("\n".join(lines)) from None

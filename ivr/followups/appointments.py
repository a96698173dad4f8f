"""Appointments for follow-up calls, read from CSV files and JSON objects.

Every problem names where it is: the CSV line (the header is line 1) or the
index in a JSON list, and why. Good rows are kept; bad rows are reported and
skipped, so one typo never loses a whole file.

Columns (header row required, names case-insensitive, spaces or dashes read as
underscores): ``name``, ``phone``, ``appointment_time``, ``provider``,
``department``, ``language``; optional ``timezone``, ``id`` (the scheduling
system's own appointment id) and ``status`` (``cancelled`` or ``no-show``
cancels the visit's follow-up; empty, ``booked``, ``completed`` and the like
keep it).

The patient's time zone: ``timezone`` when given; else, for a time with a UTC
offset, the first of the clinic's zones (``timezone`` and
``followups.timezones`` in clinic.yaml) and the phone number's own zones whose
offset at that instant is the one given; else the first of those zones, with
its summer time; only for a number with no known area, the offset itself (a
fixed zone such as ``UTC-08:00``, which the follow-up gate reads as every zone of
the number's country with that offset then). A time without an offset is
wall-clock time in the clinic's zone. The follow-up gate calls only when every
zone the patient may be in allows it (``ivr.followups.rules.patient_zones``).

``department`` is one of clinic.yaml's desks, or a name mapped to one in
``followups.departments`` (the scheduling system's own names, any case).

An appointment's id is the scheduling system's when given, else a hash of the
phone number, the time (UTC), the provider and the department: importing the
same row twice yields the same id, so it changes nothing. Importing it again
with a new time or number moves its follow-up.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import phonenumbers
from phonenumbers import timezone as number_zones

from ivr.clinic.calling_hours import offset_name, zone_named

REQUIRED = ("name", "phone", "appointment_time", "provider", "department", "language")
OPTIONAL = ("timezone", "id", "status")
CANCELLED_WORDS = frozenset({"cancelled", "canceled", "cancel", "deleted", "no-show", "no_show", "noshow", "no show"})
ACTIVE_WORDS = frozenset({"", "booked", "scheduled", "confirmed", "active", "arrived", "checked-in", "checked in",
                          "checked-out", "checked out", "completed", "done", "seen", "rescheduled", "moved"})
ALIASES = {
    "patient": "name", "patient_name": "name", "phone_number": "phone", "mobile": "phone",
    "time": "appointment_time", "appointment": "appointment_time", "start": "appointment_time",
    "appointment_at": "appointment_time", "lang": "language", "tz": "timezone", "time_zone": "timezone",
    "appointment_id": "id", "appointment_status": "status",
}
ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_NAME = 100
MAX_TEXT = 100


class AppointmentError(ValueError):
    """One row or object that cannot be imported, and why."""


@dataclass(frozen=True)
class Appointment:
    id: str
    name: str
    phone: str  # +E.164
    at: dt.datetime  # aware, in the patient's zone
    timezone: str  # the patient's IANA zone
    provider: str
    department: str  # the desk (a key of clinic.yaml's desks)
    language: str
    department_name: str = ""  # as the scheduling system names it

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


@dataclass(frozen=True)
class Cancellation:
    """The scheduling system cancelled this appointment (a ``status`` of cancelled or no-show)."""

    id: str


@dataclass(frozen=True)
class RowError:
    where: int  # CSV line number, or JSON list index
    reason: str

    def __str__(self) -> str:
        return f"line {self.where}: {self.reason}"


@dataclass
class Parsed:
    appointments: list[tuple[int, Appointment | Cancellation]] = field(default_factory=list)  # (line or index, item)
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class Rules:
    """What an appointment must agree with: the clinic's zones, country, departments and languages."""

    timezone: str
    country: str
    departments: frozenset[str]  # desk keys
    languages: frozenset[str]
    zones: tuple[str, ...] = ()  # more zones patients live in (besides ``timezone``)
    department_names: Mapping[str, str] = field(default_factory=dict)  # lower-case name -> desk

    @classmethod
    def for_clinic(cls, clinic) -> "Rules":
        settings = clinic.followups
        return cls(
            clinic.timezone, clinic.country, frozenset(clinic.desks), frozenset(clinic.languages),
            tuple(settings.timezones), {k.strip().lower(): v for k, v in settings.departments.items()},
        )

    def desk(self, department: str) -> str:
        """The desk for a department as the scheduling system names it; AppointmentError if unknown."""
        if department in self.departments:
            return department
        desk = self.department_names.get(department.lower())
        if desk is None:
            known = sorted(set(self.departments) | set(self.department_names))
            raise AppointmentError(
                f"unknown department {department!r} (known: {', '.join(known)}; "
                "map the scheduling system's names to desks under followups.departments in clinic.yaml)"
            )
        return desk


def _column(name: str) -> str:
    key = re.sub(r"[\s-]+", "_", name.strip().lower().lstrip("\ufeff"))
    return ALIASES.get(key, key)


def parse_phone(raw: str, country: str) -> str:
    raw = (raw or "").strip()
    if not raw:
        raise AppointmentError("phone is empty")
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        raise AppointmentError("phone is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise AppointmentError("phone is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _zone(name: str) -> dt.tzinfo:
    try:
        return zone_named(name)
    except ValueError as exc:
        raise AppointmentError(str(exc)) from None


MAX_NUMBER_ZONES = 3  # more: the number says little about where its owner is (toll-free, mobile-only ranges)


def zones_of_number(phone: str) -> tuple[str, ...]:
    """The IANA zones a phone number's area is in (libphonenumber's data); () when it could be anywhere."""
    try:
        names = number_zones.time_zones_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(n for n in names if "/" in n and not n.startswith("Etc/"))
    return zones if len(zones) <= MAX_NUMBER_ZONES else ()


def zone_for_offset(when: dt.datetime, candidates: Iterable[str], fallback: Iterable[str] = ()) -> str:
    """The first candidate zone whose UTC offset at ``when``'s instant is ``when``'s own.

    None has it: the first valid zone of ``fallback`` (a real zone, summer time and
    all); only with none, the offset itself (a fixed zone such as ``UTC-06:00``).
    """
    offset = when.utcoffset()
    for name in candidates:
        try:
            zone = zone_named(name)
        except ValueError:
            continue
        if when.astimezone(zone).utcoffset() == offset:
            return name
    for name in fallback:
        try:
            zone_named(name)
        except ValueError:
            continue
        return name
    return offset_name(offset or dt.timedelta(0))


def parse_time(raw: str, zone_name: str, default_zone: str, candidates: Iterable[str] = ()) -> tuple[dt.datetime, str]:
    """(aware time in the patient's zone, that zone's name).

    A time with a UTC offset keeps its instant, in ``zone_name`` when given,
    else in the first of ``candidates`` (the clinic's zones, the number's) that
    has that offset at that instant, else in the first candidate (a real zone with
    its summer time); only with no candidate at all (a number with no known area)
    in the fixed offset itself, which the follow-up gate reads as every zone of the
    number's country with that offset then. Without
    an offset it is wall-clock time in ``zone_name`` (else the clinic's zone).
    A wall time that does not exist (skipped by a spring-forward change) is
    refused; one that happens twice (fall-back) is taken as the first.
    """
    text = (raw or "").strip()
    if not text:
        raise AppointmentError("appointment_time is empty")
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise AppointmentError(
            f"appointment_time {text!r} is not a date and time like 2026-11-24 10:30 or 2026-11-24T10:30-05:00"
        ) from None
    given = (zone_name or "").strip()
    if when.tzinfo is not None:
        others = tuple(candidates)
        name = given or zone_for_offset(when, (default_zone, *others), fallback=others)
        return when.astimezone(_zone(name)), name
    name = given or default_zone
    zone = _zone(name)
    local = when.replace(tzinfo=zone)
    round_trip = local.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
    if round_trip != when:
        raise AppointmentError(f"appointment_time {text} does not exist in {name} (the clocks skip it)")
    return local, name


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if value is not None and not isinstance(value, str):
        raise AppointmentError(f"{what} must be text (in quotes), not {type(value).__name__}")
    text = "" if value is None else value.strip()
    if not text:
        raise AppointmentError(f"{what} is empty")
    if len(text) > limit:
        raise AppointmentError(f"{what} is longer than {limit} characters")
    if any(ord(c) < 32 for c in text):
        raise AppointmentError(f"{what} contains control characters")
    return text


def stable_id(phone: str, at: dt.datetime, provider: str, department: str) -> str:
    basis = "|".join((phone, at.astimezone(dt.timezone.utc).isoformat(), provider.lower(), department))
    return "a" + hashlib.sha256(basis.encode()).hexdigest()[:20]


def _status(value: Any) -> bool:
    """Whether a ``status`` cell cancels the appointment."""
    word = _text(value, "status").lower() if value not in (None, "") else ""
    if word in CANCELLED_WORDS:
        return True
    if word in ACTIVE_WORDS:
        return False
    raise AppointmentError(f"status {word!r} is not known (cancelled or no-show cancel the follow-up; booked keeps it)")


def _given_id(data: Mapping[str, Any]) -> str:
    raw = data.get("id")
    if raw in (None, ""):
        return ""
    given = _text(raw, "id")
    if not ID_PATTERN.fullmatch(given):
        raise AppointmentError("id may only use letters, digits, '.', '_' and '-' (at most 64)")
    return f"s{given}"


MAX_YEARS_AWAY = 2  # an appointment further from the clinic's now than this is a typo or a placeholder date


def check_sane_time(at: dt.datetime, now: dt.datetime | None = None) -> None:
    """AppointmentError unless ``at`` is within MAX_YEARS_AWAY years of ``now`` (default: the real now)."""
    now = dt.datetime.now(dt.timezone.utc) if now is None else now
    span = dt.timedelta(days=365 * MAX_YEARS_AWAY + MAX_YEARS_AWAY // 4 + 1)
    if not now - span <= at <= now + span:
        raise AppointmentError(
            f"appointment_time {at.date().isoformat()} is more than {MAX_YEARS_AWAY} years from today "
            f"({now.date().isoformat()}): a typo or a placeholder date?"
        )


def from_mapping(row: Mapping[str, Any], rules: Rules, now: dt.datetime | None = None) -> Appointment | Cancellation:
    """One appointment (or its cancellation) from a CSV row or JSON object (keys as the columns).

    AppointmentError if invalid. A cancellation with the scheduling system's
    ``id`` needs nothing else; without one, the columns that make up the id.
    A time more than MAX_YEARS_AWAY years from ``now`` (the clinic's; default
    the real now) is refused, so no date can overflow the scheduling after it.
    """
    data = {_column(str(k)): v for k, v in row.items() if k is not None}
    cancelled = _status(data.get("status"))
    given = _given_id(data)
    if cancelled and given:
        return Cancellation(given)
    missing = [c for c in REQUIRED if data.get(c) in (None, "")]
    if missing:
        raise AppointmentError(f"missing {', '.join(missing)}")
    name = _text(data["name"], "name", MAX_NAME)
    if not any(c.isalpha() for c in name):
        raise AppointmentError("name has no letters: is a number in the name column?")
    phone = parse_phone(_text(data["phone"], "phone"), rules.country)
    zone_name = _text(data["timezone"], "timezone") if data.get("timezone") not in (None, "") else ""
    candidates = (*rules.zones, *zones_of_number(phone))
    raw_time = _text(data["appointment_time"], "appointment_time")
    try:
        at, zone = parse_time(raw_time, zone_name, rules.timezone, candidates)
    except OverflowError:  # a date at the very edge of the calendar (year 1 or 9999) moved into a zone
        raise AppointmentError(f"appointment_time {raw_time!r} is out of range") from None
    check_sane_time(at, now)
    provider = _text(data["provider"], "provider")
    department_name = _text(data["department"], "department")
    department = rules.desk(department_name)
    language = _text(data["language"], "language").lower()
    if language not in rules.languages:
        raise AppointmentError(f"language {language!r} is not offered (offered: {', '.join(sorted(rules.languages))})")
    appointment_id = given or stable_id(phone, at, provider, department_name)
    if cancelled:
        return Cancellation(appointment_id)
    return Appointment(appointment_id, name, phone, at, zone, provider, department, language, department_name)


def read_csv(lines: Iterable[str], rules: Rules,
             now: dt.datetime | None = None) -> Iterator[tuple[int, Appointment | Cancellation | RowError]]:
    """Each data row of a CSV file as (line number, appointment or error), one at a time."""
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        yield 1, RowError(1, f"the header row cannot be read: {exc}")
        return
    if not header:
        yield 1, RowError(1, "the file is empty: a header row is required")
        return
    columns = [_column(h) for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        yield 1, RowError(1, f"the header row lacks {', '.join(missing)} (it has: {', '.join(header)})")
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, RowError(reader.line_num, f"unreadable CSV: {exc}")
            return
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank line
        if None in row:
            yield line, RowError(line, "more fields than the header has columns")
            continue
        try:
            yield line, from_mapping(row, rules, now)
        except AppointmentError as exc:
            yield line, RowError(line, str(exc))


def parse_csv(text: str, rules: Rules, now: dt.datetime | None = None) -> Parsed:
    parsed = Parsed()
    for line, item in read_csv(io.StringIO(text, newline=""), rules, now):
        if isinstance(item, RowError):
            parsed.errors.append(item)
        else:
            parsed.appointments.append((line, item))
    return parsed


def parse_json(items: Any, rules: Rules, now: dt.datetime | None = None) -> Parsed:
    """A JSON list of appointment objects (or {"appointments": [...]}); errors name the list index."""
    if isinstance(items, dict) and "appointments" in items:
        items = items["appointments"]
    parsed = Parsed()
    if not isinstance(items, list):
        parsed.errors.append(RowError(0, 'expected a list of appointments or {"appointments": [...]}'))
        return parsed
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            parsed.errors.append(RowError(i, "not an object"))
            continue
        try:
            parsed.appointments.append((i, from_mapping(item, rules, now)))
        except AppointmentError as exc:
            parsed.errors.append(RowError(i, str(exc)))
    return parsed

"""Appointments for follow-up calls, read from CSV files and JSON objects.

Every problem names where it is: the CSV line (the header is line 1) or the
index in a JSON list, and why. Good rows are kept; bad rows are reported and
skipped, so one typo never loses a whole file.

Columns (header row required, names case-insensitive, spaces or dashes read as
underscores): ``name``, ``phone``, ``appointment_time``, ``provider``,
``department``, ``language``; optional ``timezone`` (the patient's IANA zone,
else the time's own UTC offset, else the clinic's) and ``id`` (the scheduling
system's own appointment id).

An appointment's id is the scheduling system's when given, else a hash of the
phone number, the time (UTC), the provider and the department: importing the
same row twice yields the same id, so it changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

REQUIRED = ("name", "phone", "appointment_time", "provider", "department", "language")
OPTIONAL = ("timezone", "id")
ALIASES = {
    "patient": "name", "patient_name": "name", "phone_number": "phone", "mobile": "phone",
    "time": "appointment_time", "appointment": "appointment_time", "start": "appointment_time",
    "appointment_at": "appointment_time", "lang": "language", "tz": "timezone", "time_zone": "timezone",
    "appointment_id": "id",
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
    department: str
    language: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


@dataclass(frozen=True)
class RowError:
    where: int  # CSV line number, or JSON list index
    reason: str

    def __str__(self) -> str:
        return f"line {self.where}: {self.reason}"


@dataclass
class Parsed:
    appointments: list[tuple[int, Appointment]] = field(default_factory=list)  # (line or index, appointment)
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class Rules:
    """What an appointment must agree with: the clinic's zone, country, departments and languages."""

    timezone: str
    country: str
    departments: frozenset[str]
    languages: frozenset[str]

    @classmethod
    def for_clinic(cls, clinic) -> "Rules":
        return cls(clinic.timezone, clinic.country, frozenset(clinic.desks), frozenset(clinic.languages))


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


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AppointmentError(f"unknown time zone {name!r} (use a name like America/Chicago)") from None


def parse_time(raw: str, zone_name: str, default_zone: str) -> tuple[dt.datetime, str]:
    """(aware time in the patient's zone, that zone's name).

    A time with a UTC offset keeps its instant; without one it is wall-clock
    time in ``zone_name`` (else the clinic's zone). A wall time that does not
    exist (skipped by a spring-forward change) is refused; one that happens
    twice (fall-back) is taken as the first.
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
    name = (zone_name or "").strip() or default_zone
    zone = _zone(name)
    if when.tzinfo is not None:
        return when.astimezone(zone), name
    local = when.replace(tzinfo=zone)
    round_trip = local.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
    if round_trip != when:
        raise AppointmentError(f"appointment_time {text} does not exist in {name} (the clocks skip it)")
    return local, name


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    text = "" if value is None else str(value).strip()
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


def from_mapping(row: Mapping[str, Any], rules: Rules) -> Appointment:
    """One appointment from a CSV row or JSON object (keys as the columns). AppointmentError if invalid."""
    data = {_column(str(k)): v for k, v in row.items() if k is not None}
    missing = [c for c in REQUIRED if data.get(c) in (None, "")]
    if missing:
        raise AppointmentError(f"missing {', '.join(missing)}")
    name = _text(data["name"], "name", MAX_NAME)
    phone = parse_phone(str(data["phone"]), rules.country)
    at, zone = parse_time(str(data["appointment_time"]), str(data.get("timezone") or ""), rules.timezone)
    provider = _text(data["provider"], "provider")
    department = _text(data["department"], "department")
    if department not in rules.departments:
        raise AppointmentError(f"unknown department {department!r} (known: {', '.join(sorted(rules.departments))})")
    language = _text(data["language"], "language").lower()
    if language not in rules.languages:
        raise AppointmentError(f"language {language!r} is not offered (offered: {', '.join(sorted(rules.languages))})")
    given = str(data.get("id") or "").strip()
    if given and not ID_PATTERN.fullmatch(given):
        raise AppointmentError("id may only use letters, digits, '.', '_' and '-' (at most 64)")
    appointment_id = f"s{given}" if given else stable_id(phone, at, provider, department)
    return Appointment(appointment_id, name, phone, at, zone, provider, department, language)


def read_csv(lines: Iterable[str], rules: Rules) -> Iterator[tuple[int, Appointment | RowError]]:
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
            yield line, from_mapping(row, rules)
        except AppointmentError as exc:
            yield line, RowError(line, str(exc))


def parse_csv(text: str, rules: Rules) -> Parsed:
    parsed = Parsed()
    for line, item in read_csv(io.StringIO(text, newline=""), rules):
        if isinstance(item, RowError):
            parsed.errors.append(item)
        else:
            parsed.appointments.append((line, item))
    return parsed


def parse_json(items: Any, rules: Rules) -> Parsed:
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
            parsed.appointments.append((i, from_mapping(item, rules)))
        except AppointmentError as exc:
            parsed.errors.append(RowError(i, str(exc)))
    return parsed

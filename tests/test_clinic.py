"""Clinic settings: the shipped file loads; every mistake names file:line and the field."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from ivr.clinic.settings import ClinicConfigError, load_clinic
from ivr.clinic.hours import OpenStatus

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config" / "clinic.yaml"

# A complete clinic file in block style, so each setting sits on its own line.
BASE = """\
name: Test Clinic
main_number: "+12025550199"
timezone: America/New_York  # TIMEZONE
languages:
  en:
    name: English
    say_language: en-US
    voice: Polly.Joanna-Neural
hours:
  monday: ["08:00-17:00"]  # MONDAY
  tuesday: ["08:00-17:00"]
  wednesday: ["08:00-17:00"]
  thursday: ["08:00-19:00"]  # THURSDAY
  friday: ["08:00-17:00"]
  saturday: []  # SATURDAY
holidays:
  - date: 2026-11-26  # HOLIDAY1
    name: Thanksgiving Day
  - date: 2026-12-24  # HOLIDAY2
    name: Christmas Eve
    hours: ["08:00-12:00"]  # HOLIDAY2_HOURS
desks:
  front_desk:
    name: Front desk
    number: "+12025550100"  # FRONT_NUMBER
  nurse:
    name: Nurse line  # NURSE_NAME
    number: "+1 (202) 555-0103"
fallback_desk: front_desk  # FALLBACK
default_flow: main
flows_by_number: {}
"""


def marked(text: str, mark: str) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith(f"# {mark}")]
    assert len(hits) == 1, f"marker {mark!r} on lines {hits}"
    return hits[0]


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinic.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = write(tmp_path, text)
    with pytest.raises(ClinicConfigError) as info:
        load_clinic(path)
    return path, str(info.value)


def assert_error_line(message: str, path: Path, line: int, field: str, *words: str) -> None:
    """One line of the error reads 'file:line: field: reason' with the given words."""
    prefix = f"{path}:{line}: {field}:"
    hits = [m for m in message.splitlines() if m.startswith(prefix)]
    assert hits, f"no error starting with {prefix!r} in:\n{message}"
    for word in words:
        assert any(word in h for h in hits), f"{word!r} not in {hits}"


# The shipped file ---------------------------------------------------------------------


def test_shipped_clinic_loads():
    clinic = load_clinic(SHIPPED)
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    assert clinic.name == raw["name"]
    assert clinic.zone == ZoneInfo(raw["timezone"])
    assert set(clinic.languages) == set(raw["languages"])
    assert set(clinic.desks) == set(raw["desks"])
    assert clinic.fallback_desk in clinic.desks
    for key, desk in clinic.desk_numbers().items():
        assert re.fullmatch(r"\+\d{8,15}", desk), (key, desk)
    assert clinic.fallback_number == clinic.desks[clinic.fallback_desk].number
    schedule = clinic.schedule()
    assert set(schedule.holidays) == {h["date"] for h in raw["holidays"]}


def test_shipped_schedule_opens_on_a_weekday_morning_and_closes_at_night():
    schedule = load_clinic(SHIPPED).schedule()
    ny = ZoneInfo("America/New_York")
    assert schedule.status(dt.datetime(2026, 3, 10, 10, 0, tzinfo=ny)) is OpenStatus.OPEN
    assert schedule.status(dt.datetime(2026, 3, 10, 23, 0, tzinfo=ny)) is OpenStatus.CLOSED
    assert schedule.status(dt.datetime(2026, 12, 25, 10, 0, tzinfo=ny)) is OpenStatus.HOLIDAY


def test_base_file_loads_and_normalises_numbers(tmp_path):
    clinic = load_clinic(write(tmp_path, BASE))
    assert clinic.desks["nurse"].number == "+12025550103"
    assert clinic.timezone == "America/New_York"
    holiday = clinic.schedule().holidays[dt.date(2026, 12, 24)]
    assert [str(s) for s in holiday.spans] == ["08:00-12:00"]


def test_fallback_desk_defaults_to_the_front_desk(tmp_path):
    clinic = load_clinic(write(tmp_path, edit("fallback_desk: front_desk  # FALLBACK\n", "")))
    assert clinic.fallback_desk == "front_desk"
    assert clinic.fallback_number == "+12025550100"


def test_flow_chosen_by_the_number_called(tmp_path):
    text = edit("flows_by_number: {}", 'flows_by_number: {"+1 202-555-0199": spanish_line}')
    clinic = load_clinic(write(tmp_path, text))
    assert clinic.flow_for("+12025550199") == "spanish_line"
    assert clinic.flow_for("+12025550100") == "main"
    assert clinic.flow_for("anonymous") == "main"


# Errors: file:line: field: reason -----------------------------------------------------------


def test_unknown_time_zone(tmp_path):
    text = edit("timezone: America/New_York", "timezone: America/Springfield")
    path, message = error_of(tmp_path, text)
    assert_error_line(message, path, marked(text, "TIMEZONE"), "timezone", "America/Springfield", "time zone")


def test_bad_phone_number_on_a_desk(tmp_path):
    text = edit('number: "+12025550100"', 'number: "555-0100"')
    path, message = error_of(tmp_path, text)
    assert_error_line(message, path, marked(text, "FRONT_NUMBER"), "desks.front_desk.number", "555-0100")


def test_bad_hours_span_points_at_the_day(tmp_path):
    text = edit('thursday: ["08:00-19:00"]', 'thursday: ["19:00-08:00"]')
    path, message = error_of(tmp_path, text)
    line = marked(text, "THURSDAY")
    assert f"{path}:{line}:" in message, message
    assert "thursday" in message and "'19:00-08:00'" in message and "ends before it starts" in message


@pytest.mark.parametrize(
    "spans, reason",
    [('["25:00-26:00"]', "does not exist"), ('["08:00-12:00", "11:00-13:00"]', "overlap"), ('["8 to 5"]', "like")],
)
def test_other_bad_spans_point_at_the_day(tmp_path, spans, reason):
    text = edit('monday: ["08:00-17:00"]', f"monday: {spans}")
    path, message = error_of(tmp_path, text)
    assert f"{path}:{marked(text, 'MONDAY')}:" in message, message
    assert "monday" in message and reason in message


def test_unknown_weekday(tmp_path):
    text = edit("saturday: []", "saturnday: []")
    path, message = error_of(tmp_path, text)
    assert f"{path}:{marked(text, 'SATURDAY')}:" in message, message
    assert "'saturnday'" in message and "not a weekday" in message and "saturday" in message


def test_duplicate_holiday_date(tmp_path):
    text = edit("date: 2026-12-24", "date: 2026-11-26")
    path, message = error_of(tmp_path, text)
    assert f"{path}:{marked(text, 'HOLIDAY2')}:" in message, message
    assert "holidays" in message and "2026-11-26" in message and "twice" in message


def test_bad_hours_on_a_holiday(tmp_path):
    text = edit('hours: ["08:00-12:00"]', 'hours: ["12:00-08:00"]')
    path, message = error_of(tmp_path, text)
    assert f"{path}:{marked(text, 'HOLIDAY2_HOURS')}:" in message, message
    assert "holidays" in message and "'12:00-08:00'" in message


def test_fallback_desk_that_is_not_a_desk(tmp_path):
    text = edit("fallback_desk: front_desk", "fallback_desk: lobby")
    path, message = error_of(tmp_path, text)
    assert_error_line(message, path, marked(text, "FALLBACK"), "fallback_desk", "'lobby'", "desks")


def test_unknown_top_level_field(tmp_path):
    text = edit("default_flow: main\n", "default_flow: main\ncolour: blue  # EXTRA\n")
    path, message = error_of(tmp_path, text)
    assert_error_line(message, path, marked(text, "EXTRA"), "colour", "unknown field")


def test_unknown_field_inside_a_desk(tmp_path):
    text = edit("name: Nurse line  # NURSE_NAME", "nme: Nurse line  # NURSE_NAME")
    path, message = error_of(tmp_path, text)
    assert_error_line(message, path, marked(text, "NURSE_NAME"), "desks.nurse.nme", "unknown field")


def test_several_mistakes_are_reported_together(tmp_path):
    text = edit("timezone: America/New_York", "timezone: Nowhere/City")
    text = edit('number: "+12025550100"', 'number: "+1"', text)
    path, message = error_of(tmp_path, text)
    assert_error_line(message, path, marked(text, "TIMEZONE"), "timezone")
    assert_error_line(message, path, marked(text, "FRONT_NUMBER"), "desks.front_desk.number")


def test_yaml_syntax_error_names_its_line(tmp_path):
    text = edit("  saturday: []  # SATURDAY\n", "  saturday: []  # SATURDAY\n   sunday: []  # BROKEN\n")
    path, message = error_of(tmp_path, text)
    assert message.startswith(f"{path}:{marked(text, 'BROKEN')}: "), message
    assert "YAML" in message


def test_file_that_is_not_a_mapping(tmp_path):
    path, message = error_of(tmp_path, "- just\n- a list\n")
    assert str(path) in message and "mapping" in message


def test_missing_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "nowhere" / "clinic.yaml"
    with pytest.raises(ClinicConfigError) as info:
        load_clinic(path)
    message = str(info.value)
    assert str(path) in message and "cannot read" in message
    assert "Traceback" not in message

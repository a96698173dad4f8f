"""Urgent phrases in transcripts, as configured in clinic.yaml."""

from __future__ import annotations

import pytest

from ivr.clinic import DEFAULT_URGENT_PHRASES
from ivr.urgency import UrgentPhrases, reason

PHRASES = UrgentPhrases(DEFAULT_URGENT_PHRASES)


@pytest.mark.parametrize(
    "text, lang, found",
    [
        ("hi this is maria I've had chest pain since last night", "en", ["chest pain"]),
        ("My husband CAN'T BREATHE, please call", "en", ["can't breathe"]),
        ("the cut is still bleeding a lot", "en", ["bleeding"]),
        ("I've been having suicidal thoughts", "en", ["suicidal"]),
        ("tengo dolor en el pecho y estoy sangrando", "es", ["dolor en el pecho", "sangrando"]),
        ("Mi hija tuvo una reacción alérgica", "es", ["reaccion alergica"]),
    ],
)
def test_urgent_messages_are_flagged_with_the_phrase_heard(text, lang, found):
    assert PHRASES.find(text, lang) == found


@pytest.mark.parametrize(
    "text",
    [
        "I would like to reschedule my appointment on Tuesday",
        "calling about a refill of my blood pressure pills",
        "my chest x-ray results",  # "chest" alone is not "chest pain"
        "the stroller was left in the waiting room",  # "stroke" only as a whole word
        "",
    ],
)
def test_routine_messages_are_not_flagged(text):
    assert PHRASES.find(text, "en") == []


def test_language_without_its_own_list_is_checked_against_all():
    assert PHRASES.find("chest pain", "fr") == ["chest pain"]


def test_reason_reads_plainly():
    assert reason(["chest pain", "bleeding"]) == 'said "chest pain", "bleeding"'
    assert reason([]) == ""

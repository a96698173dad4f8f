"""Numbers in transcripts, as staff read them (ivr.speech.numbers)."""

from __future__ import annotations

import pytest

from ivr.speech.numbers import readable


@pytest.mark.parametrize(
    "heard, shown",
    [
        ("Llame al 5, 5, 5, 1, 2, 3, 4, 5, 6, 7, gracias.", "Llame al 555-123-4567, gracias."),
        ("number 5 5 5 2 1 2 4 4 8 9 thanks", "number 555-212-4489 thanks"),
        ("at 1 2 0 2 5 5 5 0 1 0 0", "at 1-202-555-0100"),
        ("extension 3 3 8 9 1 5 0", "extension 338-9150"),
        ("my account is 4 4 7 2 1.", "my account is 44721."),
        ("call me at 555-338-9150.", "call me at 555-338-9150."),  # already grouped: as written
        ("born in 1952, March 3rd", "born in 1952, March 3rd"),
        ("take 2 pills, 3 times a day", "take 2 pills, 3 times a day"),
        ("el 5 de mayo de 2024", "el 5 de mayo de 2024"),
    ],
)
def test_digit_by_digit_numbers_read_as_numbers(heard, shown):
    assert readable(heard) == shown

"""Numbers the clinic would never dial are not taken as callback numbers; a forged recording id is no recording."""

from __future__ import annotations

import pytest

from ivr.telephony import simulator
from ivr.flows.callback_nodes import NOT_A_NUMBER, NOT_ALLOWED, callback_number
from ivr.store.callbacks import CallbackQueue

from .test_callback_calls import to_nurse_offer

NOT_ALLOWED_WORDS = "Sorry, we can only call back regular phone numbers in this country"


@pytest.mark.parametrize("raw, why", [
    ("+19005550123", NOT_ALLOWED),  # 1-900: premium rate
    ("+18095550123", NOT_ALLOWED),  # +1-809: the Dominican Republic, abroad for a US clinic
    ("+447700900123", NOT_A_NUMBER),
    ("12345", NOT_A_NUMBER),
    ("anonymous", NOT_A_NUMBER),
])
def test_numbers_a_clinic_never_calls_back_are_refused_with_the_reason(raw, why):
    assert callback_number(raw, "US") == (None, why)


def test_ordinary_numbers_are_taken_and_other_countries_only_when_the_clinic_allows_them():
    assert callback_number("(202) 555-0177", "US") == ("+12025550177", "")
    assert callback_number("+18005550100", "US") == ("+18005550100", "")  # toll-free costs the clinic nothing
    assert callback_number("+18095550123", "US", frozenset({"US", "DO"})) == ("+18095550123", "")
    assert callback_number("+19005550123", "US", frozenset({"US", "DO"})) == (None, NOT_ALLOWED)


def test_a_premium_rate_caller_id_is_not_offered_and_a_keyed_one_is_refused_with_another_chance(phone, redis_conn):
    call = phone(caller="+19005550123")
    to_nurse_offer(call)
    ask = call.press("1")  # keep my place
    assert ask.said[0].startswith(NOT_ALLOWED_WORDS) and "enter the phone number" in ask.text
    refused = call.press("9005550188#")
    assert refused.said[0].startswith(NOT_ALLOWED_WORDS) and "enter the phone number" in refused.text
    readback = call.press("2025550177#")  # another chance: a regular number is taken
    assert "You entered 2 0 2 5 5 5 0 1 7 7" in readback.text
    call.press("1")
    call.record_nothing()
    [waiting] = CallbackQueue(redis_conn).waiting("nurse")
    assert waiting.phone == "+12025550177"


def test_a_record_action_with_a_malformed_recording_sid_keeps_no_voicemail(phone, app, monkeypatch):
    real = simulator.new_sid
    monkeypatch.setattr(simulator, "new_sid", lambda prefix: "RE../../Calls/CAxx" if prefix == "RE" else real(prefix))
    call = phone(caller="+13055550147")
    to_nurse_offer(call)
    turn = call.press("3")  # leave a message
    assert turn.waiting == "record"
    after = call.record(seconds=14)
    assert after.waiting in ("record", "ended", "gather", "dial")  # valid TwiML: the call goes on
    assert app.extensions["ivr"].voicemails.recent() == []

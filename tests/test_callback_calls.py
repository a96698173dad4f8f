"""Callers keep their place in line instead of holding: the phone side of callbacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ivr.clinic.settings import load_clinic
from ivr.store.callbacks import CallbackQueue

from .conftest import ROOT

CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")
DESK = CLINIC.desk_numbers()


@pytest.fixture
def queue(redis_conn) -> CallbackQueue:
    return CallbackQueue(redis_conn)


def to_nurse_offer(call, language: str = "en"):
    """Call, choose a language (English is where a call starts; Spanish is 9), ask for the nurse: the callback offer.

    The desk rings first (and does not answer) unless the estimated wait is
    already long, in which case the offer comes straight away.
    """
    call.start()
    if language == "es":
        call.press("9")
    turn = call.press("3")
    if turn.waiting == "dial":
        assert turn.dial_number == DESK["nurse"]
        turn = call.dial_result("no-answer")
    assert turn.waiting == "gather"
    return turn


def test_caller_keeps_place_and_hears_confirmation_only_once_stored(phone, queue):
    call = phone(caller="+12025550123")
    offer = to_nurse_offer(call)
    assert "The wait is about" in offer.text and "minute" in offer.text
    assert "press 1 or say call me back" in offer.text

    confirm = call.press("1")
    assert "the number ending in 0 1 2 3" in confirm.text
    reason = call.press("1")
    assert reason.waiting == "record"
    assert "why you called" in reason.text
    assert queue.waiting_count("nurse") == 0  # nothing is promised before it is stored

    done = call.record(seconds=6)
    assert done.waiting == "ended"
    assert "you are number 1" in done.text
    assert "ending in 0 1 2 3" in done.text

    [waiting] = queue.waiting("nurse")
    assert waiting.phone == "+12025550123"
    assert waiting.lang == "en"
    assert waiting.caller_id == "+12025550123"
    assert waiting.call_sid == call.call_sid
    assert waiting.reason_recording_url.startswith("https://api.twilio.com/")


def test_place_in_line_is_kept_and_never_duplicated(phone, queue):
    first = phone(caller="+12025550111")
    to_nurse_offer(first)
    first.press("1"), first.press("1")
    assert "you are number 1" in first.record_nothing().text

    second = phone(caller="+12025550122")
    to_nurse_offer(second)
    second.press("1"), second.press("1")
    assert "you are number 2" in second.record_nothing().text

    # The first caller calls again: told on arrival (tests/test_returning_callers.py); past that question
    # (two wrong keys), they ask for a callback again: told they keep their earlier place, no second request.
    again = phone(caller="+12025550111")
    assert "You already have a call back in line: you are number 1" in again.start().text
    again.press("8")
    assert "You already have" not in again.press("8").text  # the main menu
    offer = again.press("3")
    if offer.waiting == "dial":  # the desk rings first unless the wait is already long
        offer = again.dial_result("no-answer")
    assert "keep your place in line" in offer.text
    again.press("1"), again.press("1")
    turn = again.record_nothing()
    assert "already in line" in turn.text and "number 1" in turn.text
    assert [c.phone for c in queue.waiting("nurse")] == ["+12025550111", "+12025550122"]


def test_hidden_caller_id_keys_in_a_number_checked_and_read_back(phone, queue):
    call = phone(caller="anonymous")
    to_nurse_offer(call)
    ask = call.press("1")
    assert "enter the phone number" in ask.text
    gather = ET.fromstring(ask.twiml[-1]).find("Gather")
    assert gather.get("numDigits") is None and gather.get("input") == "dtmf"

    bad = call.press("12345#")
    assert bad.said[0] == "Sorry, that does not look like a phone number we can call."
    readback = call.press("2025550177#")
    assert "You entered 2 0 2 5 5 5 0 1 7 7" in readback.text
    assert "enter the phone number" in call.press("2").text  # wrong: again
    call.press("3055550148#")
    call.press("1")
    done = call.record_nothing()  # no reason given
    assert "ending in 0 1 4 8" in done.text
    [waiting] = queue.waiting("nurse")
    assert waiting.phone == "+13055550148"
    assert waiting.reason_recording_url == ""


def test_spanish_caller_confirms_by_voice_and_hears_spanish(phone, queue):
    call = phone(caller="+13055550147")
    offer = to_nurse_offer(call, language="es")
    assert "guardar su lugar en la fila" in offer.text
    confirm = call.say("llámenme por favor")
    assert "termina en 0 1 4 7" in confirm.text
    call.say("sí")
    done = call.record_nothing()
    assert "usted es el número 1" in done.text
    assert queue.waiting("nurse")[0].lang == "es"


def test_silence_at_every_question_ends_in_voicemail_not_a_dropped_call(phone, queue):
    call = phone(caller="+12025550123")
    to_nurse_offer(call)
    call.press("1")  # callback
    call.silence(), call.silence()
    turn = call.silence()
    assert turn.waiting == "record"
    assert "The nurse cannot take your call" in turn.text
    assert queue.waiting_count("nurse") == 0


def test_long_wait_offers_a_callback_before_ringing(phone, queue):
    for i in range(12):
        queue.request("billing", f"+1202555{i:04d}", "en")
    call = phone()
    call.start()
    turn = call.press("2")  # billing
    assert turn.waiting == "gather"
    assert "keep your place in line" in turn.text
    assert not any(h.kind == "dial" for h in turn.heard)


def test_replayed_webhook_that_stored_the_request_stores_nothing_more(phone, queue, app):
    call = phone()
    to_nurse_offer(call)
    call.press("1"), call.press("1")
    record_posts = []
    call.on_request = lambda url, params: record_posts.append((url, dict(params)))
    first = call.record(seconds=4)
    url, params = record_posts[0]  # the Record action that stored the request
    from .conftest import flask_transport
    from twilio.request_validator import RequestValidator

    from .conftest import TOKEN

    status, body = flask_transport(app)(url, params, {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params)})
    assert status == 200 and body == first.twiml[-1]
    assert queue.waiting_count("nurse") == 1


def test_holding_callers_hear_their_place_and_the_desk_rings_again(phone):
    first = phone(caller="+12025550111")
    to_nurse_offer(first)
    hold = first.press("2")
    assert "You are number 1 in line" in hold.text
    assert any(h.kind == "play" and h.text.endswith(".mp3") for h in hold.heard)
    assert hold.dial_number == DESK["nurse"]

    second = phone(caller="+12025550122")
    to_nurse_offer(second)
    assert "You are number 2 in line" in second.press("2").text

    # The first caller is still first after another unanswered ring; the second after that.
    assert "You are number 1 in line" in first.dial_result("no-answer").text
    # The first caller is answered: the second moves up.
    assert first.dial_result("completed").waiting == "ended"
    assert "You are number 1 in line" in second.dial_result("no-answer").text


def test_nobody_answers_while_holding_leads_to_voicemail(phone):
    call = phone()
    to_nurse_offer(call)
    turn = call.press("2")
    rounds = 1
    while turn.waiting == "dial":
        turn = call.dial_result("no-answer")
        rounds += 1
        assert rounds < 20
    assert turn.waiting == "record"
    assert "The nurse cannot take your call" in turn.text

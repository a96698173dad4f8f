"""Whole calls through the voice webhooks, as a caller experiences them.

Every request is signed as Twilio signs it and every answer is parsed as TwiML.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from ivr.clinic.settings import load_clinic

from .conftest import CLINIC_TZ, ROOT

CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")
DESK = CLINIC.desk_numbers()


def parse(twiml: str) -> ET.Element:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return root


def test_greeting_warns_about_emergencies_and_offers_spanish_in_spanish(phone):
    turn = phone().start()

    assert turn.waiting == "gather"
    assert turn.said[0] == "Thank you for calling Riverside Family Clinic."
    assert any("911" in s and "emergency" in s for s in turn.said)
    offers = [h.text for h in turn.heard if h.language == "es-US"]
    assert offers == ["Para español, oprima 9."]
    assert "For appointments, press 1." in turn.text  # the menu, in the same breath
    root = parse(turn.twiml[-1])
    gather = root.find("Gather")
    assert gather.get("action") == "/voice/step?s=1"
    assert set(gather.get("input").split()) == {"dtmf", "speech"}
    assert gather.get("actionOnEmptyResult") == "true"
    spanish = [s for s in gather.findall("Say") if s.get("language") == "es-US"]
    assert spanish and spanish[0].get("voice") == CLINIC.languages["es"].voice


def test_english_caller_reaches_scheduling_by_key_press(phone):
    call = phone()
    menu = call.start()
    assert "appointments" in menu.text and "press 1" in menu.text
    turn = call.press("1")

    assert turn.waiting == "dial"
    assert turn.dial_number == DESK["scheduling"]
    assert "Connecting you to scheduling" in turn.text
    dial = parse(turn.twiml[-1]).find("Dial")
    assert dial.get("action", "").startswith("/voice/step?s=")
    assert int(dial.get("timeout")) >= 10
    # The desk answers and the conversation ends: the call ends cleanly.
    assert call.dial_result("completed", duration=95).waiting == "ended"


@pytest.mark.parametrize(
    "words, desk",
    [
        ("I'd like to pay my bill.", "billing"),
        ("I need to reschedule my appointment", "scheduling"),
        ("Can I talk to a nurse?", "nurse"),
        ("operator", "front_desk"),
        ("Two.", "billing"),
    ],
)
def test_english_caller_routed_by_spoken_words(phone, words, desk):
    call = phone()
    call.start()  # English unless the caller asks for Spanish
    assert call.say(words).dial_number == DESK[desk]


def test_spanish_caller_by_speech_reaches_nurse_voicemail_in_spanish(phone, app):
    call = phone(caller="+13055550147")
    call.start()
    menu = call.say("Español")
    assert "Para citas, oprima 1" in menu.text
    assert all(h.language == "es-US" for h in menu.heard if h.kind == "say")

    turn = call.say("necesito hablar con una enfermera")
    assert turn.dial_number == DESK["nurse"]
    assert "enfermería" in turn.text

    offer = call.dial_result("busy")
    assert "guardar su lugar en la fila" in offer.text
    turn = call.say("quiero dejar un mensaje")
    assert turn.waiting == "record"
    assert "Después del tono" in turn.text
    record = parse(turn.twiml[-1]).find("Record")
    assert record.get("finishOnKey") == "#"
    assert int(record.get("maxLength")) >= 60

    turn = call.record(seconds=14)
    assert turn.waiting == "ended"
    assert "Guardamos su mensaje" in turn.text

    svc = app.extensions["ivr"]
    saved = svc.voicemails.recent()
    assert len(saved) == 1
    vm = saved[0]
    assert (vm.department, vm.lang, vm.caller, vm.duration) == ("nurse", "es", "+13055550147", 14)
    # The message is a callback request in the nurse queue at once, and its transcription is queued.
    cb = svc.callbacks.get(vm.callback_id)
    assert (cb.department, cb.phone, cb.lang, cb.source) == ("nurse", "+13055550147", "es", "voicemail")
    assert cb.reason_recording_sid == vm.recording_sid
    assert svc.speech_queue.job_ids == [f"voicemail-{vm.recording_sid}"]


def test_star_repeats_the_menu_without_using_up_retries(phone):
    call = phone()
    call.start()
    first = call.press("*")
    for _ in range(5):
        again = call.press("*")
        assert again.text == first.text
    # Still on the main menu with all retries left: one wrong key only re-prompts.
    wrong = call.press("7")
    assert wrong.waiting == "gather"
    assert wrong.said[0] == "Sorry, that is not one of the choices."


def test_silent_caller_reaches_a_person_at_once_then_voicemail(phone):
    call = phone()
    assert "stay on the line" in call.start().text
    turn = call.silence()  # "or stay on the line": no second round of the menu
    assert "Let me connect you with someone who can help." in turn.said
    assert turn.dial_number == DESK["front_desk"]
    offer = call.dial_result("no-answer")
    assert "keep your place in line" in offer.text
    call.silence()
    call.silence()
    turn = call.silence()  # still silent at the callback offer: voicemail, not a hang-up
    assert turn.waiting == "record"
    assert call.record_nothing().waiting == "ended"


def test_caller_silent_at_voicemail_tone_hears_goodbye_not_silence(phone):
    call = phone()
    call.start()
    call.press("2")
    call.dial_result("no-answer")
    call.press("3")  # leave a message
    turn = call.record_nothing()
    assert turn.waiting == "ended"
    assert "We did not hear a message" in turn.text


def test_after_hours_offers_on_call_nurse_and_silence_reaches_her(phone, clock):
    clock.set(dt.datetime(2026, 11, 22, 22, 15, tzinfo=CLINIC_TZ))  # Sunday night
    call = phone()
    menu = call.start()
    assert "closed" in menu.text and "nurse on call" in menu.text
    turn = call.silence()
    assert turn.dial_number == DESK["on_call_nurse"]


def test_after_hours_message_option_goes_to_voicemail_by_speech(phone, clock):
    clock.set(dt.datetime(2026, 11, 24, 19, 30, tzinfo=CLINIC_TZ))  # Tuesday after closing
    call = phone()
    call.start()
    turn = call.say("I want to leave a message")
    assert turn.waiting == "record"


def test_holiday_announced_then_after_hours_menu(phone, clock):
    clock.set(dt.datetime(2026, 12, 25, 10, 0, tzinfo=CLINIC_TZ))  # Christmas, a Friday
    call = phone()
    first = call.start()
    assert first.said[1] == "Today, Christmas Day, we are closed."  # right after the welcome
    assert "nurse on call" in first.text
    turn = call.press("9")  # Spanish: the after-hours menu again, in Spanish
    assert "Volvemos a abrir mañana, sábado, a las 9 de la mañana." in turn.text  # from clinic.yaml's hours
    assert "enfermera de guardia" in turn.text


@pytest.mark.parametrize("hour, open_", [(10, True), (13, False)])
def test_reduced_hours_on_christmas_eve(phone, clock, hour, open_):
    clock.set(dt.datetime(2026, 12, 24, hour, 0, tzinfo=CLINIC_TZ))
    turn = phone().start()
    assert ("For appointments, press 1" in turn.text) is open_
    assert ("Today, Christmas Eve, we were open from 8 AM to noon." in turn.text) is not open_


@pytest.mark.parametrize(
    "utc, open_",
    [
        # Monday 2 March 2026 13:30Z is 08:30 EST: open.
        (dt.datetime(2026, 3, 2, 13, 30, tzinfo=dt.timezone.utc), True),
        # Monday 9 March 2026 (after the change) 12:30Z is 08:30 EDT: open.
        (dt.datetime(2026, 3, 9, 12, 30, tzinfo=dt.timezone.utc), True),
        # The same 12:30Z a week before the change is 07:30 EST: closed.
        (dt.datetime(2026, 3, 2, 12, 30, tzinfo=dt.timezone.utc), False),
        # Friday 30 Oct 2026 21:30Z is 17:30 EDT: closed; Monday 2 Nov 21:30Z is 16:30 EST: open.
        (dt.datetime(2026, 10, 30, 21, 30, tzinfo=dt.timezone.utc), False),
        (dt.datetime(2026, 11, 2, 21, 30, tzinfo=dt.timezone.utc), True),
    ],
)
def test_opening_hours_follow_local_time_across_daylight_saving(phone, clock, utc, open_):
    clock.set(utc)
    turn = phone().start()
    assert ("For appointments, press 1" in turn.text) is open_


def test_call_in_progress_survives_a_new_web_process(phone, make_app):
    """State is in Redis, not in the process: another process continues the call."""
    call = phone()
    call.start()
    call.press("9")  # Spanish
    from .conftest import flask_transport

    call.transport = flask_transport(make_app())
    turn = call.press("3")
    assert turn.dial_number == DESK["nurse"]
    assert "enfermería" in turn.text

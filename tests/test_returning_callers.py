"""Callers heard right (issue 29, part 3): a caller with a callback in line is told so on arrival and keeps
it or cancels it (keys or speech, English and Spanish); the wait said in the offer, in the confirmation and
on the console at the same moment is one figure. Real Redis, signed webhooks, TwiML parsed as XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from ivr.staff.passwords import hash_password
from ivr.store.callback_types import DEFAULT_HANDLING_SECONDS, Outcome, RetryPolicy, Status
from ivr.store.callbacks import CallbackQueue

from .test_callback_calls import CLINIC, to_nurse_offer

PASSWORD = "correct horse battery staple"
AHEAD = "+12025550100"
RETURNING = "+12025550111"


@pytest.fixture
def queue(redis_conn) -> CallbackQueue:
    return CallbackQueue(redis_conn)


@pytest.fixture
def nurse(app):
    """A nurse logged in to the console."""
    app.extensions["ivr"].users.add("nina", "nurse", hash_password(PASSWORD), display_name="Nina Patel")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": "nina", "password": PASSWORD}).status_code == 302
    return client


def console_rows(client) -> list[str]:
    html = client.get("/console").get_data(as_text=True)
    return re.findall(r'<tr data-callback="([0-9a-f]+)"', html)


def console_new_caller_minutes(client, department: str = "nurse") -> int:
    html = client.get("/console").get_data(as_text=True)
    section = html[html.index(f'data-department="{department}"'):]
    return int(re.search(r"a new caller would wait about (\d+) min", section).group(1))


def gather(turn) -> ET.Element:
    found = ET.fromstring(turn.twiml[-1]).find("Gather")
    assert found is not None, turn.twiml[-1]
    return found


def in_line(queue, lang: str = "en"):
    """Somebody ahead, then the returning caller: number 2 for the nurse, about 10 minutes."""
    queue.request("nurse", AHEAD, "en")
    return queue.request("nurse", RETURNING, lang).callback


def test_returning_caller_keeps_the_callback_by_key_same_one_same_place(phone, queue, nurse):
    mine = in_line(queue)
    call = phone(caller=RETURNING)
    arrival = call.start()
    assert arrival.waiting == "gather"
    assert "You already have a call back in line: you are number 2" in arrival.text
    assert "about 10 minutes" in arrival.text  # 2 x the default 5 minutes per callback
    assert "keep holding" not in arrival.text and "call me back" not in arrival.text  # no new offer
    asked = gather(arrival)
    assert asked.get("language") == "en-US" and "keep" in asked.get("hints", "")

    kept = call.press("1")
    assert kept.waiting == "ended"
    assert "You keep your place in line: you are number 2" in kept.text
    assert "ending in 0 1 1 1, in about 10 minutes" in kept.text
    assert ET.fromstring(kept.twiml[-1]).find("Hangup") is not None

    waiting = queue.waiting("nurse")
    assert [c.phone for c in waiting] == [AHEAD, RETURNING]  # still one callback each, in the same order
    assert waiting[1].id == mine.id and waiting[1].requested_at == mine.requested_at
    assert console_rows(nurse) == [waiting[0].id, mine.id]


def test_returning_caller_cancels_by_voice_and_it_leaves_the_console_queue(phone, queue, nurse):
    mine = in_line(queue)
    assert mine.id in console_rows(nurse)
    call = phone(caller=RETURNING)
    call.start()
    turn = call.say("please cancel it")
    assert turn.said[0] == "Your call back request is cancelled. If you need anything else, stay on the line."
    assert turn.waiting == "gather" and "press 3" in turn.text.lower()  # on to the menu, a person within reach
    assert mine.id not in console_rows(nurse)
    assert [c.phone for c in queue.waiting("nurse")] == [AHEAD]
    assert queue.get(mine.id).status is Status.CLOSED
    assert queue.open_for(RETURNING) is None


def test_spanish_callback_is_told_in_spanish_and_kept_by_voice(phone, queue, nurse):
    mine = in_line(queue, lang="es")
    call = phone(caller=RETURNING)
    arrival = call.start()
    assert "Usted ya está en la fila para que le devolvamos la llamada: es el número 2" in arrival.text
    assert "en unos 10 minutos" in arrival.text
    assert gather(arrival).get("language") == "es-US"

    kept = call.say("conservar, por favor")
    assert kept.waiting == "ended"
    assert "Conserva su lugar en la fila: es el número 2" in kept.text
    assert "termina en 0 1 1 1, en unos 10 minutos" in kept.text
    assert [c.id for c in queue.waiting("nurse")][1] == mine.id
    assert len(queue.waiting("nurse")) == 2


def test_spanish_caller_cancels_with_a_key_and_hears_the_menu_in_spanish(phone, queue, nurse):
    mine = in_line(queue, lang="es")
    call = phone(caller=RETURNING)
    call.start()
    turn = call.press("2")
    assert turn.said[0] == "Cancelamos su solicitud de llamada. Si necesita algo más, permanezca en la línea."
    assert gather(turn).get("language") == "es-US"  # the menu goes on in Spanish
    assert mine.id not in console_rows(nurse)
    assert queue.waiting_count("nurse") == 1


def test_silence_keeps_the_callback_and_reaches_a_person(phone, queue):
    mine = in_line(queue)
    call = phone(caller=RETURNING)
    call.start()
    turn = call.silence()
    assert turn.waiting == "dial" and turn.dial_number == CLINIC.desk_numbers()["front_desk"]
    assert queue.open_for(RETURNING).id == mine.id


def test_a_wrong_key_asks_again_then_the_menu_follows_with_the_callback_kept(phone, queue):
    mine = in_line(queue)
    call = phone(caller=RETURNING)
    call.start()
    again = call.press("7")
    assert again.said[0].startswith("Sorry") and "You already have a call back in line" in again.text
    menu = call.press("8")
    assert menu.waiting == "gather" and "You already have" not in menu.text
    assert queue.open_for(RETURNING).id == mine.id


def test_a_silent_returning_caller_reaches_a_person_within_45_s():
    """As tests/test_time_to_person.py times new callers: the shipped flow, every time of day, both languages."""
    from ivr.flows.timing import time_to_person
    from ivr.store.callback_types import InLine

    from .test_time_to_person import PERSON_WITHIN, PROMPTS, TIMES, environment, load_flow, ROOT as R

    flow = load_flow((R / "config/flows/main.yaml").read_text(encoding="utf-8"), "main", environment(CLINIC, PROMPTS))
    for lang in ("en", "es"):
        mine = InLine("cb1", "nurse", "+12025550123", lang, Status.WAITING, 12, 12 * 300)
        paths = time_to_person(flow, PROMPTS, TIMES, CLINIC.schedule(), CLINIC.desk_numbers(),
                               {"clinic_name": CLINIC.name}, languages=[lang], in_line=lambda phone: mine)
        silent = [p for p in paths if p.caller == "silent"]
        assert silent
        for p in silent:
            assert p.reached_person and p.seconds <= PERSON_WITHIN, p.describe()
            assert p.reached == ("person: front_desk" if p.when == "open" else "person: on_call_nurse"), p.describe()


def test_a_scheduled_retry_kept_by_the_patient_on_the_line_comes_back_at_its_place(phone, queue):
    queue.request("nurse", RETURNING, "en")
    queue.request("nurse", AHEAD, "en")
    claimed = queue.claim_next(["nurse"], "nina")
    assert claimed.phone == RETURNING
    retry = RetryPolicy.for_clinic(CLINIC)
    assert queue.finish(claimed.id, "nina", Outcome.NO_ANSWER, retry=retry).status is Status.SCHEDULED
    call = phone(caller=RETURNING)
    assert "you are number 1" in call.start().text  # where it comes back: its own place, ahead of AHEAD
    assert "you are number 1" in call.press("1").text
    assert [c.id for c in queue.waiting("nurse")][0] == claimed.id  # no need to wait for the retry time


def test_a_new_caller_is_not_asked_anything(phone, queue):
    in_line(queue)
    call = phone(caller="+12025550199")
    turn = call.start()
    assert "You already have" not in turn.text and "emergency" in turn.text.lower()


def test_offer_confirmation_and_console_say_the_same_wait(phone, queue, nurse):
    for n in range(2):
        queue.request("nurse", f"+1202555020{n}", "en")
    console_before = console_new_caller_minutes(nurse)
    call = phone(caller="+12025550123")
    offer = to_nurse_offer(call)
    said = re.search(r"The wait is about (\d+) minutes", offer.text)
    assert said, offer.text
    minutes = int(said.group(1))
    assert minutes == console_before == 3 * DEFAULT_HANDLING_SECONDS // 60  # two ahead: this caller is third

    call.press("1"), call.press("1")
    done = call.record_nothing()
    assert "you are number 3" in done.text
    assert f"in about {minutes} minutes" in done.text  # not the figure for a caller after this one
    assert console_new_caller_minutes(nurse) == minutes + DEFAULT_HANDLING_SECONDS // 60  # now one more is waiting


def test_a_wait_under_a_minute_is_one_minute_on_the_phone_and_on_the_console(phone, queue, nurse):
    # A nurse who finishes callbacks in no time: the estimate is a few seconds.
    queue.request("nurse", "+12025550300", "en")
    done = queue.claim_next(["nurse"], "nina")
    queue.finish(done.id, "nina", Outcome.REACHED)
    assert queue.estimated_wait_seconds("nurse") < 30
    assert console_new_caller_minutes(nurse) == 1  # it said "about 0 min" while the phone said 1 minute
    offer = to_nurse_offer(phone(caller="+12025550123"))
    assert "The wait is about 1 minute." in offer.text


@pytest.mark.parametrize("has_callback", [False, True])
def test_a_new_call_still_makes_two_redis_round_trips(app, queue, has_callback):
    """The "callback in line?" question rides in the pipeline the first webhook already sends
    (emergency switch + call state), then the call state is written: 2, as before it was asked."""
    from twilio.request_validator import RequestValidator

    from benches.webhook_cost import commands_sent

    from .conftest import TOKEN

    if has_callback:
        in_line(queue)
    client, url = app.test_client(), "http://localhost/voice/incoming"

    def post(call_sid: str) -> str:
        params = {"AccountSid": "AC" + "1" * 32, "CallSid": call_sid, "CallStatus": "ringing",
                  "From": RETURNING, "To": "+12025550199"}
        headers = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, params)}
        resp = client.post("/voice/incoming", data=params, headers=headers)
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    post("CA" + "e" * 32)  # warm: flows read, scripts loaded
    sent, body = commands_sent(lambda: post("CA" + "f" * 32))
    assert ("You already have a call back in line" in body) is has_callback
    assert sent == 2


# The node kind without Flask or Redis: the engine, the validator, the editor form, the picture. ---------


def _flow(extra: str = ""):
    from ivr.flows import load_flow

    from .test_flow_validation import ENV, SOURCE, flow_text

    text = flow_text(f"""
        start: {{type: returning, next: menu{extra}}}
        menu:
          type: menu
          prompt: main_menu
          options: [{{digit: 1, next: bye}}]
          on_failure: bye
        bye: {{type: hangup, prompt: goodbye}}
    """)
    return text, (lambda: load_flow(text, SOURCE, ENV))


def test_the_engine_asks_only_callers_in_line_and_cancels_through_an_effect():
    import datetime as dt

    from ivr.flows import Event, start, step
    from ivr.flows.actions import CancelCallback, Context, Gather, RequestCallback
    from ivr.store.callback_types import InLine

    _, load = _flow()
    flow = load()
    mine = InLine("cb1", "nurse", RETURNING, "es", Status.WAITING, 3, 900)
    ctx = Context(now=dt.datetime(2026, 11, 24, 15, tzinfo=dt.timezone.utc), schedule=CLINIC.schedule(), desks={},
                  languages=frozenset({"en", "es"}), in_line=lambda phone: mine if phone == RETURNING else None)

    reply, state = start(flow, ctx, caller="+12025550199")
    assert state.node == "menu"  # nobody in line: straight on, nothing said
    reply, state = start(flow, ctx, caller=RETURNING)
    asked = reply.actions[-1]
    assert isinstance(asked, Gather) and state.lang == "es"  # the callback's language
    assert dict(asked.prompts[-1].values) == {"position": "3", "minutes": "15 minutos"}

    reply, cancelling = step(flow, state, Event(speech="cancelar"), ctx)
    assert reply.actions[-1] == CancelCallback("cb1", RETURNING)
    reply, after = step(flow, cancelling, Event(callback_cancelled=True), ctx)
    assert [a.id for a in reply.actions[-1].prompts][:1] == ["callback_cancelled"] and after.node == "menu"

    reply, keeping = step(flow, state, Event(digits="1"), ctx)
    assert reply.actions[-1] == RequestCallback(department="nurse", phone=RETURNING, lang="es")
    reply, done = step(flow, keeping, Event(callback_position=3, callback_existing=True), ctx)
    kept = reply.actions[0]
    assert kept.id == "callback_kept" and dict(kept.values)["minutes"] == "15 minutos"  # the figure said on arrival
    assert reply.ends_call and done.outcome == "callback_kept:nurse"


def test_validation_wants_two_keys_and_a_known_target():
    from .test_flow_validation import issues_of

    text, _ = _flow(", keep_digit: 2, cancel_digit: 2")
    assert any("two different keys" in i.message for i in issues_of(text))
    text, _ = _flow(", on_no_input: nowhere")
    assert any("on_no_input names an unknown node 'nowhere'" in i.message for i in issues_of(text))


def test_the_editor_and_the_picture_know_the_kind():
    from ivr.admin import node_forms, picture

    form = {f.name: f for f in node_forms.fields("returning")}
    assert form["keep_digit"].widget == form["cancel_digit"].widget == "key"
    assert form["next"].widget == form["on_no_input"].widget == "target"
    assert form["kept_prompt"].widget == "prompt"
    arrows = picture.edges("start", {"type": "returning", "next": "menu", "on_no_input": "desk"})
    assert {(a.target, a.label) for a in arrows} == {("menu", ""), ("desk", "silence")}

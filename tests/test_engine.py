"""The flow engine as a caller experiences it: what is said, where the call goes, how it ends."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.clinic.settings import load_clinic
from ivr.flows import (
    CallState,
    Context,
    Dial,
    Environment,
    Event,
    FlowRuntimeError,
    Gather,
    Hangup,
    Prompt,
    Record,
    load_flow,
    start,
    step,
)
from ivr.flows.actions import EFFECTS, WAITING_ACTIONS, SaveVoicemail
from ivr.flows.engine import Reply
from ivr.flows.model import LanguageNode, MenuNode
from ivr.clinic.hours import Holiday, Schedule, Span
from ivr.clinic.prompts import load_prompts
from ivr.clinic.runtime import environment

ROOT = Path(__file__).resolve().parent.parent
NY = ZoneInfo("America/New_York")
UTC = dt.timezone.utc

# A small clinic for flows written in the tests ---------------------------------------

DESKS = {
    "front": "+12025550100",
    "sched": "+12025550101",
    "bill": "+12025550102",
}
PROMPT_IDS = frozenset(
    {
        "welcome", "emergency", "language_offer", "menu", "no_input", "invalid_choice",
        "custom_silence", "custom_wrong", "menu_failure", "to_front", "to_sched", "to_bill",
        "vm_front", "vm_sched", "voicemail_thanks", "voicemail_empty", "open_msg", "closed_msg",
        "holiday_msg", "goodbye", "busy_msg",
    }
)
ENV = Environment(
    prompts={"en": PROMPT_IDS, "es": PROMPT_IDS},
    desks=DESKS,
    departments=frozenset(DESKS),
    languages=frozenset({"en", "es"}),
)
SCHEDULE = Schedule(
    NY,
    {day: (Span.parse("08:00-17:00"),) for day in range(5)},
    {
        dt.date(2026, 11, 26): Holiday(dt.date(2026, 11, 26), "Thanksgiving"),
        dt.date(2026, 12, 24): Holiday(dt.date(2026, 12, 24), "Christmas Eve", (Span.parse("08:00-12:00"),)),
    },
)
OPEN = dt.datetime(2026, 3, 10, 10, 0, tzinfo=NY)  # a Tuesday morning


def ctx(now: dt.datetime = OPEN) -> Context:
    return Context(now=now, schedule=SCHEDULE, desks=DESKS)


def build(*parts: str, start_node: str = "start", languages: str = "[en, es]"):
    """A flow from blocks of nodes (each dedented on its own) under a small header."""
    nodes = "\n".join(textwrap.dedent(part).strip("\n") for part in parts)
    body = textwrap.indent(nodes, "  ")
    text = f"name: t\nstart: {start_node}\nlanguages: {languages}\nnodes:\n{body}\n"
    return load_flow(text, "test.yaml", ENV)


TAIL = """
to_front: {type: transfer, desk: front, prompt: to_front, on_no_answer: vm_front}
to_sched: {type: transfer, desk: sched, prompt: to_sched, on_no_answer: vm_sched}
to_bill: {type: transfer, desk: bill, prompt: to_bill, on_no_answer: vm_front}
vm_front: {type: voicemail, department: front, prompt: vm_front}
vm_sched: {type: voicemail, department: sched, prompt: vm_sched}
"""


def menu_flow(retries: int = 2, *, failure_prompt: str | None = "menu_failure", **fields: str):
    """A menu: 1 or 'appointment' -> scheduling, 2 or 'bill' -> billing, failure -> front desk."""
    lines = [f"  {key}: {value}" for key, value in fields.items()]
    if failure_prompt:
        lines.append(f"  failure_prompt: {failure_prompt}")
    extra = "\n".join(lines)
    return build(
        f"""
start:
  type: menu
  prompt: menu
  retries: {retries}
{extra}
  options:
    - digit: 1
      keywords: {{en: [appointment, schedule], es: [cita, citas]}}
      next: to_sched
    - digit: 2
      keywords: {{en: [bill, billing, payment], es: [factura, pago]}}
      next: to_bill
  on_failure: to_front
""",
        TAIL,
    )


def language_flow():
    return build(
        """
        greeting: {type: say, prompts: [welcome, emergency], next: start}
        start:
          type: language
          prompt: language_offer
          options:
            - {language: en, digit: 1, keywords: [english, inglés]}
            - {language: es, digit: 2, keywords: [español, spanish]}
          next: menu
        menu:
          type: menu
          prompt: menu
          options:
            - digit: 1
              keywords: {en: [appointment], es: [cita]}
              next: to_sched
            - digit: 2
              keywords: {en: [bill], es: [factura]}
              next: to_bill
          on_failure: to_front
        """,
        TAIL,
        start_node="greeting",
    )


# Running a call -----------------------------------------------------------------


def check_reply(reply) -> None:
    """Every reply ends waiting for someone: the caller, Twilio, or the end of the call."""
    assert reply.actions, "empty reply"
    assert isinstance(reply.actions[-1], WAITING_ACTIONS), reply.actions
    assert all(not isinstance(a, WAITING_ACTIONS) for a in reply.actions[:-1]), reply.actions


def begin(flow, now=OPEN):
    reply, state = start(flow, ctx(now))
    check_reply(reply)
    return reply, state


def settle(flow, reply, state, context):
    """Answer effects at the end of a reply as the web layer does (ivr.voice.effects)."""
    while isinstance(reply.actions[-1], EFFECTS):
        effect = reply.actions[-1]
        if isinstance(effect, SaveVoicemail):
            result = Event(voicemail_saved=True)
        else:
            result = Event(callback_position=1)
        more, state = step(flow, state, result, context)
        reply = Reply(reply.actions[:-1] + more.actions)
    return reply, state


def act(flow, state, event, now=OPEN):
    reply, new_state = step(flow, state, event, ctx(now))
    check_reply(reply)
    return settle(flow, reply, new_state, ctx(now))


def press(digits: str) -> Event:
    return Event(digits=digits)


def say(words: str) -> Event:
    return Event(speech=words, confidence=0.9)


SILENCE = Event()


def heard(reply) -> list[tuple[str, str]]:
    """(prompt id, language) in the order the caller hears them, including a Gather's."""
    out = []
    for action in reply.actions:
        if isinstance(action, Prompt):
            out.append((action.id, action.lang))
        elif isinstance(action, Gather):
            out.extend((p.id, p.lang) for p in action.prompts)
    return out


def ids(reply) -> list[str]:
    return [i for i, _ in heard(reply)]


def last(reply):
    return reply.actions[-1]


# say, language ----------------------------------------------------------------------


def test_say_runs_straight_through_to_the_next_question():
    reply, state = begin(language_flow())
    assert ids(reply) == ["welcome", "emergency", "language_offer", "language_offer"]
    assert isinstance(last(reply), Gather)
    assert state.node == "start"
    assert state.path == ["greeting", "start"]


def test_language_offer_is_spoken_in_each_offered_language():
    reply, state = begin(language_flow())
    gather = last(reply)
    # The greeting before it is part of the question: a caller can answer during it.
    assert [(p.id, p.lang) for p in gather.prompts][-2:] == [("language_offer", "en"), ("language_offer", "es")]
    assert {"english", "español"} <= set(gather.hints)
    assert state.lang == "en"


@pytest.mark.parametrize(
    "event, lang",
    [
        (press("2"), "es"),
        (press("1"), "en"),
        (say("Español"), "es"),
        (say("ESPAÑOL, por favor"), "es"),
        (say("espanol"), "es"),
        (say("Spanish please"), "es"),
        (say("dos"), "es"),
        (say("two"), "es"),
        (say("inglés"), "en"),
        (SILENCE, "en"),
        (press("9"), "en"),
        (say("mumble mumble"), "en"),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else None,
)
def test_language_choice(event, lang):
    flow = language_flow()
    _, state = begin(flow)
    reply, state = act(flow, state, event)
    assert state.lang == lang
    assert state.node == "menu"
    gather = last(reply)
    assert isinstance(gather, Gather)
    assert gather.lang == lang  # the recogniser listens in the chosen language
    assert heard(reply) == [("menu", lang)]


def test_chosen_language_is_kept_to_the_end_of_the_call():
    flow = language_flow()
    _, state = begin(flow)
    _, state = act(flow, state, press("2"))
    reply, state = act(flow, state, say("quiero una cita"))
    assert heard(reply)[0] == ("to_sched", "es")
    reply, state = act(flow, state, Event(dial_status="no-answer"))
    assert heard(reply) == [("vm_sched", "es")]
    assert last(reply).lang == "es"
    reply, state = act(flow, state, Event(recording_url="https://rec/1", recording_sid="RE1", recording_duration=12))
    assert heard(reply) == [("voicemail_thanks", "es")]


# menu -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event, desk",
    [
        (press("1"), "sched"),
        (press("2"), "bill"),
        (say("appointment"), "sched"),
        (say("I'd like to pay my bill."), "bill"),
        (say("BILLING!"), "bill"),
        (say("two"), "bill"),
        (say("2"), "bill"),
        (say("one"), "sched"),
    ],
)
def test_menu_choice(event, desk):
    flow = menu_flow()
    reply, state = begin(flow)
    assert isinstance(last(reply), Gather)
    assert {"appointment", "bill"} <= set(last(reply).hints)
    reply, state = act(flow, state, event)
    assert ids(reply) == [f"to_{desk}"]
    dial = last(reply)
    assert isinstance(dial, Dial)
    assert dial.number == DESKS[desk] and dial.desk == desk
    assert state.node == f"to_{desk}"


@pytest.mark.parametrize(
    "speech, desk",
    [
        ("I have a billing question about my appointment", "bill"),
        ("I want an appointment to talk about my bill", "sched"),
    ],
)
def test_keyword_spoken_first_wins(speech, desk):
    flow = menu_flow()
    _, state = begin(flow)
    reply, _ = act(flow, state, say(speech))
    assert last(reply).desk == desk


def test_keywords_are_whole_words():
    flow = menu_flow()
    _, state = begin(flow)
    reply, state = act(flow, state, say("billion"))  # contains 'bill' but is another word
    assert ids(reply) == ["invalid_choice", "menu"]
    assert state.node == "start"


def test_spoken_digit_in_spanish_after_choosing_spanish():
    flow = language_flow()
    _, state = begin(flow)
    _, state = act(flow, state, press("2"))
    reply, _ = act(flow, state, say("uno"))
    assert last(reply).desk == "sched"


def test_spanish_keyword_only_counts_for_a_spanish_caller():
    flow = menu_flow()
    _, state = begin(flow)
    reply, state = act(flow, state, say("cita"))  # the caller kept English
    assert ids(reply) == ["invalid_choice", "menu"]


@pytest.mark.parametrize("repeat", [press("*"), say("star")], ids=["key", "spoken"])
def test_star_repeats_the_menu_without_counting_a_retry(repeat):
    flow = menu_flow(retries=1)
    _, state = begin(flow)
    for _ in range(3):  # as often as the caller likes
        reply, state = act(flow, state, repeat)
        assert ids(reply) == ["menu"]  # no "sorry"
        assert isinstance(last(reply), Gather)
        assert state.node == "start" and state.tries == 0
    reply, state = act(flow, state, press("9"))  # the repeats did not use up the one retry
    assert ids(reply) == ["invalid_choice", "menu"]
    reply, state = act(flow, state, repeat)
    assert ids(reply) == ["menu"]
    reply, state = act(flow, state, press("9"))  # second wrong answer: retries (1) used up
    assert ids(reply) == ["menu_failure", "to_front"]
    assert isinstance(last(reply), Dial)


def test_custom_repeat_key():
    flow = menu_flow(retries=0, repeat_digit="'#'")
    _, state = begin(flow)
    reply, state = act(flow, state, press("#"))
    assert ids(reply) == ["menu"]
    reply, state = act(flow, state, press("*"))  # no longer the repeat key: a wrong answer
    assert ids(reply) == ["menu_failure", "to_front"]


@pytest.mark.parametrize(
    "event, sorry",
    [(SILENCE, "no_input"), (say("   "), "no_input"), (press("7"), "invalid_choice"), (say("weather"), "invalid_choice")],
)
def test_no_input_and_invalid_input_reprompt_with_the_right_sorry(event, sorry):
    flow = menu_flow()
    _, state = begin(flow)
    reply, state = act(flow, state, event)
    assert ids(reply) == [sorry, "menu"]
    assert isinstance(last(reply), Gather)
    assert state.node == "start"


def test_custom_sorry_prompts():
    flow = menu_flow(no_input_prompt="custom_silence", invalid_prompt="custom_wrong")
    _, state = begin(flow)
    reply, state = act(flow, state, SILENCE)
    assert ids(reply) == ["custom_silence", "menu"]
    reply, state = act(flow, state, press("5"))
    assert ids(reply) == ["custom_wrong", "menu"]


@pytest.mark.parametrize("retries", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("event", [SILENCE, press("9")], ids=["silent", "wrong"])
def test_after_retries_the_caller_reaches_the_failure_target(retries, event):
    flow = menu_flow(retries=retries)
    _, state = begin(flow)
    for _ in range(retries):
        reply, state = act(flow, state, event)
        assert ids(reply)[-1] == "menu" and isinstance(last(reply), Gather)
    reply, state = act(flow, state, event)
    assert ids(reply) == ["menu_failure", "to_front"]
    dial = last(reply)
    assert isinstance(dial, Dial) and dial.desk == "front"  # never dropped
    assert state.node == "to_front"


def test_mixed_silence_and_wrong_keys_share_the_retry_count():
    flow = menu_flow(retries=2)
    _, state = begin(flow)
    _, state = act(flow, state, SILENCE)
    _, state = act(flow, state, press("8"))
    reply, state = act(flow, state, SILENCE)
    assert state.node == "to_front"


def test_a_good_answer_after_a_wrong_one_still_counts():
    flow = menu_flow(retries=1)
    _, state = begin(flow)
    _, state = act(flow, state, press("8"))
    reply, state = act(flow, state, press("2"))
    assert last(reply).desk == "bill"


def test_menu_failure_without_a_failure_prompt_goes_straight_on():
    flow = menu_flow(retries=0, failure_prompt=None)
    _, state = begin(flow)
    reply, state = act(flow, state, SILENCE)
    assert ids(reply) == ["to_front"]
    assert isinstance(last(reply), Dial)


def test_retry_count_restarts_at_each_menu_visit():
    # Pressing 9 plays info and returns to the menu; the earlier wrong answer is forgotten.
    flow = build(
        """
        start:
          type: menu
          prompt: menu
          retries: 1
          options:
            - {digit: 1, next: to_front}
            - {digit: 2, next: to_sched}
            - {digit: 3, next: to_bill}
            - {digit: 9, next: info}
          failure_prompt: menu_failure
          on_failure: to_front
        info: {type: say, prompts: [open_msg], next: start}
        """,
        TAIL,
    )
    _, state = begin(flow)
    _, state = act(flow, state, press("5"))  # one wrong answer
    reply, state = act(flow, state, press("9"))
    assert ids(reply) == ["open_msg", "menu"]
    reply, state = act(flow, state, press("5"))  # a fresh count: re-prompt, not failure
    assert ids(reply) == ["invalid_choice", "menu"]


# transfer ----------------------------------------------------------------------------


def at_transfer(flow=None, digit="2"):
    flow = flow or menu_flow()
    _, state = begin(flow)
    reply, state = act(flow, state, press(digit))
    assert isinstance(last(reply), Dial)
    return flow, state


@pytest.mark.parametrize("status", ["completed", "answered"])
def test_answered_transfer_ends_the_call_with_the_desk_as_outcome(status):
    flow, state = at_transfer()
    reply, state = act(flow, state, Event(dial_status=status))
    assert reply.actions == (Hangup(),)
    assert reply.ends_call
    assert state.outcome == "answered:bill"


@pytest.mark.parametrize("status", ["no-answer", "failed", "canceled", ""])
def test_unanswered_transfer_goes_to_on_no_answer(status):
    flow, state = at_transfer(digit="1")
    reply, state = act(flow, state, Event(dial_status=status))
    assert ids(reply) == ["vm_sched"]
    record = last(reply)
    assert isinstance(record, Record) and record.department == "sched"
    assert state.node == "vm_sched" and state.outcome == ""


def busy_flow(with_on_busy: bool):
    busy = "on_busy: busy" if with_on_busy else ""
    return build(
        f"""
        start:
          type: transfer
          desk: front
          timeout: 40
          {busy}
          on_no_answer: vm_front
        vm_front: {{type: voicemail, department: front, prompt: vm_front}}
        """,
        "busy: {type: hangup, prompt: busy_msg}" if with_on_busy else "",
    )


def test_transfer_dials_the_desk_number_with_the_node_timeout():
    flow = busy_flow(True)
    reply, state = begin(flow)
    assert reply.actions == (Dial(number=DESKS["front"], timeout=40, desk="front"),)


def test_busy_goes_to_on_busy_when_given():
    flow = busy_flow(True)
    _, state = begin(flow)
    reply, state = act(flow, state, Event(dial_status="busy"))
    assert ids(reply) == ["busy_msg"] and isinstance(last(reply), Hangup)
    assert state.outcome == "goodbye"


def test_busy_without_on_busy_goes_to_on_no_answer():
    flow = busy_flow(False)
    _, state = begin(flow)
    reply, state = act(flow, state, Event(dial_status="busy"))
    assert ids(reply) == ["vm_front"] and isinstance(last(reply), Record)


def test_transfer_to_a_number():
    flow = build(
        """
        start: {type: transfer, number: '+12025550199', on_no_answer: vm_front}
        vm_front: {type: voicemail, department: front, prompt: vm_front}
        """
    )
    reply, state = begin(flow)
    assert last(reply).number == "+12025550199"
    _, state = act(flow, state, Event(dial_status="completed"))
    assert state.outcome == "answered:number"


# voicemail ------------------------------------------------------------------------


def at_voicemail():
    flow, state = at_transfer(digit="1")
    _, state = act(flow, state, Event(dial_status="no-answer"))
    return flow, state


def test_voicemail_with_a_recording_thanks_and_hangs_up():
    flow, state = at_voicemail()
    reply, state = act(flow, state, Event(recording_url="https://api.twilio.com/rec/RE1", recording_sid="RE1", recording_duration=30))
    assert heard(reply) == [("voicemail_thanks", "en")]
    assert isinstance(last(reply), Hangup)
    assert state.outcome == "voicemail:sched"


@pytest.mark.parametrize(
    "event",
    [Event(record_empty=True), Event(), Event(record_empty=True, recording_url="https://rec/empty")],
    ids=["flagged-empty", "nothing", "flagged-empty-with-url"],
)
def test_empty_voicemail_says_so_and_hangs_up(event):
    flow, state = at_voicemail()
    reply, state = act(flow, state, event)
    assert heard(reply) == [("voicemail_empty", "en")]
    assert isinstance(last(reply), Hangup)
    assert not state.outcome.startswith("voicemail:")


def test_voicemail_record_settings():
    flow = build(
        """
        start: {type: voicemail, department: front, prompt: vm_front, max_length: 300, finish_on_key: '*'}
        """
    )
    reply, _ = begin(flow)
    assert reply.actions == (Prompt("vm_front", "en"), Record(300, "*", "front", "en"))


# hours ---------------------------------------------------------------------------------

HOURS_NODES = """
start: {type: hours, open: open_msg, closed: closed_msg, holiday: holiday_msg}
open_msg: {type: hangup, prompt: open_msg}
closed_msg: {type: hangup, prompt: closed_msg}
holiday_msg: {type: hangup, prompt: holiday_msg}
"""


@pytest.mark.parametrize(
    "now, prompt",
    [
        (dt.datetime(2026, 3, 10, 10, 0, tzinfo=NY), "open_msg"),
        (dt.datetime(2026, 3, 10, 14, 0, tzinfo=UTC), "open_msg"),  # 10:00 EDT
        (dt.datetime(2026, 3, 10, 21, 30, tzinfo=UTC), "closed_msg"),  # 17:30 EDT
        (dt.datetime(2026, 3, 14, 10, 0, tzinfo=NY), "closed_msg"),  # Saturday
        (dt.datetime(2026, 11, 26, 10, 0, tzinfo=NY), "holiday_msg"),  # Thanksgiving
        (dt.datetime(2026, 12, 24, 10, 0, tzinfo=NY), "open_msg"),  # reduced hours, open
        (dt.datetime(2026, 12, 24, 13, 0, tzinfo=NY), "holiday_msg"),  # reduced hours, after
    ],
)
def test_hours_branch(now, prompt):
    reply, state = begin(build(HOURS_NODES), now)
    assert ids(reply) == [prompt]
    assert state.node == prompt


def test_holiday_without_a_holiday_branch_uses_closed():
    nodes = HOURS_NODES.replace(", holiday: holiday_msg", "")
    reply, _ = begin(build(nodes.replace("holiday_msg: {type: hangup, prompt: holiday_msg}\n", "")),
                     dt.datetime(2026, 11, 26, 10, 0, tzinfo=NY))
    assert ids(reply) == ["closed_msg"]


def test_hours_are_judged_when_the_node_is_reached_not_when_the_call_began():
    flow = build(
        """
        start:
          type: menu
          prompt: menu
          options:
            - {digit: 1, next: hours}
          on_failure: hours
        hours: {type: hours, open: open_msg, closed: closed_msg}
        open_msg: {type: hangup, prompt: open_msg}
        closed_msg: {type: hangup, prompt: closed_msg}
        """
    )
    _, state = begin(flow, dt.datetime(2026, 3, 10, 16, 59, tzinfo=NY))
    reply, _ = act(flow, state, press("1"), dt.datetime(2026, 3, 10, 17, 0, tzinfo=NY))
    assert ids(reply) == ["closed_msg"]


# Engine guarantees -------------------------------------------------------------------


def test_step_does_not_change_the_state_it_is_given():
    flow = language_flow()
    _, state = begin(flow)
    before = json.dumps(state.to_dict())
    reply1, after1 = act(flow, state, say("español"))
    assert json.dumps(state.to_dict()) == before
    assert after1 is not state and after1.path is not state.path
    # Same state and event, same answer: a retried webhook is safe.
    reply2, after2 = act(flow, state, say("español"))
    assert reply1 == reply2 and after1 == after2
    # A menu retry counter is not written back either.
    _, menu_state = act(flow, after1, SILENCE)
    snapshot = json.dumps(after1.to_dict())
    act(flow, menu_state, SILENCE)
    assert json.dumps(after1.to_dict()) == snapshot
    assert menu_state.tries == 1


def test_start_and_step_do_not_change_the_flow():
    flow = menu_flow()
    nodes_before = dict(flow.nodes)
    _, state = begin(flow)
    act(flow, state, press("1"))
    assert flow.nodes == nodes_before


def test_state_round_trips_through_a_dict_and_json():
    flow = language_flow()
    _, state = begin(flow)
    _, state = act(flow, state, press("2"))
    _, state = act(flow, state, SILENCE)
    state.caller = "+12025550123"
    state.seq = 4
    stored = json.loads(json.dumps(state.to_dict()))
    restored = CallState.from_dict(stored)
    assert restored == state
    # The call goes on identically from the restored state.
    assert act(flow, restored, press("1")) == act(flow, state, press("1"))


def test_state_from_an_older_record_gets_defaults():
    restored = CallState.from_dict({"flow": "main", "version": "abc", "node": "start", "lang": "es"})
    assert (restored.tries, restored.seq, restored.path, restored.outcome) == (0, 0, [], "")


def test_a_state_at_a_node_the_flow_no_longer_has_is_a_clear_error():
    flow = menu_flow()
    _, state = begin(flow)
    state.node = "removed_node"
    with pytest.raises(FlowRuntimeError, match="removed_node"):
        step(flow, state, SILENCE, ctx())


# The shipped main flow with a fixed clock ------------------------------------------

CLINIC = load_clinic(ROOT / "config" / "clinic.yaml")
MAIN = load_flow(
    (ROOT / "config" / "flows" / "main.yaml").read_text(encoding="utf-8"),
    "config/flows/main.yaml",
    environment(CLINIC, load_prompts(ROOT / "prompts")),
)
MAIN_SCHEDULE = CLINIC.schedule()
MAIN_DESKS = CLINIC.desk_numbers()
WEEKDAY_MORNING = dt.datetime(2026, 3, 10, 10, 0, tzinfo=NY)
WEEKDAY_NIGHT = dt.datetime(2026, 3, 10, 22, 0, tzinfo=NY)
THANKSGIVING = dt.datetime(2026, 11, 26, 10, 0, tzinfo=NY)


def main_ctx(now):
    return Context(now=now, schedule=MAIN_SCHEDULE, desks=MAIN_DESKS)


def call_main(events, now=WEEKDAY_MORNING):
    """Run the main flow; return every reply and the final state."""
    reply, state = start(MAIN, main_ctx(now))
    replies = [reply]
    for event in events:
        reply, state = step(MAIN, state, event, main_ctx(now))
        check_reply(reply)
        reply, state = settle(MAIN, reply, state, main_ctx(now))
        replies.append(reply)
    return replies, state


def test_main_flow_greets_offers_spanish_warns_and_asks_in_one_question():
    [reply], state = call_main([])
    # One Gather from the first word: a caller who knows the menu need not wait for the greeting.
    assert len(reply.actions) == 1 and isinstance(last(reply), Gather)
    assert heard(reply) == [("welcome", "en"), ("language_offer", "es"), ("emergency_notice", "en"), ("main_menu", "en")]


def test_main_flow_spanish_caller_books_an_appointment_by_voice():
    replies, state = call_main([say("Español"), say("Necesito una cita")])
    assert heard(replies[1]) == [("emergency_notice", "es"), ("main_menu", "es")]
    assert heard(replies[2]) == [("connecting_scheduling", "es")]
    dial = last(replies[2])
    assert dial.number == CLINIC.desks["scheduling"].number


def test_main_flow_silent_caller_during_hours_reaches_the_front_desk():
    replies, state = call_main([SILENCE])  # "or stay on the line": one silence is enough
    assert ids(replies[-1]) == ["menu_failure", "connecting_front_desk"]
    assert last(replies[-1]).number == CLINIC.desks[CLINIC.fallback_desk].number


def test_main_flow_wrong_keys_get_one_more_try_then_the_front_desk():
    replies, state = call_main([press("7"), press("7")])
    assert ids(replies[1]) == ["invalid_choice", "language_offer", "main_menu"]
    assert ids(replies[2]) == ["menu_failure", "connecting_front_desk"]


def test_main_flow_after_hours_silent_caller_reaches_the_on_call_nurse():
    replies, state = call_main([SILENCE], now=WEEKDAY_NIGHT)
    assert ids(replies[0])[-1] == "after_hours"
    assert ids(replies[-1]) == ["menu_failure", "connecting_on_call"]
    assert last(replies[-1]).number == CLINIC.desks["on_call_nurse"].number


def test_main_flow_on_a_holiday_says_so_then_offers_after_hours_choices():
    replies, state = call_main([press("2")], now=THANKSGIVING)
    assert ids(replies[0]) == ["welcome", "holiday_closed", "language_offer", "emergency_notice", "after_hours"]
    assert ids(replies[1]) == ["voicemail_front_desk"]
    assert last(replies[1]).department == "front_desk"


def test_main_flow_nobody_answers_so_the_caller_leaves_a_message():
    replies, state = call_main(
        [
            press("3"),
            Event(dial_status="no-answer"),
            press("3"),  # the callback offer: "to leave a message, press 3"
            Event(recording_url="https://rec/1", recording_sid="RE1", recording_duration=20),
        ]
    )
    assert ids(replies[1]) == ["connecting_nurse"]
    assert ids(replies[2]) == ["callback_offer"]
    assert ids(replies[3]) == ["voicemail_nurse"]
    assert ids(replies[4]) == ["voicemail_thanks"] and replies[4].ends_call
    assert state.outcome == "voicemail:nurse"


def test_menu_intro_language_option_and_silence_limit():
    flow = build(
        """
        start:
          type: menu
          intro: [emergency]
          prompt: menu
          options:
            - {digit: 1, next: to_sched}
            - {digit: 2, next: to_bill}
            - {digit: 9, language: es, keywords: [español], next: start}
          retries: 2
          no_input_retries: 0
          on_failure: to_front
        """,
        TAIL,
    )
    reply, state = begin(flow)
    assert heard(reply) == [("language_offer", "es"), ("emergency", "en"), ("menu", "en")]
    # A wrong key: the sorry, the offer and the menu again, not the intro.
    reply, state = act(flow, state, press("7"))
    assert heard(reply) == [("invalid_choice", "en"), ("language_offer", "es"), ("menu", "en")]
    # Silence: no_input_retries 0 goes on at once, whatever retries are left.
    reply, _ = act(flow, state, SILENCE)
    assert ids(reply) == ["to_front"]
    # The Spanish option (by key or word, in any language) switches the call and arrives again.
    for event in (press("9"), say("español por favor")):
        reply, spanish = act(flow, begin(flow)[1], event)
        assert spanish.lang == "es"
        assert heard(reply) == [("emergency", "es"), ("menu", "es")]


# Property: the shipped flow never strands a caller ------------------------------------


def _main_keywords() -> list[str]:
    words = []
    for node in MAIN.nodes.values():
        if isinstance(node, (MenuNode, LanguageNode)):
            for option in node.options:
                words.extend(option.all_keywords())
    return sorted(set(words))


KEYWORDS = _main_keywords()
SPOKEN = ["one", "two", "three", "zero", "star", "uno", "dos", "tres", "cero", "asterisco"]

events = st.one_of(
    st.builds(Event, digits=st.sampled_from(list("0123456789*#"))),
    st.builds(Event, speech=st.sampled_from(KEYWORDS + SPOKEN)),
    st.builds(Event, speech=st.sampled_from(KEYWORDS).map(lambda w: f"um, {w.upper()} please")),
    st.builds(Event, speech=st.text(max_size=30)),
    st.just(Event()),
    st.builds(Event, dial_status=st.sampled_from(["completed", "answered", "no-answer", "busy", "failed", "canceled"])),
    st.builds(Event, recording_url=st.just("https://rec/RE1"), recording_sid=st.just("RE1"), recording_duration=st.integers(1, 600)),
    st.just(Event(record_empty=True)),
)
instants = st.datetimes(
    min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(UTC)
)
SILENT_BOUND = 12  # (retries + 1) menu answers + dial + callback offer + record, with room to spare
OUTCOMES = ("answered:", "voicemail:", "voicemail_empty", "goodbye")


def _check_end(reply, state) -> None:
    """A call ends at a person who answered, or with something said before the hang-up."""
    assert state.outcome.startswith(OUTCOMES), state.outcome
    if not state.outcome.startswith("answered:"):
        assert len(reply.actions) >= 2 and isinstance(reply.actions[-2], Prompt), reply.actions


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(events, max_size=25), now=instants)
def test_main_flow_never_strands_a_caller(script, now):
    context = main_ctx(now)
    reply, state = start(MAIN, context)
    check_reply(reply)
    for event in script:
        if reply.ends_call:
            _check_end(reply, state)
            return
        # The state survives storage between webhooks.
        state = CallState.from_dict(json.loads(json.dumps(state.to_dict())))
        reply, state = step(MAIN, state, event, context)
        check_reply(reply)
        reply, state = settle(MAIN, reply, state, context)
    # The caller now says nothing at all: the call still reaches a person or a
    # voicemail, then ends, within a bounded number of turns.
    ended_before_silence = reply.ends_call
    reached_someone = False
    for _ in range(SILENT_BOUND):
        if reply.ends_call:
            break
        reached_someone = reached_someone or isinstance(last(reply), (Dial, Record))
        reply, state = step(MAIN, state, Event(), context)
        check_reply(reply)
        reply, state = settle(MAIN, reply, state, context)
    assert reply.ends_call, f"still waiting at {state.node} after {SILENT_BOUND} silent turns"
    _check_end(reply, state)
    assert ended_before_silence or reached_someone, state.path


def test_call_state_keeps_every_field_through_redis():
    """CallState.to_dict is written by hand (for speed): a new field must not be dropped between webhooks."""
    import dataclasses

    from ivr.flows.actions import CallState

    state = CallState("main", "v1", "menu", "es", seq=3, tries=1, path=["a", "b"], outcome="x", caller="+1", data={"k": "v"})
    assert state.to_dict() == dataclasses.asdict(state)
    assert CallState.from_dict(state.to_dict()) == state

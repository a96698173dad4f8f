"""The node kinds about callbacks: the offer that files a request (``Callback``: the caller's number checked,
read back, a reason recorded) and the caller who already has one in line (``Returning``: keep it or cancel
it), with the words they say a wait and a number in."""

from __future__ import annotations

from typing import Sequence

import phonenumbers

from . import matching
from .actions import CallState, CancelCallback, Context, Event, Gather, Hangup, Prompt, Record, RequestCallback
from .model import CallbackNode, Choice, ReturningNode
from .transitions import Edge, Transition


def choose_option(options: Sequence[Choice], event: Event, lang: str):
    """The option a caller picked by key, spoken digit or keyword, or None."""
    digit = event.digits[:1] or matching.spoken_digit(event.speech, (lang,))
    if digit:
        return next((o for o in options if o.digit == digit), None)
    return matching.best_match(event.speech, [(o, o.keywords_for(lang)) for o in options])


MINUTE_WORDS = {"en": ("minute", "minutes"), "es": ("minuto", "minutos")}


def wait_minutes(seconds: float) -> int:
    """A wait in whole minutes, as callers hear it and the console shows it (at least one minute).

    The one rounding of an estimate: the phone's "about 1 minute" and the console's "a new caller
    would wait about 1 min" are this figure, never a floor on one side and a round on the other.
    """
    return max(1, round(seconds / 60))


def minutes_phrase(seconds: int, lang: str) -> str:
    """A wait as the caller hears it: '1 minute', '12 minutos' (``wait_minutes``)."""
    minutes = wait_minutes(seconds)
    one, many = MINUTE_WORDS.get(lang, MINUTE_WORDS["en"])
    return f"{minutes} {one if minutes == 1 else many}"


def _spaced(digits: str) -> str:
    """'4567' -> '4 5 6 7', so text-to-speech reads digits one by one."""
    return " ".join(digits)


def _national_digits(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return "".join(c for c in number if c.isdigit())
    return str(parsed.national_number)


NOT_A_NUMBER = "not_a_number"
NOT_ALLOWED = "not_allowed"
# Number types a clinic never calls back: the call costs the clinic (premium rate, shared cost) or
# reaches no patient (pager, voicemail access, unknown). Toll-free, fixed, mobile and VoIP are fine.
REFUSED_TYPES = frozenset({
    phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.UAN, phonenumbers.PhoneNumberType.PAGER,
    phonenumbers.PhoneNumberType.VOICEMAIL, phonenumbers.PhoneNumberType.UNKNOWN,
})


def callback_number(raw: str, region: str, regions: frozenset[str] = frozenset()) -> tuple[str | None, str]:
    """(+E.164, "") if ``raw`` (caller ID or keyed digits) is a number the clinic may call back, else
    (None, why): NOT_A_NUMBER, or NOT_ALLOWED for premium-rate, shared-cost and similar numbers and
    for numbers outside ``regions`` (by default the clinic's own country, ``region``)."""
    raw = raw.strip()
    if not raw or not any(c.isdigit() for c in raw):
        return None, NOT_A_NUMBER  # anonymous, restricted, unknown caller ID
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, NOT_A_NUMBER
    if not phonenumbers.is_valid_number(parsed):
        return None, NOT_A_NUMBER
    if phonenumbers.number_type(parsed) in REFUSED_TYPES:
        return None, NOT_ALLOWED
    if phonenumbers.region_code_for_number(parsed) not in (regions or {region}):
        return None, NOT_ALLOWED
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), ""



YES = {"en": ("yes", "yeah", "correct", "right"), "es": ("si", "correcto", "claro")}
NO = {"en": ("no", "nope", "wrong", "different", "another"), "es": ("no", "otro", "otra", "diferente")}


class Callback:
    """A callback offer and the short dialogue that files the request.

    Stages (kept in ``call.data["stage"]``): offer -> confirm (caller ID) or
    enter (key in a number) -> readback -> reason (optional recording) ->
    placing (the RequestCallback effect) -> confirmation and goodbye.
    """

    # What this kind fills in, per prompt field (``Prompt.with_values`` below): a prompt said there may use
    # these in braces besides the ones every call has (validation checks prompts against this).
    values = {
        "prompt": frozenset({"minutes"}),
        "confirm_number_prompt": frozenset({"last4"}),
        "readback_prompt": frozenset({"digits"}),
        "confirmed_prompt": frozenset({"position", "minutes", "last4"}),
        "already_waiting_prompt": frozenset({"position", "last4"}),
    }

    def edges(self, node: CallbackNode):
        edges = [
            Edge(f"options[{i}].next", opt.next, True, "choosing this option leads nowhere")
            for i, opt in enumerate(node.options)
            if not opt.callback
        ]
        edges.append(Edge("on_failure", node.on_failure, False, "a caller who cannot answer has nowhere to go"))
        return edges

    def prompts(self, node: CallbackNode, languages):
        ids = [
            node.prompt, node.no_input_prompt, node.invalid_prompt, node.confirm_number_prompt,
            node.enter_number_prompt, node.readback_prompt, node.bad_number_prompt, node.not_allowed_prompt,
            node.confirmed_prompt, node.already_waiting_prompt,
        ]
        if node.ask_reason:
            ids.append(node.reason_prompt)
        if node.ask_mobile:
            ids.append(node.mobile_prompt)
        return [(p, languages) for p in ids]

    # Stages --------------------------------------------------------------

    def enter(self, node: CallbackNode, call: CallState, ctx: Context):
        call.data["stage"] = "offer"
        return Transition([self._offer(node, call, ctx, [])])

    def _offer(self, node: CallbackNode, call: CallState, ctx: Context, before: list[Prompt]) -> Gather:
        wait = ctx.wait_seconds(node.department)
        call.data["wait"] = str(wait)  # the confirmation repeats this figure (a request made since must not change it)
        offer = Prompt(node.prompt, call.lang).with_values(minutes=minutes_phrase(wait, call.lang))
        hints = tuple(k for opt in node.options for k in opt.keywords_for(call.lang))
        return Gather(tuple(before) + (offer,), call.lang, node.timeout, hints=hints)

    def _ask(self, node: CallbackNode, call: CallState, ctx: Context, stage: str, before: list[Prompt]) -> Transition:
        """Move to ``stage`` (or repeat it) and ask its question."""
        if call.data.get("stage") != stage:
            call.tries = 0
        call.data["stage"] = stage
        lang = call.lang
        if stage == "confirm":
            last4 = _national_digits(call.data["phone"], ctx.region)[-4:]
            ask = Prompt(node.confirm_number_prompt, lang).with_values(last4=_spaced(last4))
            hints = YES.get(lang, ()) + NO.get(lang, ())
            return Transition([Gather(tuple(before) + (ask,), lang, node.timeout, hints=hints)])
        if stage == "enter":
            ask = Prompt(node.enter_number_prompt, lang)
            return Transition([Gather(tuple(before) + (ask,), lang, timeout=10, num_digits=None, speech=False)])
        if stage == "readback":
            digits = _national_digits(call.data["phone"], ctx.region)
            ask = Prompt(node.readback_prompt, lang).with_values(digits=_spaced(digits))
            hints = YES.get(lang, ()) + NO.get(lang, ())
            return Transition([Gather(tuple(before) + (ask,), lang, node.timeout, hints=hints)])
        if stage == "mobile":
            ask = Prompt(node.mobile_prompt, lang)
            return Transition([Gather(tuple(before) + (ask,), lang, node.timeout, speech=False)])
        if stage == "reason":
            return Transition(
                list(before)
                + [Prompt(node.reason_prompt, lang), Record(30, "#", node.department, lang, purpose="callback_reason")]
            )
        # placing
        return Transition(
            list(before)
            + [
                RequestCallback(
                    department=node.department,
                    phone=call.data["phone"],
                    lang=lang,
                    reason_recording_sid=call.data.get("reason_sid", ""),
                    reason_recording_url=call.data.get("reason_url", ""),
                    mobile=call.data.get("mobile", ""),
                )
            ]
        )

    def _after_number(self, node: CallbackNode, call: CallState, ctx: Context) -> Transition:
        if ctx.texts and node.ask_mobile:
            return self._ask(node, call, ctx, "mobile", [])
        return self._after_mobile(node, call, ctx)

    def _after_mobile(self, node: CallbackNode, call: CallState, ctx: Context) -> Transition:
        return self._ask(node, call, ctx, "reason" if node.ask_reason else "placing", [])

    def _retry(self, node: CallbackNode, call: CallState, ctx: Context, event: Event, sorry: str | None = None):
        call.tries += 1
        if call.tries > node.retries:
            return Transition(goto=node.on_failure)
        sorry_id = sorry or (node.no_input_prompt if event.is_empty else node.invalid_prompt)
        before = [Prompt(sorry_id, call.lang)]
        stage = call.data.get("stage", "offer")
        if stage == "offer":
            return Transition([self._offer(node, call, ctx, before)])
        return self._ask(node, call, ctx, stage, before)

    def _yes_no(self, event: Event, lang: str) -> bool | None:
        """1 or "yes" -> True, 2 or "no" -> False, else None."""
        if event.digits:
            return {"1": True, "2": False}.get(event.digits[:1])
        return matching.best_match(event.speech, [(True, YES.get(lang, ())), (False, NO.get(lang, ()))])

    def handle(self, node: CallbackNode, call: CallState, event: Event, ctx: Context):
        stage = call.data.get("stage", "offer")
        if stage == "offer":
            option = None if event.is_empty else choose_option(node.options, event, call.lang)
            if option is None:
                return self._retry(node, call, ctx, event)
            if not option.callback:
                return Transition(goto=option.next)
            caller, why = callback_number(call.caller, ctx.region, ctx.callback_regions)
            if caller:
                call.data["phone"] = caller
                return self._ask(node, call, ctx, "confirm", [])
            before = [Prompt(node.not_allowed_prompt, call.lang)] if why == NOT_ALLOWED else []
            return self._ask(node, call, ctx, "enter", before)
        if stage in ("confirm", "readback"):
            answer = self._yes_no(event, call.lang)
            if answer is None:
                return self._retry(node, call, ctx, event)
            if answer:
                return self._after_number(node, call, ctx)
            return self._ask(node, call, ctx, "enter", [])
        if stage == "enter":
            number, why = callback_number(event.digits.rstrip("#*"), ctx.region, ctx.callback_regions) if event.digits else (None, "")
            if number is None:
                sorry = node.not_allowed_prompt if why == NOT_ALLOWED else node.bad_number_prompt
                return self._retry(node, call, ctx, event, None if event.is_empty else sorry)
            call.data["phone"] = number
            return self._ask(node, call, ctx, "readback", [])
        if stage == "mobile":  # 1: a mobile, text me; 2: no; silence or another key: not asked again
            call.data["mobile"] = {"1": "yes", "2": "no"}.get(event.digits[:1], "")
            return self._after_mobile(node, call, ctx)
        if stage == "reason":
            if event.recording_url and event.recording_sid and not event.record_empty:
                call.data["reason_sid"] = event.recording_sid
                call.data["reason_url"] = event.recording_url
            return self._ask(node, call, ctx, "placing", [])
        # placing: the effect's result
        last4 = _spaced(_national_digits(call.data["phone"], ctx.region)[-4:])
        # The figure the offer said: asked again now, the estimate would count this caller's own request
        # ("about 5 minutes", then "in about 10 minutes").
        wait = int(call.data.get("wait") or ctx.wait_seconds(node.department))
        if event.callback_existing:
            said = Prompt(node.already_waiting_prompt, call.lang).with_values(
                position=event.callback_position, last4=last4
            )
        else:
            said = Prompt(node.confirmed_prompt, call.lang).with_values(
                position=event.callback_position, minutes=minutes_phrase(wait, call.lang), last4=last4
            )
        return Transition([said, Hangup()], outcome=f"callback:{node.department}")


KEEP = {"en": ("keep", "keep it", "keep my place"),
        "es": ("mantener", "mantenerla", "conservar", "conservarla", "guardar", "guardela")}
CANCEL = {"en": ("cancel", "cancel it", "no longer"), "es": ("cancelar", "cancelarla", "cancelela", "anular", "ya no")}


class Returning:
    """A caller who already has a callback in line: told so on arrival, keeps it or cancels it.

    The question comes from ``ctx.in_line(caller)`` (the web layer reads it in the first round trip
    of a new call). Stages (``call.data["stage"]``): ask -> keeping (a RequestCallback for the same
    number and department: the same callback, its place kept, a scheduled retry back in line now)
    -> kept and goodbye; or ask -> cancelling (CancelCallback) -> cancelled, then ``next``.
    """

    values = {  # as Callback.values
        "prompt": frozenset({"position", "minutes"}),
        "kept_prompt": frozenset({"position", "minutes", "last4"}),
    }

    def edges(self, node: ReturningNode):
        edges = [Edge("next", node.next, False, "callers without a callback in line have nowhere to go")]
        if node.on_no_input is not None:
            edges.append(Edge("on_no_input", node.on_no_input, False))
        return edges

    def prompts(self, node: ReturningNode, languages):
        return [(p, languages) for p in (node.prompt, node.invalid_prompt, node.kept_prompt, node.cancelled_prompt)]

    def enter(self, node: ReturningNode, call: CallState, ctx: Context):
        found = ctx.in_line(call.caller) if call.caller else None
        if found is None:
            return Transition(goto=node.next)
        if found.lang and found.lang in ctx.languages:
            call.lang = found.lang  # asked in Spanish, told in Spanish
        call.data.update(
            stage="ask", id=found.id, department=found.department, phone=found.phone,
            position=str(found.position), wait=str(found.wait_seconds),
        )
        return Transition([self._ask(node, call, [])])

    def _ask(self, node: ReturningNode, call: CallState, before: list[Prompt]) -> Gather:
        said = Prompt(node.prompt, call.lang).with_values(
            position=call.data["position"], minutes=minutes_phrase(int(call.data["wait"]), call.lang)
        )
        hints = KEEP.get(call.lang, ()) + CANCEL.get(call.lang, ())
        return Gather(tuple(before) + (said,), call.lang, node.timeout, hints=hints)

    def _choose(self, node: ReturningNode, event: Event, lang: str) -> str | None:
        digit = event.digits[:1] or matching.spoken_digit(event.speech, (lang,))
        if digit:
            return {node.keep_digit: "keep", node.cancel_digit: "cancel"}.get(digit)
        return matching.best_match(event.speech, [("keep", KEEP.get(lang, ())), ("cancel", CANCEL.get(lang, ()))])

    def handle(self, node: ReturningNode, call: CallState, event: Event, ctx: Context):
        stage, data = call.data.get("stage"), call.data
        if stage == "keeping":  # the request's result: the same callback, at its place
            position = event.callback_position or int(data["position"])
            last4 = _spaced(_national_digits(data["phone"], ctx.region)[-4:])
            said = Prompt(node.kept_prompt, call.lang).with_values(
                position=position, minutes=minutes_phrase(int(data["wait"]), call.lang), last4=last4
            )
            return Transition([said, Hangup()], outcome=f"callback_kept:{data['department']}")
        if stage == "cancelling":  # out of line (or no longer open: gone either way)
            return Transition([Prompt(node.cancelled_prompt, call.lang)], goto=node.next)
        if event.is_empty:
            return Transition(goto=node.on_no_input or node.next)  # silence keeps it; on to a person
        choice = self._choose(node, event, call.lang)
        if choice == "keep":
            data["stage"] = "keeping"
            return Transition([RequestCallback(department=data["department"], phone=data["phone"], lang=call.lang)])
        if choice == "cancel":
            data["stage"] = "cancelling"
            return Transition([CancelCallback(data["id"], data["phone"])])
        call.tries += 1
        if call.tries > node.retries:
            return Transition(goto=node.next)  # kept; on to the menu
        return Transition([self._ask(node, call, [Prompt(node.invalid_prompt, call.lang)])])

"""What a call's webhooks note for its report record, and the record made when it ends. Pure: no Flask, no Redis.

    marks = step_marks(request_seq, now, flow, before, after, event, dial_duration, first_ms, open_status)
    rec = build(state, marks, flow, ended_at)

The marks live in the call's hash beside its state (written by the same script, no extra round trip);
``build`` turns state + marks into a ``CallRecord`` without any patient data.
"""

from __future__ import annotations

import datetime as dt

from ivr.store.call_records import CallRecord, Marks

QUEUE_KINDS = frozenset({"transfer", "hold", "callback", "voicemail"})
WAITING_KINDS = frozenset({"transfer", "hold", "callback"})


def _epoch(when: dt.datetime) -> str:
    return f"{when.timestamp():.3f}"


def step_marks(
    request_seq: int, now: dt.datetime, flow, outcome_before: str, state, event, dial_duration: int = 0,
    first_ms: int | None = None, open_status: str = "",
) -> Marks:
    marks = Marks()
    if request_seq == 0:
        marks.fields["m:t0"] = _epoch(now)
        if first_ms is not None:
            marks.fields["m:fp"] = str(first_ms)
        if open_status:
            marks.fields["m:open"] = open_status[:1]
    if event is not None and not event.recording_url and not event.dial_status:  # answers to a question only
        if event.digits:
            marks.counts["m:k"] = 1
        elif event.speech.strip():
            marks.counts["m:v"] = 1
    passed_queue = any(getattr(flow.nodes.get(n), "type", "") in QUEUE_KINDS for n in state.path) if flow else False
    if passed_queue:
        marks.fields["m:tq"] = _epoch(now)  # first one wins: when the call first reached a queue
    outcome = state.outcome or ""
    if outcome != outcome_before:
        if outcome.startswith("answered:"):
            answered = now - dt.timedelta(seconds=max(0, dial_duration))
            marks.fields["m:tp"] = _epoch(answered)
        elif outcome.startswith(("callback:", "voicemail:")):
            marks.fields["m:tpr"] = _epoch(now)
    return marks


def _secs(marks: dict[str, str], name: str, t0: float) -> int | None:
    value = marks.get(name)
    if value is None:
        return None
    return max(0, int(round(float(value) - t0)))


def build(state: dict | None, marks: dict[str, str], flow, ended_at: dt.datetime) -> CallRecord:
    """The record of a call that ended at ``ended_at``. ``flow``: the version it ran (None if unknown)."""
    t0 = float(marks.get("m:t0") or ended_at.timestamp())
    common = dict(
        arrived=int(t0),
        first_prompt_ms=int(marks["m:fp"]) if "m:fp" in marks else None,
        to_end=max(0, int(round(ended_at.timestamp() - t0))),
        keys=int(marks.get("m:k", 0)),
        speech=int(marks.get("m:v", 0)),
        open=marks.get("m:open", "o"),
    )
    if marks.get("m:em"):
        return CallRecord(outcome="X", **common)
    if not state:
        return CallRecord(outcome="F" if marks.get("m:fb") else "N", **common)
    names = list(flow.nodes) if flow is not None else []
    index = {n: i for i, n in enumerate(names)}
    path = tuple(index[n] for n in state.get("path", []) if n in index)
    outcome = str(state.get("outcome") or "")
    kind, _, dept = outcome.partition(":")
    node = flow.nodes.get(state.get("node", "")) if flow is not None else None
    node_kind = getattr(node, "type", "")
    if marks.get("m:fb") and not outcome:
        code = "F"
    elif kind == "answered":
        code = "A"
    elif kind == "callback":
        code = "C"
    elif kind == "voicemail":
        code = "V"
    elif outcome == "voicemail_empty":
        code, dept = "E", getattr(node, "department", "")
    elif outcome == "goodbye":
        code = "G"
    elif node_kind in WAITING_KINDS or node_kind == "voicemail":
        code = "E" if node_kind == "voicemail" else "W"
        dept = getattr(node, "desk", None) or getattr(node, "department", "") or ""
    else:
        code = "M"
    if dept == "number":
        dept = ""
    return CallRecord(
        flow=str(state.get("flow", "")), version=str(state.get("version", "")), lang=str(state.get("lang", "")),
        path=path, outcome=code, department=dept,
        to_queue=_secs(marks, "m:tq", t0), to_person=_secs(marks, "m:tp", t0), to_promise=_secs(marks, "m:tpr", t0),
        **common,
    )

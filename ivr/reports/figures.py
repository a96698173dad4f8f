"""The reports' figures, from call records: pure (no Flask, no Redis).

    report = compute(records, definitions, node_names, department="")

Every chart and its table (and the table's CSV) are drawn from one ``Table`` here, so they cannot
disagree. Definitions (``Definitions``) are the clinic's settings, written out in ``DEFINITIONS_TEXT``
for the page and the README.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping
from zoneinfo import ZoneInfo

from ivr.store.call_records import ABANDONED, OUTCOMES, SERVED, CallRecord  # noqa: F401

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
OPEN_WORDS = {"o": "Open", "c": "Closed", "h": "Holiday"}


@dataclass(frozen=True)
class Definitions:
    service_level_seconds: int = 60
    short_abandon_seconds: int = 5
    promises_count: str = "served"  # or "excluded"
    callback_target_minutes: int = 60

    @classmethod
    def from_config(cls, config: Mapping, callback_target_minutes: int = 60) -> "Definitions":
        promises = str(config.get("REPORTS_PROMISES_COUNT") or "served").strip().lower()
        return cls(
            service_level_seconds=int(config.get("REPORTS_SERVICE_LEVEL_SECONDS") or 60),
            short_abandon_seconds=int(config.get("REPORTS_SHORT_ABANDON_SECONDS") or 0),
            promises_count="excluded" if promises == "excluded" else "served",
            callback_target_minutes=int(callback_target_minutes),
        )

    def text(self) -> list[tuple[str, str]]:
        x, n = self.service_level_seconds, self.short_abandon_seconds
        promise = ("a callback stored or a voicemail kept within the same time counts as served"
                   if self.promises_count == "served" else "calls that ended in a callback or voicemail are left out")
        return [
            ("Reached a queue", "the call came to a desk ringing, holding, a callback offer or a voicemail tone."),
            ("Service level", f"calls that reached a person (a desk answered) within {x} s of arrival, ÷ calls that "
                              f"reached a queue; {promise}; short abandons are left out of both."),
            ("Short abandon", f"hung up within {n} s of reaching a queue (counted apart, in neither figure)."),
            ("Abandonment rate", "calls that reached a queue and hung up before a person or a promise (not short "
                                 "abandons) ÷ calls that reached a queue (not short abandons)."),
            ("Speed to a person", "seconds from arrival to a desk answering (the call's length minus the talk "
                                  "time Twilio reports); average and 90th percentile (nearest rank)."),
            ("Hung up in the menu", "ended before reaching a queue, at the step shown."),
            ("Time to callback", "request → the callback reached or a message left (done); p50/p90 against "
                                 f"callbacks.target_minutes ({self.callback_target_minutes} min). Voicemail "
                                 "response: message received → first claim by staff."),
        ]


@dataclass
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)
    chart: str = "bars"  # bars | heat | none
    value_col: int = 1  # the column the bars show

    @property
    def max(self) -> float:
        vals = [r[self.value_col] for r in self.rows if isinstance(r[self.value_col], (int, float))]
        return max(vals + [1])


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "—"


@dataclass
class Report:
    calls: int
    summary: list[tuple[str, str, str]]  # (key, figure, value) - the headline table
    tables: dict[str, Table]
    values: dict[str, object]


COUNTERS = ("outcomes", "languages", "opened", "heat_calls", "heat_queued", "funnel_heard", "funnel_left", "choices", "depts")
SUMS = ("calls", "queued", "short", "abandoned", "served_in", "counted", "keys", "speech")
LISTS = ("person_secs", "first_ms")


class Tally:
    """The figures' raw counts over some records; tallies of days add up (``merge``), so a day's is kept."""

    def __init__(self) -> None:
        for name in COUNTERS:
            setattr(self, name, Counter())
        for name in SUMS:
            setattr(self, name, 0)
        for name in LISTS:
            setattr(self, name, [])

    def merge(self, other: "Tally") -> "Tally":
        for name in COUNTERS:
            getattr(self, name).update(getattr(other, name))
        for name in SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in LISTS:
            getattr(self, name).extend(getattr(other, name))
        return self


def tally(records: Iterable[CallRecord], definitions: Definitions, node_names: Callable[[str, str], list[str]],
          zone: ZoneInfo, department: str = "") -> Tally:
    d = definitions
    t = Tally()
    names_cache: dict[tuple[str, str], list[str]] = {}
    walks: dict[tuple, tuple] = {}  # (flow, version, path) -> steps, steps heard, moves: paths repeat
    slots: dict[int, tuple[int, int]] = {}  # quarter hour -> (weekday, hour) in the clinic's zone
    for r in records:
        if department and r.department != department:
            continue
        t.calls += 1
        t.outcomes[r.outcome] += 1
        t.languages[r.lang or "—"] += 1
        t.opened[r.open] += 1
        quarter = r.arrived // 900  # every zone's offset is a whole number of quarter hours
        slot = slots.get(quarter)
        if slot is None:
            local = dt.datetime.fromtimestamp(quarter * 900, zone)
            slot = slots[quarter] = (local.weekday(), local.hour)
        t.heat_calls[slot] += 1
        t.keys += r.keys
        t.speech += r.speech
        if r.first_prompt_ms is not None:
            t.first_ms.append(r.first_prompt_ms)
        t.depts[r.department or "—"] += 1
        walk = (r.flow, r.version, r.path)
        done = walks.get(walk)
        if done is None:
            names = names_cache.get((r.flow, r.version))
            if names is None:
                names = names_cache[(r.flow, r.version)] = node_names(r.flow, r.version) if r.flow else []
            steps = [f"{r.flow}: {names[i]}" if i < len(names) else f"{r.flow}: step {i}" for i in r.path]
            pairs = [(a, b.split(": ", 1)[1]) for a, b in zip(steps, steps[1:]) if a != b]
            done = walks[walk] = (steps, list(dict.fromkeys(steps)), pairs)
        steps, heard, pairs = done
        for s in heard:
            t.funnel_heard[s] += 1
        for pair in pairs:
            t.choices[pair] += 1
        if steps and r.outcome in ("M", "W", "E"):
            t.funnel_left[steps[-1]] += 1
        if r.to_person is not None:
            t.person_secs.append(r.to_person)
        if r.to_queue is None:
            continue
        t.heat_queued[slot] += 1
        if r.outcome in ABANDONED and r.to_end - r.to_queue < d.short_abandon_seconds:
            t.short += 1
            continue
        t.queued += 1
        if r.outcome in ABANDONED:
            t.abandoned += 1
        promise = r.to_person is None and r.outcome in SERVED
        if promise and d.promises_count == "excluded":
            continue
        t.counted += 1
        served = r.served_seconds
        if r.outcome in SERVED and served is not None and served <= d.service_level_seconds:
            t.served_in += 1
    return t


def compute(
    records: Iterable[CallRecord],
    definitions: Definitions,
    node_names: Callable[[str, str], list[str]],
    zone: ZoneInfo,
    department: str = "",
    callbacks: Iterable[tuple[str, float, float]] = (),
) -> Report:
    """``node_names(flow, version)``: that version's node ids in order; ``callbacks``: (kind, seconds, at)
    events from the callback queues (claim / done / closed)."""
    return report_of(tally(records, definitions, node_names, zone, department), definitions, callbacks)


def report_of(t: Tally, definitions: Definitions, callbacks: Iterable[tuple[str, float, float]] = ()) -> Report:
    d = definitions
    outcomes, languages, opened = t.outcomes, t.languages, t.opened
    heat_calls, heat_queued, funnel_heard, funnel_left = t.heat_calls, t.heat_queued, t.funnel_heard, t.funnel_left
    choices, depts = t.choices, t.depts
    queued, short, abandoned, served_in, counted = t.queued, t.short, t.abandoned, t.served_in, t.counted
    keys, speech, person_secs, first_ms = t.keys, t.speech, t.person_secs, t.first_ms
    calls = t.calls
    avg = round(sum(person_secs) / len(person_secs), 1) if person_secs else None
    p90 = percentile(person_secs, 90)
    cb_done = [s for k, s, _ in callbacks if k == "done"]
    cb_claim = [s for k, s, _ in callbacks if k in ("claim", "vm_claim")]
    vm_claim = [s for k, s, _ in callbacks if k == "vm_claim"]
    cb_closed = sum(1 for k, _, _ in callbacks if k == "closed")
    target = d.callback_target_minutes * 60
    within = sum(1 for s in cb_done if s <= target)
    values = {
        "calls": calls, "queued": queued, "short_abandons": short, "abandoned": abandoned,
        "service_level_counted": counted, "served_within": served_in,
        "answered": outcomes["A"], "callbacks": outcomes["C"], "voicemails": outcomes["V"],
        "menu_hangups": outcomes["M"], "speed_avg": avg, "speed_p90": p90,
        "keys": keys, "speech": speech,
        "callbacks_done": len(cb_done), "callbacks_within_target": within, "callbacks_closed": cb_closed,
        "callback_p50": percentile(cb_done, 50), "callback_p90": percentile(cb_done, 90),
        "first_claim_p50": percentile(cb_claim, 50), "voicemail_response_p50": percentile(vm_claim, 50),
        "first_prompt_p90_ms": percentile(first_ms, 90),
    }

    def secs(v):
        return "—" if v is None else f"{v:g} s"

    def mins(v):
        return "—" if v is None else f"{v / 60:.1f} min"

    summary = [
        ("calls", "Calls", str(calls)),
        ("queued", "Reached a queue (short abandons left out)", str(queued)),
        ("service_level", f"Service level ({d.service_level_seconds} s)", _pct(served_in, counted)),
        ("abandonment", "Abandonment rate", _pct(abandoned, queued)),
        ("short_abandons", f"Short abandons (under {d.short_abandon_seconds} s)", str(short)),
        ("answered", "A desk answered", str(outcomes["A"])),
        ("speed_avg", "Speed to a person, average", secs(avg)),
        ("speed_p90", "Speed to a person, 90th percentile", secs(p90)),
        ("menu_hangups", "Hung up in the menu", str(outcomes["M"])),
        ("keys_speech", "Answers by key / by speech", f"{keys} / {speech}"),
        ("first_prompt", "First prompt, 90th percentile (server time)",
         "—" if values["first_prompt_p90_ms"] is None else f"{values['first_prompt_p90_ms']} ms"),
        ("callback_p50", "Time to callback, p50", mins(values["callback_p50"])),
        ("callback_p90", "Time to callback, p90", mins(values["callback_p90"])),
        ("callbacks_within", f"Callbacks done within target ({d.callback_target_minutes} min)",
         f"{within} of {len(cb_done)}"),
        ("callbacks_closed", "Callbacks closed unreached", str(cb_closed)),
        ("first_claim_p50", "Request → first claim by staff, p50", mins(values["first_claim_p50"])),
        ("voicemail_response_p50", "Voicemail response (received → first claim), p50", mins(values["voicemail_response_p50"])),
    ]
    tables = {
        "summary": Table("summary", "Summary", ["Figure", "Value"], [[f, v] for _, f, v in summary], chart="none"),
        "outcomes": Table("outcomes", "Where calls ended", ["Outcome", "Calls", "Share"],
                          [[OUTCOMES[k], outcomes[k], _pct(outcomes[k], calls)] for k in OUTCOMES if outcomes[k]]),
        "departments": Table("departments", "Calls by department", ["Department", "Calls"],
                             [[k, v] for k, v in sorted(depts.items())]),
        "funnel": Table("funnel", "Menu funnel: calls that heard each step, and hung up there",
                        ["Step", "Heard", "Hung up there"],
                        [[s, funnel_heard[s], funnel_left[s]] for s in funnel_heard]),
        "choices": Table("choices", "From each step to the next (what callers pressed or said)",
                         ["Step", "Went to", "Calls"],
                         [[a, b, n] for (a, b), n in sorted(choices.items(), key=lambda kv: (-kv[1], kv[0]))],
                         value_col=2),
        "languages": Table("languages", "Language mix", ["Language", "Calls", "Share"],
                           [[k, v, _pct(v, calls)] for k, v in languages.most_common()]),
        "hours_open": Table("hours_open", "Open or closed when the call arrived", ["Clinic", "Calls"],
                            [[OPEN_WORDS.get(k, k), v] for k, v in sorted(opened.items())]),
        "heat_calls": Table("heat_calls", "Calls by weekday and hour (clinic time)", ["Weekday"] + [f"{h:02d}" for h in range(24)],
                            [[WEEKDAYS[w]] + [heat_calls[(w, h)] for h in range(24)] for w in range(7)], chart="heat"),
        "heat_queued": Table("heat_queued", "Callers waiting for a person (reached a queue) by weekday and hour",
                             ["Weekday"] + [f"{h:02d}" for h in range(24)],
                             [[WEEKDAYS[w]] + [heat_queued[(w, h)] for h in range(24)] for w in range(7)], chart="heat"),
    }
    for t in tables.values():
        if t.chart == "heat":
            t.value_col = 0
    return Report(calls, summary, tables, values)


def heat_max(table: Table) -> int:
    return max([v for r in table.rows for v in r[1:]] + [1])
